import { ServiceError, errors } from '../../core/errors.js';
import * as tagging from '../../core/tagging.js';
import type { Tag } from '../../core/types.js';
import { parseTaggingDocument, tagSetElement } from '../common/tagging-xml.js';
import type { S3Call } from './call.js';
import { sendEmpty, sendXml } from './render.js';
import { header, readVerifiedBody } from './request.js';
import type { IncomingHttpHeaders } from 'node:http';
import { versionHeaders } from './versioning.js';

/** Object and bucket tags in S3's words: `x-amz-tagging`, `?tagging` on objects and buckets. */

const MAX_DOCUMENT_BYTES = 64 * 1024;

type Resource = 'object' | 'bucket';

/** A violation as S3 answers it (observed answers where AWS documents none). */
function s3TagError(violation: tagging.TagViolation, resource: Resource): ServiceError {
  const invalid = (message: string) => new ServiceError('InvalidTag', message, 400);
  switch (violation.kind) {
    case 'too-many':
      return new ServiceError(
        'BadRequest',
        resource === 'object' ? `Object tags cannot be greater than ${violation.limit}` : `Bucket tag count cannot be greater than ${violation.limit}`,
        400,
      );
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
      return invalid(resource === 'object' ? 'System tags cannot be added/updated by requester' : 'Your TagKey cannot be prefixed with aws:');
  }
}

function checked(tags: Tag[], resource: Resource): Tag[] {
  const violation = tagging.findTagViolation(tags, resource === 'object' ? tagging.S3_OBJECT_TAG_LIMITS : tagging.S3_BUCKET_TAG_LIMITS);
  if (violation) throw s3TagError(violation, resource);
  return tagging.normalizeTags(tags);
}

/** `x-amz-tagging` (PutObject, CreateMultipartUpload, CopyObject with REPLACE): the tags, checked; undefined when absent. */
export function taggingHeader(headers: IncomingHttpHeaders): Tag[] | undefined {
  const value = header(headers, 'x-amz-tagging');
  if (value === undefined) return undefined;
  const tags = tagging.parseTagQuery(value);
  if (!tags) {
    throw errors.invalidArgument(
      "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates.",
      'x-amz-tagging',
      value,
    );
  }
  return checked(tags, 'object');
}

/** POST Object's `tagging` field: a Tagging document, checked as PutObjectTagging checks one. */
export function taggingField(document: string | undefined): Tag[] | undefined {
  return document === undefined ? undefined : checked(parseTaggingDocument(document), 'object');
}

/**
 * CopyObject's tags: `x-amz-tagging-directive` COPY (the default) keeps the source's (undefined),
 * REPLACE takes `x-amz-tagging` (none when it is absent).
 */
export function copyTagging(headers: IncomingHttpHeaders): Tag[] | undefined {
  const directive = (header(headers, 'x-amz-tagging-directive') ?? 'COPY').trim().toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw errors.invalidArgument('Unknown tagging directive.', 'x-amz-tagging-directive', directive);
  }
  const tags = taggingHeader(headers);
  return directive === 'REPLACE' ? (tags ?? []) : undefined;
}

async function readTagging(call: S3Call, resource: Resource): Promise<Tag[]> {
  const body = await readVerifiedBody(call.ctx, call.auth, MAX_DOCUMENT_BYTES);
  return checked(parseTaggingDocument(body.toString('utf8')), resource);
}

/** PutObjectTagging: replaces the object's tag set (an empty set removes it). */
export async function putObjectTagging(call: S3Call): Promise<void> {
  const versionId = call.ctx.query.get('versionId') ?? undefined;
  // The object first: a missing one is NoSuchKey whatever the document says.
  await call.storage.headObject(call.actor, call.bucket, call.key, versionId);
  const tags = await readTagging(call, 'object');
  const tagged = await tagging.putObjectTags(call.storage, call.actor, call.bucket, call.key, tags, versionId);
  sendEmpty(call.ctx.res, 200, versionHeaders(tagged.versionId));
}

/** GetObjectTagging: the object's tags, an empty TagSet when it has none. */
export async function getObjectTagging(call: S3Call): Promise<void> {
  const read = await tagging.getObjectTags(call.storage, call.actor, call.bucket, call.key, call.ctx.query.get('versionId') ?? undefined);
  sendXml(call.ctx.res, 200, 'Tagging', tagSetElement(read.tags), versionHeaders(read.versionId));
}

export async function deleteObjectTagging(call: S3Call): Promise<void> {
  const tagged = await tagging.deleteObjectTags(call.storage, call.actor, call.bucket, call.key, call.ctx.query.get('versionId') ?? undefined);
  sendEmpty(call.ctx.res, 204, versionHeaders(tagged.versionId));
}

/** PutBucketTagging: replaces the bucket's tag set (50 tags at most). */
export async function putBucketTagging(call: S3Call): Promise<void> {
  await call.storage.headBucket(call.actor, call.bucket);
  const tags = await readTagging(call, 'bucket');
  await tagging.putBucketTags(call.storage, call.actor, call.bucket, tags);
  sendEmpty(call.ctx.res, 204);
}

/** GetBucketTagging: NoSuchTagSet (404) when the bucket has none. */
export async function getBucketTagging(call: S3Call): Promise<void> {
  const tags = await tagging.getBucketTags(call.storage, call.actor, call.bucket);
  if (tags === undefined) throw new ServiceError('NoSuchTagSet', 'The TagSet does not exist', 404, { BucketName: call.bucket });
  sendXml(call.ctx.res, 200, 'Tagging', tagSetElement(tags));
}

export async function deleteBucketTagging(call: S3Call): Promise<void> {
  await tagging.deleteBucketTags(call.storage, call.actor, call.bucket);
  sendEmpty(call.ctx.res, 204);
}

/** `x-amz-tagging-count` on GET and HEAD of an object with tags. */
export function taggingCountHeader(tags: readonly Tag[] | undefined): Record<string, string> {
  return tags && tags.length > 0 ? { 'x-amz-tagging-count': String(tags.length) } : {};
}
