import type { BlobKeys, BlobStore } from './blob-store.js';
import { etagOf, sameSealing, type Encryption, type EncryptionRequest, type Sealing } from './encryption.js';
import { objectAction } from './authorization.js';
import { objectAclToStore, type Acl } from './acl.js';
import { ServiceError, errors } from './errors.js';
import * as objectLock from './object-lock.js';
import { labelled, noSuchVersion, parseVersionId, readVersion, writeVersion } from './versioning.js';
import type { Metadata, MetadataQueries, NewObject, StoredObject } from './metadata/types.js';
import { validateObjectKey } from './names.js';
import { runningChecksum } from './digests.js';
import { blobCrc32c } from './verified-read.js';
import { authorizeObject, fileAlreadyExists, requireBucket, requireObject, withDigest, type EngineParts } from './engine-parts.js';
import type { Actor, ChecksumAlgorithm, Digests, ObjectAttributes, ObjectChecksum, ObjectInfo, ObjectLock, Segment, Tag } from './types.js';

/**
 * CopyObject, protocol-free: by reference where it can (the copy points at the source's blobs),
 * with the bytes read again only for a checksum the source lacks or an encryption it does not have.
 */
export class ObjectCopies {
  private readonly meta: Metadata;
  private readonly blobs: BlobStore;
  private readonly encryption: Encryption;

  constructor(parts: EngineParts) {
    this.meta = parts.meta;
    this.blobs = parts.blobs;
    this.encryption = parts.encryption;
  }

  /**
   * Copies by reference: the new object points at the same blobs, so a copy of
   * any size costs a metadata write. Bytes are freed when the last reference goes.
   * The copy keeps the source's checksum, unless `checksum` names an algorithm for
   * it: then that digest of the source's bytes is computed (streamed, not stored again).
   */
  async copy(
    actor: Actor,
    source: { bucket: string; key: string; versionId?: string },
    target: { bucket: string; key: string },
    attributes?: ObjectAttributes,
    options: {
      forbidOverwrite?: boolean;
      check?: (source: ObjectInfo) => void;
      checksum?: (source: ObjectInfo) => ChecksumAlgorithm | undefined;
      /** The copy's tags (a REPLACE directive); the source's when undefined. */
      tags?: Tag[];
      /** The copy's Object Lock (never the source's); the target bucket's default retention when it has none. */
      lock?: ObjectLock;
      /** The copy's encryption (never the source's); the target bucket's default when none is asked for. */
      encryption?: EncryptionRequest;
      /** The SSE-C key of a source stored with one. */
      sourceCustomerKey?: Buffer;
      /** The copy's ACL as asked for (never the source's; core/acl.ts objectAclToStore); none: the default. */
      acl?: Acl;
    } = {},
  ): Promise<StoredObject & { sourceVersionId?: string }> {
    const sourceInfo = await this.meta.getBucket(source.bucket);
    if (!sourceInfo) throw errors.noSuchBucket(source.bucket);
    await authorizeObject(actor, { action: objectAction('s3:GetObject', source.versionId), bucket: sourceInfo, key: source.key }, () =>
      this.copySource(this.meta, source.bucket, source.key, source.versionId === undefined ? undefined : parseVersionId(source.versionId, 'x-amz-copy-source')),
    );
    const targetInfo = await requireBucket(this.meta, actor, target.bucket, 's3:PutObject', target.key);
    objectLock.checkLockedWrite(options.lock, targetInfo, new Date());
    objectAclToStore(options.acl, targetInfo);
    validateObjectKey(target.key);
    const sealing = await this.encryption.forWrite(options.encryption, targetInfo.encryption);
    const sourceVersion = source.versionId === undefined ? undefined : parseVersionId(source.versionId, 'x-amz-copy-source');
    // A digest, or the bytes sealed anew, are made outside the transaction, then used only if the source is still that object.
    let digested: { sourceId: number; checksum: ObjectChecksum } | undefined;
    let resealed: { sourceId: number; blobId: string; digests: Digests; algorithm?: ChecksumAlgorithm } | undefined;
    try {
      for (let attempt = 1; ; attempt++) {
        const outcome = await this.meta.transaction(async (tx) => {
          const src = await this.copySource(tx, source.bucket, source.key, sourceVersion);
          options.check?.(src);
          // The source's key is checked (SSE-C) whether or not its bytes are read.
          const sourceKeys = await this.encryption.blobKeys(src.encryption, options.sourceCustomerKey);
          if (options.forbidOverwrite && (await tx.getObject(target.bucket, target.key))) throw fileAlreadyExists();
          const algorithm = options.checksum?.(src);
          // Sealed otherwise than the copy must be: its bytes are decrypted and encrypted again.
          const reseal = !sameSealing(src.encryption, sealing?.encryption);
          if (reseal && (resealed?.sourceId !== src.id || resealed.algorithm !== algorithm)) {
            return { reseal: { source: src, keys: sourceKeys, algorithm } };
          }
          if (!reseal && algorithm && (digested?.sourceId !== src.id || digested.checksum.algorithm !== algorithm)) {
            return { digest: { source: src, algorithm, keys: sourceKeys } };
          }
          const common = {
            bucket: target.bucket,
            key: target.key,
            lastModified: new Date(),
            headers: attributes ? attributes.headers : src.headers,
            userMeta: attributes ? attributes.userMeta : src.userMeta,
            tags: options.tags ?? src.tags,
            encryption: sealing?.encryption,
          };
          const info: ObjectInfo & { contentMd5?: string; contentSha1?: string; content: NewObject['content'] } = resealed && reseal
            ? {
                ...common,
                size: resealed.digests.size,
                etag: etagOf(sealing?.encryption, resealed.digests.md5.toString('hex')),
                crc64: resealed.digests.crc64,
                // A composite checksum was of the source's parts, which the copy no longer has.
                checksum: algorithm
                  ? { algorithm, type: 'full-object', value: resealed.digests[algorithm]! }
                  : src.checksum?.type === 'full-object' ? src.checksum : undefined,
                ...(sealing ? {} : { contentMd5: resealed.digests.md5.toString('hex'), contentSha1: resealed.digests.sha1?.toString('hex') }),
                content: { segments: [{ blobId: resealed.blobId, size: resealed.digests.size, partNumber: 1, crc32c: blobCrc32c(resealed.digests) }] },
              }
            : {
                ...common,
                size: src.size,
                etag: src.etag,
                partsCount: src.partsCount,
                crc64: src.crc64,
                checksum: algorithm ? digested!.checksum : src.checksum,
                contentMd5: src.contentMd5,
                contentSha1: src.contentSha1,
                content: { segments: await tx.segmentsOf(src.id) },
              };
          const targetBucket = await tx.getBucket(target.bucket);
          if (!targetBucket) throw errors.noSuchBucket(target.bucket);
          const lock = objectLock.lockOfNewVersion(options.lock, targetBucket, info.lastModified);
          const { stored, released } = await writeVersion(tx, { ...info, lock, acl: objectAclToStore(options.acl, targetBucket) }, targetBucket);
          return { info: { ...stored, sourceVersionId: src.versionId }, blobIds: await tx.unreferenced(released), used: reseal };
        });
        if (outcome.reseal) {
          if (attempt > 3) throw errors.internal();
          const { source: src, keys, algorithm } = outcome.reseal;
          if (resealed) await this.blobs.remove([resealed.blobId]);
          resealed = undefined;
          resealed = await this.resealObject(src, keys, sealing, algorithm).then(
            (made) => ({ sourceId: src.id, algorithm, ...made }),
            () => undefined,
          );
          continue;
        }
        if (outcome.digest) {
          // The source changed under every earlier digest: give up rather than loop.
          if (attempt > 3) throw errors.internal();
          const { source: src, algorithm, keys } = outcome.digest;
          digested = await this.digestObject(src, algorithm, keys).then(
            (value) => ({ sourceId: src.id, checksum: { algorithm, type: 'full-object' as const, value } }),
            // Its bytes went (deleted or replaced meanwhile): the next attempt sees what is there now.
            () => undefined,
          );
          continue;
        }
        if (!outcome.used && resealed) await this.blobs.remove([resealed.blobId]);
        resealed = undefined;
        await this.blobs.remove(outcome.blobIds!);
        return outcome.info!;
      }
    } catch (err) {
      if (resealed) await this.blobs.remove([resealed.blobId]);
      throw err;
    }
  }

  /** One digest of a stored object's bytes, streamed from its blobs. */
  private async digestObject(object: StoredObject, algorithm: ChecksumAlgorithm, keys?: BlobKeys): Promise<Buffer> {
    const checksum = runningChecksum(algorithm);
    const segments = await this.meta.segmentsOf(object.id);
    if (object.size > 0) {
      for await (const chunk of this.blobs.read(segments, 0, object.size - 1, keys)) checksum.update(chunk as Buffer);
    }
    return checksum.digest();
  }

  /** A stored object's bytes as one new blob, decrypted with `keys` and sealed as `sealing` says (a copy between encryptions). */
  private async resealObject(object: StoredObject, keys: BlobKeys | undefined, sealing: Sealing | undefined, algorithm?: ChecksumAlgorithm) {
    return restage(this.blobs, await this.meta.segmentsOf(object.id), object.size, keys, sealing, algorithm);
  }

  /** A copy's source: the latest version, or the one named (never a delete marker). */
  private async copySource(meta: MetadataQueries, bucket: string, key: string, versionId: string | undefined): Promise<StoredObject> {
    if (versionId === undefined) {
      const object = await requireObject(meta, bucket, key);
      const status = object.versionId === undefined ? (await meta.getBucket(bucket))?.versioning : undefined;
      return labelled(object, status);
    }
    const found = await readVersion(meta, bucket, key, versionId);
    if (!found) throw noSuchVersion(key, versionId);
    if (found.deleteMarker) {
      throw new ServiceError('InvalidRequest', 'The source of a copy request may not specifically refer to a delete marker by version id.', 400);
    }
    return found.versionId === undefined ? { ...found, versionId: 'null' } : found;
  }
}

/** `size` bytes of `segments` as one new blob: read with `keys`, sealed as `sealing` says. */
export async function restage(blobs: BlobStore, segments: Segment[], size: number, keys: BlobKeys | undefined, sealing: Sealing | undefined, algorithm?: ChecksumAlgorithm) {
  const body = blobs.read(segments, 0, size - 1, keys);
  const staged = await blobs.stage(body, withDigest(['sha1'], algorithm), size, sealing?.kek);
  return { blobId: await blobs.promote(staged), digests: staged.digests };
}
