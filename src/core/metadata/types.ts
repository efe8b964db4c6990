import type {
  BucketInfo,
  Checksum,
  ObjectAttributes,
  ObjectChecksum,
  ObjectEncryption,
  ObjectInfo,
  ObjectListEntry,
  ObjectLock,
  PartInfo,
  Segment,
  Tag,
  UploadInfo,
  UploadListEntry,
} from '../types.js';
import type { Acl } from '../acl.js';

/**
 * The metadata interface: everything Tessera knows besides the bytes. Two backends implement it
 * (SQLite in the data directory, PostgreSQL for a cluster); the engine and the dialects never know
 * which one runs. Every method is one atomic step; `transaction` groups several into one.
 */

export interface StoredObject extends ObjectInfo {
  id: number;
  /** Hex MD5 of the whole content, when known (single PUTs; multipart when the writer hashed it in order). */
  contentMd5?: string;
  /** Hex SHA-1 of the whole content, when the writer computed it. */
  contentSha1?: string;
}

/** A noncurrent version or a delete marker (object_versions); `seq` orders a key's history, newest highest. */
export interface StoredVersion extends StoredObject {
  seq: number;
  deleteMarker: boolean;
  versionId: string;
  /** When a newer version went on top of it (absent: it is the key's latest, a delete marker). */
  noncurrentSince?: Date;
}

export interface StoredUpload extends UploadInfo {
  completed?: { at: Date; fingerprint: string; etag: string };
}

/** A user made through the admin API (config-file users and root are not stored). */
export interface StoredUser {
  id: string;
  displayName: string;
  enabled: boolean;
  admin: boolean;
  created: Date;
}

/** A policy attached to a user (a config-file user too, by id), as the admin API put it. */
export interface StoredUserPolicy {
  userId: string;
  name: string;
  document: string;
  created: Date;
}

/** A managed policy: a named document, attached to any number of users (StoredPolicyAttachment). */
export interface StoredPolicy {
  name: string;
  document: string;
  created: Date;
  /** When the document was last replaced (`created` until then). */
  updated: Date;
}

/** A managed policy attached to a user (a config-file user too, by id). */
export interface StoredPolicyAttachment {
  userId: string;
  policyName: string;
  created: Date;
}

/** A key of the local KMS key store: its material sealed under the master key. */
export interface StoredKmsKey {
  id: string;
  /** `aws/s3` for the key aws:kms uses when a request names none; absent for keys made by the admin API. */
  alias?: string;
  description: string;
  sealedKey: string;
  enabled: boolean;
  created: Date;
}

/** An access key of a stored user; its secret sealed under the master key (core/secret-box.ts). */
export interface StoredAccessKey {
  accessKeyId: string;
  sealedSecret: string;
  userId: string;
  enabled: boolean;
  created: Date;
}

/** Something that refers to a blob: an object's (or noncurrent version's) segment, or an upload's part. */
export interface BlobReference {
  blobId: string;
  /** The blob's content as its referrer reads it, in bytes (plaintext: an encrypted file is larger). */
  size: number;
  bucket: string;
  key: string;
  partNumber: number;
  /** An object or a noncurrent version refers to it (a multipart one through `uploadId`'s parts); false: an upload in progress. */
  object: boolean;
  /** The object's version id (null: the null version, or an unversioned bucket's object). */
  versionId?: string | null;
  /** The object is a noncurrent version. */
  noncurrent?: boolean;
  /** A part's upload: one in progress, or the completed upload whose parts are the object's bytes. */
  uploadId?: string;
  /** Hex MD5 the blob's content must have, when the referrer records it. */
  md5?: string;
  /** How the referrer's blobs are sealed; none: plaintext. */
  encryption?: ObjectEncryption;
}

export interface StoredPart extends PartInfo {
  blobId: string;
  /** The CRC32C of the part's blob as written (Segment.crc32c); absent for parts written before it was kept. */
  blobCrc32c?: number;
}

/** What Complete needs of every part of an upload, as parallel columns in part-number order. */
export interface PartColumns {
  numbers: number[];
  sizes: number[];
  etags: string[];
  crc64s: Array<string | null>;
  /** The parts' checksum digests in hex ('' for none); read only when asked for. */
  checksums?: string[];
}

export interface NewObject extends ObjectAttributes {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  lastModified: Date;
  partsCount?: number;
  crc64?: string;
  checksum?: ObjectChecksum;
  contentMd5?: string;
  contentSha1?: string;
  /** The version's id; absent: the `null` version (every object of an unversioned bucket). */
  versionId?: string;
  /** Where the bytes are: blobs listed here, or (multipart) the part rows of this completed upload. */
  content: { segments: Array<Omit<Segment, 'offset'>> } | { uploadId: string };
}

/**
 * The kinds of per-bucket configuration the store keeps, one document per bucket and kind (its
 * format is the owning engine module's business). Later features add their kind here.
 */
export type BucketConfigKind = 'cors' | 'lifecycle' | 'tagging' | 'versioning' | 'object-lock' | 'worm' | 'policy' | 'public-access-block' | 'ownership' | 'acl' | 'encryption';

// State a dialect keeps about its clients (the 123pan dialect's tokens, upload sessions and trash)

export type SessionStatus = 'open' | 'verifying' | 'done' | 'failed';

/** A client's upload session over an engine multipart upload (123pan's "preupload"). */
export interface UploadSession {
  id: string;
  clientId: string;
  bucket: string;
  /** Where the file will be (the engine upload's key). */
  key: string;
  /** Where the client asked for it (before renaming on a name clash): finds the session again on a repeated create. */
  requestedKey: string;
  uploadId: string;
  etag: string;
  size: number;
  sliceSize: number;
  duplicate: number;
  status: SessionStatus;
  fileId?: number;
  message?: string;
  createdAt: Date;
}

/**
 * A running MD5 and SHA-1 over slices 1..next-1 of an upload session, saved so that whichever node
 * receives the next slice continues it. `md5` and `sha1` are the hash implementations' saved states.
 */
export interface HashState {
  next: number;
  size: number;
  md5: Uint8Array;
  sha1: Uint8Array;
  /** The ETag each hashed slice had when it was hashed (index 0 is slice 1). */
  etags: string[];
}

export interface MetadataQueries {
  // Buckets
  insertBucket(name: string, owner: string, createdAt: Date): Promise<void>;
  getBucket(name: string): Promise<BucketInfo | undefined>;
  listBuckets(): Promise<BucketInfo[]>;
  /** Deletes a bucket's row and every configuration it has. */
  deleteBucket(name: string): Promise<void>;
  bucketHasObjects(name: string): Promise<boolean>;

  // Bucket configurations (CORS rules, …): one document per bucket and kind
  getBucketConfig(bucket: string, kind: BucketConfigKind): Promise<string | undefined>;
  /** Stores the document, replacing the bucket's document of that kind. */
  putBucketConfig(bucket: string, kind: BucketConfigKind, document: string): Promise<void>;
  deleteBucketConfig(bucket: string, kind: BucketConfigKind): Promise<void>;

  // Objects
  getObject(bucket: string, key: string): Promise<StoredObject | undefined>;
  getObjectById(id: number): Promise<StoredObject | undefined>;
  /** An object's bytes: its own segments, or (multipart) its completed upload's parts in order. */
  segmentsOf(objectId: number): Promise<Segment[]>;
  /** Inserts an object, replacing any at the same key: the row stored, and the blob ids the old one held. */
  putObject(object: NewObject): Promise<{ stored: StoredObject; released: string[] }>;
  /** The oldest object with this whole-content digest and size, in a bucket `owner` owns (any bucket when `anyOwner`). */
  findByContent(kind: 'md5' | 'sha1', digest: string, size: number, owner: string, anyOwner: boolean): Promise<StoredObject | undefined>;
  bucketUsage(bucket: string): Promise<{ objects: number; bytes: number }>;
  /** Gives an object a new key, keeping its id and bytes (the caller checks the new key is free). */
  renameObject(id: number, key: string, at: Date): Promise<void>;
  /** Replaces an object's or a noncurrent version's tags (none: undefined or empty), leaving everything else as it is. */
  setObjectTags(id: number, tags: readonly Tag[] | undefined): Promise<void>;
  /** Replaces an object's or a noncurrent version's Object Lock state (none: undefined), leaving everything else as it is. */
  setObjectLock(id: number, lock: ObjectLock | undefined): Promise<void>;
  /** Replaces an object's or a noncurrent version's own ACL (none: undefined, the default), leaving everything else as it is. */
  setObjectAcl(id: number, acl: Acl | undefined): Promise<void>;
  /** Deletes an object's row and its segments or parts; returns the blob ids it held. */
  deleteObject(bucket: string, key: string): Promise<string[]>;
  /** Objects with `after < key` and `key` in [lower, upper), in key order (UTF-8 byte order). */
  listObjects(bucket: string, after: string, lower: string, upper: string | undefined, limit: number): Promise<StoredObject[]>;
  /** As listObjects, only the columns a listing page shows (a projection: the same rows, far cheaper per row). */
  listObjectEntries(bucket: string, after: string, lower: string, upper: string | undefined, limit: number): Promise<ObjectListEntry[]>;

  // Versions (versioned buckets only: objects holds each key's current version, object_versions the rest)
  /** Moves the key's current object, if any, to the noncurrent versions (newest of them, noncurrent since `at`); returns it. */
  archiveCurrent(bucket: string, key: string, at: Date): Promise<StoredObject | undefined>;
  /** The key's newest history entry, when it is the latest (a delete marker), becomes noncurrent since `at`. */
  markNewestNoncurrent(bucket: string, key: string, at: Date): Promise<void>;
  /** The history entry `seq` is the key's latest again (a delete marker left on top). */
  markLatest(bucket: string, key: string, seq: number): Promise<void>;
  /** Adds a delete marker as the key's newest noncurrent entry (`null`: the null version). */
  insertDeleteMarker(bucket: string, key: string, versionId: string | null, at: Date): Promise<void>;
  /** A noncurrent version or delete marker by id (`null`: the null version). */
  getNoncurrent(bucket: string, key: string, versionId: string | null): Promise<StoredVersion | undefined>;
  /** The key's newest noncurrent version or delete marker. */
  newestNoncurrent(bucket: string, key: string): Promise<StoredVersion | undefined>;
  /** Deletes a noncurrent version or marker with its segments or parts; returns the blob ids it held. */
  deleteNoncurrent(bucket: string, key: string, seq: number): Promise<string[]>;
  /** Moves a noncurrent version back to objects as the key's current one (keeping its id). */
  restoreNoncurrent(bucket: string, key: string, seq: number): Promise<void>;
  /**
   * Noncurrent versions and markers after the position (afterKey, afterSeq) in (key ascending, seq
   * descending) order, with key in [lower, upper).
   */
  listNoncurrent(bucket: string, afterKey: string, afterSeq: number, lower: string, upper: string | undefined, limit: number): Promise<StoredVersion[]>;
  /** When the bucket's longest-noncurrent version became noncurrent (none: no noncurrent version). */
  oldestNoncurrentSince(bucket: string): Promise<Date | undefined>;
  /** The keys' latest entries that are delete markers (no current object), `after < key` in [lower, upper), in key order. */
  listLatestMarkers(bucket: string, after: string, lower: string, upper: string | undefined, limit: number): Promise<StoredVersion[]>;

  // Blob references
  isBlobReferenced(blobId: string): Promise<boolean>;
  /** Of the given blob ids, those nothing refers to any more (call inside the transaction that released them). */
  unreferenced(blobIds: Iterable<string>): Promise<string[]>;
  allBlobIds(): Promise<Set<string>>;
  /**
   * Everything that refers to the next `limit` blob ids after `afterBlobId` (in id order): one entry
   * per object, noncurrent version or upload part holding the blob, ordered by blob id (core/scrub.ts).
   */
  blobReferences(afterBlobId: string, limit: number): Promise<BlobReference[]>;

  // Uploads
  insertUpload(upload: UploadInfo): Promise<void>;
  getUpload(uploadId: string): Promise<StoredUpload | undefined>;
  /** Deletes an upload and its parts; returns the blob ids the parts held. */
  deleteUpload(uploadId: string): Promise<string[]>;
  /** Records the completion; the listed parts stay, as the object's bytes. */
  markCompleted(uploadId: string, at: Date, fingerprint: string, etag: string): Promise<void>;
  /** Deletes the given parts of an upload (those a Complete left out); returns their blob ids. */
  deleteParts(uploadId: string, partNumbers: number[]): Promise<string[]>;
  uploadIdsOfBucket(bucket: string): Promise<string[]>;
  /** Open uploads initiated before the first date, and completion records older than the second. */
  staleUploadIds(initiatedBefore: Date, completedBefore: Date): Promise<string[]>;
  /** Open uploads after the cursor (key, uploadId) with key in [lower, upper), ordered by key then id: the columns a listing shows. */
  listUploadsAfter(
    bucket: string,
    after: { key: string; uploadId: string },
    lower: string,
    upper: string | undefined,
    limit: number,
  ): Promise<UploadListEntry[]>;
  listUploadsOfKeyAfterId(bucket: string, key: string, afterUploadId: string, limit: number): Promise<UploadListEntry[]>;

  // Parts
  getPart(uploadId: string, partNumber: number): Promise<StoredPart | undefined>;
  /** Inserts or replaces a part; returns the blob id of the part it replaced, if any. */
  upsertPart(uploadId: string, part: StoredPart): Promise<string | undefined>;
  listParts(uploadId: string, afterPartNumber: number, limit: number): Promise<StoredPart[]>;
  allParts(uploadId: string): Promise<StoredPart[]>;
  /** Parts held so far and their bytes, per upload of the bucket (ids of other buckets' uploads, or without a part, are absent). */
  partTotals(bucket: string, uploadIds: string[]): Promise<Map<string, { parts: number; bytes: number }>>;
  /** Every upload in progress in the bucket, and the parts and bytes they hold together (ossutil's getallpartsize). */
  bucketPartTotals(bucket: string): Promise<{ uploads: number; parts: number; bytes: number }>;
  /** Every upload in progress in the store, and the parts and bytes they hold together (one aggregate query, for metrics). */
  uploadTotals(): Promise<{ uploads: number; parts: number; bytes: number }>;
  /** What Complete needs of every part, as columns (with the parts' checksums in hex when asked). */
  partColumns(uploadId: string, withChecksums?: boolean): Promise<PartColumns>;
  /** The checksum of one part of a multipart object (undefined for a single PUT's object, or a part without one). */
  objectPartChecksum(objectId: number, partNumber: number): Promise<Checksum | undefined>;
  /** A multipart object's parts after `afterPartNumber`, in order (none for a single PUT's object). */
  listObjectParts(objectId: number, afterPartNumber: number, limit: number): Promise<StoredPart[]>;

  // Settings: values made once per store (secrets, generated credentials)
  /** The stored value of `name`; stores `value` first when there is none (the first caller's value wins). */
  ensureSetting(name: string, value: string): Promise<string>;
  /** The stored value of `name`, if any. */
  getSetting(name: string): Promise<string | undefined>;

  // Users and access keys made through the admin API (core/identities.ts)
  listUsers(): Promise<StoredUser[]>;
  listAccessKeys(): Promise<StoredAccessKey[]>;
  /** One key by its id, enabled or not (a node asking about a key made on another a moment ago). */
  getAccessKey(accessKeyId: string): Promise<StoredAccessKey | undefined>;
  /** False when the id is taken. */
  insertUser(user: StoredUser): Promise<boolean>;
  /** False when there is no such user. */
  setUserEnabled(id: string, enabled: boolean): Promise<boolean>;
  /** Removes the user and every key of theirs; false when there is no such user. */
  deleteUser(id: string): Promise<boolean>;
  /** False when the key's user does not exist (or the key id is taken). */
  insertAccessKey(key: StoredAccessKey): Promise<boolean>;
  /** False when `userId` has no such key. */
  setAccessKeyEnabled(userId: string, accessKeyId: string, enabled: boolean): Promise<boolean>;
  /** False when `userId` has no such key. */
  deleteAccessKey(userId: string, accessKeyId: string): Promise<boolean>;

  // Policies attached to users (core/identities.ts): the AWS policy language, one document per (user, name)
  listUserPolicies(): Promise<StoredUserPolicy[]>;
  /** Stores the document under the name, replacing one there. */
  putUserPolicy(policy: StoredUserPolicy): Promise<void>;
  /** False when the user has no policy of that name. */
  deleteUserPolicy(userId: string, name: string): Promise<boolean>;

  // Managed policies (core/user-policies.ts): named documents attached to any number of users
  listPolicies(): Promise<StoredPolicy[]>;
  /** Creates the policy, or replaces the document of the one of that name (keeping its `created`). */
  putPolicy(policy: StoredPolicy): Promise<void>;
  /** Deletes nothing while a user is attached to the policy ('attached'). */
  deletePolicy(name: string): Promise<'deleted' | 'missing' | 'attached'>;
  listPolicyAttachments(): Promise<StoredPolicyAttachment[]>;
  /** False when there is no policy of that name; attaching an attached policy again changes nothing. */
  attachPolicy(attachment: StoredPolicyAttachment): Promise<boolean>;
  /** False when the policy is not attached to the user. */
  detachPolicy(userId: string, policyName: string): Promise<boolean>;

  // The local KMS key store (core/kms.ts): keys made through the admin API, sealed under the master key
  /** False when the id (or the alias) is taken. */
  insertKmsKey(key: StoredKmsKey): Promise<boolean>;
  getKmsKey(id: string): Promise<StoredKmsKey | undefined>;
  kmsKeyByAlias(alias: string): Promise<StoredKmsKey | undefined>;
  listKmsKeys(): Promise<StoredKmsKey[]>;
  /** False when there is no such key. */
  setKmsKeyEnabled(id: string, enabled: boolean): Promise<boolean>;

  // Leases: who runs a background job now (one node of a cluster at a time)
  /**
   * Takes or renews the lease `name` for `holder` until `until`; true when `holder` holds it now
   * (it was free, expired at `now`, or already this holder's).
   */
  acquireLease(name: string, holder: string, until: Date, now: Date): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
  /** Leases whose name starts with `prefix`, expired or not. */
  listLeases(prefix: string): Promise<Array<{ name: string; holder: string; until: Date }>>;

  // Rate windows
  /** Counts one call in window `window` (e.g. client, endpoint and second); returns the count including this one. */
  countCall(window: string, now: Date): Promise<number>;

  // Client tokens (stored by hash, never in clear)
  /** Records a token; revokes the oldest live ones beyond `maxLive`. Returns how many were revoked. */
  issueToken(hash: string, clientId: string, now: Date, expiresAt: Date, maxLive: number): Promise<number>;
  /** The client a live token belongs to. */
  tokenClient(hash: string, now: Date): Promise<string | undefined>;

  // Upload sessions
  insertSession(session: Omit<UploadSession, 'status' | 'fileId' | 'message'>): Promise<void>;
  getSession(id: string): Promise<UploadSession | undefined>;
  /** The newest open session for this file (same place, MD5 and size). */
  findOpenSession(bucket: string, requestedKey: string, etag: string, size: number): Promise<UploadSession | undefined>;
  setSessionStatus(id: string, status: SessionStatus, fileId?: number, message?: string): Promise<void>;
  /** Sessions in `status`, oldest first (to pick up background completions a dead node left). */
  sessionsWithStatus(status: SessionStatus, limit: number): Promise<UploadSession[]>;
  getHashState(sessionId: string): Promise<HashState | undefined>;
  /**
   * Saves the running hash if the stored one still ends before `state.next` at `expectedNext`
   * (undefined: none stored yet); false when another writer moved it meanwhile.
   */
  saveHashState(sessionId: string, expectedNext: number | undefined, state: HashState): Promise<boolean>;
  deleteHashState(sessionId: string): Promise<void>;

  // Trash marks, by object id (a rename keeps the id, so the mark follows the file)
  trash(objectId: number, bucket: string, now: Date): Promise<void>;
  untrash(objectId: number): Promise<void>;
  isTrashed(objectId: number): Promise<boolean>;
}

/** What a PUT's write must find true when it lands (the body was read in between). */
export interface WriteGuard {
  /** The bucket's owner must still be this user (undefined: root, any owner). */
  owner?: string;
  /** The bucket's access settings must still be these (BucketInfo.accessStamp): the write was authorised from them. */
  accessStamp?: string;
  /** Refuse rather than replace an object already at the key. */
  ifAbsent?: boolean;
  /** The body came without Content-MD5 or a checksum: refused where a retention applies (S3's rule, core/object-lock.ts). */
  unverifiedBody?: boolean;
}

export type WriteOutcome =
  | { stored: StoredObject; /** Blob ids the replaced object held that nothing refers to now. */ released: string[] }
  | { refused: 'no-bucket' | 'not-owner' | 'access-changed' | 'exists' };

export interface Metadata extends MetadataQueries {
  readonly backend: 'sqlite' | 'postgres';
  /**
   * A PUT's metadata step, atomic: the bucket is checked against `guard` and the object written,
   * replacing the key's old one. One call, so a backend can do it in as few round trips as it can.
   */
  writeObject(object: NewObject, guard: WriteGuard): Promise<WriteOutcome>;
  /**
   * Runs `fn` as one transaction: all of its changes commit together or none do, and it sees no
   * other transaction's changes half-done. `fn` does metadata work only (no I/O of its own) and
   * may run more than once (PostgreSQL retries a transaction that lost a serialization race).
   */
  transaction<T>(fn: (tx: MetadataQueries) => Promise<T>): Promise<T>;
  /** Tells every node sharing this store that users or keys changed (PostgreSQL NOTIFY; nothing for SQLite). */
  announceIdentityChange(): Promise<void>;
  /**
   * Calls `onChange` when another node announces a change, and whenever the listening connection
   * (re)connects (changes may have been missed meanwhile). SQLite has no other node: never calls it.
   */
  watchIdentityChanges(onChange: () => void): { close(): Promise<void> };
  /** The connection pool's clients now (PostgreSQL); undefined for SQLite, which has one connection and no pool. */
  poolStats(): PoolStats | undefined;
  close(): Promise<void>;
}

/** A connection pool's clients: open ones, idle ones among them, and callers waiting for one. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
}

/** The same methods, synchronous: what a backend built on a synchronous driver implements. */
export type Synchronous<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never;
};
