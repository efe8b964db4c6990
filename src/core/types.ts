import type { Acl } from './acl.js';
import type { Policy } from './policy.js';

/** Who is asking, and how: what core/authorization.ts decides on. */
export interface Actor {
  /** The user's id ('' for an anonymous request). */
  userId: string;
  root: boolean;
  /** An unsigned request: it may do only what a bucket policy grants everyone. */
  anonymous?: boolean;
  /** Policies attached to the user; absent: none (the user's own buckets, and creating buckets). */
  policies?: readonly Policy[];
  /** What policy conditions see of the request itself (aws:SourceIp, aws:SecureTransport, …), by lower-cased key. */
  conditions?: Readonly<Record<string, string | undefined>>;
}

/** Block Public Access, per bucket (AWS's four switches; a new bucket has all four on). */
export interface PublicAccessBlock {
  blockPublicAcls: boolean;
  ignorePublicAcls: boolean;
  blockPublicPolicy: boolean;
  restrictPublicBuckets: boolean;
}

/** S3 Object Ownership: BucketOwnerEnforced (a new bucket's) turns ACLs off. */
export type ObjectOwnership = 'BucketOwnerEnforced' | 'BucketOwnerPreferred' | 'ObjectWriter';

/** What a bucket says about who may use it, read with the bucket (getBucket). */
export interface BucketAccess {
  /** The bucket policy as put (core/policy.ts parses it). */
  policy?: string;
  publicAccessBlock?: PublicAccessBlock;
  ownership?: ObjectOwnership;
  /** The bucket's ACL, where one was set (core/acl.ts; in force only while ACLs are enabled). */
  acl?: Acl;
}

export interface BucketInfo {
  name: string;
  owner: string;
  createdAt: Date;
  /** Versioning, once turned on (a bucket never goes back to unversioned); absent: unversioned. */
  versioning?: 'Enabled' | 'Suspended';
  /** Object Lock, once enabled (it never goes away; core/object-lock.ts); absent: none. */
  objectLock?: ObjectLockConfiguration;
  /** OSS's bucket retention policy as stored, lapsed or not (core/object-lock.ts `wormInEffect`); absent: none. */
  worm?: BucketWorm;
  /** Policy, Block Public Access and Object Ownership, where set (core/authorization.ts). */
  access?: BucketAccess;
  /** How objects written without asking for encryption are encrypted (core/encryption.ts); absent: they are not. */
  encryption?: BucketEncryption;
  /**
   * A digest of the stored access settings as read (core/public-access.ts `accessStamp`): a write
   * authorised from this reading stores only if the settings are still these.
   */
  accessStamp?: string;
}

/**
 * OSS's bucket retention policy (kind `worm`): InProgress once initiated, Locked once completed.
 * While it is in effect no object younger than the period (counted from its last-modified time)
 * is deleted for good. An InProgress policy not completed within 24 hours lapses.
 */
export interface BucketWorm {
  id: string;
  state: 'InProgress' | 'Locked';
  days: number;
  created: Date;
}

/** S3 Object Lock's two retention modes. */
export type RetentionMode = 'GOVERNANCE' | 'COMPLIANCE';

/** A bucket's Object Lock configuration: enabled, with an optional default retention for new versions. */
export interface ObjectLockConfiguration {
  defaultRetention?: { mode: RetentionMode; days?: number; years?: number };
}

/** One version's Object Lock state: a retention (mode and date together) and a legal hold. */
export interface ObjectLock {
  retention?: { mode: RetentionMode; until: Date };
  legalHold?: boolean;
}

/** Standard headers stored with an object and returned on GET/HEAD. */
export interface ObjectHeaders {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
}

/** One object or bucket tag (core/tagging.ts validates them). */
export interface Tag {
  key: string;
  value: string;
}

export interface ObjectAttributes {
  headers: ObjectHeaders;
  /** User metadata, names lower-case without the dialect prefix. */
  userMeta: Record<string, string>;
  /** The object's tags, in key order; absent (or empty) when it has none. */
  tags?: Tag[];
  /** The version's Object Lock retention and legal hold; absent when it has neither. */
  lock?: ObjectLock;
  /** The object's own ACL, where ACLs are on and one was given; absent: its owner's full control. */
  acl?: Acl;
  /** How the bytes are encrypted at rest (core/encryption.ts); absent: they are not. */
  encryption?: ObjectEncryption;
}

/** A bucket's default encryption (S3's PutBucketEncryption, OSS's ?encryption). */
export interface BucketEncryption {
  kind: 'sse-s3' | 'sse-kms';
  /** SSE-KMS: the key store's key id; absent: the store's default key. */
  kmsKeyId?: string;
  bucketKeyEnabled?: boolean;
}

/**
 * Server-side encryption of one object (or upload): every blob of it is sealed with its own data
 * key, and that key is sealed under the key named here (core/encryption.ts).
 */
export interface ObjectEncryption {
  /** `sse-s3`: the server's own key; `sse-kms`: a key of the local key store; `sse-c`: the customer's key, never stored. */
  kind: 'sse-s3' | 'sse-kms' | 'sse-c';
  /** SSE-KMS: the key store's key id. */
  kmsKeyId?: string;
  /** SSE-KMS: whether the client asked for an S3 Bucket Key (echoed back; every data key is per blob either way). */
  bucketKeyEnabled?: boolean;
  /** SSE-C: a salted HMAC of the customer's key, telling a later request's key is the same one without revealing it. */
  customerKeyCheck?: string;
}

/**
 * The flexible-checksum algorithms (S3's x-amz-checksum-*): the digest bytes are big-endian,
 * the CRCs' as wide as the CRC (4 bytes, 8 for CRC-64/NVME).
 */
export type ChecksumAlgorithm = 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256';

/**
 * What an object's checksum is a digest of: all its bytes (every single PUT; a multipart upload
 * whose part CRCs were combined), or the concatenated digests of its parts, in part order.
 */
export type ChecksumType = 'full-object' | 'composite';

/** A digest of a run of bytes (a part, or a whole object). */
export interface Checksum {
  algorithm: ChecksumAlgorithm;
  /** The digest's bytes. */
  value: Buffer;
}

/** An object's checksum: a composite one covers the `partsCount` parts' digests. */
export interface ObjectChecksum extends Checksum {
  type: ChecksumType;
}

/** What a multipart upload announced: each part's checksum algorithm, and how the object's is formed. */
export interface ChecksumSpec {
  algorithm: ChecksumAlgorithm;
  type: ChecksumType;
}

export interface ObjectInfo extends ObjectAttributes {
  bucket: string;
  key: string;
  size: number;
  /** Hex MD5 (lower-case), or `hex-N` for a multipart object; no quotes. */
  etag: string;
  lastModified: Date;
  /** Number of parts for a multipart object, undefined for a single PUT. */
  partsCount?: number;
  /** CRC-64/ECMA of the content as an unsigned decimal, when known. */
  crc64?: string;
  /** The flexible checksum stored with the object, when it was given one. */
  checksum?: ObjectChecksum;
  /** The version's id in a versioned bucket (`null` for the null version); absent in an unversioned one. */
  versionId?: string;
}

/** A contiguous run of the object's bytes stored in one blob file. */
export interface Segment {
  blobId: string;
  /** Offset of this segment's first byte within the object. */
  offset: number;
  size: number;
  partNumber: number;
  /** A multipart object's part: the part's ETag (its MD5 unless SSE-KMS or SSE-C), to check its bytes against as they are read. */
  etag?: string;
  /**
   * The CRC32C of the blob's bytes as stored (of the plaintext: an encrypted blob's is not
   * checked on reads), recorded when it was written; absent for blobs written before it was kept.
   */
  crc32c?: number;
}

export interface PartInfo {
  partNumber: number;
  size: number;
  etag: string;
  lastModified: Date;
  crc64?: string;
  /** The part's flexible checksum, when it carried one or its upload announced one. */
  checksum?: Checksum;
}

export interface UploadInfo extends ObjectAttributes {
  uploadId: string;
  bucket: string;
  key: string;
  owner: string;
  initiated: Date;
  /** The checksum every part carries and the object gets, when the upload announced one. */
  checksum?: ChecksumSpec;
}

/** Digests computed while a body streams to disk. md5 always; the rest on request. */
export interface Digests {
  size: number;
  md5: Buffer;
  sha256?: Buffer;
  crc64?: string;
  sha1?: Buffer;
  /** S3 flexible checksums: big-endian digest bytes. */
  crc32?: Buffer;
  crc32c?: Buffer;
  crc64nvme?: Buffer;
}

/** Digests computed on request besides MD5; `crc64` is OSS's CRC-64/ECMA, `crc64nvme` S3's. */
export type ExtraDigest = ChecksumAlgorithm | 'crc64';

export interface WriteOptions {
  /** Extra digests to compute besides MD5. */
  digests?: ExtraDigest[];
  /** Store this algorithm's digest of the bytes as their checksum (computed if not in `digests`). */
  checksum?: ChecksumAlgorithm;
  /** Called after the bytes are durable but before they are committed; throw to reject them. */
  verify?: (digests: Digests) => void;
}

export interface ListObjectsQuery {
  prefix?: string;
  delimiter?: string;
  /** Exclusive: list keys strictly after this one. */
  after?: string;
  maxKeys: number;
}

/**
 * What a listing page shows of an object (ListObjects, ListObjectsV2 in S3 and OSS): only these
 * columns are read for a page, not the whole row.
 */
export interface ObjectListEntry {
  key: string;
  size: number;
  /** As ObjectInfo's: hex MD5 or `hex-N`, no quotes. */
  etag: string;
  lastModified: Date;
  /** Set for a multipart object (OSS shows its Type from it). */
  partsCount?: number;
}

/** What ListMultipartUploads shows of an upload in progress: only these columns are read for a page. */
export interface UploadListEntry {
  uploadId: string;
  key: string;
  owner: string;
  initiated: Date;
  checksum?: ChecksumSpec;
}

export interface ListObjectsPage {
  objects: ObjectListEntry[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned, for the next page's marker. */
  nextMarker?: string;
}

export interface ListUploadsQuery {
  prefix?: string;
  delimiter?: string;
  keyMarker?: string;
  uploadIdMarker?: string;
  maxUploads: number;
}

export interface ListUploadsPage {
  uploads: UploadListEntry[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

export interface ListPartsPage {
  upload: UploadInfo;
  parts: PartInfo[];
  isTruncated: boolean;
  nextPartNumberMarker?: number;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
  /** The part's checksum as the client lists it, checked against the stored part's. */
  checksum?: Checksum;
}
