import type { IncomingHttpHeaders } from 'node:http';
import { ServiceError, errors } from '../../core/errors.js';
import * as tagging from '../../core/tagging.js';
import type { Tag } from '../../core/types.js';
import { parseTaggingDocument, tagSetElement } from '../common/tagging-xml.js';
import { sendEmpty } from '../s3/render.js';
import { header } from '../s3/request.js';
import { sendOssXml } from './render.js';
import { readCheckedBody, type OssCall } from './request.js';
import { ossVersionHeaders } from './versioning.js';

/**
 * Object and bucket tags in OSS's words: `x-oss-tagging` on PutObject, InitiateMultipartUpload
 * and CopyObject (with `x-oss-tagging-directive`), `?tagging` on objects (PutObjectTagging, …)
 * and buckets (PutBucketTags, GetBucketTags, DeleteBucketTags). OSS's limits: an object's 10 tags
 * of letters, digits, spaces and `+ - = . _ : /` (keys 128, values 256 characters); a bucket's 20
 * tags (keys 64, values 128 bytes, no key starting `http://`, `https://` or `Aliyun`).
 */

const MAX_DOCUMENT_BYTES = 64 * 1024;

type Resource = 'object' | 'bucket';

function ossTagError(violation: tagging.TagViolation, resource: Resource): ServiceError {
  const invalid = (message: string) => new ServiceError('InvalidTag', message, 400);
  switch (violation.kind) {
    case 'too-many':
      return invalid(resource === 'object' ? `Object tags cannot be greater than ${violation.limit}` : `Bucket tags cannot be greater than ${violation.limit}`);
    case 'duplicate-key':
      return invalid('Cannot provide multiple Tags with the same key');
    case 'empty-key':
    case 'key-characters':
      return invalid('The TagKey you have provided is invalid');
    case 'value-characters':
      return invalid('The TagValue you have provided is invalid');
    case 'key-too-long':
      return invalid(`The TagKey you have provided is too long, max ${violation.limit}`);
    case 'value-too-long':
      return invalid(`The TagValue you have provided is too long, max ${violation.limit}`);
    case 'reserved-prefix':
      return invalid(`The TagKey you have provided can not start with ${violation.prefix}`);
  }
}

function checked(tags: Tag[], resource: Resource): Tag[] {
  const violation = tagging.findTagViolation(tags, resource === 'object' ? tagging.OSS_OBJECT_TAG_LIMITS : tagging.OSS_BUCKET_TAG_LIMITS);
  if (violation) throw ossTagError(violation, resource);
  return tagging.normalizeTags(tags);
}

/** `x-oss-tagging`: the tags, checked; undefined when absent. */
export function taggingHeader(headers: IncomingHttpHeaders): Tag[] | undefined {
  const value = header(headers, 'x-oss-tagging');
  if (value === undefined) return undefined;
  const tags = tagging.parseTagQuery(value);
  if (!tags) {
    throw errors.invalidArgument(
      "The header 'x-oss-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
      'x-oss-tagging',
      value,
    );
  }
  return checked(tags, 'object');
}

/** CopyObject: `x-oss-tagging-directive` Copy (the default) keeps the source's tags (undefined), Replace takes x-oss-tagging. */
export function copyTagging(headers: IncomingHttpHeaders): Tag[] | undefined {
  const directive = (header(headers, 'x-oss-tagging-directive') ?? 'Copy').trim().toLowerCase();
  if (directive !== 'copy' && directive !== 'replace') {
    throw errors.invalidArgument('Unknown tagging directive.', 'x-oss-tagging-directive', directive);
  }
  const tags = taggingHeader(headers);
  return directive === 'replace' ? (tags ?? []) : undefined;
}

/** `x-oss-tagging-count` on GET and HEAD of an object with tags. */
export function taggingCountHeader(tags: readonly Tag[] | undefined): Record<string, string> {
  return tags && tags.length > 0 ? { 'x-oss-tagging-count': String(tags.length) } : {};
}

async function readTagging(call: OssCall, resource: Resource): Promise<Tag[]> {
  return checked(parseTaggingDocument(await readCheckedBody(call.ctx, MAX_DOCUMENT_BYTES)), resource);
}

export async function putObjectTagging(call: OssCall): Promise<void> {
  const versionId = call.ctx.query.get('versionId') ?? undefined;
  await call.storage.headObject(call.actor, call.bucket, call.key, versionId);
  const tags = await readTagging(call, 'object');
  const tagged = await tagging.putObjectTags(call.storage, call.actor, call.bucket, call.key, tags, versionId);
  sendEmpty(call.ctx.res, 200, ossVersionHeaders(tagged.versionId));
}

export async function getObjectTagging(call: OssCall): Promise<void> {
  const read = await tagging.getObjectTags(call.storage, call.actor, call.bucket, call.key, call.ctx.query.get('versionId') ?? undefined);
  sendOssXml(call.ctx.res, 200, 'Tagging', tagSetElement(read.tags), ossVersionHeaders(read.versionId));
}

export async function deleteObjectTagging(call: OssCall): Promise<void> {
  const tagged = await tagging.deleteObjectTags(call.storage, call.actor, call.bucket, call.key, call.ctx.query.get('versionId') ?? undefined);
  sendEmpty(call.ctx.res, 204, ossVersionHeaders(tagged.versionId));
}

export async function putBucketTags(call: OssCall): Promise<void> {
  await call.storage.headBucket(call.actor, call.bucket);
  const tags = await readTagging(call, 'bucket');
  await tagging.putBucketTags(call.storage, call.actor, call.bucket, tags);
  sendEmpty(call.ctx.res, 200);
}

/** GetBucketTags: an empty set when the bucket has none (OSS answers 200, not an error). */
export async function getBucketTags(call: OssCall): Promise<void> {
  const tags = (await tagging.getBucketTags(call.storage, call.actor, call.bucket)) ?? [];
  sendOssXml(call.ctx.res, 200, 'Tagging', tagSetElement(tags));
}

/** DeleteBucketTags: all of them, or (`?tagging=k1,k2`) those keys only; 204 either way. */
export async function deleteBucketTags(call: OssCall): Promise<void> {
  const only = call.ctx.query.get('tagging') ?? '';
  await tagging.deleteBucketTags(call.storage, call.actor, call.bucket, only === '' ? undefined : only.split(','));
  sendEmpty(call.ctx.res, 204);
}
