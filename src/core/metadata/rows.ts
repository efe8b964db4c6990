import { accessStamp, bucketAccessOf } from '../public-access.js';
import { parseLockConfiguration, parseWormDocument } from '../object-lock.js';
import { aclDocument, parseAclDocument } from '../acl.js';
import type {
  BucketEncryption,
  BucketInfo,
  ChecksumAlgorithm,
  ChecksumType,
  ObjectAttributes,
  ObjectChecksum,
  ObjectEncryption,
  ObjectHeaders,
  ObjectListEntry,
  ObjectLock,
  RetentionMode,
  Tag,
  UploadListEntry,
} from '../types.js';
import type { HashState, StoredObject, StoredVersion, StoredPart, StoredUpload, UploadSession } from './types.js';

/**
 * Rows as both backends return them (the same column names; numbers as JS numbers, PostgreSQL's
 * BIGINT included, through its pool's parser; digests as Buffers) and their mapping to the
 * interface's types.
 */

export interface ObjectRow {
  id: number;
  bucket: string;
  key: string;
  size: number;
  etag: string;
  last_modified: number;
  headers: string;
  user_meta: string;
  parts_count: number | null;
  crc64: string | null;
  checksum_algorithm: string | null;
  checksum_type: string | null;
  checksum_value: Buffer | null;
  content_md5: string | null;
  content_sha1: string | null;
  upload_id: string | null;
  tags: string | null;
  version_id: string | null;
  lock_mode: string | null;
  lock_until: number | null;
  legal_hold: number | boolean | null;
  acl: string | null;
  encryption: string | null;
}

/** A row of object_versions: a noncurrent version or a delete marker. */
export interface VersionRow extends ObjectRow {
  seq: number;
  delete_marker: number | boolean;
  noncurrent_since: number | null;
}

export interface UploadRow {
  upload_id: string;
  bucket: string;
  key: string;
  owner: string;
  initiated: number;
  headers: string;
  user_meta: string;
  checksum_algorithm: string | null;
  checksum_type: string | null;
  completed_at: number | null;
  completed_fingerprint: string | null;
  completed_etag: string | null;
  tags: string | null;
  lock_mode: string | null;
  lock_until: number | null;
  legal_hold: number | boolean | null;
  acl: string | null;
  encryption: string | null;
}

export interface PartRow {
  part_number: number;
  blob_id: string;
  size: number;
  etag: string;
  last_modified: number;
  crc64: string | null;
  checksum_algorithm: string | null;
  checksum_value: Buffer | null;
  /** Absent before migration 13 (the column is NULL for rows written before it). */
  blob_crc32c?: number | null;
}

export function toObject(row: ObjectRow): StoredObject {
  return {
    id: row.id,
    bucket: row.bucket,
    key: row.key,
    size: row.size,
    etag: row.etag,
    lastModified: new Date(row.last_modified),
    headers: JSON.parse(row.headers) as ObjectHeaders,
    userMeta: JSON.parse(row.user_meta) as Record<string, string>,
    partsCount: row.parts_count ?? undefined,
    crc64: row.crc64 ?? undefined,
    checksum: objectChecksumOf(row),
    contentMd5: row.content_md5 ?? undefined,
    contentSha1: row.content_sha1 ?? undefined,
    // Only a versioned bucket's objects have one: the others' rows read as before.
    ...(row.version_id == null ? {} : { versionId: row.version_id }),
    // Only when there are some: an untagged object has no `tags` at all.
    ...(row.tags === null || row.tags === undefined ? {} : { tags: tagsFromColumn(row.tags) }),
    ...lockOf(row),
    ...aclAndEncryptionOf(row),
  };
}

export function toVersion(row: VersionRow): StoredVersion {
  return {
    ...toObject(row),
    seq: Number(row.seq),
    deleteMarker: Boolean(row.delete_marker),
    versionId: row.version_id ?? 'null',
    ...(row.noncurrent_since == null ? {} : { noncurrentSince: new Date(Number(row.noncurrent_since)) }),
  };
}

/** The columns a listing page of objects reads (ObjectListEntry), for `SELECT ${OBJECT_LIST_COLUMNS} FROM objects`. */
export const OBJECT_LIST_COLUMNS = 'key, size, etag, last_modified, parts_count';
export type ObjectListRow = Pick<ObjectRow, 'key' | 'size' | 'etag' | 'last_modified' | 'parts_count'>;

export function toObjectListEntry(row: ObjectListRow): ObjectListEntry {
  const entry: ObjectListEntry = { key: row.key, size: row.size, etag: row.etag, lastModified: new Date(row.last_modified) };
  if (row.parts_count != null) entry.partsCount = row.parts_count;
  return entry;
}

/** The columns a listing page of uploads reads (UploadListEntry). */
export const UPLOAD_LIST_COLUMNS = 'upload_id, key, owner, initiated, checksum_algorithm, checksum_type';
export type UploadListRow = Pick<UploadRow, 'upload_id' | 'key' | 'owner' | 'initiated' | 'checksum_algorithm' | 'checksum_type'>;

export function toUploadListEntry(row: UploadListRow): UploadListEntry {
  const entry: UploadListEntry = { uploadId: row.upload_id, key: row.key, owner: row.owner, initiated: new Date(row.initiated) };
  if (row.checksum_algorithm !== null) entry.checksum = { algorithm: row.checksum_algorithm as ChecksumAlgorithm, type: row.checksum_type as ChecksumType };
  return entry;
}

export function toUpload(row: UploadRow): StoredUpload {
  return {
    uploadId: row.upload_id,
    bucket: row.bucket,
    key: row.key,
    owner: row.owner,
    initiated: new Date(row.initiated),
    headers: JSON.parse(row.headers) as ObjectHeaders,
    userMeta: JSON.parse(row.user_meta) as Record<string, string>,
    checksum:
      row.checksum_algorithm === null
        ? undefined
        : { algorithm: row.checksum_algorithm as ChecksumAlgorithm, type: row.checksum_type as ChecksumType },
    completed:
      row.completed_at === null
        ? undefined
        : { at: new Date(row.completed_at), fingerprint: row.completed_fingerprint ?? '', etag: row.completed_etag ?? '' },
    ...(row.tags === null || row.tags === undefined ? {} : { tags: tagsFromColumn(row.tags) }),
    ...lockOf(row),
    ...aclAndEncryptionOf(row),
  };
}

/** The `acl` and `encryption` columns: JSON documents, NULL for none (rows without either read as before). */
export function aclAndEncryptionColumns(attributes: ObjectAttributes): { acl: string | null; encryption: string | null } {
  return {
    acl: attributes.acl === undefined ? null : aclDocument(attributes.acl),
    encryption: attributes.encryption === undefined ? null : JSON.stringify(attributes.encryption),
  };
}

function aclAndEncryptionOf(row: { acl?: string | null; encryption?: string | null }): Pick<ObjectAttributes, 'acl' | 'encryption'> {
  return {
    ...(row.acl == null ? {} : { acl: parseAclDocument(row.acl) }),
    ...(row.encryption == null ? {} : { encryption: JSON.parse(row.encryption) as ObjectEncryption }),
  };
}

/** The Object Lock columns: `lock_mode` and `lock_until` (ms) together or neither; `legal_hold` ON, OFF or NULL (never set). */
export function lockColumns(lock: ObjectLock | undefined): { mode: string | null; until: number | null; legalHold: boolean | null } {
  return {
    mode: lock?.retention?.mode ?? null,
    until: lock?.retention?.until.getTime() ?? null,
    legalHold: lock?.legalHold ?? null,
  };
}

/** `{ lock }` when the row has a retention or a legal hold; nothing otherwise (rows without read as before). */
function lockOf(row: { lock_mode: string | null; lock_until: number | null; legal_hold: number | boolean | null }): { lock?: ObjectLock } {
  const lock: ObjectLock = {};
  if (row.lock_mode != null && row.lock_until != null) lock.retention = { mode: row.lock_mode as RetentionMode, until: new Date(Number(row.lock_until)) };
  if (row.legal_hold != null) lock.legalHold = Boolean(row.legal_hold);
  return lock.retention || lock.legalHold !== undefined ? { lock } : {};
}

/** The `tags` column: JSON [[key, value], …] in key order; NULL (no tags) for an empty set. */
export function tagsColumn(tags: readonly Tag[] | undefined): string | null {
  return tags === undefined || tags.length === 0 ? null : JSON.stringify(tags.map((tag) => [tag.key, tag.value]));
}

function tagsFromColumn(column: string): Tag[] {
  return (JSON.parse(column) as Array<[string, string]>).map(([key, value]) => ({ key, value }));
}

export function toPart(row: PartRow): StoredPart {
  return {
    partNumber: row.part_number,
    blobId: row.blob_id,
    size: row.size,
    etag: row.etag,
    lastModified: new Date(row.last_modified),
    crc64: row.crc64 ?? undefined,
    checksum: row.checksum_algorithm === null || row.checksum_value === null
      ? undefined
      : { algorithm: row.checksum_algorithm as ChecksumAlgorithm, value: row.checksum_value },
    ...(row.blob_crc32c === null || row.blob_crc32c === undefined ? {} : { blobCrc32c: row.blob_crc32c }),
  };
}

function objectChecksumOf(row: ObjectRow): ObjectChecksum | undefined {
  if (row.checksum_algorithm === null || row.checksum_type === null || row.checksum_value === null) return undefined;
  return { algorithm: row.checksum_algorithm as ChecksumAlgorithm, type: row.checksum_type as ChecksumType, value: row.checksum_value };
}


export interface SessionRow {
  id: string;
  client_id: string;
  bucket: string;
  key: string;
  requested_key: string;
  upload_id: string;
  etag: string;
  size: number;
  slice_size: number;
  duplicate: number;
  status: UploadSession['status'];
  file_id: number | null;
  message: string | null;
  created_at: number;
}

export function toSession(row: SessionRow): UploadSession {
  return {
    id: row.id,
    clientId: row.client_id,
    bucket: row.bucket,
    key: row.key,
    requestedKey: row.requested_key,
    uploadId: row.upload_id,
    etag: row.etag,
    size: row.size,
    sliceSize: row.slice_size,
    duplicate: row.duplicate,
    status: row.status,
    fileId: row.file_id ?? undefined,
    message: row.message ?? undefined,
    createdAt: new Date(row.created_at),
  };
}

export interface HashStateRow {
  next: number;
  size: number;
  md5: Uint8Array;
  sha1: Uint8Array;
  etags: string;
}

export function toHashState(row: HashStateRow): HashState {
  return { next: row.next, size: row.size, md5: row.md5, sha1: row.sha1, etags: JSON.parse(row.etags) as string[] };
}

export interface BucketRow {
  name: string;
  owner: string;
  created_at: number;
  versioning?: string | null;
  object_lock?: string | null;
  worm?: string | null;
  /** The access configurations as a JSON object by kind: text from SQLite, parsed by pg. */
  access?: string | Record<string, string> | null;
}

export function toBucket(row: BucketRow): BucketInfo {
  const bucket: BucketInfo = { name: row.name, owner: row.owner, createdAt: new Date(row.created_at) };
  if (row.versioning === 'Enabled' || row.versioning === 'Suspended') bucket.versioning = row.versioning;
  if (row.object_lock != null) bucket.objectLock = parseLockConfiguration(row.object_lock);
  if (row.worm != null) bucket.worm = parseWormDocument(row.worm);
  // Only getBucket reads the access documents (a listing of buckets does not).
  if (row.access !== undefined) {
    const documents = row.access === null ? {} : typeof row.access === 'string' ? (JSON.parse(row.access) as Record<string, string>) : row.access;
    const access = bucketAccessOf(documents);
    if (access) bucket.access = access;
    if (documents.encryption !== undefined) bucket.encryption = JSON.parse(documents.encryption) as BucketEncryption;
    bucket.accessStamp = accessStamp(documents);
  }
  return bucket;
}
