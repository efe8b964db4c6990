import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { BlobStore, type BlobKeys, type StagingStats } from './blob-store.js';
import type { HashPoolStats } from './hash-pool.js';
import { Encryption, etagOf, type EncryptionRequest } from './encryption.js';
import { KeyStore } from './kms.js';
import { loadMasterKey, type SecretBox } from './secret-box.js';
import { RecentlySeen } from './recently-seen.js';
import { allowed, authorize, mayGrantAnonymous, objectAction } from './authorization.js';
import { aclDocument, aclsEnabled, checkBucketAcl, objectAclInForce, objectAclOf, objectAclToStore, ownerOnly, type Acl } from './acl.js';
import {
  NEW_BUCKET_OWNERSHIP,
  NEW_BUCKET_PUBLIC_ACCESS_BLOCK,
  OSS_NEW_BUCKET,
  publicAccessBlockDocument,
} from './public-access.js';
import { Coordination, DEFAULT_CLUSTER_TIMINGS, type ClusterTimings } from './coordination.js';
import { Maintenance } from './maintenance.js';
import { LifecycleRules, REAL_DAYS, type LifecycleClock } from './lifecycle.js';
import { LifecycleWorker } from './lifecycle-worker.js';
import { ServiceError, errors } from './errors.js';
import { listByPrefix } from './listing.js';
import * as objectLock from './object-lock.js';
import {
  deleteLatest,
  deleteVersion,
  labelled,
  latestDeleteMarker,
  listVersions,
  noSuchVersion,
  parseVersionId,
  readVersion,
  retireLatest,
  type DeleteOutcome,
  type VersionsPage,
  type VersionsQuery,
} from './versioning.js';
import { SqliteMetadata } from './metadata/sqlite.js';
import type { Metadata, MetadataQueries, StoredObject, WriteOutcome } from './metadata/types.js';
import { refuseNul, validateBucketName, validateObjectKey } from './names.js';
import { authorizeObject, fileAlreadyExists, listConditions, MAX_PAGE, requireBucket, requireObject, stageVerified } from './engine-parts.js';
import { MultipartUploads } from './multipart.js';
import { ObjectCopies, restage } from './object-copy.js';
import { BucketSettings } from './bucket-settings.js';
import { scrub, type ScrubFinding, type ScrubSummary } from './scrub.js';
import { blobCrc32c, segmentChecks, verifiedRead, type CorruptRead } from './verified-read.js';
import type {
  Actor,
  BucketAccess,
  BucketInfo,
  ObjectOwnership,
  Checksum,
  ListObjectsPage,
  ListObjectsQuery,
  ObjectAttributes,
  ObjectInfo,
  Segment,
  Tag,
  WriteOptions,
} from './types.js';

/** The blob store's numbers now, for metrics. */
export interface EngineStats {
  hashPool?: HashPoolStats;
  stagingMemoryBytes: number;
  staging: StagingStats;
}

export interface StorageOptions {
  /** Smallest part (but the last) Complete accepts, in bytes. */
  minPartSize: number;
  /** Incomplete uploads older than this (ms) are aborted by the sweep. */
  uploadExpiryMs: number;
  /** Worker threads hashing large bodies (default 0: hash on the event loop). */
  hashThreads?: number;
  /** Write large bodies with O_DIRECT where the filesystem takes it (default false). */
  directIo?: boolean;
  /** The most memory the staging slots may hold (default 32 MiB; core/slot-pool.ts). */
  stagingBudgetBytes?: number;
  /** While bodies wait for a slot, a slot its body has not added to for this long is given back (default 1 s). */
  stagingReclaimAfterMs?: number;
  /** The metadata store (default: SQLite in the data directory, opened and closed with the engine). */
  metadata?: Metadata;
  /** With a shared store: node leases and gone nodes' temp clean-up (defaults: DEFAULT_CLUSTER_TIMINGS). */
  cluster?: Partial<ClusterTimings>;
  /** How long a lifecycle rule's day is (default 24 hours; shorter for tests). */
  lifecycleDayMs?: number;
  /** The server master key, which SSE-S3's key derives from (default: TESSERA_MASTER_KEY or the data directory's master.key). */
  masterKey?: SecretBox;
  /** Check a plaintext blob read whole against its recorded CRC32C, or MD5 for older blobs (default true; core/verified-read.ts). Off, reads are still counted. */
  verifyGets?: boolean;
  /** Told of a blob whose bytes failed their check while an object was read (core/verified-read.ts): the read failed. */
  onCorruptRead?: (report: CorruptObjectRead) => void;
}

/** A blob found corrupt while an object was read, and the object. */
export interface CorruptObjectRead extends CorruptRead {
  path: string;
  bucket: string;
  key: string;
  versionId?: string;
}

export interface ObjectRead {
  info: StoredObject;
  /** The segment map, read on first use (HEAD and 304 answers never need it). */
  segments(): Promise<Segment[]>;
  /** The keys its blobs open with, when it is encrypted (checked against the request's when read). */
  keys?: BlobKeys;
}

/**
 * The protocol-free storage engine: buckets and objects here, multipart uploads and parts in
 * `uploads` (core/multipart.ts), buckets' settings in `settings` (core/bucket-settings.ts), copies
 * in `copies` (core/object-copy.ts). Dialects translate wire requests into these calls and
 * ServiceErrors back into their own error format. Every call is authorised in the engine
 * (core/authorization.ts), once, for every dialect.
 */
export class Storage {
  /** The background work: stale uploads, orphan blobs, gone nodes' temp files. */
  readonly maintenance: Maintenance;
  /** Multipart uploads and their parts (core/multipart.ts). */
  readonly uploads: MultipartUploads;
  /** Buckets' configurations, policies, ACLs, versioning, Object Lock and WORM (core/bucket-settings.ts). */
  readonly settings: BucketSettings;
  /** CopyObject (core/object-copy.ts). */
  readonly copies: ObjectCopies;
  /**
   * Buckets as a PUT's check before its body read them in the last seconds, to authorise the next
   * PUTs from: saves a PostgreSQL round trip per small PUT. Only a passing decision is taken from
   * here (one that would fail reads the bucket again). The statement that stores the object checks
   * that the bucket, its owner and its access settings (BucketInfo.accessStamp) are still the ones
   * decided on; if the settings changed (on any node), the PUT is decided again on the new ones.
   */
  private readonly writableBuckets = new RecentlySeen<BucketInfo>();
  /** How long a lifecycle day is here (core/lifecycle.ts). */
  readonly lifecycleClock: LifecycleClock;
  /** The buckets' lifecycle rules, as read a few seconds ago at most (for the dates answers carry). */
  readonly lifecycleRules = new LifecycleRules((bucket) => this.meta.getBucketConfig(bucket, 'lifecycle'));

  private constructor(
    private readonly meta: Metadata,
    private readonly blobs: BlobStore,
    readonly options: StorageOptions,
    private readonly ownsMeta: boolean,
    /** The nodes sharing the metadata store (one, with the embedded store). */
    readonly coordination: Coordination,
    /** Whether other nodes share the store and the data directory (cluster mode). */
    readonly shared: boolean,
    private readonly encryption: Encryption,
  ) {
    this.lifecycleClock = options.lifecycleDayMs === undefined ? REAL_DAYS : { dayMs: options.lifecycleDayMs };
    const lifecycle = new LifecycleWorker(meta, blobs, this.lifecycleClock);
    this.maintenance = new Maintenance(meta, blobs, coordination, shared, options.uploadExpiryMs, { ...DEFAULT_CLUSTER_TIMINGS, ...options.cluster }, lifecycle);
    this.uploads = new MultipartUploads({ meta, blobs, encryption }, options.minPartSize, this);
    this.settings = new BucketSettings(meta, (bucket) => this.writableBuckets.forget(bucket));
    this.copies = new ObjectCopies({ meta, blobs, encryption });
  }

  static async open(dataDir: string, options: StorageOptions): Promise<Storage> {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const meta = options.metadata ?? SqliteMetadata.open(join(dataDir, 'meta.db'));
    const shared = meta.backend !== 'sqlite';
    const coordination = new Coordination(meta, options.cluster?.nodeLeaseMs);
    let blobs: BlobStore;
    try {
      // Announced before its temp directory exists, so no other node takes that directory for a dead node's.
      if (shared) await coordination.start();
      blobs = await BlobStore.open(dataDir, {
        hashThreads: options.hashThreads ?? 0,
        directIo: options.directIo,
        stagingBudgetBytes: options.stagingBudgetBytes,
        stagingReclaimAfterMs: options.stagingReclaimAfterMs,
        nodeId: shared ? coordination.nodeId : undefined,
      });
    } catch (err) {
      await coordination.stop();
      if (!options.metadata) await meta.close();
      throw err;
    }
    const masterKey = options.masterKey ?? (await loadMasterKey(dataDir));
    const encryption = new Encryption(masterKey, new KeyStore(meta, masterKey));
    const storage = new Storage(meta, blobs, options, options.metadata === undefined, coordination, shared, encryption);
    if (!shared) {
      // One node: orphans can only predate this start; sweep them without holding up the listener.
      const startedAt = new Date();
      setImmediate(() => void storage.maintenance.sweepOrphans(startedAt).catch(() => {}));
    }
    return storage;
  }

  /** The local KMS key store (SSE-KMS's keys), for the admin API. */
  get kms(): KeyStore {
    return this.encryption.kms;
  }

  /** The blob store's hash worker pool and staging memory now (plain numbers, for metrics). */
  get engineStats(): EngineStats {
    return { hashPool: this.blobs.hashPoolStats, stagingMemoryBytes: this.blobs.stagingMemoryBytes, staging: this.blobs.stagingStats };
  }

  /** Starts the background work (Maintenance), each job on one node at a time. */
  startSweeper(intervalMs = 60 * 60 * 1000): void {
    this.maintenance.start(intervalMs);
  }

  /** Rejects unless a body can be written to the blob directory now (BlobStore.probeWritable). */
  probeBlobs(): Promise<void> {
    return this.blobs.probeWritable();
  }

  async close(): Promise<void> {
    this.maintenance.stop();
    await this.coordination.stop();
    if (this.ownsMeta) await this.meta.close();
    await this.blobs.close();
  }

  // Buckets

  /** Root, and users whose policies allow s3:ListAllMyBuckets, see every bucket; other users their own. */
  async listBuckets(actor: Actor): Promise<BucketInfo[]> {
    authorize(actor, { action: 's3:ListAllMyBuckets' });
    const all = await this.meta.listBuckets();
    return actor.root || actor.policies !== undefined ? all : all.filter((bucket) => bucket.owner === actor.userId);
  }

  /**
   * With `objectLock`, the bucket has Object Lock enabled and versioning Enabled, both for good.
   * `ownership` and `acl` (S3's x-amz-object-ownership, x-amz-acl and grants) are checked against
   * the new bucket's defaults: an ACL beyond the owner's own needs ACLs enabled and no Block Public Access.
   */
  async createBucket(
    actor: Actor,
    name: string,
    options: { objectLock?: boolean; ownership?: ObjectOwnership; acl?: Acl; ossDefaults?: boolean } = {},
  ): Promise<void> {
    authorize(actor, { action: 's3:CreateBucket' });
    validateBucketName(name);
    await this.meta.transaction(async (tx) => {
      const existing = await tx.getBucket(name);
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
      // AWS's defaults for a new bucket: public access blocked, ACLs off (core/public-access.ts).
      const access: BucketAccess = options.ossDefaults
        ? { ...OSS_NEW_BUCKET }
        : { publicAccessBlock: NEW_BUCKET_PUBLIC_ACCESS_BLOCK, ownership: options.ownership ?? NEW_BUCKET_OWNERSHIP };
      if (options.acl) checkBucketAcl(options.acl, access, true);
      await tx.insertBucket(name, actor.userId, new Date());
      if (access.publicAccessBlock) await tx.putBucketConfig(name, 'public-access-block', publicAccessBlockDocument(access.publicAccessBlock));
      await tx.putBucketConfig(name, 'ownership', access.ownership ?? NEW_BUCKET_OWNERSHIP);
      if (options.acl && !ownerOnly(options.acl)) await tx.putBucketConfig(name, 'acl', aclDocument(options.acl));
      if (options.objectLock) await objectLock.enableOnNewBucket(tx, name);
    });
  }

  /** The bucket, if the actor may do `action` on it (HeadBucket's is s3:ListBucket). */
  headBucket(actor: Actor, name: string, action = 's3:ListBucket'): Promise<BucketInfo> {
    return requireBucket(this.meta, actor, name, action);
  }

  /** Deletes an empty bucket; its incomplete uploads go with it. */
  async deleteBucket(actor: Actor, name: string): Promise<void> {
    await requireBucket(this.meta, actor, name, 's3:DeleteBucket');
    this.writableBuckets.forget(name);
    const released = await this.meta.transaction(async (tx) => {
      if (await tx.bucketHasObjects(name)) {
        throw new ServiceError('BucketNotEmpty', 'The bucket you tried to delete is not empty.', 409, { BucketName: name });
      }
      const blobIds: string[] = [];
      for (const id of await tx.uploadIdsOfBucket(name)) blobIds.push(...(await tx.deleteUpload(id)));
      await tx.deleteBucket(name);
      return tx.unreferenced(blobIds);
    });
    await this.blobs.remove(released);
  }

  /**
   * The ACL of an object (or of the version named): its own, else its bucket's where its objects
   * follow that (OSS), else the bucket owner's FULL_CONTROL (core/acl.ts objectAclOf).
   */
  async getObjectAcl(actor: Actor, bucket: string, key: string, versionId?: string): Promise<Acl> {
    const { info, object } = await this.readObjectIn(actor, bucket, key, versionId, this.meta, 's3:GetObjectAcl');
    return objectAclOf(info, object);
  }

  /**
   * Sets the ACL of an object (or of the version named), where the bucket's Object Ownership and
   * Block Public Access allow it (core/acl.ts objectAclToStore). `aclFor` builds the ACL asked for
   * from the bucket; undefined: none of its own (OSS's `default`: it follows its bucket's).
   */
  async putObjectAcl(actor: Actor, bucket: string, key: string, aclFor: (bucket: BucketInfo) => Acl | undefined, versionId?: string): Promise<void> {
    await this.meta.transaction(async (tx) => {
      const { info, object } = await this.readObjectIn(actor, bucket, key, versionId, tx, 's3:PutObjectAcl');
      const acl = objectAclToStore(aclFor(info), info);
      // Where ACLs are off, what may be asked there (the owner's own, or none) changes nothing: the
      // objects' ACLs are kept as they are until ACLs are on again.
      if (!aclsEnabled(info.access)) return;
      await tx.setObjectAcl(object.id, acl);
    });
  }

  /**
   * For an anonymous request, before anything else: AccessDenied unless it names a bucket whose
   * settings grant anyone something, or (`key`: a request an object's ACL could grant) a bucket
   * whose objects' ACLs count (core/authorization.ts decides the request itself later).
   */
  async screenAnonymous(bucket: string | undefined, key?: string): Promise<void> {
    const info = bucket === undefined ? undefined : await this.meta.getBucket(bucket);
    if (bucket !== undefined && !info) throw errors.noSuchBucket(bucket);
    if (!info || !mayGrantAnonymous(info, key)) throw errors.accessDenied();
  }

  /** Whether the bucket exists, for an answer given before authentication (a CORS preflight's). */
  async bucketExists(bucket: string): Promise<boolean> {
    return (await this.meta.getBucket(bucket)) !== undefined;
  }

  // Objects

  async putObject(
    actor: Actor,
    bucket: string,
    key: string,
    body: AsyncIterable<Buffer>,
    attributes: ObjectAttributes,
    write: WriteOptions & { expectedSize?: number; forbidOverwrite?: boolean; unverifiedBody?: boolean; encryption?: EncryptionRequest } = {},
  ): Promise<StoredObject> {
    let bucketInfo: BucketInfo;
    if (attributes.lock !== undefined) {
      // A write asking for a lock is refused before its body where the bucket cannot take one.
      bucketInfo = await requireBucket(this.meta, actor, bucket, 's3:PutObject', key);
      objectLock.checkLockedWrite(attributes.lock, bucketInfo, new Date());
    } else {
      bucketInfo = await this.checkWriteBeforeBody(actor, bucket, key);
    }
    const acl = objectAclToStore(attributes.acl, bucketInfo);
    validateObjectKey(key);
    let sealing = await this.encryption.forWrite(write.encryption, bucketInfo.encryption);
    const staged = await stageVerified(this.blobs, body, write, sealing);
    let blobId = await this.blobs.promote(staged);
    const { digests } = staged;
    const md5 = digests.md5.toString('hex');
    const info: ObjectInfo = {
      bucket,
      key,
      size: digests.size,
      etag: etagOf(sealing?.encryption, md5),
      lastModified: new Date(),
      crc64: digests.crc64,
      checksum: write.checksum && { algorithm: write.checksum, type: 'full-object', value: digests[write.checksum]! },
      ...attributes,
      encryption: sealing?.encryption,
      acl,
    };
    let outcome: WriteOutcome;
    try {
      for (let attempt = 1; ; attempt++) {
        // An encrypted object's content hashes are not kept: nothing finds it by content (123pan's instant upload).
        const contentHashes = sealing ? {} : { contentMd5: md5, contentSha1: digests.sha1?.toString('hex') };
        outcome = await this.meta.writeObject(
          { ...info, ...contentHashes, content: { segments: [{ blobId, size: info.size, partNumber: 1, crc32c: blobCrc32c(digests) }] } },
          { owner: bucketInfo.owner, accessStamp: bucketInfo.accessStamp, ifAbsent: write.forbidOverwrite, unverifiedBody: write.unverifiedBody },
        );
        if (!('refused' in outcome) || outcome.refused !== 'access-changed' || attempt === 3) break;
        // The bucket's access settings changed since it was read (maybe seconds ago, see
        // writableBuckets): decide again on what they are now, and store only if still allowed.
        this.writableBuckets.forget(bucket);
        const before = bucketInfo.encryption;
        bucketInfo = await requireBucket(this.meta, actor, bucket, 's3:PutObject', key);
        objectAclToStore(attributes.acl, bucketInfo);
        if (write.encryption === undefined && JSON.stringify(before) !== JSON.stringify(bucketInfo.encryption)) {
          // Its default encryption changed too: the bytes are sealed as it says now.
          const next = await this.encryption.forWrite(undefined, bucketInfo.encryption);
          const old = blobId;
          blobId = (await restage(this.blobs, [{ blobId, offset: 0, size: info.size, partNumber: 1 }], info.size, sealing && (() => sealing!.kek), next)).blobId;
          await this.blobs.remove([old]);
          sealing = next;
          info.encryption = next?.encryption;
          info.etag = etagOf(next?.encryption, md5);
        }
      }
    } catch (err) {
      await this.blobs.remove([blobId]);
      throw err;
    }
    if ('refused' in outcome) {
      await this.blobs.remove([blobId]);
      if (outcome.refused === 'exists') throw fileAlreadyExists();
      throw outcome.refused === 'no-bucket' ? errors.noSuchBucket(bucket) : errors.accessDenied();
    }
    const { stored, released } = outcome;
    await this.blobs.remove(released);
    return stored;
  }

  /** Whether the key holds an object (for refusing overwrites before a body is read). */
  async hasObject(actor: Actor, bucket: string, key: string): Promise<boolean> {
    await requireBucket(this.meta, actor, bucket, 's3:PutObject', key);
    return (await this.meta.getObject(bucket, key)) !== undefined;
  }

  /**
   * The object's metadata. `action`: what the caller reads it for (s3:GetObject unless it is for
   * tags, attributes, …), in its unversioned form; a version id makes it the version's action.
   */
  async headObject(actor: Actor, bucket: string, key: string, versionId?: string, action = 's3:GetObject'): Promise<StoredObject> {
    return this.readObject(actor, bucket, key, versionId, this.meta, action);
  }

  /**
   * The key's latest version, or the version named. A key whose latest version is a delete marker
   * reads as missing (the error names the marker); a marker named by id cannot be read (405).
   */
  private async readObject(
    actor: Actor,
    bucket: string,
    key: string,
    versionId: string | undefined,
    meta: MetadataQueries = this.meta,
    action = 's3:GetObject',
  ): Promise<StoredObject> {
    return (await this.readObjectIn(actor, bucket, key, versionId, meta, action)).object;
  }

  /** readObject, with the bucket as read (and authorised) for it: for a caller that needs both. */
  private async readObjectIn(
    actor: Actor,
    bucket: string,
    key: string,
    versionId: string | undefined,
    meta: MetadataQueries,
    action: string,
  ): Promise<{ info: BucketInfo; object: StoredObject }> {
    const info = await meta.getBucket(bucket);
    if (!info) throw errors.noSuchBucket(bucket);
    const request = { action: objectAction(action, versionId), bucket: info, key, conditions: versionId === undefined ? undefined : { 's3:versionid': versionId } };
    const read = () => this.findVersion(actor, info, key, versionId, meta);
    return { info, object: (await authorizeObject(actor, request, read)) ?? (await read()) };
  }

  /** The key's latest version or the version named, in a bucket already read: readObject's answers. */
  private async findVersion(actor: Actor, info: BucketInfo, key: string, versionId: string | undefined, meta: MetadataQueries): Promise<StoredObject> {
    const bucket = info.name;
    if (versionId === undefined) {
      const object = await meta.getObject(bucket, key);
      if (object) return labelled(object, info.versioning);
      // As S3 does: whether a key exists is told only to those who may list the bucket.
      if (!allowed(actor, { action: 's3:ListBucket', bucket: info })) throw errors.accessDenied();
      // Only a versioned bucket has a history to look in: an unversioned one's miss costs nothing more.
      const marker = info.versioning && (await latestDeleteMarker(meta, bucket, key));
      if (marker) throw errors.noSuchKey(key).with({ deleteMarker: true, versionId: marker.versionId });
      throw errors.noSuchKey(key);
    }
    const id = parseVersionId(versionId);
    // An unversioned bucket has only the null version: another id cannot be one of its versions.
    if (info.versioning === undefined && id !== 'null') throw errors.invalidArgument('Invalid version id specified', 'versionId', versionId);
    const found = await readVersion(meta, bucket, key, id);
    if (!found) throw noSuchVersion(key, versionId);
    if (found.deleteMarker) {
      throw new ServiceError('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405, {
        Method: 'GET',
        ResourceType: 'DeleteMarker',
      }).with({ deleteMarker: true, versionId: id, lastModified: found.lastModified });
    }
    return labelled(found, info.versioning);
  }

  /**
   * Metadata and the segment map of an object, for ranged streaming reads. The map
   * (up to 10,000 rows) is read on first use: HEAD and 304 answers never need it.
   * `customerKey`: the SSE-C key the request presents; an object stored with one is read only
   * with the same (HEAD too), and one stored without refuses it.
   */
  async getObject(actor: Actor, bucket: string, key: string, versionId?: string, customerKey?: Buffer): Promise<ObjectRead> {
    const stored = await this.readObject(actor, bucket, key, versionId);
    const keys = await this.encryption.blobKeys(stored.encryption, customerKey);
    const meta = this.meta;
    let segments: Promise<Segment[]> | undefined;
    return {
      info: stored,
      segments: () => (segments ??= meta.segmentsOf(stored.id)),
      keys,
    };
  }

  /**
   * Replaces the tags of an object, or of the version named (noncurrent ones too), leaving its
   * bytes, metadata and date as they are. Answers the id of the version tagged (none: unversioned).
   */
  async setObjectTags(actor: Actor, bucket: string, key: string, tags: Tag[], versionId?: string): Promise<{ versionId?: string }> {
    return this.meta.transaction(async (tx) => {
      const action = tags.length === 0 ? 's3:DeleteObjectTagging' : 's3:PutObjectTagging';
      const object = await this.readObject(actor, bucket, key, versionId, tx, action);
      await tx.setObjectTags(object.id, tags);
      return { versionId: object.versionId };
    });
  }

  // Object Lock (core/object-lock.ts): each version's retention and legal hold (the bucket's configuration: core/bucket-settings.ts)

  /** Sets (or, with none, removes) a version's retention; answers the id of the version changed. */
  async putObjectRetention(
    actor: Actor,
    bucket: string,
    key: string,
    retention: objectLock.Retention | undefined,
    options: { versionId?: string; bypassGovernance?: boolean },
  ): Promise<{ versionId?: string }> {
    return this.meta.transaction(async (tx) => {
      const { info, object: version } = await this.readObjectIn(actor, bucket, key, options.versionId, tx, 's3:PutObjectRetention');
      await objectLock.setRetention(tx, info, version, retention, this.mayBypassGovernance(actor, info, key, options.bypassGovernance), new Date());
      return { versionId: version.versionId };
    });
  }

  async getObjectRetention(actor: Actor, bucket: string, key: string, versionId?: string): Promise<objectLock.Retention> {
    const { info, object } = await this.readObjectIn(actor, bucket, key, versionId, this.meta, 's3:GetObjectRetention');
    return objectLock.retentionOf(info, object);
  }

  async putObjectLegalHold(actor: Actor, bucket: string, key: string, on: boolean, versionId?: string): Promise<{ versionId?: string }> {
    return this.meta.transaction(async (tx) => {
      const { info, object: version } = await this.readObjectIn(actor, bucket, key, versionId, tx, 's3:PutObjectLegalHold');
      await objectLock.setLegalHold(tx, info, version, on);
      return { versionId: version.versionId };
    });
  }

  async getObjectLegalHold(actor: Actor, bucket: string, key: string, versionId?: string): Promise<boolean> {
    const { info, object } = await this.readObjectIn(actor, bucket, key, versionId, this.meta, 's3:GetObjectLegalHold');
    return objectLock.legalHoldOf(info, object);
  }

  /**
   * A page of a multipart object's parts after `afterPartNumber`: their sizes and checksums (none
   * for a single PUT's object). A copy of a multipart object keeps its parts' boundaries in its
   * segments, without their checksums.
   */
  async objectParts(object: StoredObject, afterPartNumber: number, limit: number): Promise<Array<{ partNumber: number; size: number; checksum?: Checksum }>> {
    if (object.partsCount === undefined || limit <= 0) return [];
    const rows = await this.meta.listObjectParts(object.id, afterPartNumber, limit);
    if (rows.length > 0) return rows.map((part) => ({ partNumber: part.partNumber, size: part.size, checksum: part.checksum }));
    const sizes = new Map<number, number>();
    for (const segment of await this.meta.segmentsOf(object.id)) {
      if (segment.partNumber > afterPartNumber) sizes.set(segment.partNumber, (sizes.get(segment.partNumber) ?? 0) + segment.size);
    }
    return [...sizes].sort(([a], [b]) => a - b).slice(0, limit).map(([partNumber, size]) => ({ partNumber, size }));
  }

  /**
   * Streams bytes [start, end] (inclusive) of an object read with getObject. A plaintext object's
   * bytes are checked as they go (core/verified-read.ts): counted, and each segment read whole
   * against the CRC32C its metadata records (the MD5 for a blob written before CRC32Cs were kept);
   * a mismatch fails the stream before the bad segment's last chunk. An encrypted one's records
   * are checked by their AES-GCM tags.
   */
  async openRead(read: ObjectRead, start = 0, end = read.info.size - 1): Promise<Readable> {
    const segments = await read.segments();
    if (read.keys) return this.blobs.read(segments, start, end, read.keys);
    const { info } = read;
    const checks = this.options.verifyGets === false ? [] : segmentChecks(info, segments);
    return verifiedRead(this.blobs, segments, start, end, checks, (report) =>
      this.options.onCorruptRead?.({ ...report, path: this.blobs.pathOf(report.blobId), bucket: info.bucket, key: info.key, versionId: info.versionId }),
    );
  }

  /**
   * Scrubs every blob now and then (core/scrub.ts), on one node of a cluster at a time: every
   * `intervalMs`, at most `rateBytesPerSecond`. Each finding and each run's summary go to the callbacks.
   */
  startScrub(options: {
    intervalMs: number;
    rateBytesPerSecond: number;
    onFinding: (finding: ScrubFinding) => void;
    onDone?: (summary: ScrubSummary) => void;
  }): void {
    // Every node looks often; the one that takes the job starts a round only when the last round
    // (any node's, before a restart too) began an interval ago, as a lease that outlives the round says.
    const round = 'scrub-round';
    this.maintenance.every(Math.min(options.intervalMs, 15 * 60 * 1000), () =>
      this.coordination.runAlone('scrub', 10 * 60 * 1000, async () => {
        const now = new Date();
        const last = (await this.meta.listLeases(round)).find((lease) => lease.name === round);
        if (last && last.until > now) return;
        await this.meta.acquireLease(round, this.coordination.nodeId, new Date(now.getTime() + options.intervalMs), now);
        const summary = await scrub(this.meta, this.blobs, {
          rateBytesPerSecond: options.rateBytesPerSecond,
          kekOf: (encryption) => this.encryption.kekFor(encryption, undefined),
          onFinding: options.onFinding,
          signal: this.maintenance.signal,
        });
        options.onDone?.(summary);
      }),
    );
  }

  /**
   * Idempotent: deleting a missing key succeeds. Without a version id, a versioned bucket gets a
   * delete marker; with one, that version goes for good (an unversioned bucket has only `null`).
   */
  async deleteObject(
    actor: Actor,
    bucket: string,
    key: string,
    versionId?: string,
    options: { bypassGovernance?: boolean } = {},
  ): Promise<Omit<DeleteOutcome, 'released'>> {
    const authorised = await requireBucket(this.meta, actor, bucket, objectAction('s3:DeleteObject', versionId), key);
    const bypassGovernance = this.mayBypassGovernance(actor, authorised, key, options.bypassGovernance);
    const id = versionId === undefined ? undefined : parseVersionId(versionId);
    const outcome = await this.meta.transaction(async (tx) => {
      // Read in the transaction: a delete racing PutBucketVersioning is ordered with it.
      const info = await tx.getBucket(bucket);
      const status = info?.versioning;
      if (id !== undefined && status === undefined && id !== 'null') throw errors.invalidArgument('Invalid version id specified', 'versionId', id);
      // A version under Object Lock does not go (a delete marker, without an id, is always allowed).
      if (id !== undefined && info?.objectLock) {
        objectLock.checkDeletable(await readVersion(tx, bucket, key, id), bypassGovernance, new Date());
      }
      // OSS's bucket WORM: what the delete takes for good (the version named; without an id, the
      // null version unless only a marker goes on top) must be older than the retention period.
      const worm = objectLock.wormInEffect(info?.worm, new Date());
      if (worm && (id !== undefined || status !== 'Enabled')) {
        objectLock.checkWormDeletable(worm, await readVersion(tx, bucket, key, id ?? 'null'), new Date());
      }
      const done = id === undefined ? await deleteLatest(tx, bucket, key, status) : await deleteVersion(tx, bucket, key, id);
      return { ...done, released: await tx.unreferenced(done.released), status };
    });
    await this.blobs.remove(outcome.released);
    if (outcome.status === undefined) return { deleteMarker: false };
    return { versionId: outcome.versionId, deleteMarker: outcome.deleteMarker };
  }

  async listObjectVersions(actor: Actor, bucket: string, query: VersionsQuery): Promise<VersionsPage> {
    const info = await requireBucket(this.meta, actor, bucket, 's3:ListBucketVersions', undefined, listConditions(query));
    return listVersions(this.meta, info, query);
  }

  /** A page of whole objects (for dialects that act on what they list); a listing answer wants listObjectEntries. */
  async listObjects(
    actor: Actor,
    bucket: string,
    query: ListObjectsQuery,
  ): Promise<Omit<ListObjectsPage, 'objects'> & { objects: StoredObject[] }> {
    return this.listPage(actor, bucket, query, (after, lower, upper, limit) => this.meta.listObjects(bucket, after, lower, upper, limit));
  }

  /** A page of ListObjects(V2): what the listing shows of each object, read without the rest of its row. */
  async listObjectEntries(actor: Actor, bucket: string, query: ListObjectsQuery): Promise<ListObjectsPage> {
    return this.listPage(actor, bucket, query, (after, lower, upper, limit) => this.meta.listObjectEntries(bucket, after, lower, upper, limit));
  }

  private async listPage<T extends { key: string }>(
    actor: Actor,
    bucket: string,
    query: ListObjectsQuery,
    fetch: (after: string, lower: string, upper: string | undefined, limit: number) => Promise<T[]>,
  ): Promise<Omit<ListObjectsPage, 'objects'> & { objects: T[] }> {
    refuseNul({ prefix: query.prefix, delimiter: query.delimiter, marker: query.after });
    await requireBucket(this.meta, actor, bucket, 's3:ListBucket', undefined, listConditions({ ...query, maxKeys: query.maxKeys }));
    // A page of none is empty and, as S3 answers it, not truncated.
    if (query.maxKeys <= 0) return { objects: [], commonPrefixes: [], isTruncated: false };
    const page = await listByPrefix<T>({
      prefix: query.prefix ?? '',
      delimiter: query.delimiter,
      after: query.after,
      max: Math.min(query.maxKeys, MAX_PAGE),
      keyOf: (object) => object.key,
      fetch,
    });
    return {
      objects: page.items,
      commonPrefixes: page.commonPrefixes,
      isTruncated: page.isTruncated,
      nextMarker: page.nextMarker,
    };
  }

  // Lookups by id and by content, for dialects that name objects by number or dedupe by digest

  /** The object with this row id, if it is in a bucket the actor reaches. */
  async objectById(actor: Actor, id: number): Promise<StoredObject | undefined> {
    const object = await this.meta.getObjectById(id);
    if (!object) return undefined;
    const bucket = await this.meta.getBucket(object.bucket);
    return bucket && allowed(actor, { action: 's3:GetObject', bucket, key: object.key, objectAcl: objectAclInForce(bucket, object) }) ? object : undefined;
  }

  /**
   * An object whose whole content has this MD5 (or SHA-1) and size, in a bucket the actor owns
   * (any bucket for root). Copy it with copyObject to share its bytes under a new key.
   */
  findByContentHash(actor: Actor, hash: { md5?: string; sha1?: string; size: number }): Promise<StoredObject | undefined> {
    const [kind, digest] = hash.md5 !== undefined ? (['md5', hash.md5] as const) : (['sha1', hash.sha1 ?? ''] as const);
    return this.meta.findByContent(kind, digest.toLowerCase(), hash.size, actor.userId, actor.root);
  }

  /** Number of objects and bytes they hold (shared bytes counted once per object). */
  async bucketUsage(actor: Actor, bucket: string): Promise<{ objects: number; bytes: number }> {
    await requireBucket(this.meta, actor, bucket, 's3:ListBucket');
    return this.meta.bucketUsage(bucket);
  }

  /**
   * Renames objects in place, all or none: each keeps its id and bytes. Fails with
   * FileAlreadyExists when a target key is taken by an object not itself being renamed.
   */
  async renameObjects(actor: Actor, bucket: string, moves: Array<{ from: string; to: string }>): Promise<void> {
    // A rename is a copy and a delete: both, for every key it moves.
    const authorised = await requireBucket(this.meta, actor, bucket, 's3:ListBucket');
    for (const move of moves) {
      authorize(actor, { action: 's3:DeleteObject', bucket: authorised, key: move.from });
      authorize(actor, { action: 's3:PutObject', bucket: authorised, key: move.to });
    }
    moves.forEach((move) => validateObjectKey(move.to));
    const released = await this.meta.transaction(async (tx) => {
      const info = await tx.getBucket(bucket);
      const status = info?.versioning;
      const moving = new Set(moves.map((move) => move.from));
      const rows: Array<{ object: StoredObject; to: string }> = [];
      for (const move of moves) rows.push({ object: await requireObject(tx, bucket, move.from), to: move.to });
      // A rename takes the version away from its key: not while Object Lock protects it.
      for (const { object } of rows) objectLock.checkDeletable(object, false, new Date());
      const worm = objectLock.wormInEffect(info?.worm, new Date());
      for (const { object } of rows) objectLock.checkWormDeletable(worm, object, new Date());
      for (const { to } of rows) {
        if (!moving.has(to) && (await tx.getObject(bucket, to))) throw fileAlreadyExists();
      }
      const now = new Date();
      const targets = new Set(moves.map((move) => move.to));
      // In a versioned bucket a target's latest may be a delete marker: the moved version goes on top of it.
      if (status !== undefined) for (const to of targets) if (!moving.has(to)) await retireLatest(tx, bucket, to, now);
      // Through a temporary key first, so renames that swap or chain never collide on the unique index.
      for (const { object } of rows) await tx.renameObject(object.id, temporaryKey(object.id), now);
      for (const { object, to } of rows) await tx.renameObject(object.id, to, now);
      if (status === undefined) return [];
      // A versioned key keeps its history: a key moved away from reads as deleted, by a delete
      // marker over its older versions, as a copy then a DELETE would leave it.
      const freed: string[] = [];
      for (const from of moving) {
        if (targets.has(from)) continue;
        // Suspended: the marker is the null version, and replaces a noncurrent null version (WORM may keep it).
        if (status === 'Suspended') objectLock.checkWormDeletable(worm, await tx.getNoncurrent(bucket, from, null), now);
        freed.push(...(await deleteLatest(tx, bucket, from, status)).released);
      }
      return tx.unreferenced(freed);
    });
    await this.blobs.remove(released);
  }

  /** The stored checksum of part `partNumber` of a multipart object (undefined for a part without one). */
  objectPartChecksum(object: StoredObject, partNumber: number): Promise<Checksum | undefined> {
    return this.meta.objectPartChecksum(object.id, partNumber);
  }

  // Helpers

  /**
   * requireBucket for PutObject before its body, from the bucket as read a few seconds ago when
   * there is one (see writableBuckets). The write checks again, when it stores, that the bucket
   * still exists with the owner read here.
   */
  private async checkWriteBeforeBody(actor: Actor, name: string, key: string): Promise<BucketInfo> {
    const seen = this.writableBuckets.get(name)?.value;
    if (seen !== undefined && allowed(actor, { action: 's3:PutObject', bucket: seen, key })) return seen;
    const bucket = await requireBucket(this.meta, actor, name, 's3:PutObject', key);
    this.writableBuckets.set(name, bucket);
    return bucket;
  }

  /** Whether a request that asks to bypass governance retention may: s3:BypassGovernanceRetention. */
  private mayBypassGovernance(actor: Actor, bucket: BucketInfo, key: string, asked: boolean | undefined): boolean {
    return asked === true && allowed(actor, { action: 's3:BypassGovernanceRetention', bucket, key });
  }
}

/**
 * A key no object can have while renames pass through it: longer than the 1,024 bytes a key may
 * be, and without U+0000 (which PostgreSQL text cannot hold).
 */
function temporaryKey(objectId: number): string {
  return `${'\u{10FFFF}'.repeat(260)}rename-${objectId}`;
}

