import { ServiceError, errors } from '../../core/errors.js';
import * as lifecycle from '../../core/lifecycle.js';
import type { LifecycleRule, LifecycleRuleInput, LifecycleTag, LifecycleViolation } from '../../core/lifecycle.js';
import { asTrimmedText, parseXml, type XmlNode, type XmlValue } from '../common/xml.js';
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

function occurrences(value: XmlValue): XmlValue[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** An element's node (an empty element is one with nothing in it); text or repetition is malformed. */
function nodeOf(value: XmlValue): XmlNode {
  if (typeof value === 'string' && value.trim() === '') return {};
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value;
  throw errors.malformedXML();
}

/** The trimmed text of an element that may appear at most once. */
function once(value: XmlValue): string | undefined {
  const all = occurrences(value);
  if (all.length > 1) throw errors.malformedXML();
  if (all.length === 0) return undefined;
  const text = asTrimmedText(all[0]);
  if (text === undefined) throw errors.malformedXML();
  return text;
}

/** A node holding only `known` elements (each at most once unless listed in `repeated`). */
function checked(node: XmlNode, known: readonly string[], repeated: readonly string[] = []): XmlNode {
  for (const [name, value] of Object.entries(node)) {
    if (!known.includes(name)) {
      if (name === 'Transition' || name === 'NoncurrentVersionTransition') {
        throw new ServiceError('NotImplemented', `${name}: transitions between storage classes are not implemented (Tessera has one storage class).`, 501);
      }
      throw errors.malformedXML();
    }
    if (Array.isArray(value) && !repeated.includes(name)) throw errors.malformedXML();
  }
  return node;
}

function tagOf(value: XmlValue): LifecycleTag {
  const node = checked(nodeOf(value), ['Key', 'Value']);
  const key = asText(node.Key);
  const tagValue = asText(node.Value);
  if (key === undefined || tagValue === undefined) throw errors.malformedXML();
  return { key, value: tagValue };
}

/** Untrimmed text (tag values keep their spaces); undefined when absent. */
function asText(value: XmlValue): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw errors.malformedXML();
}

const PREDICATES = ['Prefix', 'Tag', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan'] as const;

/** `<Filter>`: empty, exactly one predicate, or `<And>` of two or more. */
function filterOf(value: XmlValue): LifecycleRuleInput['filter'] {
  // The parser makes every Tag a list; outside And there may be one.
  const node = checked(nodeOf(value), [...PREDICATES, 'And'], ['Tag']);
  const given = Object.keys(node);
  if (given.length > 1 || occurrences(node.Tag).length > 1) throw errors.malformedXML();
  if (node.And !== undefined) {
    const and = checked(nodeOf(node.And), PREDICATES, ['Tag']);
    const tags = occurrences(and.Tag).map(tagOf);
    const predicates = tags.length + ['Prefix', 'ObjectSizeGreaterThan', 'ObjectSizeLessThan'].filter((name) => and[name] !== undefined).length;
    if (predicates < 2) throw errors.malformedXML();
    return { prefix: asText(and.Prefix), tags, sizeGreaterThan: once(and.ObjectSizeGreaterThan), sizeLessThan: once(and.ObjectSizeLessThan) };
  }
  return {
    prefix: asText(node.Prefix),
    tags: occurrences(node.Tag).map(tagOf),
    sizeGreaterThan: once(node.ObjectSizeGreaterThan),
    sizeLessThan: once(node.ObjectSizeLessThan),
  };
}

function ruleOf(value: XmlValue): LifecycleRuleInput & { legacyPrefix: boolean } {
  const node = checked(nodeOf(value), ['ID', 'Filter', 'Prefix', 'Status', 'Expiration', 'NoncurrentVersionExpiration', 'AbortIncompleteMultipartUpload']);
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
    filter: node.Filter !== undefined ? filterOf(node.Filter) : { prefix: asText(node.Prefix) ?? '', tags: [] },
    expiration: expiration && { days: once(expiration.Days), date: once(expiration.Date), expiredObjectDeleteMarker: once(expiration.ExpiredObjectDeleteMarker) },
    noncurrentVersionExpiration: noncurrent && { noncurrentDays: once(noncurrent.NoncurrentDays), newerNoncurrentVersions: once(noncurrent.NewerNoncurrentVersions) },
    abortIncompleteMultipartUpload: abort && { daysAfterInitiation: once(abort.DaysAfterInitiation) },
  };
}

/** PutBucketLifecycleConfiguration: replaces the bucket's rules; the body must carry Content-MD5 or a flexible checksum, as AWS requires. */
export async function putBucketLifecycle(call: S3Call): Promise<void> {
  await call.storage.headBucket(call.actor, call.bucket);
  const body = await readVerifiedBody(call.ctx, call.auth, MAX_DOCUMENT_BYTES, { integrityRequired: true });
  const document = checked(parseXml(body.toString('utf8'), 'LifecycleConfiguration'), ['Rule'], ['Rule']);
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
        Date: rule.expiration.date?.toISOString(),
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
