import type { Readable } from 'node:stream';
import type { BlobStore, StagedBlob } from './blob-store.js';
import { etagOf, type Encryption, type EncryptionRequest, type Sealing } from './encryption.js';
import { objectAclToStore } from './acl.js';
import { multipartEtag, normalizeEtag } from './etag.js';
import { combinedCrc64, fingerprintOf, resolveParts } from './part-list.js';
import { ServiceError, errors } from './errors.js';
import { newUploadId } from './ids.js';
import { listByPrefix } from './listing.js';
import * as objectLock from './object-lock.js';
import { labelled, writeVersion } from './versioning.js';
import type { Metadata, StoredPart, StoredUpload } from './metadata/types.js';
import { refuseNul, validateObjectKey } from './names.js';
import { completedChecksum, type StatedChecksums } from './multipart-checksums.js';
import { blobCrc32c } from './verified-read.js';
import type { Storage } from './storage.js';
import {
  fileAlreadyExists,
  listConditions,
  MAX_PAGE,
  requireBucket,
  requireOpenUpload,
  stageVerified,
  withDigest,
  type EngineParts,
} from './engine-parts.js';
import type {
  Actor,
  ChecksumAlgorithm,
  ChecksumSpec,
  CompletedPart,
  ListPartsPage,
  ListUploadsPage,
  ListUploadsQuery,
  ObjectAttributes,
  ObjectChecksum,
  ObjectEncryption,
  ObjectInfo,
  PartInfo,
  UploadInfo,
  UploadListEntry,
  WriteOptions,
} from './types.js';

export const MAX_PART_NUMBER = 10_000;
/** Sorts after every upload id (ids are upper-case hex). */
const AFTER_ALL_UPLOAD_IDS = '~';

export interface CompleteOptions {
  /** Overrides the engine's minPartSize (OSS allows 100 KB parts). */
  minPartSize?: number;
  /** Use every uploaded part in order instead of a client-sent list (OSS `x-oss-complete-all`). */
  completeAll?: boolean;
  /** Fail with FileAlreadyExists if the key exists (OSS `x-oss-forbid-overwrite`). */
  forbidOverwrite?: boolean;
  /** Compute the object's CRC-64 from the parts' CRCs when every part has one. */
  withCrc64?: boolean;
  /** The whole content's MD5 / SHA-1 (hex), when the caller hashed the parts in order: stored for findByContentHash. */
  contentMd5?: string;
  contentSha1?: string;
  /** What the client says of the upload's checksum type and the object's checksum: checked, never stored as given. */
  stated?: StatedChecksums;
}

export interface CompleteResult {
  bucket: string;
  key: string;
  etag: string;
  size: number;
  partsCount?: number;
  crc64?: string;
  /** The object's checksum, when its upload announced an algorithm. */
  checksum?: ObjectChecksum;
  /** The new object's row id. */
  id?: number;
  /** The new version's id, in a versioned bucket. */
  versionId?: string;
  /** How the object is encrypted, if it is. */
  encryption?: ObjectEncryption;
}

/** What UploadPartCopy reads its source with: the engine's object reads, authorised there. */
export type ObjectSource = Pick<Storage, 'getObject' | 'openRead'>;

/**
 * Multipart uploads, protocol-free: create, parts (uploaded or copied), list, complete, abort.
 * Every call is authorised (core/authorization.ts) before it reads or writes, for every dialect.
 */
export class MultipartUploads {
  private readonly meta: Metadata;
  private readonly blobs: BlobStore;
  private readonly encryption: Encryption;

  constructor(
    parts: EngineParts,
    /** Smallest part (but the last) Complete accepts, in bytes. */
    private readonly minPartSize: number,
    private readonly objects: ObjectSource,
  ) {
    this.meta = parts.meta;
    this.blobs = parts.blobs;
    this.encryption = parts.encryption;
  }

  /** With `checksum`, every part gets that algorithm's checksum and the object one of that type. */
  async create(
    actor: Actor,
    bucket: string,
    key: string,
    attributes: ObjectAttributes,
    checksum?: ChecksumSpec,
    encryption?: EncryptionRequest,
  ): Promise<UploadInfo> {
    const info = await requireBucket(this.meta, actor, bucket, 's3:PutObject', key);
    objectLock.checkLockedWrite(attributes.lock, info, new Date());
    const acl = objectAclToStore(attributes.acl, info);
    const owner = info.owner;
    validateObjectKey(key);
    const sealing = await this.encryption.forWrite(encryption, info.encryption);
    const upload: UploadInfo = {
      uploadId: newUploadId(),
      bucket,
      key,
      owner,
      initiated: new Date(),
      ...attributes,
      acl,
      checksum,
      encryption: sealing?.encryption,
    };
    await this.meta.insertUpload(upload);
    return upload;
  }

  /**
   * Stores one part. The bytes become durable first; the part row is written
   * only if the upload is still open at that moment, so a part racing an abort or
   * a completion cannot bring the upload back. Same number twice: last one wins.
   * A part of an upload that announced a checksum algorithm gets that checksum; otherwise
   * the one `write.checksum` names, if any.
   */
  async uploadPart(
    actor: Actor,
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    body: AsyncIterable<Buffer>,
    write: WriteOptions & { expectedSize?: number; customerKey?: Buffer } = {},
  ): Promise<PartInfo & { encryption?: ObjectEncryption }> {
    await requireBucket(this.meta, actor, bucket, 's3:PutObject', key);
    const upload = await requireOpenUpload(this.meta, bucket, key, uploadId);
    checkPartNumber(partNumber);
    const checksum = upload.checksum?.algorithm ?? write.checksum;
    const sealing = await this.partSealing(upload, write.customerKey);
    const staged = await stageVerified(this.blobs, body, { ...write, checksum }, sealing);
    return this.commitPart(bucket, key, uploadId, partNumber, staged, checksum, sealing);
  }

  /** How an upload's new part is sealed: as its upload, checked against the request's customer key. */
  private async partSealing(upload: StoredUpload, customerKey: Buffer | undefined): Promise<Sealing | undefined> {
    const kek = await this.encryption.kekForPart(upload.encryption, customerKey);
    return kek && upload.encryption && { encryption: upload.encryption, kek };
  }

  /** UploadPartCopy: the part is a byte range of an existing object. */
  async copyPart(
    actor: Actor,
    target: { bucket: string; key: string; uploadId: string; partNumber: number },
    source: { bucket: string; key: string; versionId?: string; range?: { start: number; end: number }; customerKey?: Buffer },
    options: { check?: (source: ObjectInfo) => void; digests?: WriteOptions['digests']; customerKey?: Buffer } = {},
  ): Promise<PartInfo & { encryption?: ObjectEncryption }> {
    await requireBucket(this.meta, actor, target.bucket, 's3:PutObject', target.key);
    const upload = await requireOpenUpload(this.meta, target.bucket, target.key, target.uploadId);
    checkPartNumber(target.partNumber);
    const sealing = await this.partSealing(upload, options.customerKey);
    const read = await this.objects.getObject(actor, source.bucket, source.key, source.versionId, source.customerKey);
    options.check?.(read.info);
    const range = source.range ?? { start: 0, end: read.info.size - 1 };
    if (range.start > range.end || range.end >= read.info.size) {
      throw new ServiceError('InvalidRange', 'The requested range is not satisfiable', 416);
    }
    const checksum = upload.checksum?.algorithm;
    const staged = await this.blobs.stage(await this.objects.openRead(read, range.start, range.end), withDigest(options.digests, checksum), undefined, sealing?.kek);
    return this.commitPart(target.bucket, target.key, target.uploadId, target.partNumber, staged, checksum, sealing);
  }

  private async commitPart(
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    staged: StagedBlob,
    checksum: ChecksumAlgorithm | undefined,
    sealing: Sealing | undefined,
  ): Promise<PartInfo & { encryption?: ObjectEncryption }> {
    const blobId = await this.blobs.promote(staged);
    const part: StoredPart = {
      partNumber,
      blobId,
      size: staged.digests.size,
      etag: etagOf(sealing?.encryption, staged.digests.md5.toString('hex')),
      lastModified: new Date(),
      crc64: staged.digests.crc64,
      checksum: checksum && { algorithm: checksum, value: staged.digests[checksum]! },
      blobCrc32c: blobCrc32c(staged.digests),
    };
    let released: string[];
    try {
      released = await this.meta.transaction(async (tx) => {
        // The upload still open is enough: deleting a bucket deletes its uploads in the same
        // transaction, and the caller checked the actor's access to the bucket before the body.
        await requireOpenUpload(tx, bucket, key, uploadId);
        const replaced = await tx.upsertPart(uploadId, part);
        return replaced === undefined ? [] : tx.unreferenced([replaced]);
      });
    } catch (err) {
      await this.blobs.remove([blobId]);
      throw err;
    }
    await this.blobs.remove(released);
    const { blobId: _omit, blobCrc32c: _crc, ...info } = part;
    return { ...info, encryption: sealing?.encryption };
  }

  /**
   * Completion writes metadata only: the object becomes the ordered list of its
   * parts' blobs. No byte is copied or re-read, so the cost grows with the number
   * of parts, not the size. Parts not listed are discarded.
   */
  async complete(
    actor: Actor,
    bucket: string,
    key: string,
    uploadId: string,
    requested: CompletedPart[],
    options: CompleteOptions = {},
  ): Promise<CompleteResult> {
    // The status (and WORM policy) as the bucket check reads it (no query more for Complete): a
    // Complete racing PutBucketVersioning or InitiateBucketWorm is then ordered as if it committed first.
    const bucketInfo = await requireBucket(this.meta, actor, bucket, 's3:PutObject', key);
    const status = bucketInfo.versioning;
    const minPartSize = options.minPartSize ?? this.minPartSize;
    const outcome = await this.meta.transaction(async (tx) => {
      const upload = await tx.getUpload(uploadId);
      if (!upload || upload.bucket !== bucket || upload.key !== key) throw errors.noSuchUpload(uploadId);
      // The list as two columns, ETags normalised once here; everything below compares them as
      // stored (lower-case hex). Columns, not an object per part: a Complete can list 10,000.
      const withChecksums = upload.checksum !== undefined;
      let uploaded = options.completeAll ? await tx.partColumns(uploadId, withChecksums) : undefined;
      const numbers = uploaded ? uploaded.numbers : requested.map((part) => part.partNumber);
      const etags = uploaded ? uploaded.etags : requested.map((part) => normalizeEtag(part.etag));
      if (numbers.length === 0) throw errors.malformedXML();
      const fingerprint = fingerprintOf(numbers, etags);
      if (upload.completed) {
        // A retried Complete (its answer was lost) gets the same answer again.
        if (upload.completed.fingerprint !== fingerprint) throw errors.noSuchUpload(uploadId);
        const current = await tx.getObject(bucket, key);
        return {
          result: {
            bucket,
            key,
            etag: upload.completed.etag,
            size: current?.size ?? 0,
            partsCount: current?.partsCount,
            crc64: current?.crc64,
            checksum: current?.checksum,
            id: current?.id,
            versionId: current && labelled(current, status).versionId,
            encryption: current?.encryption,
          },
          released: [],
        };
      }
      uploaded ??= await tx.partColumns(uploadId, withChecksums);
      const { size, matched, unlisted, counted } = resolveParts(uploaded, uploadId, numbers, etags, minPartSize);
      if (options.forbidOverwrite && (await tx.getObject(bucket, key))) throw fileAlreadyExists();
      // The counted ETags equal the stored parts' MD5s by now.
      const etag = multipartEtag(counted);
      const crc64 = options.withCrc64 ? combinedCrc64(uploaded, matched) : undefined;
      // Checked against the listed parts' stored checksums, and computed from them: no byte is read.
      const checksum = completedChecksum({
        uploadId,
        spec: upload.checksum,
        listed: options.completeAll ? undefined : requested,
        uploaded,
        matched,
        stated: options.stated,
      });
      const lastModified = new Date();
      const { stored, released: old } = await writeVersion(tx, {
        bucket,
        key,
        size,
        etag,
        lastModified,
        // The lock Create asked for, or the bucket's default retention from now.
        lock: objectLock.lockOfNewVersion(upload.lock, bucketInfo, lastModified),
        headers: upload.headers,
        userMeta: upload.userMeta,
        tags: upload.tags,
        acl: upload.acl,
        encryption: upload.encryption,
        partsCount: matched.length,
        crc64,
        checksum,
        // An encrypted object is found by no content hash (see putObject).
        contentMd5: upload.encryption ? undefined : options.contentMd5,
        contentSha1: upload.encryption ? undefined : options.contentSha1,
        // Metadata only: the object points at the upload's part rows, which stay where they are.
        content: { uploadId },
      }, bucketInfo);
      const id = stored.id;
      await tx.markCompleted(uploadId, new Date(), fingerprint, etag);
      // Listed parts now are the object; unlisted ones go (and the replaced object's bytes may be freed).
      const discarded = await tx.deleteParts(uploadId, unlisted);
      return {
        result: { bucket, key, etag, size, partsCount: matched.length, crc64, checksum, id, versionId: stored.versionId, encryption: upload.encryption },
        released: await tx.unreferenced([...old, ...discarded]),
      };
    });
    await this.blobs.remove(outcome.released);
    return outcome.result;
  }

  async abort(actor: Actor, bucket: string, key: string, uploadId: string): Promise<void> {
    await requireBucket(this.meta, actor, bucket, 's3:AbortMultipartUpload', key);
    const released = await this.meta.transaction(async (tx) => {
      await requireOpenUpload(tx, bucket, key, uploadId);
      return tx.unreferenced(await tx.deleteUpload(uploadId));
    });
    await this.blobs.remove(released);
  }

  /** An open upload, for listing its parts or (`action` s3:PutObject) for writing one: each needs its own action. */
  async get(actor: Actor, bucket: string, key: string, uploadId: string, action = 's3:ListMultipartUploadParts'): Promise<UploadInfo> {
    await requireBucket(this.meta, actor, bucket, action, key);
    return requireOpenUpload(this.meta, bucket, key, uploadId);
  }

  /** One page of parts: an index range scan after the marker, so page 9 costs what page 1 does. */
  async listParts(
    actor: Actor,
    bucket: string,
    key: string,
    uploadId: string,
    query: { partNumberMarker?: number; maxParts: number },
  ): Promise<ListPartsPage> {
    await requireBucket(this.meta, actor, bucket, 's3:ListMultipartUploadParts', key);
    const upload = await requireOpenUpload(this.meta, bucket, key, uploadId);
    const max = Math.min(Math.max(query.maxParts, 0), MAX_PAGE);
    // A page of none is empty and, as S3 answers it, not truncated.
    const rows = max === 0 ? [] : await this.meta.listParts(uploadId, query.partNumberMarker ?? 0, max + 1);
    const isTruncated = rows.length > max;
    const parts = rows.slice(0, max).map(({ blobId: _omit, blobCrc32c: _crc, ...part }) => part);
    return {
      upload,
      parts,
      isTruncated,
      nextPartNumberMarker: parts.length > 0 ? parts[parts.length - 1]!.partNumber : undefined,
    };
  }

  /** Every part of an open upload, in order (for the dialects' own completion checks). */
  async allParts(actor: Actor, bucket: string, key: string, uploadId: string): Promise<PartInfo[]> {
    await requireBucket(this.meta, actor, bucket, 's3:ListMultipartUploadParts', key);
    await requireOpenUpload(this.meta, bucket, key, uploadId);
    return (await this.meta.allParts(uploadId)).map(({ blobId: _omit, blobCrc32c: _crc, ...part }) => part);
  }

  /**
   * Open uploads ordered by key, then by upload id (which is creation order).
   * `keyMarker` alone: keys after it. With `uploadIdMarker`: that key's uploads
   * after the id, then later keys. `uploadIdMarker` without a key marker is ignored.
   */
  async list(actor: Actor, bucket: string, query: ListUploadsQuery): Promise<ListUploadsPage> {
    refuseNul({ prefix: query.prefix, delimiter: query.delimiter, 'key-marker': query.keyMarker, 'upload-id-marker': query.uploadIdMarker });
    await requireBucket(this.meta, actor, bucket, 's3:ListBucketMultipartUploads', undefined, listConditions({ ...query, maxKeys: query.maxUploads }));
    const prefix = query.prefix ?? '';
    const max = Math.min(query.maxUploads, MAX_PAGE);
    // A page of none is empty and, as S3 answers it, not truncated.
    if (max <= 0) return { uploads: [], commonPrefixes: [], isTruncated: false };
    const keyMarker = query.keyMarker || undefined;
    const uploadIdMarker = keyMarker ? query.uploadIdMarker || undefined : undefined;

    const uploads: UploadListEntry[] = [];
    let sameKeyTruncated = false;
    if (keyMarker && uploadIdMarker && keyMarker.startsWith(prefix)) {
      const grouped = query.delimiter && keyMarker.slice(prefix.length).includes(query.delimiter);
      if (!grouped) {
        const rows = await this.meta.listUploadsOfKeyAfterId(bucket, keyMarker, uploadIdMarker, max + 1);
        sameKeyTruncated = rows.length > max;
        uploads.push(...rows.slice(0, max));
      }
    }
    if (sameKeyTruncated) {
      const last = uploads[uploads.length - 1]!;
      return { uploads, commonPrefixes: [], isTruncated: true, nextKeyMarker: last.key, nextUploadIdMarker: last.uploadId };
    }

    let lastSeen: UploadListEntry | undefined;
    const page = await listByPrefix<UploadListEntry>({
      prefix,
      delimiter: query.delimiter,
      after: keyMarker,
      max: max - uploads.length,
      keyOf: (upload) => upload.key,
      fetch: async (after, lower, upper, limit) => {
        // Several uploads share a key: resume after the last one seen, or after all of the marker key's.
        const uploadId = lastSeen?.key === after ? lastSeen.uploadId : AFTER_ALL_UPLOAD_IDS;
        const rows = await this.meta.listUploadsAfter(bucket, { key: after, uploadId }, lower, upper, limit);
        lastSeen = rows[rows.length - 1];
        return rows;
      },
    });
    uploads.push(...page.items);
    const last = uploads[uploads.length - 1];
    const lastIsPrefix = page.lastWasCommonPrefix;
    return {
      uploads,
      commonPrefixes: page.commonPrefixes,
      isTruncated: page.isTruncated,
      nextKeyMarker: lastIsPrefix ? page.nextMarker : last?.key,
      nextUploadIdMarker: lastIsPrefix ? undefined : last?.uploadId,
    };
  }

  /**
   * Parts held so far and their bytes for some of a bucket's uploads (a page of
   * listMultipartUploads), in one query: what a console shows beside each upload in progress.
   */
  async totals(actor: Actor, bucket: string, uploadIds: string[]): Promise<Map<string, { parts: number; bytes: number }>> {
    await requireBucket(this.meta, actor, bucket, 's3:ListBucketMultipartUploads');
    return this.meta.partTotals(bucket, uploadIds);
  }

  /** The bucket's uploads in progress, with the parts and bytes they hold together. */
  async bucketTotals(actor: Actor, bucket: string): Promise<{ uploads: number; parts: number; bytes: number }> {
    await requireBucket(this.meta, actor, bucket, 's3:ListBucketMultipartUploads');
    return this.meta.bucketPartTotals(bucket);
  }

  /**
   * A stored part of an open upload and its bytes, both from the same part row: the body is the
   * content the returned ETag names, or fails (the part was replaced and its blob removed first).
   */
  async openPart(actor: Actor, bucket: string, key: string, uploadId: string, partNumber: number): Promise<{ part: PartInfo; body: Readable }> {
    await requireBucket(this.meta, actor, bucket, 's3:PutObject', key);
    const upload = await requireOpenUpload(this.meta, bucket, key, uploadId);
    const stored = await this.meta.getPart(uploadId, partNumber);
    if (!stored) throw errors.invalidArgument(`Part ${partNumber} has not been uploaded`, 'partNumber', String(partNumber));
    const { blobId, ...part } = stored;
    const keys = await this.encryption.blobKeys(upload.encryption, undefined);
    const body = part.size === 0 ? this.blobs.read([], 0, -1) : this.blobs.read([{ blobId, offset: 0, size: part.size, partNumber }], 0, part.size - 1, keys);
    return { part, body };
  }
}

function checkPartNumber(partNumber: number): void {
  if (!Number.isInteger(partNumber) || partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw errors.invalidArgument(
      `Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`,
      'partNumber',
      String(partNumber),
    );
  }
}
