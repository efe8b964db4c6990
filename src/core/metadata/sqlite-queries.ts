import { toKmsKey, type KmsKeyRow } from './identity-rows.js';
import { ACCESS_CONFIG_KINDS_SQL } from '../public-access.js';
import type Database from 'better-sqlite3';
import { SqliteIdentities } from './sqlite-identities.js';
import { startsFromLower } from '../listing.js';
import type { BucketInfo, Checksum, ChecksumAlgorithm, ObjectListEntry, ObjectLock, Segment, Tag, UploadInfo, UploadListEntry } from '../types.js';
import type { Acl } from '../acl.js';
import {
  tagsColumn,
  aclAndEncryptionColumns,
  lockColumns,
  toHashState,
  toObject,
  toObjectListEntry,
  OBJECT_LIST_COLUMNS,
  type ObjectListRow,
  toPart,
  toSession,
  toUpload,
  toUploadListEntry,
  UPLOAD_LIST_COLUMNS,
  type UploadListRow,
  type HashStateRow,
  type ObjectRow,
  type PartRow,
  type SessionRow,
  type UploadRow,
  type VersionRow,
  toBucket,
  type BucketRow,
  toVersion,
} from './rows.js';
import { BLOB_REFERENCES_SQL, blobReferenceOf, type BlobReferenceRow } from './blob-references.js';
import type {
  BlobReference,
  BucketConfigKind,
  HashState,
  MetadataQueries,
  NewObject,
  PartColumns,
  SessionStatus,
  StoredObject,
  StoredAccessKey,
  StoredKmsKey,
  StoredUserPolicy,
  StoredPolicy,
  StoredPolicyAttachment,
  StoredPart,
  StoredUpload,
  StoredUser,
  StoredVersion,
  Synchronous,
  UploadSession,
} from './types.js';

/**
 * The metadata queries over one SQLite connection, synchronous (better-sqlite3). Every query
 * that pages is an index range scan, so its cost is the page it returns, not the rows before it.
 */
export class SqliteQueries implements Synchronous<MetadataQueries> {
  /** Prepared on first use: only the scrub reads it. */
  private blobReferencesStmt?: Database.Statement<{ after: string; limit: number }, BlobReferenceRow>;
  private readonly stmt;
  private versionStmt: ReturnType<typeof prepareVersionStatements> | undefined;
  private identityStmt: SqliteIdentities | undefined;

  constructor(private readonly db: Database.Database) {
    this.stmt = {
      insertBucket: db.prepare('INSERT INTO buckets (name, owner, created_at) VALUES (?, ?, ?)'),
      getBucket: db.prepare<[string], BucketRow>(
        `SELECT b.*, (SELECT document FROM bucket_configs WHERE bucket = b.name AND kind = 'versioning') AS versioning,
           (SELECT document FROM bucket_configs WHERE bucket = b.name AND kind = 'object-lock') AS object_lock,
           (SELECT document FROM bucket_configs WHERE bucket = b.name AND kind = 'worm') AS worm,
           (SELECT json_group_object(kind, document) FROM bucket_configs WHERE bucket = b.name AND kind IN (${ACCESS_CONFIG_KINDS_SQL})) AS access
         FROM buckets b WHERE b.name = ?`,
      ),
      listBuckets: db.prepare<[], { name: string; owner: string; created_at: number }>('SELECT * FROM buckets ORDER BY name'),
      deleteBucket: db.prepare('DELETE FROM buckets WHERE name = ?'),
      deleteBucketConfigs: db.prepare('DELETE FROM bucket_configs WHERE bucket = ?'),
      getBucketConfig: db.prepare<[string, string], { document: string }>('SELECT document FROM bucket_configs WHERE bucket = ? AND kind = ?'),
      putBucketConfig: db.prepare(
        'INSERT INTO bucket_configs (bucket, kind, document) VALUES (?, ?, ?) ON CONFLICT (bucket, kind) DO UPDATE SET document = excluded.document',
      ),
      deleteBucketConfig: db.prepare('DELETE FROM bucket_configs WHERE bucket = ? AND kind = ?'),
      anyObject: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM objects WHERE bucket = ? LIMIT 1'),
      anyVersion: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM object_versions WHERE bucket = ? LIMIT 1'),
      getObject: db.prepare<[string, string], ObjectRow>('SELECT * FROM objects WHERE bucket = ? AND key = ?'),
      insertObject: db.prepare(
        `INSERT INTO objects (bucket, key, size, etag, last_modified, headers, user_meta, parts_count, crc64,
           checksum_algorithm, checksum_type, checksum_value, content_md5, content_sha1, upload_id, tags, version_id,
           lock_mode, lock_until, legal_hold, acl, encryption)
         VALUES (@bucket, @key, @size, @etag, @lastModified, @headers, @userMeta, @partsCount, @crc64,
           @checksumAlgorithm, @checksumType, @checksumValue, @contentMd5, @contentSha1, @uploadId, @tags, @versionId,
           @lockMode, @lockUntil, @legalHold, @acl, @encryption)`,
      ),
      getObjectById: db.prepare<[number], ObjectRow>('SELECT * FROM objects WHERE id = ?'),
      byContentMd5: db.prepare<[string, number, string, number], ObjectRow>(
        `SELECT o.* FROM objects o JOIN buckets b ON b.name = o.bucket
         WHERE o.content_md5 = ? AND o.size = ? AND (b.owner = ? OR ?) ORDER BY o.id LIMIT 1`,
      ),
      byContentSha1: db.prepare<[string, number, string, number], ObjectRow>(
        `SELECT o.* FROM objects o JOIN buckets b ON b.name = o.bucket
         WHERE o.content_sha1 = ? AND o.size = ? AND (b.owner = ? OR ?) ORDER BY o.id LIMIT 1`,
      ),
      bucketUsage: db.prepare<[string], { objects: number; bytes: number | null }>(
        'SELECT COUNT(*) AS objects, SUM(size) AS bytes FROM objects WHERE bucket = ?',
      ),
      renameObject: db.prepare('UPDATE objects SET key = ?, last_modified = ? WHERE id = ?'),
      setObjectTags: db.prepare('UPDATE objects SET tags = ? WHERE id = ?'),
      setVersionTags: db.prepare('UPDATE object_versions SET tags = ? WHERE id = ?'),
      setObjectLock: db.prepare('UPDATE objects SET lock_mode = ?, lock_until = ?, legal_hold = ? WHERE id = ?'),
      setVersionLock: db.prepare('UPDATE object_versions SET lock_mode = ?, lock_until = ?, legal_hold = ? WHERE id = ?'),
      setObjectAcl: db.prepare('UPDATE objects SET acl = ? WHERE id = ?'),
      setVersionAcl: db.prepare('UPDATE object_versions SET acl = ? WHERE id = ?'),
      deleteObjectRow: db.prepare('DELETE FROM objects WHERE id = ?'),
      segmentsOf: db.prepare<[number], { blob_id: string; offset: number; size: number; part_number: number; blob_crc32c: number | null }>(
        'SELECT blob_id, offset, size, part_number, blob_crc32c FROM segments WHERE object_id = ? ORDER BY seq',
      ),
      // A noncurrent version keeps its id: its upload is found in object_versions.
      uploadIdOfObject: db.prepare<[number, number], { upload_id: string | null }>(
        'SELECT upload_id FROM objects WHERE id = ? UNION ALL SELECT upload_id FROM object_versions WHERE id = ? LIMIT 1',
      ),
      partSegments: db.prepare<[string], { blob_id: string; size: number; part_number: number; etag: string; blob_crc32c: number | null }>(
        'SELECT blob_id, size, part_number, etag, blob_crc32c FROM parts WHERE upload_id = ? ORDER BY part_number',
      ),
      deletePart: db.prepare<[string, number], { blob_id: string }>(
        'DELETE FROM parts WHERE upload_id = ? AND part_number = ? RETURNING blob_id',
      ),
      insertSegment: db.prepare(
        'INSERT INTO segments (object_id, seq, blob_id, offset, size, part_number, blob_crc32c) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ),
      deleteSegments: db.prepare('DELETE FROM segments WHERE object_id = ?'),
      blobInSegments: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM segments WHERE blob_id = ? LIMIT 1'),
      blobInParts: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM parts WHERE blob_id = ? LIMIT 1'),
      // One lower bound each (see startsFromLower): after a key, or from one.
      listObjectsAfter: db.prepare<[string, string, string, number], ObjectRow>(
        `SELECT * FROM objects WHERE bucket = ? AND key > ? AND key < ? ORDER BY key LIMIT ?`,
      ),
      listObjectsAfterNoUpper: db.prepare<[string, string, number], ObjectRow>(
        `SELECT * FROM objects WHERE bucket = ? AND key > ? ORDER BY key LIMIT ?`,
      ),
      listObjectsFrom: db.prepare<[string, string, string, number], ObjectRow>(
        `SELECT * FROM objects WHERE bucket = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?`,
      ),
      listObjectsFromNoUpper: db.prepare<[string, string, number], ObjectRow>(
        `SELECT * FROM objects WHERE bucket = ? AND key >= ? ORDER BY key LIMIT ?`,
      ),
      listEntriesAfter: db.prepare<[string, string, string, number], ObjectListRow>(
        `SELECT ${OBJECT_LIST_COLUMNS} FROM objects WHERE bucket = ? AND key > ? AND key < ? ORDER BY key LIMIT ?`,
      ),
      listEntriesAfterNoUpper: db.prepare<[string, string, number], ObjectListRow>(
        `SELECT ${OBJECT_LIST_COLUMNS} FROM objects WHERE bucket = ? AND key > ? ORDER BY key LIMIT ?`,
      ),
      listEntriesFrom: db.prepare<[string, string, string, number], ObjectListRow>(
        `SELECT ${OBJECT_LIST_COLUMNS} FROM objects WHERE bucket = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?`,
      ),
      listEntriesFromNoUpper: db.prepare<[string, string, number], ObjectListRow>(
        `SELECT ${OBJECT_LIST_COLUMNS} FROM objects WHERE bucket = ? AND key >= ? ORDER BY key LIMIT ?`,
      ),
      insertUpload: db.prepare(
        `INSERT INTO uploads (upload_id, bucket, key, owner, initiated, headers, user_meta, checksum_algorithm, checksum_type, tags,
           lock_mode, lock_until, legal_hold, acl, encryption)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      getUpload: db.prepare<[string], UploadRow>('SELECT * FROM uploads WHERE upload_id = ?'),
      deleteUpload: db.prepare('DELETE FROM uploads WHERE upload_id = ?'),
      markCompleted: db.prepare(
        'UPDATE uploads SET completed_at = ?, completed_fingerprint = ?, completed_etag = ? WHERE upload_id = ?',
      ),
      openUploadsOfBucket: db.prepare<[string], { upload_id: string }>(
        'SELECT upload_id FROM uploads WHERE bucket = ?',
      ),
      staleUploads: db.prepare<[number, number], { upload_id: string }>(
        `SELECT upload_id FROM uploads
         WHERE (completed_at IS NULL AND initiated < ?)
            OR (completed_at IS NOT NULL AND completed_at < ?
                AND NOT EXISTS (SELECT 1 FROM objects WHERE objects.upload_id = uploads.upload_id)
                AND NOT EXISTS (SELECT 1 FROM object_versions v WHERE v.upload_id = uploads.upload_id))`,
      ),
      listUploadsAfter: db.prepare<[string, string, string, string, number], UploadListRow>(
        `SELECT ${UPLOAD_LIST_COLUMNS} FROM uploads WHERE completed_at IS NULL AND bucket = ? AND (key, upload_id) > (?, ?) AND key < ?
         ORDER BY key, upload_id LIMIT ?`,
      ),
      listUploadsAfterNoUpper: db.prepare<[string, string, string, number], UploadListRow>(
        `SELECT ${UPLOAD_LIST_COLUMNS} FROM uploads WHERE completed_at IS NULL AND bucket = ? AND (key, upload_id) > (?, ?)
         ORDER BY key, upload_id LIMIT ?`,
      ),
      listUploadsFrom: db.prepare<[string, string, string, number], UploadListRow>(
        `SELECT ${UPLOAD_LIST_COLUMNS} FROM uploads WHERE completed_at IS NULL AND bucket = ? AND key >= ? AND key < ?
         ORDER BY key, upload_id LIMIT ?`,
      ),
      listUploadsFromNoUpper: db.prepare<[string, string, number], UploadListRow>(
        `SELECT ${UPLOAD_LIST_COLUMNS} FROM uploads WHERE completed_at IS NULL AND bucket = ? AND key >= ?
         ORDER BY key, upload_id LIMIT ?`,
      ),
      listUploadsSameKey: db.prepare<[string, string, string, number], UploadListRow>(
        `SELECT ${UPLOAD_LIST_COLUMNS} FROM uploads WHERE completed_at IS NULL AND bucket = ? AND key = ? AND upload_id > ?
         ORDER BY upload_id LIMIT ?`,
      ),
      getPart: db.prepare<[string, number], PartRow>('SELECT * FROM parts WHERE upload_id = ? AND part_number = ?'),
      upsertPart: db.prepare(
        `INSERT INTO parts (upload_id, part_number, blob_id, size, etag, last_modified, crc64, checksum_algorithm, checksum_value, blob_crc32c)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (upload_id, part_number) DO UPDATE SET
           blob_id = excluded.blob_id, size = excluded.size, etag = excluded.etag,
           last_modified = excluded.last_modified, crc64 = excluded.crc64,
           checksum_algorithm = excluded.checksum_algorithm, checksum_value = excluded.checksum_value,
           blob_crc32c = excluded.blob_crc32c`,
      ),
      objectPartChecksum: db.prepare<[number, number], { checksum_algorithm: string | null; checksum_value: Buffer | null }>(
        `SELECT p.checksum_algorithm, p.checksum_value FROM objects o JOIN parts p ON p.upload_id = o.upload_id
         WHERE o.id = ? AND p.part_number = ?`,
      ),
      listObjectParts: db.prepare<[number, number, number], PartRow>(
        `SELECT p.* FROM objects o JOIN parts p ON p.upload_id = o.upload_id
         WHERE o.id = ? AND p.part_number > ? ORDER BY p.part_number LIMIT ?`,
      ),
      listParts: db.prepare<[string, number, number], PartRow>(
        'SELECT * FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?',
      ),
      allParts: db.prepare<[string], PartRow>('SELECT * FROM parts WHERE upload_id = ? ORDER BY part_number'),
      // The subquery's ORDER BY is kept: SQLite only drops it under count/min/max, not json_group_array
      // (and costs nothing here, the primary key is already in that order).
      partColumns: db
        .prepare<[string], [string, string, string, string]>(
          `SELECT json_group_array(part_number), json_group_array(size), json_group_array(etag), json_group_array(crc64)
           FROM (SELECT part_number, size, etag, crc64 FROM parts WHERE upload_id = ? ORDER BY part_number)`,
        )
        .raw(true),
      // The same with the parts' checksum digests, for uploads that announced an algorithm.
      partColumnsWithChecksums: db
        .prepare<[string], [string, string, string, string, string]>(
          `SELECT json_group_array(part_number), json_group_array(size), json_group_array(etag), json_group_array(crc64),
             json_group_array(hex(checksum_value))
           FROM (SELECT part_number, size, etag, crc64, checksum_value FROM parts WHERE upload_id = ? ORDER BY part_number)`,
        )
        .raw(true),
      partTotals: db.prepare<[string, string], { upload_id: string; parts: number; bytes: number }>(
        `SELECT p.upload_id, count(*) AS parts, sum(p.size) AS bytes FROM parts p JOIN uploads u ON u.upload_id = p.upload_id
         WHERE u.bucket = ? AND p.upload_id IN (SELECT value FROM json_each(?)) GROUP BY p.upload_id`,
      ),
      bucketPartTotals: db.prepare<[string, string], { uploads: number; parts: number; bytes: number | null }>(
        `SELECT (SELECT count(*) FROM uploads WHERE bucket = ? AND completed_at IS NULL) AS uploads, count(p.part_number) AS parts, sum(p.size) AS bytes
         FROM uploads u JOIN parts p ON p.upload_id = u.upload_id WHERE u.bucket = ? AND u.completed_at IS NULL`,
      ),
      // Both read the open uploads through the partial index open_uploads_by_key, then their parts by key.
      uploadTotals: db.prepare<[], { uploads: number; parts: number; bytes: number | null }>(
        `SELECT (SELECT count(*) FROM uploads WHERE completed_at IS NULL) AS uploads, count(p.part_number) AS parts, sum(p.size) AS bytes
         FROM uploads u JOIN parts p ON p.upload_id = u.upload_id WHERE u.completed_at IS NULL`,
      ),
      deleteParts: db.prepare('DELETE FROM parts WHERE upload_id = ?'),
      allBlobIds: db.prepare<[], { blob_id: string }>(
        'SELECT blob_id FROM segments UNION SELECT blob_id FROM parts',
      ),
      getSetting: db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE name = ?'),
      putSetting: db.prepare('INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)'),
      getLease: db.prepare<[string], { holder: string; until: number }>('SELECT holder, until FROM leases WHERE name = ?'),
      putLease: db.prepare('INSERT OR REPLACE INTO leases (name, holder, until) VALUES (?, ?, ?)'),
      releaseLease: db.prepare('DELETE FROM leases WHERE name = ? AND holder = ?'),
      leasesFrom: db.prepare<[string, string], { name: string; holder: string; until: number }>(
        'SELECT name, holder, until FROM leases WHERE name >= ? AND name < ? ORDER BY name',
      ),
      countCall: db.prepare<[string, number], { count: number }>(
        `INSERT INTO call_windows (window, count, at) VALUES (?, 1, ?)
         ON CONFLICT (window) DO UPDATE SET count = count + 1 RETURNING count`,
      ),
      forgetWindows: db.prepare('DELETE FROM call_windows WHERE at < ?'),
      insertToken: db.prepare('INSERT INTO tokens (hash, client_id, issued_at, expires_at) VALUES (?, ?, ?, ?)'),
      getToken: db.prepare<[string], { client_id: string; expires_at: number; revoked_at: number | null }>(
        'SELECT client_id, expires_at, revoked_at FROM tokens WHERE hash = ?',
      ),
      liveTokens: db.prepare<[string, number], { hash: string }>(
        'SELECT hash FROM tokens WHERE client_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY issued_at, rowid',
      ),
      revokeToken: db.prepare('UPDATE tokens SET revoked_at = ? WHERE hash = ?'),
      forgetTokens: db.prepare('DELETE FROM tokens WHERE expires_at < ?'),
      insertSession: db.prepare(
        `INSERT INTO upload_sessions (id, client_id, bucket, key, requested_key, upload_id, etag, size, slice_size, duplicate, status, created_at)
         VALUES (@id, @clientId, @bucket, @key, @requestedKey, @uploadId, @etag, @size, @sliceSize, @duplicate, 'open', @createdAt)`,
      ),
      getSession: db.prepare<[string], SessionRow>('SELECT * FROM upload_sessions WHERE id = ?'),
      openSession: db.prepare<[string, string, string, number], SessionRow>(
        `SELECT * FROM upload_sessions WHERE bucket = ? AND requested_key = ? AND etag = ? AND size = ? AND status = 'open'
         ORDER BY created_at DESC LIMIT 1`,
      ),
      sessionsWithStatus: db.prepare<[string, number], SessionRow>(
        'SELECT * FROM upload_sessions WHERE status = ? ORDER BY created_at LIMIT ?',
      ),
      setSessionStatus: db.prepare('UPDATE upload_sessions SET status = ?, file_id = ?, message = ? WHERE id = ?'),
      getHashState: db.prepare<[string], HashStateRow>('SELECT next, size, md5, sha1, etags FROM hash_states WHERE session_id = ?'),
      putHashState: db.prepare(
        'INSERT OR REPLACE INTO hash_states (session_id, next, size, md5, sha1, etags) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      deleteHashState: db.prepare('DELETE FROM hash_states WHERE session_id = ?'),
      trash: db.prepare('INSERT OR REPLACE INTO trash (object_id, bucket, trashed_at) VALUES (?, ?, ?)'),
      untrash: db.prepare('DELETE FROM trash WHERE object_id = ?'),
      isTrashed: db.prepare<[number], { one: number }>('SELECT 1 AS one FROM trash WHERE object_id = ?'),
    };
  }

  // Buckets

  insertBucket(name: string, owner: string, createdAt: Date): void {
    this.stmt.insertBucket.run(name, owner, createdAt.getTime());
  }

  getBucket(name: string): BucketInfo | undefined {
    const row = this.stmt.getBucket.get(name);
    return row && toBucket(row);
  }

  listBuckets(): Array<{ name: string; owner: string; createdAt: Date }> {
    return this.stmt.listBuckets.all().map((row) => ({ name: row.name, owner: row.owner, createdAt: new Date(row.created_at) }));
  }

  deleteBucket(name: string): void {
    this.stmt.deleteBucketConfigs.run(name);
    this.stmt.deleteBucket.run(name);
  }

  bucketHasObjects(name: string): boolean {
    return this.stmt.anyObject.get(name) !== undefined || this.stmt.anyVersion.get(name) !== undefined;
  }

  // Bucket configurations

  getBucketConfig(bucket: string, kind: BucketConfigKind): string | undefined {
    return this.stmt.getBucketConfig.get(bucket, kind)?.document;
  }

  putBucketConfig(bucket: string, kind: BucketConfigKind, document: string): void {
    this.stmt.putBucketConfig.run(bucket, kind, document);
  }

  deleteBucketConfig(bucket: string, kind: BucketConfigKind): void {
    this.stmt.deleteBucketConfig.run(bucket, kind);
  }

  // Objects

  getObject(bucket: string, key: string): StoredObject | undefined {
    const row = this.stmt.getObject.get(bucket, key);
    return row && toObject(row);
  }

  segmentsOf(objectId: number): Segment[] {
    const uploadId = this.stmt.uploadIdOfObject.get(objectId, objectId)?.upload_id;
    if (!uploadId) {
      return this.stmt.segmentsOf.all(objectId).map((row) => {
        const segment: Segment = { blobId: row.blob_id, offset: row.offset, size: row.size, partNumber: row.part_number };
        if (row.blob_crc32c !== null) segment.crc32c = row.blob_crc32c;
        return segment;
      });
    }
    let offset = 0;
    return this.stmt.partSegments.all(uploadId).map((row) => {
      const segment: Segment = { blobId: row.blob_id, offset, size: row.size, partNumber: row.part_number, etag: row.etag };
      if (row.blob_crc32c !== null) segment.crc32c = row.blob_crc32c;
      offset += row.size;
      return segment;
    });
  }

  putObject(object: NewObject): { stored: StoredObject; released: string[] } {
    const released = this.deleteObject(object.bucket, object.key);
    const { lastInsertRowid } = this.stmt.insertObject.run({
      bucket: object.bucket,
      key: object.key,
      size: object.size,
      etag: object.etag,
      lastModified: object.lastModified.getTime(),
      headers: JSON.stringify(object.headers),
      userMeta: JSON.stringify(object.userMeta),
      partsCount: object.partsCount ?? null,
      crc64: object.crc64 ?? null,
      checksumAlgorithm: object.checksum?.algorithm ?? null,
      checksumType: object.checksum?.type ?? null,
      checksumValue: object.checksum?.value ?? null,
      contentMd5: object.contentMd5 ?? null,
      contentSha1: object.contentSha1 ?? null,
      uploadId: 'uploadId' in object.content ? object.content.uploadId : null,
      tags: tagsColumn(object.tags),
      versionId: object.versionId ?? null,
      ...sqliteLock(object.lock),
      ...aclAndEncryptionColumns(object),
    });
    if ('segments' in object.content) {
      let offset = 0;
      object.content.segments.forEach((segment, seq) => {
        this.stmt.insertSegment.run(lastInsertRowid, seq, segment.blobId, offset, segment.size, segment.partNumber, segment.crc32c ?? null);
        offset += segment.size;
      });
    }
    return { stored: this.getObjectById(Number(lastInsertRowid))!, released };
  }

  getObjectById(id: number): StoredObject | undefined {
    const row = this.stmt.getObjectById.get(id);
    return row && toObject(row);
  }

  /** The oldest object with this whole-content digest and size, in a bucket `owner` owns (any bucket when `anyOwner`). */
  findByContent(kind: 'md5' | 'sha1', digest: string, size: number, owner: string, anyOwner: boolean): StoredObject | undefined {
    const statement = kind === 'md5' ? this.stmt.byContentMd5 : this.stmt.byContentSha1;
    const row = statement.get(digest, size, owner, anyOwner ? 1 : 0);
    return row && toObject(row);
  }

  bucketUsage(bucket: string): { objects: number; bytes: number } {
    const row = this.stmt.bucketUsage.get(bucket);
    return { objects: row?.objects ?? 0, bytes: row?.bytes ?? 0 };
  }

  /** Gives an object a new key, keeping its id and bytes (the caller checks the new key is free). */
  renameObject(id: number, key: string, at: Date): void {
    this.stmt.renameObject.run(key, at.getTime(), id);
  }

  setObjectTags(id: number, tags: readonly Tag[] | undefined): void {
    // The id is the current object's or a noncurrent version's (a version keeps its id when archived).
    this.stmt.setObjectTags.run(tagsColumn(tags), id);
    this.stmt.setVersionTags.run(tagsColumn(tags), id);
  }

  setObjectLock(id: number, lock: ObjectLock | undefined): void {
    const { lockMode, lockUntil, legalHold } = sqliteLock(lock);
    this.stmt.setObjectLock.run(lockMode, lockUntil, legalHold, id);
    this.stmt.setVersionLock.run(lockMode, lockUntil, legalHold, id);
  }

  setObjectAcl(id: number, acl: Acl | undefined): void {
    const column = aclAndEncryptionColumns({ headers: {}, userMeta: {}, acl }).acl;
    this.stmt.setObjectAcl.run(column, id);
    this.stmt.setVersionAcl.run(column, id);
  }

  /** Deletes an object's row and its segments or parts; returns the blob ids it held. */
  deleteObject(bucket: string, key: string): string[] {
    const existing = this.stmt.getObject.get(bucket, key);
    if (!existing) return [];
    this.stmt.deleteObjectRow.run(existing.id);
    if (existing.upload_id) return this.deleteUpload(existing.upload_id);
    const blobIds = this.stmt.segmentsOf.all(existing.id).map((row) => row.blob_id);
    this.stmt.deleteSegments.run(existing.id);
    return blobIds;
  }

  /** Objects with `after < key` and `key` in [lower, upper), in key order (UTF-8 byte order). */
  listObjects(bucket: string, after: string, lower: string, upper: string | undefined, limit: number): StoredObject[] {
    const rows = startsFromLower(after, lower)
      ? upper === undefined
        ? this.stmt.listObjectsFromNoUpper.all(bucket, lower, limit)
        : this.stmt.listObjectsFrom.all(bucket, lower, upper, limit)
      : upper === undefined
        ? this.stmt.listObjectsAfterNoUpper.all(bucket, after, limit)
        : this.stmt.listObjectsAfter.all(bucket, after, upper, limit);
    return rows.map(toObject);
  }

  listObjectEntries(bucket: string, after: string, lower: string, upper: string | undefined, limit: number): ObjectListEntry[] {
    const rows = startsFromLower(after, lower)
      ? upper === undefined
        ? this.stmt.listEntriesFromNoUpper.all(bucket, lower, limit)
        : this.stmt.listEntriesFrom.all(bucket, lower, upper, limit)
      : upper === undefined
        ? this.stmt.listEntriesAfterNoUpper.all(bucket, after, limit)
        : this.stmt.listEntriesAfter.all(bucket, after, upper, limit);
    return rows.map(toObjectListEntry);
  }

  // Versions

  private versions(): ReturnType<typeof prepareVersionStatements> {
    // Prepared on first use: unversioned buckets never reach here.
    return (this.versionStmt ??= prepareVersionStatements(this.db));
  }

  archiveCurrent(bucket: string, key: string, at: Date): StoredObject | undefined {
    const current = this.getObject(bucket, key);
    if (!current) return undefined;
    this.versions().archive.run({ bucket, key, at: at.getTime() });
    this.stmt.deleteObjectRow.run(current.id);
    return current;
  }

  markNewestNoncurrent(bucket: string, key: string, at: Date): void {
    this.versions().markNewestNoncurrent.run({ bucket, key, at: at.getTime() });
  }

  markLatest(bucket: string, key: string, seq: number): void {
    this.versions().markLatest.run(bucket, key, seq);
  }

  insertDeleteMarker(bucket: string, key: string, versionId: string | null, at: Date): void {
    this.versions().marker.run({ bucket, key, versionId, at: at.getTime() });
  }

  getNoncurrent(bucket: string, key: string, versionId: string | null): StoredVersion | undefined {
    const row = this.versions().byVersion.get(bucket, key, versionId);
    return row && toVersion(row);
  }

  newestNoncurrent(bucket: string, key: string): StoredVersion | undefined {
    const row = this.versions().newest.get(bucket, key);
    return row && toVersion(row);
  }

  deleteNoncurrent(bucket: string, key: string, seq: number): string[] {
    const statements = this.versions();
    const row = statements.bySeq.get(bucket, key, seq);
    if (!row) return [];
    statements.deleteBySeq.run(bucket, key, seq);
    if (row.delete_marker) return [];
    if (row.upload_id) return this.deleteUpload(row.upload_id);
    const blobIds = this.stmt.segmentsOf.all(row.id).map((segment) => segment.blob_id);
    this.stmt.deleteSegments.run(row.id);
    return blobIds;
  }

  restoreNoncurrent(bucket: string, key: string, seq: number): void {
    const statements = this.versions();
    statements.restore.run(bucket, key, seq);
    statements.deleteBySeq.run(bucket, key, seq);
  }

  oldestNoncurrentSince(bucket: string): Date | undefined {
    const row = this.versions().oldestNoncurrentSince.get(bucket);
    return row?.since == null ? undefined : new Date(row.since);
  }

  listLatestMarkers(bucket: string, after: string, lower: string, upper: string | undefined, limit: number): StoredVersion[] {
    const statements = this.versions();
    const rows = upper === undefined ? statements.latestMarkers.all(bucket, after, lower, limit) : statements.latestMarkersBelow.all(bucket, after, lower, upper, limit);
    return rows.map(toVersion);
  }

  listNoncurrent(bucket: string, afterKey: string, afterSeq: number, lower: string, upper: string | undefined, limit: number): StoredVersion[] {
    const statements = this.versions();
    const from = startsFromLower(afterKey, lower);
    // The rest of the cursor's own key, unless the range starts past it.
    const rows = from ? [] : statements.sameKey.all(bucket, afterKey, afterSeq, limit);
    if (rows.length < limit) {
      const rest = limit - rows.length;
      rows.push(
        ...(from
          ? upper === undefined
            ? statements.keysFrom.all(bucket, lower, rest)
            : statements.keysFromBelow.all(bucket, lower, upper, rest)
          : upper === undefined
            ? statements.laterKeys.all(bucket, afterKey, rest)
            : statements.laterKeysBelow.all(bucket, afterKey, upper, rest)),
      );
    }
    return rows.filter((row) => upper === undefined || row.key < upper).map(toVersion);
  }

  // Blob references

  isBlobReferenced(blobId: string): boolean {
    return this.stmt.blobInSegments.get(blobId) !== undefined || this.stmt.blobInParts.get(blobId) !== undefined;
  }

  /** Of the given blob ids, those nothing refers to any more (call inside the transaction that released them). */
  unreferenced(blobIds: Iterable<string>): string[] {
    return [...new Set(blobIds)].filter((id) => !this.isBlobReferenced(id));
  }

  allBlobIds(): Set<string> {
    return new Set(this.stmt.allBlobIds.all().map((row) => row.blob_id));
  }

  blobReferences(afterBlobId: string, limit: number): BlobReference[] {
    this.blobReferencesStmt ??= this.db.prepare<{ after: string; limit: number }, BlobReferenceRow>(
      BLOB_REFERENCES_SQL.replace(/:after/g, '$after').replace(/:limit/g, '$limit'),
    );
    return this.blobReferencesStmt.all({ after: afterBlobId, limit }).map(blobReferenceOf);
  }

  // Uploads

  insertUpload(upload: UploadInfo): void {
    this.stmt.insertUpload.run(
      upload.uploadId,
      upload.bucket,
      upload.key,
      upload.owner,
      upload.initiated.getTime(),
      JSON.stringify(upload.headers),
      JSON.stringify(upload.userMeta),
      upload.checksum?.algorithm ?? null,
      upload.checksum?.type ?? null,
      tagsColumn(upload.tags),
      ...Object.values(sqliteLock(upload.lock)),
      ...Object.values(aclAndEncryptionColumns(upload)),
    );
  }

  getUpload(uploadId: string): StoredUpload | undefined {
    const row = this.stmt.getUpload.get(uploadId);
    return row && toUpload(row);
  }

  /** Deletes an upload and its parts; returns the blob ids the parts held. */
  deleteUpload(uploadId: string): string[] {
    const blobIds = this.stmt.allParts.all(uploadId).map((row) => row.blob_id);
    this.stmt.deleteParts.run(uploadId);
    this.stmt.deleteUpload.run(uploadId);
    return blobIds;
  }

  /** Records the completion; the listed parts stay, as the object's bytes. */
  markCompleted(uploadId: string, at: Date, fingerprint: string, etag: string): void {
    this.stmt.markCompleted.run(at.getTime(), fingerprint, etag, uploadId);
  }

  /** Deletes the given parts of an upload (those a Complete left out); returns their blob ids. */
  deleteParts(uploadId: string, partNumbers: number[]): string[] {
    const blobIds: string[] = [];
    for (const partNumber of partNumbers) {
      const row = this.stmt.deletePart.get(uploadId, partNumber);
      if (row) blobIds.push(row.blob_id);
    }
    return blobIds;
  }

  uploadIdsOfBucket(bucket: string): string[] {
    return this.stmt.openUploadsOfBucket.all(bucket).map((row) => row.upload_id);
  }

  staleUploadIds(initiatedBefore: Date, completedBefore: Date): string[] {
    return this.stmt.staleUploads.all(initiatedBefore.getTime(), completedBefore.getTime()).map((row) => row.upload_id);
  }

  /** Open uploads after the cursor (key, uploadId) with key in [lower, upper), ordered by key then id. */
  listUploadsAfter(
    bucket: string,
    after: { key: string; uploadId: string },
    lower: string,
    upper: string | undefined,
    limit: number,
  ): UploadListEntry[] {
    // Past the cursor's key, the lower bound alone starts the range (see startsFromLower).
    const from = startsFromLower(after.key, lower);
    const rows = from
      ? upper === undefined
        ? this.stmt.listUploadsFromNoUpper.all(bucket, lower, limit)
        : this.stmt.listUploadsFrom.all(bucket, lower, upper, limit)
      : upper === undefined
        ? this.stmt.listUploadsAfterNoUpper.all(bucket, after.key, after.uploadId, limit)
        : this.stmt.listUploadsAfter.all(bucket, after.key, after.uploadId, upper, limit);
    return rows.map(toUploadListEntry);
  }

  listUploadsOfKeyAfterId(bucket: string, key: string, afterUploadId: string, limit: number): UploadListEntry[] {
    return this.stmt.listUploadsSameKey.all(bucket, key, afterUploadId, limit).map(toUploadListEntry);
  }

  // Parts

  getPart(uploadId: string, partNumber: number): StoredPart | undefined {
    const row = this.stmt.getPart.get(uploadId, partNumber);
    return row && toPart(row);
  }

  /** Inserts or replaces a part; returns the blob id of the part it replaced, if any. */
  upsertPart(uploadId: string, part: StoredPart): string | undefined {
    const previous = this.stmt.getPart.get(uploadId, part.partNumber);
    this.stmt.upsertPart.run(
      uploadId,
      part.partNumber,
      part.blobId,
      part.size,
      part.etag,
      part.lastModified.getTime(),
      part.crc64 ?? null,
      part.checksum?.algorithm ?? null,
      part.checksum?.value ?? null,
      part.blobCrc32c ?? null,
    );
    return previous?.blob_id;
  }

  listParts(uploadId: string, afterPartNumber: number, limit: number): StoredPart[] {
    return this.stmt.listParts.all(uploadId, afterPartNumber, limit).map(toPart);
  }

  allParts(uploadId: string): StoredPart[] {
    return this.stmt.allParts.all(uploadId).map(toPart);
  }

  /**
   * What Complete needs of every part, as columns: one row of four JSON arrays. better-sqlite3
   * builds JS values row by row (~1 µs a row), so 10,000 raw rows mapped to objects took 19–28 ms
   * in a fresh process; the same data as one row, through JSON.parse, 6–10 ms (measured).
   */
  partTotals(bucket: string, uploadIds: string[]): Map<string, { parts: number; bytes: number }> {
    const totals = new Map<string, { parts: number; bytes: number }>();
    if (uploadIds.length === 0) return totals;
    for (const row of this.stmt.partTotals.all(bucket, JSON.stringify(uploadIds))) totals.set(row.upload_id, { parts: row.parts, bytes: row.bytes });
    return totals;
  }

  bucketPartTotals(bucket: string): { uploads: number; parts: number; bytes: number } {
    const row = this.stmt.bucketPartTotals.get(bucket, bucket);
    return { uploads: row?.uploads ?? 0, parts: row?.parts ?? 0, bytes: row?.bytes ?? 0 };
  }

  uploadTotals(): { uploads: number; parts: number; bytes: number } {
    const row = this.stmt.uploadTotals.get();
    return { uploads: row?.uploads ?? 0, parts: row?.parts ?? 0, bytes: row?.bytes ?? 0 };
  }

  partColumns(uploadId: string, withChecksums = false): PartColumns {
    if (withChecksums) {
      const [numbers, sizes, etags, crc64s, checksums] = this.stmt.partColumnsWithChecksums.get(uploadId)!;
      return {
        numbers: JSON.parse(numbers) as number[],
        sizes: JSON.parse(sizes) as number[],
        etags: JSON.parse(etags) as string[],
        crc64s: JSON.parse(crc64s) as Array<string | null>,
        checksums: JSON.parse(checksums) as string[],
      };
    }
    const [numbers, sizes, etags, crc64s] = this.stmt.partColumns.get(uploadId)!;
    return {
      numbers: JSON.parse(numbers) as number[],
      sizes: JSON.parse(sizes) as number[],
      etags: JSON.parse(etags) as string[],
      crc64s: JSON.parse(crc64s) as Array<string | null>,
    };
  }

  /** The checksum of one part of a multipart object (undefined for a single PUT's object, or a part without one). */
  objectPartChecksum(objectId: number, partNumber: number): Checksum | undefined {
    const row = this.stmt.objectPartChecksum.get(objectId, partNumber);
    if (!row || row.checksum_algorithm === null || row.checksum_value === null) return undefined;
    return { algorithm: row.checksum_algorithm as ChecksumAlgorithm, value: row.checksum_value };
  }

  listObjectParts(objectId: number, afterPartNumber: number, limit: number): StoredPart[] {
    return this.stmt.listObjectParts.all(objectId, afterPartNumber, limit).map(toPart);
  }

  // Settings

  ensureSetting(name: string, value: string): string {
    this.stmt.putSetting.run(name, value);
    return this.stmt.getSetting.get(name)!.value;
  }

  getSetting(name: string): string | undefined {
    return this.stmt.getSetting.get(name)?.value;
  }

  // Users and access keys

  private identities(): SqliteIdentities {
    return (this.identityStmt ??= new SqliteIdentities(this.db));
  }

  listUsers(): StoredUser[] {
    return this.identities().listUsers();
  }

  listAccessKeys(): StoredAccessKey[] {
    return this.identities().listAccessKeys();
  }

  getAccessKey(accessKeyId: string): StoredAccessKey | undefined {
    return this.identities().getAccessKey(accessKeyId);
  }

  insertUser(user: StoredUser): boolean {
    return this.identities().insertUser(user);
  }

  setUserEnabled(id: string, enabled: boolean): boolean {
    return this.identities().setUserEnabled(id, enabled);
  }

  deleteUser(id: string): boolean {
    return this.identities().deleteUser(id);
  }

  insertAccessKey(key: StoredAccessKey): boolean {
    return this.identities().insertAccessKey(key);
  }

  setAccessKeyEnabled(userId: string, accessKeyId: string, enabled: boolean): boolean {
    return this.identities().setAccessKeyEnabled(userId, accessKeyId, enabled);
  }

  deleteAccessKey(userId: string, accessKeyId: string): boolean {
    return this.identities().deleteAccessKey(userId, accessKeyId);
  }

  listUserPolicies(): StoredUserPolicy[] {
    return this.db
      .prepare<[], { user_id: string; name: string; document: string; created: number }>('SELECT * FROM user_policies ORDER BY user_id, name')
      .all()
      .map((row) => ({ userId: row.user_id, name: row.name, document: row.document, created: new Date(row.created) }));
  }

  putUserPolicy(policy: StoredUserPolicy): void {
    this.db
      .prepare(
        `INSERT INTO user_policies (user_id, name, document, created) VALUES (?, ?, ?, ?)
         ON CONFLICT (user_id, name) DO UPDATE SET document = excluded.document`,
      )
      .run(policy.userId, policy.name, policy.document, policy.created.getTime());
  }

  deleteUserPolicy(userId: string, name: string): boolean {
    return this.db.prepare('DELETE FROM user_policies WHERE user_id = ? AND name = ?').run(userId, name).changes === 1;
  }

  // Managed policies

  listPolicies(): StoredPolicy[] {
    return this.identities().listPolicies();
  }

  putPolicy(policy: StoredPolicy): void {
    return this.identities().putPolicy(policy);
  }

  deletePolicy(name: string): 'deleted' | 'missing' | 'attached' {
    return this.identities().deletePolicy(name);
  }

  listPolicyAttachments(): StoredPolicyAttachment[] {
    return this.identities().listPolicyAttachments();
  }

  attachPolicy(attachment: StoredPolicyAttachment): boolean {
    return this.identities().attachPolicy(attachment);
  }

  detachPolicy(userId: string, policyName: string): boolean {
    return this.identities().detachPolicy(userId, policyName);
  }

  insertKmsKey(key: StoredKmsKey): boolean {
    return (
      this.db
        .prepare('INSERT OR IGNORE INTO kms_keys (id, alias, description, sealed_key, enabled, created) VALUES (?, ?, ?, ?, ?, ?)')
        .run(key.id, key.alias ?? null, key.description, key.sealedKey, key.enabled ? 1 : 0, key.created.getTime()).changes === 1
    );
  }

  getKmsKey(id: string): StoredKmsKey | undefined {
    const row = this.db.prepare<[string], KmsKeyRow>('SELECT * FROM kms_keys WHERE id = ?').get(id);
    return row && toKmsKey(row);
  }

  kmsKeyByAlias(alias: string): StoredKmsKey | undefined {
    const row = this.db.prepare<[string], KmsKeyRow>('SELECT * FROM kms_keys WHERE alias = ?').get(alias);
    return row && toKmsKey(row);
  }

  listKmsKeys(): StoredKmsKey[] {
    return this.db.prepare<[], KmsKeyRow>('SELECT * FROM kms_keys ORDER BY created, id').all().map(toKmsKey);
  }

  setKmsKeyEnabled(id: string, enabled: boolean): boolean {
    return this.db.prepare('UPDATE kms_keys SET enabled = ? WHERE id = ?').run(enabled ? 1 : 0, id).changes === 1;
  }

  // Leases

  acquireLease(name: string, holder: string, until: Date, now: Date): boolean {
    const current = this.stmt.getLease.get(name);
    if (current && current.holder !== holder && current.until > now.getTime()) return false;
    this.stmt.putLease.run(name, holder, until.getTime());
    return true;
  }

  releaseLease(name: string, holder: string): void {
    this.stmt.releaseLease.run(name, holder);
  }

  listLeases(prefix: string): Array<{ name: string; holder: string; until: Date }> {
    // Names from `prefix` up to (not including) the prefix followed by the highest code point.
    return this.stmt.leasesFrom
      .all(prefix, `${prefix}\u{10FFFF}`)
      .map((row) => ({ name: row.name, holder: row.holder, until: new Date(row.until) }));
  }

  // Rate windows

  countCall(window: string, now: Date): number {
    // Windows are per second: anything a minute old is of no use to anyone.
    if (Math.random() < 0.001) this.stmt.forgetWindows.run(now.getTime() - 60_000);
    return this.stmt.countCall.get(window, now.getTime())!.count;
  }

  // Tokens

  issueToken(hash: string, clientId: string, now: Date, expiresAt: Date, maxLive: number): number {
    this.stmt.forgetTokens.run(now.getTime() - 90 * 24 * 3600 * 1000);
    this.stmt.insertToken.run(hash, clientId, now.getTime(), expiresAt.getTime());
    const live = this.stmt.liveTokens.all(clientId, now.getTime());
    const excess = live.slice(0, Math.max(0, live.length - maxLive));
    for (const token of excess) this.stmt.revokeToken.run(now.getTime(), token.hash);
    return excess.length;
  }

  tokenClient(hash: string, now: Date): string | undefined {
    const row = this.stmt.getToken.get(hash);
    if (!row || row.revoked_at !== null || row.expires_at <= now.getTime()) return undefined;
    return row.client_id;
  }

  // Upload sessions

  insertSession(session: Omit<UploadSession, 'status' | 'fileId' | 'message'>): void {
    this.stmt.insertSession.run({ ...session, createdAt: session.createdAt.getTime() });
  }

  getSession(id: string): UploadSession | undefined {
    const row = this.stmt.getSession.get(id);
    return row && toSession(row);
  }

  findOpenSession(bucket: string, requestedKey: string, etag: string, size: number): UploadSession | undefined {
    const row = this.stmt.openSession.get(bucket, requestedKey, etag, size);
    return row && toSession(row);
  }

  setSessionStatus(id: string, status: SessionStatus, fileId?: number, message?: string): void {
    this.stmt.setSessionStatus.run(status, fileId ?? null, message ?? null, id);
  }

  sessionsWithStatus(status: SessionStatus, limit: number): UploadSession[] {
    return this.stmt.sessionsWithStatus.all(status, limit).map(toSession);
  }

  getHashState(sessionId: string): HashState | undefined {
    const row = this.stmt.getHashState.get(sessionId);
    return row && toHashState(row);
  }

  saveHashState(sessionId: string, expectedNext: number | undefined, state: HashState): boolean {
    const stored = this.stmt.getHashState.get(sessionId);
    if ((stored?.next ?? undefined) !== expectedNext) return false;
    this.stmt.putHashState.run(sessionId, state.next, state.size, state.md5, state.sha1, JSON.stringify(state.etags));
    return true;
  }

  deleteHashState(sessionId: string): void {
    this.stmt.deleteHashState.run(sessionId);
  }

  // Trash marks

  trash(objectId: number, bucket: string, now: Date): void {
    this.stmt.trash.run(objectId, bucket, now.getTime());
  }

  untrash(objectId: number): void {
    this.stmt.untrash.run(objectId);
  }

  isTrashed(objectId: number): boolean {
    return this.stmt.isTrashed.get(objectId) !== undefined;
  }
}

/** The statements of versioned buckets' history (object_versions). */
function prepareVersionStatements(db: Database.Database) {
  const objectColumns = (db.pragma('table_info(objects)') as Array<{ name: string }>).map((column) => column.name).join(', ');
  const nextSeq = "COALESCE((SELECT MAX(seq) FROM object_versions WHERE bucket = @bucket AND key = @key), 0) + 1";
  // Columns by name, not position: a column added to objects later is added to both tables.
  return {
    archive: db.prepare<{ bucket: string; key: string; at: number }>(
      `INSERT INTO object_versions (${objectColumns}, seq, delete_marker, noncurrent_since)
       SELECT ${objectColumns}, ${nextSeq}, 0, @at FROM objects WHERE bucket = @bucket AND key = @key`,
    ),
    // Only the newest entry can be the latest (noncurrent_since NULL): one row by the key index.
    markNewestNoncurrent: db.prepare<{ bucket: string; key: string; at: number }>(
      `UPDATE object_versions SET noncurrent_since = @at
       WHERE bucket = @bucket AND key = @key AND noncurrent_since IS NULL
         AND seq = (SELECT MAX(seq) FROM object_versions WHERE bucket = @bucket AND key = @key)`,
    ),
    markLatest: db.prepare('UPDATE object_versions SET noncurrent_since = NULL WHERE bucket = ? AND key = ? AND seq = ?'),
    oldestNoncurrentSince: db.prepare<[string], { since: number | null }>(
      'SELECT MIN(noncurrent_since) AS since FROM object_versions WHERE bucket = ? AND noncurrent_since IS NOT NULL',
    ),
    latestMarkers: db.prepare<[string, string, string, number], VersionRow>(
      'SELECT * FROM object_versions WHERE bucket = ? AND noncurrent_since IS NULL AND key > ? AND key >= ? ORDER BY key LIMIT ?',
    ),
    latestMarkersBelow: db.prepare<[string, string, string, string, number], VersionRow>(
      'SELECT * FROM object_versions WHERE bucket = ? AND noncurrent_since IS NULL AND key > ? AND key >= ? AND key < ? ORDER BY key LIMIT ?',
    ),
    marker: db.prepare(
      `INSERT INTO object_versions (bucket, key, size, etag, last_modified, headers, user_meta, version_id, seq, delete_marker)
       VALUES (@bucket, @key, 0, '', @at, '{}', '{}', @versionId, ${nextSeq}, 1)`,
    ),
    byVersion: db.prepare<[string, string, string | null], VersionRow>(
      'SELECT * FROM object_versions WHERE bucket = ? AND key = ? AND version_id IS ? ORDER BY seq DESC LIMIT 1',
    ),
    newest: db.prepare<[string, string], VersionRow>('SELECT * FROM object_versions WHERE bucket = ? AND key = ? ORDER BY seq DESC LIMIT 1'),
    bySeq: db.prepare<[string, string, number], VersionRow>('SELECT * FROM object_versions WHERE bucket = ? AND key = ? AND seq = ?'),
    deleteBySeq: db.prepare('DELETE FROM object_versions WHERE bucket = ? AND key = ? AND seq = ?'),
    restore: db.prepare(
      `INSERT INTO objects (${objectColumns}) SELECT ${objectColumns} FROM object_versions WHERE bucket = ? AND key = ? AND seq = ?`,
    ),
    sameKey: db.prepare<[string, string, number, number], VersionRow>(
      'SELECT * FROM object_versions WHERE bucket = ? AND key = ? AND seq < ? ORDER BY seq DESC LIMIT ?',
    ),
    laterKeys: db.prepare<[string, string, number], VersionRow>(
      'SELECT * FROM object_versions WHERE bucket = ? AND key > ? ORDER BY key, seq DESC LIMIT ?',
    ),
    laterKeysBelow: db.prepare<[string, string, string, number], VersionRow>(
      'SELECT * FROM object_versions WHERE bucket = ? AND key > ? AND key < ? ORDER BY key, seq DESC LIMIT ?',
    ),
    keysFrom: db.prepare<[string, string, number], VersionRow>(
      'SELECT * FROM object_versions WHERE bucket = ? AND key >= ? ORDER BY key, seq DESC LIMIT ?',
    ),
    keysFromBelow: db.prepare<[string, string, string, number], VersionRow>(
      'SELECT * FROM object_versions WHERE bucket = ? AND key >= ? AND key < ? ORDER BY key, seq DESC LIMIT ?',
    ),
  };
}

/** The Object Lock columns as SQLite stores them (a legal hold as 1 or 0). */
function sqliteLock(lock: ObjectLock | undefined): { lockMode: string | null; lockUntil: number | null; legalHold: number | null } {
  const columns = lockColumns(lock);
  return { lockMode: columns.mode, lockUntil: columns.until, legalHold: columns.legalHold === null ? null : Number(columns.legalHold) };
}
