import { ServiceError, errors } from '../../core/errors.js';
import * as lifecycle from '../../core/lifecycle.js';
import type { LifecycleRuleInput, LifecycleViolation } from '../../core/lifecycle.js';
import { parseXml, type XmlValue } from '../common/xml.js';
import { checked, nodeOf, occurrences, once, tagOf, textAsWritten } from '../common/xml-shape.js';
import { sendEmpty } from '../s3/render.js';
import { sendOssXml } from './render.js';
import { readCheckedBody, type OssCall } from './request.js';

/**
 * OSS's lifecycle document over the engine's rules (core/lifecycle.ts), the same rules S3 reads
 * and writes: a rule names its objects with a Prefix and Tags, expires them `Days` after they were
 * written or at once when written before `CreatedBeforeDate`, and aborts uploads in progress
 * (`AbortMultipartUpload`) likewise. OSS's storage-class transitions and `Filter` exclusions
 * (`Not`) are features Tessera does not have: 501, never ignored.
 */

const MAX_DOCUMENT_BYTES = 2 * 1024 * 1024;
const UNSUPPORTED = {
  Transition: 'transitions between storage classes are not implemented (Tessera has one storage class).',
  NoncurrentVersionTransition: 'transitions between storage classes are not implemented (Tessera has one storage class).',
  Filter: 'exclusion filters (Not) are not implemented.',
  AtimeBase: 'last-access-time rules are not implemented.',
};

/** OSS's words: MalformedXML for the document's shape, InvalidArgument for a value. */
function ossError(violation: LifecycleViolation): ServiceError {
  return violation.kind === 'malformed' ? errors.malformedXML() : errors.invalidArgument(violation.message);
}

function ruleOf(value: XmlValue): LifecycleRuleInput {
  const node = checked(nodeOf(value), ['ID', 'Prefix', 'Status', 'Tag', 'Expiration', 'AbortMultipartUpload', 'NoncurrentVersionExpiration'], {
    repeated: ['Tag'],
    unsupported: UNSUPPORTED,
  });
  const status = once(node.Status);
  if (status === undefined) throw errors.malformedXML();
  const expiration = node.Expiration === undefined ? undefined : checked(nodeOf(node.Expiration), ['Days', 'CreatedBeforeDate', 'ExpiredObjectDeleteMarker']);
  const abort = node.AbortMultipartUpload === undefined ? undefined : checked(nodeOf(node.AbortMultipartUpload), ['Days', 'CreatedBeforeDate']);
  const noncurrent = node.NoncurrentVersionExpiration === undefined ? undefined : checked(nodeOf(node.NoncurrentVersionExpiration), ['NoncurrentDays']);
  return {
    id: once(node.ID),
    status,
    filter: { prefix: textAsWritten(node.Prefix) ?? '', tags: occurrences(node.Tag).map(tagOf) },
    expiration: expiration && {
      days: once(expiration.Days),
      createdBefore: once(expiration.CreatedBeforeDate),
      expiredObjectDeleteMarker: once(expiration.ExpiredObjectDeleteMarker),
    },
    abortIncompleteMultipartUpload: abort && { daysAfterInitiation: once(abort.Days), createdBefore: once(abort.CreatedBeforeDate) },
    noncurrentVersionExpiration: noncurrent && { noncurrentDays: once(noncurrent.NoncurrentDays) },
  };
}

/** PutBucketLifecycle: replaces the bucket's rules. */
export async function putBucketLifecycle(call: OssCall): Promise<void> {
  await call.storage.headBucket(call.actor, call.bucket);
  const document = checked(parseXml(await readCheckedBody(call.ctx, MAX_DOCUMENT_BYTES), 'LifecycleConfiguration'), ['Rule'], { repeated: ['Rule'] });
  const config = lifecycle.validateLifecycle(occurrences(document.Rule).map(ruleOf));
  if ('kind' in config) throw ossError(config);
  await lifecycle.putBucketLifecycle(call.storage, call.actor, call.bucket, config);
  sendEmpty(call.ctx.res, 200);
}

const isoDate = (date: Date | undefined) => date?.toISOString();

/** GetBucketLifecycle: the rules in OSS's document; NoSuchLifecycle (404) when there are none. */
export async function getBucketLifecycle(call: OssCall): Promise<void> {
  let config: lifecycle.LifecycleConfiguration;
  try {
    config = await lifecycle.getBucketLifecycle(call.storage, call.actor, call.bucket);
  } catch (err) {
    if (err instanceof ServiceError && err.code === 'NoSuchLifecycleConfiguration') {
      throw new ServiceError('NoSuchLifecycle', 'No Row found in Lifecycle Table.', 404, { BucketName: call.bucket });
    }
    throw err;
  }
  sendOssXml(call.ctx.res, 200, 'LifecycleConfiguration', {
    Rule: config.rules.map((rule) => ({
      ID: rule.id,
      Prefix: rule.filter.prefix,
      Status: rule.enabled ? 'Enabled' : 'Disabled',
      Tag: rule.filter.tags.map((tag) => ({ Key: tag.key, Value: tag.value })),
      Expiration: rule.expiration && {
        Days: rule.expiration.days,
        // S3's Date (all expire at once on that day) is nearest to OSS's cut-off date.
        CreatedBeforeDate: isoDate(rule.expiration.createdBefore ?? rule.expiration.date),
        ExpiredObjectDeleteMarker: rule.expiration.expiredObjectDeleteMarker,
      },
      AbortMultipartUpload: rule.abortIncompleteMultipartUpload && {
        Days: rule.abortIncompleteMultipartUpload.daysAfterInitiation,
        CreatedBeforeDate: isoDate(rule.abortIncompleteMultipartUpload.createdBefore),
      },
      NoncurrentVersionExpiration: rule.noncurrentVersionExpiration && { NoncurrentDays: rule.noncurrentVersionExpiration.noncurrentDays },
    })),
  });
}

/** DeleteBucketLifecycle: 204, whether or not the bucket had rules. */
export async function deleteBucketLifecycle(call: OssCall): Promise<void> {
  await lifecycle.deleteBucketLifecycle(call.storage, call.actor, call.bucket);
  sendEmpty(call.ctx.res, 204);
}
