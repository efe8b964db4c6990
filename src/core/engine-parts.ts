import type { BlobStore, StagedBlob } from './blob-store.js';
import type { Encryption, Sealing } from './encryption.js';
import { allowed, authorize, decide, type Conditions } from './authorization.js';
import { objectAclInForce, objectAclMayAllow } from './acl.js';
import { ServiceError, errors } from './errors.js';
import type { Metadata, MetadataQueries, StoredObject, StoredUpload } from './metadata/types.js';
import type { Actor, BucketInfo, ChecksumAlgorithm, ExtraDigest, WriteOptions } from './types.js';

/** The most entries one listing page holds, whatever a client asks for. */
export const MAX_PAGE = 1000;

/** What the engine's modules (core/storage.ts, multipart.ts, object-copy.ts) share: the two stores and the keys. */
export interface EngineParts {
  readonly meta: Metadata;
  readonly blobs: BlobStore;
  readonly encryption: Encryption;
}

/**
 * The bucket, once core/authorization.ts allows the actor `action` on it (or on `key` in it):
 * NoSuchBucket for a bucket that is not there, whoever asks; AccessDenied for a refusal.
 */
export async function requireBucket(
  meta: MetadataQueries,
  actor: Actor,
  name: string,
  action: string,
  key?: string,
  conditions?: Conditions,
): Promise<BucketInfo> {
  const bucket = await meta.getBucket(name);
  if (!bucket) throw errors.noSuchBucket(name);
  authorize(actor, { action, bucket, key, conditions });
  return bucket;
}

export async function requireObject(meta: MetadataQueries, bucket: string, key: string): Promise<StoredObject> {
  const object = await meta.getObject(bucket, key);
  if (!object) throw errors.noSuchKey(key);
  return object;
}

/** The upload, while it is open and of this bucket and key; NoSuchUpload otherwise. */
export async function requireOpenUpload(meta: MetadataQueries, bucket: string, key: string, uploadId: string): Promise<StoredUpload> {
  const upload = await meta.getUpload(uploadId);
  if (!upload || upload.completed || upload.bucket !== bucket || upload.key !== key) throw errors.noSuchUpload(uploadId);
  return upload;
}

/**
 * Authorises an object action and reads the object with `read`: decided on the bucket first;
 * where that is no Allow (nor an explicit Deny) and an object's ACL may grant the action, the
 * object is read and its ACL in force (core/acl.ts) asked. Whether the object (or version)
 * exists is then told only to those who may list the bucket. Answers the object where it was
 * read to decide; undefined where the bucket allowed (the caller reads it if it needs it).
 */
export async function authorizeObject(
  actor: Actor,
  request: { action: string; bucket: BucketInfo; key: string; conditions?: Conditions },
  read: () => Promise<StoredObject>,
): Promise<StoredObject | undefined> {
  const decision = decide(actor, request);
  if (decision === 'allow') return undefined;
  if (decision === 'explicit-deny' || !objectAclMayAllow(request.action, request.bucket)) throw errors.accessDenied();
  let object: StoredObject;
  try {
    object = await read();
  } catch (err) {
    throw allowed(actor, { action: 's3:ListBucket', bucket: request.bucket }) ? err : errors.accessDenied();
  }
  const objectAcl = objectAclInForce(request.bucket, object);
  if (objectAcl === undefined) throw errors.accessDenied();
  authorize(actor, { ...request, objectAcl });
  return object;
}

/** A listing's condition keys, as policies see them: the prefix is '' when the request gives none. */
export function listConditions(query: { prefix?: string; delimiter?: string; maxKeys?: number }): Conditions {
  return { 's3:prefix': query.prefix ?? '', 's3:delimiter': query.delimiter, 's3:max-keys': query.maxKeys === undefined ? undefined : String(query.maxKeys) };
}

/** Stages a body and runs the request's own checks on its digests; a body that fails them is discarded. */
export async function stageVerified(
  blobs: BlobStore,
  body: AsyncIterable<Buffer>,
  write: WriteOptions & { expectedSize?: number },
  sealing?: Sealing,
): Promise<StagedBlob> {
  const staged = await blobs.stage(body, withDigest(write.digests, write.checksum), write.expectedSize, sealing?.kek);
  try {
    write.verify?.(staged.digests);
  } catch (err) {
    await blobs.discard(staged);
    throw err;
  }
  return staged;
}

/** The digests to compute, with the one a stored checksum needs. */
export function withDigest(digests: ExtraDigest[] = [], checksum: ChecksumAlgorithm | undefined): ExtraDigest[] {
  return checksum === undefined || digests.includes(checksum) ? digests : [...digests, checksum];
}

export function fileAlreadyExists(): ServiceError {
  return new ServiceError('FileAlreadyExists', 'The object you specified already exists and can not be overwritten.', 409);
}
