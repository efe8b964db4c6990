import { ServiceError, errors } from '../../core/errors.js';
import * as lifecycle from '../../core/lifecycle.js';
import type { LifecycleRule, LifecycleRuleInput, LifecycleViolation } from '../../core/lifecycle.js';
import { parseXml, type XmlNode, type XmlValue } from '../common/xml.js';
import { checked, nodeOf, occurrences, once, tagOf, textAsWritten } from '../common/xml-shape.js';
import type { S3Call } from './call.js';
import { sendEmpty, sendXml } from './render.js';
import { readVerifiedBody } from './request.js';

/** S3 takes a lifecycle document of up to 20 KB of rules; 1,000 rules need more, so allow what they take. */
const MAX_DOCUMENT_BYTES = 2 * 1024 * 1024;

function s3Error(violation: LifecycleViolation): ServiceError {
  switch (violation.kind) {
    case 'malformed':
      return errors.malformedXML();
    case 'argument':
      return errors.invalidArgument(violation.message);
    case 'request':
      return new ServiceError('InvalidRequest', violation.message, 400);
  }
}

const TRANSITIONS = {
  Transition: 'transitions between storage classes are not implemented (Tessera has one storage class).',
  NoncurrentVersionTransition: 'transitions between storage classes are not implemented (Tessera has one storage class).',
};

const PREDICATES = ['Prefix', 'Tag', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan'] as const;

/** `<Filter>`: empty, exactly one predicate, or `<And>` of two or more. */
function filterOf(value: XmlValue): LifecycleRuleInput['filter'] {
  // The parser makes every Tag a list; outside And there may be one.
  const node = checked(nodeOf(value), [...PREDICATES, 'And'], { repeated: ['Tag'] });
  const given = Object.keys(node);
  if (given.length > 1 || occurrences(node.Tag).length > 1) throw errors.malformedXML();
  if (node.And !== undefined) {
    const and = checked(nodeOf(node.And), PREDICATES, { repeated: ['Tag'] });
    const tags = occurrences(and.Tag).map(tagOf);
    const predicates = tags.length + ['Prefix', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan'].filter((name) => and[name] !== undefined).length;
    if (predicates < 2) throw errors.malformedXML();
    return { prefix: textAsWritten(and.Prefix), tags, sizeGreaterThan: once(and.ObjectSizeGreaterThan), sizeLessThan: once(and.ObjectSizeLessThan) };
  }
  return {
    prefix: textAsWritten(node.Prefix),
    tags: occurrences(node.Tag).map(tagOf),
    sizeGreaterThan: once(node.ObjectSizeGreaterThan),
    sizeLessThan: once(node.ObjectSizeLessThan),
  };
}

function ruleOf(value: XmlValue): LifecycleRuleInput & { legacyPrefix: boolean } {
  const node = checked(nodeOf(value), ['ID', 'Filter', 'Prefix', 'Status', 'Expiration', 'NoncurrentVersionExpiration', 'AbortIncompleteMultipartUpload'], {
    unsupported: TRANSITIONS,
  });
  // A rule names its objects with a Filter, or (the older form) a Prefix: one of them, never both.
  if ((node.Filter === undefined) === (node.Prefix === undefined)) throw errors.malformedXML();
  const status = once(node.Status);
  if (status === undefined) throw errors.malformedXML();
  const expiration = node.Expiration === undefined ? undefined : checked(nodeOf(node.Expiration), ['Days', 'Date', 'ExpiredObjectDeleteMarker']);
  if (expiration && Object.keys(expiration).length === 0) throw errors.malformedXML();
  const noncurrent =
    node.NoncurrentVersionExpiration === undefined ? undefined : checked(nodeOf(node.NoncurrentVersionExpiration), ['NoncurrentDays', 'NewerNoncurrentVersions']);
  const abort =
    node.AbortIncompleteMultipartUpload === undefined ? undefined : checked(nodeOf(node.AbortIncompleteMultipartUpload), ['DaysAfterInitiation']);
  return {
    id: once(node.ID),
    status,
    legacyPrefix: node.Prefix !== undefined,
    filter: node.Filter !== undefined ? filterOf(node.Filter) : { prefix: textAsWritten(node.Prefix) ?? '', tags: [] },
    expiration: expiration && { days: once(expiration.Days), date: once(expiration.Date), expiredObjectDeleteMarker: once(expiration.ExpiredObjectDeleteMarker) },
    noncurrentVersionExpiration: noncurrent && { noncurrentDays: once(noncurrent.NoncurrentDays), newerNoncurrentVersions: once(noncurrent.NewerNoncurrentVersions) },
    abortIncompleteMultipartUpload: abort && { daysAfterInitiation: once(abort.DaysAfterInitiation) },
  };
}

/** PutBucketLifecycleConfiguration: replaces the bucket's rules; the body must carry Content-MD5 or a flexible checksum, as AWS requires. */
export async function putBucketLifecycle(call: S3Call): Promise<void> {
  await call.storage.headBucket(call.actor, call.bucket);
  const body = await readVerifiedBody(call.ctx, call.auth, MAX_DOCUMENT_BYTES, { integrityRequired: true });
  const document = checked(parseXml(body.toString('utf8'), 'LifecycleConfiguration'), ['Rule'], { repeated: ['Rule'] });
  const inputs = occurrences(document.Rule).map(ruleOf);
  const config = lifecycle.validateLifecycle(inputs);
  if ('kind' in config) throw s3Error(config);
  // The older form is answered as it was written (GetBucketLifecycleConfiguration gives it back).
  config.rules.forEach((rule, index) => {
    if (inputs[index]!.legacyPrefix) rule.filter.legacyPrefix = true;
  });
  await lifecycle.putBucketLifecycle(call.storage, call.actor, call.bucket, config);
  sendEmpty(call.ctx.res, 200);
}

function filterXml(rule: LifecycleRule): XmlNode {
  const { prefix, tags, sizeGreaterThan, sizeLessThan } = rule.filter;
  if (rule.filter.legacyPrefix) return { Prefix: prefix };
  const predicates: XmlNode = {};
  if (prefix !== '') predicates.Prefix = prefix;
  if (tags.length > 0) predicates.Tag = tags.map((tag) => ({ Key: tag.key, Value: tag.value }));
  if (sizeGreaterThan !== undefined) predicates.ObjectSizeGreaterThan = sizeGreaterThan;
  if (sizeLessThan !== undefined) predicates.ObjectSizeLessThan = sizeLessThan;
  const count = (prefix !== '' ? 1 : 0) + tags.length + (sizeGreaterThan !== undefined ? 1 : 0) + (sizeLessThan !== undefined ? 1 : 0);
  if (count > 1) return { Filter: { And: predicates } };
  // One predicate; an empty filter is an empty Filter (a Prefix of '' reads the same).
  return { Filter: count === 0 ? { Prefix: '' } : predicates };
}

/** GetBucketLifecycleConfiguration: the rules as written; NoSuchLifecycleConfiguration (404) when there are none. */
export async function getBucketLifecycle(call: S3Call): Promise<void> {
  const config = await lifecycle.getBucketLifecycle(call.storage, call.actor, call.bucket);
  sendXml(call.ctx.res, 200, 'LifecycleConfiguration', {
    Rule: config.rules.map((rule) => ({
      ID: rule.id,
      ...filterXml(rule),
      Status: rule.enabled ? 'Enabled' : 'Disabled',
      Expiration: rule.expiration && {
        Days: rule.expiration.days,
        // OSS's CreatedBeforeDate has no S3 form: it reads as the nearest, a Date.
        Date: (rule.expiration.date ?? rule.expiration.createdBefore)?.toISOString(),
        ExpiredObjectDeleteMarker: rule.expiration.expiredObjectDeleteMarker,
      },
      NoncurrentVersionExpiration: rule.noncurrentVersionExpiration && {
        NoncurrentDays: rule.noncurrentVersionExpiration.noncurrentDays,
        NewerNoncurrentVersions: rule.noncurrentVersionExpiration.newerNoncurrentVersions,
      },
      AbortIncompleteMultipartUpload: rule.abortIncompleteMultipartUpload && {
        DaysAfterInitiation: rule.abortIncompleteMultipartUpload.daysAfterInitiation,
      },
    })),
  });
}

/** DeleteBucketLifecycle: 204, whether or not the bucket had rules. */
export async function deleteBucketLifecycle(call: S3Call): Promise<void> {
  await lifecycle.deleteBucketLifecycle(call.storage, call.actor, call.bucket);
  sendEmpty(call.ctx.res, 204);
}

/** `x-amz-expiration` for an object a rule will expire (PUT, GET, HEAD, Complete); nothing when none does. */
export async function expirationHeaders(call: S3Call, object: lifecycle.ObjectFacts): Promise<Record<string, string>> {
  const due = await lifecycle.objectExpiration(call.storage, call.bucket, object);
  return due ? { 'x-amz-expiration': `expiry-date="${due.date.toUTCString()}", rule-id="${due.ruleId}"` } : {};
}

/** `x-amz-abort-date` and `x-amz-abort-rule-id` for an upload a rule will abort (CreateMultipartUpload, ListParts). */
export async function abortHeaders(call: S3Call, key: string, initiated: Date): Promise<Record<string, string>> {
  const due = await lifecycle.uploadAbortDate(call.storage, call.bucket, key, initiated);
  return due ? { 'x-amz-abort-date': due.date.toUTCString(), 'x-amz-abort-rule-id': due.ruleId } : {};
}
