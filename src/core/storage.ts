import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobStore, type StagedBlob } from './blob-store.js';
import { crc64Combine } from './crc64.js';
import { multipartEtag, normalizeEtag } from './etag.js';
import { ServiceError, errors } from './errors.js';
import { newUploadId } from './ids.js';
import { listByPrefix } from './listing.js';
import { MetaStore, type PartColumns, type StoredObject, type StoredPart, type StoredUpload } from './meta-store.js';
import { validateBucketName, validateObjectKey } from './names.js';
import { completedChecksum, type StatedChecksums } from './multipart-checksums.js';
import { runningChecksum } from './digests.js';
import type {
  Actor,
  BucketInfo,
  Checksum,
  ChecksumAlgorithm,
  ChecksumSpec,
  CompletedPart,
  ListObjectsPage,
  ListObjectsQuery,
  ListPartsPage,
  ListUploadsPage,
  ListUploadsQuery,
  ObjectAttributes,
  ObjectChecksum,
  ObjectInfo,
  PartInfo,
  Segment,
  UploadInfo,
  WriteOptions,
  ExtraDigest,
} from './types.js';

export const MAX_PART_NUMBER = 10_000;
export const MAX_PAGE = 1000;
/** Sorts after every upload id (ids are upper-case hex). */
const AFTER_ALL_UPLOAD_IDS = '~';

export interface StorageOptions {
  /** Smallest part (but the last) Complete accepts, in bytes. */
  minPartSize: number;
  /** Incomplete uploads older than this (ms) are aborted by the sweep. */
  uploadExpiryMs: number;
  /** Worker threads hashing large bodies (default 0: hash on the event loop). */
  hashThreads?: number;
  /** Write large bodies with O_DIRECT where the filesystem takes it (default true). */
  directIo?: boolean;
}

export interface CompleteOptions {
  /** Overrides StorageOptions.minPartSize (OSS allows 100 KB parts). */
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
}

export interface ObjectRead {
  info: StoredObject;
  readonly segments: Segment[];
}

/**
 * The protocol-free storage engine: buckets, objects, multipart uploads and parts.
 * Dialects translate wire requests into these calls and ServiceErrors back into
 * their own error format. Ownership is enforced here, once, for every dialect.
 */
export class Storage {
  private sweepTimer?: NodeJS.Timeout;

  private constructor(
    private readonly meta: MetaStore,
    private readonly blobs: BlobStore,
    readonly options: StorageOptions,
  ) {}

  static async open(dataDir: string, options: StorageOptions): Promise<Storage> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const blobs = await BlobStore.open(dataDir, { hashThreads: options.hashThreads ?? 0, directIo: options.directIo });
    const meta = new MetaStore(join(dataDir, 'meta.db'));
    const storage = new Storage(meta, blobs, options);
    const startedAt = new Date();
    // Orphans can only predate this start; sweep them without holding up the listener.
    setImmediate(() => {
      const referenced = meta.allBlobIds();
      void blobs.sweepOrphans((id) => referenced.has(id) || meta.isBlobReferenced(id), startedAt).catch(() => {});
    });
    return storage;
  }

  /** Starts the periodic abort of stale uploads. */
  startSweeper(intervalMs = 60 * 60 * 1000): void {
    void this.sweepStaleUploads().catch(() => {});
    this.sweepTimer = setInterval(() => void this.sweepStaleUploads().catch(() => {}), intervalMs);
    this.sweepTimer.unref();
  }

  async close(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.meta.close();
    await this.blobs.close();
  }

  // Buckets

  listBuckets(actor: Actor): BucketInfo[] {
    return this.meta.listBuckets().filter((bucket) => actor.root || bucket.owner === actor.userId);
  }

  createBucket(actor: Actor, name: string): void {
    validateBucketName(name);
    this.meta.transaction(() => {
      const existing = this.meta.getBucket(name);
      if (existing) {
        if (existing.owner === actor.userId) {
          throw new ServiceError(
            'BucketAlreadyOwnedByYou',
            'Your previous request to create the named bucket succeeded and you already own it.',
            409,
            { BucketName: name },
          );
        }
        throw new ServiceError(
          'BucketAlreadyExists',
          'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
          409,
          { BucketName: name },
        );
      }
      this.meta.insertBucket(name, actor.userId, new Date());
    });
  }

  headBucket(actor: Actor, name: string): BucketInfo {
    return this.requireBucket(actor, name);
  }

  /** Deletes an empty bucket; its incomplete uploads go with it. */
  async deleteBucket(actor: Actor, name: string): Promise<void> {
    this.requireBucket(actor, name);
    const released = this.meta.transaction(() => {
      if (this.meta.bucketHasObjects(name)) {
        throw new ServiceError('BucketNotEmpty', 'The bucket you tried to delete is not empty.', 409, { BucketName: name });
      }
      const blobIds = this.meta.uploadIdsOfBucket(name).flatMap((id) => this.meta.deleteUpload(id));
      this.meta.deleteBucket(name);
      return this.meta.unreferenced(blobIds);
    });
    await this.blobs.remove(released);
  }

  // Objects

  async putObject(
    actor: Actor,
    bucket: string,
    key: string,
    body: AsyncIterable<Buffer>,
    attributes: ObjectAttributes,
    write: WriteOptions & { expectedSize?: number; forbidOverwrite?: boolean } = {},
  ): Promise<StoredObject> {
    this.requireBucket(actor, bucket);
    validateObjectKey(key);
    const staged = await this.stageVerified(body, write);
    const blobId = await this.blobs.promote(staged);
    const info: ObjectInfo = {
      bucket,
      key,
      size: staged.digests.size,
      etag: staged.digests.md5.toString('hex'),
      lastModified: new Date(),
      crc64: staged.digests.crc64,
      checksum: write.checksum && { algorithm: write.checksum, type: 'full-object', value: staged.digests[write.checksum]! },
      ...attributes,
    };
    let released: string[];
    let stored!: StoredObject;
    try {
      released = this.meta.transaction(() => {
        this.requireBucket(actor, bucket);
        if (write.forbidOverwrite && this.meta.getObject(bucket, key)) throw fileAlreadyExists();
        const old = this.meta.putObject({
          ...info,
          contentMd5: info.etag,
          contentSha1: staged.digests.sha1?.toString('hex'),
          content: { segments: [{ blobId, size: info.size, partNumber: 1 }] },
        });
        stored = this.meta.getObject(bucket, key)!;
        return this.meta.unreferenced(old);
      });
    } catch (err) {
      await this.blobs.remove([blobId]);
      throw err;
    }
    await this.blobs.remove(released);
    return stored;
  }

  /** Whether the key holds an object (for refusing overwrites before a body is read). */
  hasObject(actor: Actor, bucket: string, key: string): boolean {
    this.requireBucket(actor, bucket);
    return this.meta.getObject(bucket, key) !== undefined;
  }

  headObject(actor: Actor, bucket: string, key: string): StoredObject {
    this.requireBucket(actor, bucket);
    return this.requireObject(bucket, key);
  }

  /**
   * Metadata and the segment map of an object, for ranged streaming reads. The map
   * (up to 10,000 rows) is read on first use: HEAD and 304 answers never need it.
   */
  getObject(actor: Actor, bucket: string, key: string): ObjectRead {
    this.requireBucket(actor, bucket);
    const stored = this.requireObject(bucket, key);
    const meta = this.meta;
    let segments: Segment[] | undefined;
    return {
      info: stored,
      get segments() {
        return (segments ??= meta.segmentsOf(stored.id));
      },
    };
  }

  /** Streams bytes [start, end] (inclusive) of an object read with getObject. */
  openRead(read: ObjectRead, start = 0, end = read.info.size - 1): Readable {
    return this.blobs.read(read.segments, start, end);
  }

  /** Idempotent: deleting a missing key succeeds. */
  async deleteObject(actor: Actor, bucket: string, key: string): Promise<void> {
    this.requireBucket(actor, bucket);
    const released = this.meta.transaction(() => this.meta.unreferenced(this.meta.deleteObject(bucket, key)));
    await this.blobs.remove(released);
  }

  /**
   * Copies by reference: the new object points at the same blobs, so a copy of
   * any size costs a metadata write. Bytes are freed when the last reference goes.
   * The copy keeps the source's checksum, unless `checksum` names an algorithm for
   * it: then that digest of the source's bytes is computed (streamed, not stored again).
   */
  async copyObject(
    actor: Actor,
    source: { bucket: string; key: string },
    target: { bucket: string; key: string },
    attributes?: ObjectAttributes,
    options: {
      forbidOverwrite?: boolean;
      check?: (source: ObjectInfo) => void;
      checksum?: (source: ObjectInfo) => ChecksumAlgorithm | undefined;
    } = {},
  ): Promise<StoredObject> {
    this.requireBucket(actor, source.bucket);
    this.requireBucket(actor, target.bucket);
    validateObjectKey(target.key);
    // A digest is computed outside the transaction, then used only if the source is still that object.
    let digested: { sourceId: number; checksum: ObjectChecksum } | undefined;
    for (let attempt = 1; ; attempt++) {
      const outcome = this.meta.transaction(() => {
        const src = this.requireObject(source.bucket, source.key);
        options.check?.(src);
        if (options.forbidOverwrite && this.meta.getObject(target.bucket, target.key)) throw fileAlreadyExists();
        const algorithm = options.checksum?.(src);
        if (algorithm && (digested?.sourceId !== src.id || digested.checksum.algorithm !== algorithm)) {
          return { digest: { source: src, algorithm } };
        }
        const segments = this.meta.segmentsOf(src.id);
        const info: ObjectInfo = {
          bucket: target.bucket,
          key: target.key,
          size: src.size,
          etag: src.etag,
          lastModified: new Date(),
          partsCount: src.partsCount,
          crc64: src.crc64,
          checksum: algorithm ? digested!.checksum : src.checksum,
          headers: attributes ? attributes.headers : src.headers,
          userMeta: attributes ? attributes.userMeta : src.userMeta,
        };
        const old = this.meta.putObject({ ...info, contentMd5: src.contentMd5, contentSha1: src.contentSha1, content: { segments } });
        return { info: this.meta.getObject(target.bucket, target.key)!, blobIds: this.meta.unreferenced(old) };
      });
      if (outcome.digest) {
        // The source changed under every earlier digest: give up rather than loop.
        if (attempt > 3) throw errors.internal();
        const { source: src, algorithm } = outcome.digest;
        digested = await this.digestObject(src, algorithm).then(
          (value) => ({ sourceId: src.id, checksum: { algorithm, type: 'full-object' as const, value } }),
          // Its bytes went (deleted or replaced meanwhile): the next attempt sees what is there now.
          () => undefined,
        );
        continue;
      }
      await this.blobs.remove(outcome.blobIds!);
      return outcome.info!;
    }
  }

  /** One digest of a stored object's bytes, streamed from its blobs. */
  private async digestObject(object: StoredObject, algorithm: ChecksumAlgorithm): Promise<Buffer> {
    const checksum = runningChecksum(algorithm);
    const segments = this.meta.segmentsOf(object.id);
    if (object.size > 0) {
      for await (const chunk of this.blobs.read(segments, 0, object.size - 1)) checksum.update(chunk as Buffer);
    }
    return checksum.digest();
  }

  listObjects(actor: Actor, bucket: string, query: ListObjectsQuery): Omit<ListObjectsPage, 'objects'> & { objects: StoredObject[] } {
    this.requireBucket(actor, bucket);
    // A page of none is empty and, as S3 answers it, not truncated.
    if (query.maxKeys <= 0) return { objects: [], commonPrefixes: [], isTruncated: false };
    const page = listByPrefix<StoredObject>({
      prefix: query.prefix ?? '',
      delimiter: query.delimiter,
      after: query.after,
      max: Math.min(query.maxKeys, MAX_PAGE),
      keyOf: (object) => object.key,
      fetch: (after, lower, upper, limit) => this.meta.listObjects(bucket, after, lower, upper, limit),
    });
    return {
      objects: page.items,
      commonPrefixes: page.commonPrefixes,
      isTruncated: page.isTruncated,
      nextMarker: page.nextMarker,
    };
  }

  // Multipart uploads

  /** With `checksum`, every part gets that algorithm's checksum and the object one of that type. */
  createMultipartUpload(actor: Actor, bucket: string, key: string, attributes: ObjectAttributes, checksum?: ChecksumSpec): UploadInfo {
    const owner = this.requireBucket(actor, bucket).owner;
    validateObjectKey(key);
    const upload: UploadInfo = { uploadId: newUploadId(), bucket, key, owner, initiated: new Date(), ...attributes, checksum };
    this.meta.insertUpload(upload);
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
    write: WriteOptions & { expectedSize?: number } = {},
  ): Promise<PartInfo> {
    this.requireBucket(actor, bucket);
    const upload = this.requireOpenUpload(bucket, key, uploadId);
    checkPartNumber(partNumber);
    const checksum = upload.checksum?.algorithm ?? write.checksum;
    const staged = await this.stageVerified(body, { ...write, checksum });
    return this.commitPart(actor, bucket, key, uploadId, partNumber, staged, checksum);
  }

  /** UploadPartCopy: the part is a byte range of an existing object. */
  async uploadPartCopy(
    actor: Actor,
    target: { bucket: string; key: string; uploadId: string; partNumber: number },
    source: { bucket: string; key: string; range?: { start: number; end: number } },
    options: { check?: (source: ObjectInfo) => void; digests?: WriteOptions['digests'] } = {},
  ): Promise<PartInfo> {
    this.requireBucket(actor, target.bucket);
    const upload = this.requireOpenUpload(target.bucket, target.key, target.uploadId);
    checkPartNumber(target.partNumber);
    const read = this.getObject(actor, source.bucket, source.key);
    options.check?.(read.info);
    const range = source.range ?? { start: 0, end: read.info.size - 1 };
    if (range.start > range.end || range.end >= read.info.size) {
      throw new ServiceError('InvalidRange', 'The requested range is not satisfiable', 416);
    }
    const checksum = upload.checksum?.algorithm;
    const staged = await this.blobs.stage(this.openRead(read, range.start, range.end), withDigest(options.digests, checksum));
    return this.commitPart(actor, target.bucket, target.key, target.uploadId, target.partNumber, staged, checksum);
  }

  private async commitPart(
    actor: Actor,
    bucket: string,
    key: string,
    uploadId: string,
    partNumber: number,
    staged: StagedBlob,
    checksum: ChecksumAlgorithm | undefined,
  ): Promise<PartInfo> {
    const blobId = await this.blobs.promote(staged);
    const part: StoredPart = {
      partNumber,
      blobId,
      size: staged.digests.size,
      etag: staged.digests.md5.toString('hex'),
      lastModified: new Date(),
      crc64: staged.digests.crc64,
      checksum: checksum && { algorithm: checksum, value: staged.digests[checksum]! },
    };
    let released: string[];
    try {
      released = this.meta.transaction(() => {
        this.requireBucket(actor, bucket);
        this.requireOpenUpload(bucket, key, uploadId);
        const replaced = this.meta.upsertPart(uploadId, part);
        return replaced === undefined ? [] : this.meta.unreferenced([replaced]);
      });
    } catch (err) {
      await this.blobs.remove([blobId]);
      throw err;
    }
    await this.blobs.remove(released);
    const { blobId: _omit, ...info } = part;
    return info;
  }

  /**
   * Completion writes metadata only: the object becomes the ordered list of its
   * parts' blobs. No byte is copied or re-read, so the cost grows with the number
   * of parts, not the size. Parts not listed are discarded.
   */
  async completeMultipartUpload(
    actor: Actor,
    bucket: string,
    key: string,
    uploadId: string,
    requested: CompletedPart[],
    options: CompleteOptions = {},
  ): Promise<CompleteResult> {
    this.requireBucket(actor, bucket);
    const minPartSize = options.minPartSize ?? this.options.minPartSize;
    const outcome = this.meta.transaction(() => {
      const upload = this.meta.getUpload(uploadId);
      if (!upload || upload.bucket !== bucket || upload.key !== key) throw errors.noSuchUpload(uploadId);
      // The list as two columns, ETags normalised once here; everything below compares them as
      // stored (lower-case hex). Columns, not an object per part: a Complete can list 10,000.
      const withChecksums = upload.checksum !== undefined;
      let uploaded = options.completeAll ? this.meta.partColumns(uploadId, withChecksums) : undefined;
      const numbers = uploaded ? uploaded.numbers : requested.map((part) => part.partNumber);
      const etags = uploaded ? uploaded.etags : requested.map((part) => normalizeEtag(part.etag));
      if (numbers.length === 0) throw errors.malformedXML();
      const fingerprint = fingerprintOf(numbers, etags);
      if (upload.completed) {
        // A retried Complete (its answer was lost) gets the same answer again.
        if (upload.completed.fingerprint !== fingerprint) throw errors.noSuchUpload(uploadId);
        const current = this.meta.getObject(bucket, key);
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
          },
          released: [],
        };
      }
      uploaded ??= this.meta.partColumns(uploadId, withChecksums);
      const { size, matched, unlisted, counted } = resolveParts(uploaded, uploadId, numbers, etags, minPartSize);
      if (options.forbidOverwrite && this.meta.getObject(bucket, key)) throw fileAlreadyExists();
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
      const old = this.meta.putObject({
        bucket,
        key,
        size,
        etag,
        lastModified: new Date(),
        headers: upload.headers,
        userMeta: upload.userMeta,
        partsCount: matched.length,
        crc64,
        checksum,
        contentMd5: options.contentMd5,
        contentSha1: options.contentSha1,
        // Metadata only: the object points at the upload's part rows, which stay where they are.
        content: { uploadId },
      });
      const id = this.meta.getObject(bucket, key)!.id;
      this.meta.markCompleted(uploadId, new Date(), fingerprint, etag);
      // Listed parts now are the object; unlisted ones go (and the replaced object's bytes may be freed).
      const discarded = this.meta.deleteParts(uploadId, unlisted);
      return { result: { bucket, key, etag, size, partsCount: matched.length, crc64, checksum, id }, released: this.meta.unreferenced([...old, ...discarded]) };
    });
    await this.blobs.remove(outcome.released);
    return outcome.result;
  }

  async abortMultipartUpload(actor: Actor, bucket: string, key: string, uploadId: string): Promise<void> {
    this.requireBucket(actor, bucket);
    const released = this.meta.transaction(() => {
      this.requireOpenUpload(bucket, key, uploadId);
      return this.meta.unreferenced(this.meta.deleteUpload(uploadId));
    });
    await this.blobs.remove(released);
  }

  getUpload(actor: Actor, bucket: string, key: string, uploadId: string): UploadInfo {
    this.requireBucket(actor, bucket);
    return this.requireOpenUpload(bucket, key, uploadId);
  }

  /** One page of parts: an index range scan after the marker, so page 9 costs what page 1 does. */
  listParts(
    actor: Actor,
    bucket: string,
    key: string,
    uploadId: string,
    query: { partNumberMarker?: number; maxParts: number },
  ): ListPartsPage {
    this.requireBucket(actor, bucket);
    const upload = this.requireOpenUpload(bucket, key, uploadId);
    const max = Math.min(Math.max(query.maxParts, 0), MAX_PAGE);
    // A page of none is empty and, as S3 answers it, not truncated.
    const rows = max === 0 ? [] : this.meta.listParts(uploadId, query.partNumberMarker ?? 0, max + 1);
    const isTruncated = rows.length > max;
    const parts = rows.slice(0, max).map(({ blobId: _omit, ...part }) => part);
    return {
      upload,
      parts,
      isTruncated,
      nextPartNumberMarker: parts.length > 0 ? parts[parts.length - 1]!.partNumber : undefined,
    };
  }

  /** Every part of an open upload, in order (for the dialects' own completion checks). */
  allParts(actor: Actor, bucket: string, key: string, uploadId: string): PartInfo[] {
    this.requireBucket(actor, bucket);
    this.requireOpenUpload(bucket, key, uploadId);
    return this.meta.allParts(uploadId).map(({ blobId: _omit, ...part }) => part);
  }

  /**
   * Open uploads ordered by key, then by upload id (which is creation order).
   * `keyMarker` alone: keys after it. With `uploadIdMarker`: that key's uploads
   * after the id, then later keys. `uploadIdMarker` without a key marker is ignored.
   */
  listMultipartUploads(actor: Actor, bucket: string, query: ListUploadsQuery): ListUploadsPage {
    this.requireBucket(actor, bucket);
    const prefix = query.prefix ?? '';
    const max = Math.min(query.maxUploads, MAX_PAGE);
    // A page of none is empty and, as S3 answers it, not truncated.
    if (max <= 0) return { uploads: [], commonPrefixes: [], isTruncated: false };
    const keyMarker = query.keyMarker || undefined;
    const uploadIdMarker = keyMarker ? query.uploadIdMarker || undefined : undefined;

    const uploads: UploadInfo[] = [];
    let sameKeyTruncated = false;
    if (keyMarker && uploadIdMarker && keyMarker.startsWith(prefix)) {
      const grouped = query.delimiter && keyMarker.slice(prefix.length).includes(query.delimiter);
      if (!grouped) {
        const rows = this.meta.listUploadsOfKeyAfterId(bucket, keyMarker, uploadIdMarker, max + 1);
        sameKeyTruncated = rows.length > max;
        uploads.push(...rows.slice(0, max));
      }
    }
    if (sameKeyTruncated) {
      const last = uploads[uploads.length - 1]!;
      return { uploads, commonPrefixes: [], isTruncated: true, nextKeyMarker: last.key, nextUploadIdMarker: last.uploadId };
    }

    let lastSeen: StoredUpload | undefined;
    const page = listByPrefix<StoredUpload>({
      prefix,
      delimiter: query.delimiter,
      after: keyMarker,
      max: max - uploads.length,
      keyOf: (upload) => upload.key,
      fetch: (after, lower, upper, limit) => {
        // Several uploads share a key: resume after the last one seen, or after all of the marker key's.
        const uploadId = lastSeen?.key === after ? lastSeen.uploadId : AFTER_ALL_UPLOAD_IDS;
        const rows = this.meta.listUploadsAfter(bucket, { key: after, uploadId }, lower, upper, limit);
        lastSeen = rows[rows.length - 1];
        return rows;
      },
    });
    uploads.push(...page.items.map(({ completed: _omit, ...upload }) => upload));
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

  // Lookups by id and by content, for dialects that name objects by number or dedupe by digest

  /** The object with this row id, if it is in a bucket the actor reaches. */
  objectById(actor: Actor, id: number): StoredObject | undefined {
    const object = this.meta.getObjectById(id);
    if (!object) return undefined;
    const bucket = this.meta.getBucket(object.bucket);
    return bucket && (actor.root || bucket.owner === actor.userId) ? object : undefined;
  }

  /**
   * An object whose whole content has this MD5 (or SHA-1) and size, in a bucket the actor owns
   * (any bucket for root). Copy it with copyObject to share its bytes under a new key.
   */
  findByContentHash(actor: Actor, hash: { md5?: string; sha1?: string; size: number }): StoredObject | undefined {
    const [kind, digest] = hash.md5 !== undefined ? (['md5', hash.md5] as const) : (['sha1', hash.sha1 ?? ''] as const);
    return this.meta.findByContent(kind, digest.toLowerCase(), hash.size, actor.userId, actor.root);
  }

  /** Number of objects and bytes they hold (shared bytes counted once per object). */
  bucketUsage(actor: Actor, bucket: string): { objects: number; bytes: number } {
    this.requireBucket(actor, bucket);
    return this.meta.bucketUsage(bucket);
  }

  /**
   * Renames objects in place, all or none: each keeps its id and bytes. Fails with
   * FileAlreadyExists when a target key is taken by an object not itself being renamed.
   */
  renameObjects(actor: Actor, bucket: string, moves: Array<{ from: string; to: string }>): void {
    this.requireBucket(actor, bucket);
    moves.forEach((move) => validateObjectKey(move.to));
    this.meta.transaction(() => {
      const moving = new Set(moves.map((move) => move.from));
      const rows = moves.map((move) => ({ object: this.requireObject(bucket, move.from), to: move.to }));
      for (const { to } of rows) {
        if (!moving.has(to) && this.meta.getObject(bucket, to)) throw fileAlreadyExists();
      }
      const now = new Date();
      // Through a temporary key first, so renames that swap or chain never collide on the unique index.
      rows.forEach(({ object }) => this.meta.renameObject(object.id, `\u0000rename\u0000${object.id}`, now));
      rows.forEach(({ object, to }) => this.meta.renameObject(object.id, to, now));
    });
  }

  /** The stored checksum of part `partNumber` of a multipart object (undefined for a part without one). */
  objectPartChecksum(object: StoredObject, partNumber: number): Checksum | undefined {
    return this.meta.objectPartChecksum(object.id, partNumber);
  }

  /** Streams one stored part of an open upload (to hash parts in order after they arrived out of order). */
  openPartRead(actor: Actor, bucket: string, key: string, uploadId: string, partNumber: number): Readable {
    this.requireBucket(actor, bucket);
    this.requireOpenUpload(bucket, key, uploadId);
    const part = this.meta.getPart(uploadId, partNumber);
    if (!part) throw errors.invalidArgument(`Part ${partNumber} has not been uploaded`, 'partNumber', String(partNumber));
    if (part.size === 0) return this.blobs.read([], 0, -1);
    return this.blobs.read([{ blobId: part.blobId, offset: 0, size: part.size, partNumber }], 0, part.size - 1);
  }

  /** Aborts uploads older than the configured expiry and forgets old completion records. */
  async sweepStaleUploads(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.options.uploadExpiryMs);
    const stale = this.meta.staleUploadIds(cutoff, cutoff);
    for (const uploadId of stale) {
      const released = this.meta.transaction(() => this.meta.unreferenced(this.meta.deleteUpload(uploadId)));
      await this.blobs.remove(released);
    }
    return stale.length;
  }

  // Helpers

  private requireBucket(actor: Actor, name: string): BucketInfo {
    const bucket = this.meta.getBucket(name);
    if (!bucket) throw errors.noSuchBucket(name);
    if (!actor.root && bucket.owner !== actor.userId) throw errors.accessDenied();
    return bucket;
  }

  private requireObject(bucket: string, key: string): StoredObject {
    const object = this.meta.getObject(bucket, key);
    if (!object) throw errors.noSuchKey(key);
    return object;
  }

  private requireOpenUpload(bucket: string, key: string, uploadId: string): StoredUpload {
    const upload = this.meta.getUpload(uploadId);
    if (!upload || upload.completed || upload.bucket !== bucket || upload.key !== key) throw errors.noSuchUpload(uploadId);
    return upload;
  }

  private async stageVerified(
    body: AsyncIterable<Buffer>,
    write: WriteOptions & { expectedSize?: number },
  ): Promise<StagedBlob> {
    const staged = await this.blobs.stage(body, withDigest(write.digests, write.checksum), write.expectedSize);
    try {
      write.verify?.(staged.digests);
    } catch (err) {
      await this.blobs.discard(staged);
      throw err;
    }
    return staged;
  }
}

/** The digests to compute, with the one a stored checksum needs. */
function withDigest(digests: ExtraDigest[] = [], checksum: ChecksumAlgorithm | undefined): ExtraDigest[] {
  return checksum === undefined || digests.includes(checksum) ? digests : [...digests, checksum];
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

export function fileAlreadyExists(): ServiceError {
  return new ServiceError('FileAlreadyExists', 'The object you specified already exists and can not be overwritten.', 409);
}

function fingerprintOf(numbers: number[], etags: string[]): string {
  // `number:etag`, comma-separated: one string built as it goes, no array of 10,000 pieces to join.
  let text = '';
  for (let i = 0; i < numbers.length; i++) text += `${i === 0 ? '' : ','}${numbers[i]}:${etags[i]}`;
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Checks the list against the uploaded parts in one merge walk (both are in ascending order),
 * reporting what S3 reports, in its order: a part out of order, or not uploaded with that
 * ETag, where it occurs in the list; then the first part but the last under the minimum size.
 * A number listed several times in a row counts once, by its last entry (as AWS and Ceph do:
 * a client that uploaded a part twice at once lists both ETags, the one stored last last).
 * Returns the total size, the uploaded parts listed (indexes into `uploaded`), the part
 * numbers not listed and the counted entries' ETags (`etags` itself when nothing repeats).
 */
function resolveParts(
  uploaded: PartColumns,
  uploadId: string,
  numbers: number[],
  etags: string[],
  minPartSize: number,
): { size: number; matched: number[]; unlisted: number[]; counted: string[] } {
  const count = uploaded.numbers.length;
  const matched: number[] = [];
  const unlisted: number[] = [];
  let size = 0;
  let previous = 0;
  let tooSmall = -1;
  let repeats = 0;
  let j = 0;
  for (let i = 0; i < numbers.length; i++) {
    const number = numbers[i]!;
    if (number <= previous) {
      throw new ServiceError('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.', 400, {
        UploadId: uploadId,
      });
    }
    // A later entry for the same number overrides this one, unchecked.
    if (numbers[i + 1] === number) {
      repeats++;
      continue;
    }
    previous = number;
    while (j < count && uploaded.numbers[j]! < number) unlisted.push(uploaded.numbers[j++]!);
    if (j === count || uploaded.numbers[j] !== number || uploaded.etags[j] !== etags[i]) {
      throw new ServiceError(
        'InvalidPart',
        "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.",
        400,
        { UploadId: uploadId, PartNumber: String(number), ETag: etags[i]! },
      );
    }
    if (tooSmall < 0 && i < numbers.length - 1 && uploaded.sizes[j]! < minPartSize) tooSmall = j;
    size += uploaded.sizes[j]!;
    matched.push(j++);
  }
  while (j < count) unlisted.push(uploaded.numbers[j++]!);
  if (tooSmall >= 0) {
    throw new ServiceError('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', 400, {
      UploadId: uploadId,
      PartNumber: String(uploaded.numbers[tooSmall]),
      ProposedSize: String(uploaded.sizes[tooSmall]),
      MinSizeAllowed: String(minPartSize),
      ETag: uploaded.etags[tooSmall]!,
    });
  }
  const counted = repeats === 0 ? etags : matched.map((index) => uploaded.etags[index]!);
  return { size, matched, unlisted, counted };
}

function combinedCrc64(uploaded: PartColumns, matched: number[]): string | undefined {
  let crc = 0n;
  for (const j of matched) {
    const partCrc = uploaded.crc64s[j];
    if (partCrc === null || partCrc === undefined) return undefined;
    crc = crc64Combine(crc, BigInt(partCrc), uploaded.sizes[j]!);
  }
  return crc.toString();
}

