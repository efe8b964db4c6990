import type Database from 'better-sqlite3';
import { existsSync, renameSync } from 'node:fs';

/**
 * The SQLite schema, as numbered migrations recorded in `PRAGMA user_version`. A data directory
 * made by a newer Tessera is refused rather than guessed at.
 */

const ENGINE_TABLES = `
CREATE TABLE IF NOT EXISTS buckets (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS objects (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  last_modified INTEGER NOT NULL,
  headers TEXT NOT NULL,
  user_meta TEXT NOT NULL,
  parts_count INTEGER,
  crc64 TEXT,
  -- the flexible checksum: algorithm, 'full-object' or 'composite', digest bytes
  checksum_algorithm TEXT,
  checksum_type TEXT,
  checksum_value BLOB,
  content_md5 TEXT,
  content_sha1 TEXT,
  -- a multipart object's bytes are its completed upload's part rows, in part-number order
  upload_id TEXT,
  UNIQUE (bucket, key)
);
CREATE TABLE IF NOT EXISTS segments (
  object_id INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  blob_id TEXT NOT NULL,
  offset INTEGER NOT NULL,
  size INTEGER NOT NULL,
  part_number INTEGER NOT NULL,
  PRIMARY KEY (object_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS segments_by_blob ON segments (blob_id);
CREATE TABLE IF NOT EXISTS uploads (
  upload_id TEXT PRIMARY KEY,
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  owner TEXT NOT NULL,
  initiated INTEGER NOT NULL,
  headers TEXT NOT NULL,
  user_meta TEXT NOT NULL,
  -- the checksum every part carries and how the object's is formed, when announced
  checksum_algorithm TEXT,
  checksum_type TEXT,
  -- set once completed: kept so a repeated Complete answers the same result
  completed_at INTEGER,
  completed_fingerprint TEXT,
  completed_etag TEXT
);
CREATE INDEX IF NOT EXISTS open_uploads_by_key ON uploads (bucket, key, upload_id) WHERE completed_at IS NULL;
CREATE TABLE IF NOT EXISTS parts (
  upload_id TEXT NOT NULL,
  part_number INTEGER NOT NULL,
  blob_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  etag TEXT NOT NULL,
  last_modified INTEGER NOT NULL,
  crc64 TEXT,
  checksum_algorithm TEXT,
  checksum_value BLOB,
  PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS parts_by_blob ON parts (blob_id);
`;

const CLIENT_STATE_TABLES = `
CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX live_tokens ON tokens (client_id, issued_at) WHERE revoked_at IS NULL;
CREATE TABLE upload_sessions (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  bucket TEXT NOT NULL,
  key TEXT NOT NULL,
  requested_key TEXT NOT NULL,
  upload_id TEXT NOT NULL,
  etag TEXT NOT NULL,
  size INTEGER NOT NULL,
  slice_size INTEGER NOT NULL,
  duplicate INTEGER NOT NULL,
  status TEXT NOT NULL,
  file_id INTEGER,
  message TEXT,
  created_at INTEGER NOT NULL
);
CREATE INDEX open_sessions ON upload_sessions (bucket, requested_key, etag, size) WHERE status = 'open';
CREATE INDEX sessions_by_status ON upload_sessions (status, created_at);
CREATE TABLE hash_states (
  session_id TEXT PRIMARY KEY,
  next INTEGER NOT NULL,
  size INTEGER NOT NULL,
  md5 BLOB NOT NULL,
  sha1 BLOB NOT NULL,
  etags TEXT NOT NULL
);
CREATE TABLE trash (
  object_id INTEGER PRIMARY KEY,
  bucket TEXT NOT NULL,
  trashed_at INTEGER NOT NULL
);
CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL);
CREATE TABLE call_windows (window TEXT PRIMARY KEY, count INTEGER NOT NULL, at INTEGER NOT NULL);
`;

const BUCKET_CONFIG_TABLE = `
CREATE TABLE bucket_configs (
  bucket TEXT NOT NULL,
  -- what the document configures ('cors', …), in the format of the engine module that owns it
  kind TEXT NOT NULL,
  document TEXT NOT NULL,
  PRIMARY KEY (bucket, kind)
) WITHOUT ROWID;
`;

/** Version 8: users and access keys made through the admin API; secrets sealed under the master key. */
const IDENTITY_TABLES = `
CREATE TABLE IF NOT EXISTS users (
  id TEXT PRIMARY KEY,
  display_name TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  admin INTEGER NOT NULL,
  created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS access_keys (
  access_key_id TEXT PRIMARY KEY,
  sealed_secret TEXT NOT NULL,
  user_id TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  created INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS access_keys_by_user ON access_keys (user_id);
`;

/** Version 10: the local KMS key store (SSE-KMS), each key's material sealed under the master key. */
const KMS_KEYS_TABLE = `
CREATE TABLE IF NOT EXISTS kms_keys (
  id TEXT PRIMARY KEY,
  alias TEXT UNIQUE,
  description TEXT NOT NULL,
  sealed_key TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  created INTEGER NOT NULL
);
`;

/** Version 11: policies attached to users through the admin API (the AWS policy language). */
const USER_POLICIES_TABLE = `
CREATE TABLE IF NOT EXISTS user_policies (
  user_id TEXT NOT NULL,
  name TEXT NOT NULL,
  document TEXT NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY (user_id, name)
);
`;

/** Version 12: managed policies, named documents attached to any number of users. */
const MANAGED_POLICY_TABLES = `
CREATE TABLE IF NOT EXISTS policies (
  name TEXT PRIMARY KEY,
  document TEXT NOT NULL,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS policy_attachments (
  user_id TEXT NOT NULL,
  policy_name TEXT NOT NULL,
  created INTEGER NOT NULL,
  PRIMARY KEY (user_id, policy_name)
);
CREATE INDEX IF NOT EXISTS policy_attachments_by_policy ON policy_attachments (policy_name);
`;

interface Migration {
  version: number;
  /** Runs inside the migration's transaction. */
  apply(db: Database.Database, dataDir: string): void;
}

const MIGRATIONS: Migration[] = [
  { version: 1, apply: (db) => engineTables(db) },
  { version: 2, apply: (db, dataDir) => clientStateTables(db, dataDir) },
  { version: 3, apply: (db) => db.exec(BUCKET_CONFIG_TABLE) },
  // Object and upload tags: JSON [[key, value], …] in key order, NULL for none.
  { version: 4, apply: (db) => objectAndUploadTags(db) },
  { version: 5, apply: (db) => versionTables(db) },
  { version: 6, apply: (db) => objectLockColumns(db) },
  { version: 7, apply: (db) => noncurrentSince(db) },
  { version: 8, apply: (db) => db.exec(IDENTITY_TABLES) },
  { version: 9, apply: (db) => aclAndEncryptionColumns(db) },
  { version: 10, apply: (db) => db.exec(KMS_KEYS_TABLE) },
  { version: 11, apply: (db) => db.exec(USER_POLICIES_TABLE) },
  { version: 12, apply: (db) => db.exec(MANAGED_POLICY_TABLES) },
  { version: 13, apply: (db) => blobCrcColumns(db) },
];

export const SQLITE_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** Brings the database to the newest schema; `dataDir` is where a pre-migration `pan.db` may sit. */
export function migrateSqlite(db: Database.Database, dataDir: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SQLITE_SCHEMA_VERSION) {
    throw new Error(
      `metadata schema version ${current} is newer than this Tessera knows (${SQLITE_SCHEMA_VERSION}): upgrade Tessera`,
    );
  }
  const pending = MIGRATIONS.filter((migration) => migration.version > current);
  if (pending.length === 0) return;
  // The 123pan dialect's state lived in its own file before version 2: read it in the same transaction.
  const panDb = `${dataDir}/pan.db`;
  const importPan = current < 2 && existsSync(panDb);
  if (importPan) db.prepare('ATTACH DATABASE ? AS pan_old').run(panDb);
  try {
    db.transaction(() => {
      for (const migration of pending) {
        migration.apply(db, dataDir);
        db.pragma(`user_version = ${migration.version}`);
      }
    }).immediate();
  } finally {
    if (importPan) db.exec('DETACH DATABASE pan_old');
  }
  // Kept, renamed, rather than deleted: nothing reads it any more.
  if (importPan) renameSync(panDb, `${panDb}.imported`);
}

/** Version 1: the engine's tables, including the columns earlier data directories grew one by one. */
function engineTables(db: Database.Database): void {
  const hadObjects = tableExists(db, 'objects');
  if (!hadObjects) {
    db.exec(ENGINE_TABLES);
  } else {
    upgradeLegacyTables(db);
  }
  db.exec('CREATE INDEX IF NOT EXISTS objects_by_upload ON objects (upload_id) WHERE upload_id IS NOT NULL');
  db.exec('CREATE INDEX IF NOT EXISTS objects_by_md5 ON objects (content_md5, size) WHERE content_md5 IS NOT NULL');
  db.exec('CREATE INDEX IF NOT EXISTS objects_by_sha1 ON objects (content_sha1, size) WHERE content_sha1 IS NOT NULL');
}

/** Data directories from before versioned migrations: add what each older version lacked. */
function upgradeLegacyTables(db: Database.Database): void {
  const table = db.prepare<[], { sql: string }>("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'objects'").get();
  const columns = columnsOf(db, 'objects');
  if (!/AUTOINCREMENT/i.test(table?.sql ?? '')) {
    // Object ids are never reused (dialects hand them out as file ids): rebuild with AUTOINCREMENT.
    const list = [...columns].join(', ');
    db.exec('ALTER TABLE objects RENAME TO objects_old');
    db.exec(ENGINE_TABLES);
    db.exec(`INSERT INTO objects (${list}) SELECT ${list} FROM objects_old`);
    db.exec('DROP TABLE objects_old');
  }
  db.exec(ENGINE_TABLES);
  if (!columns.has('content_md5') && columnsOf(db, 'objects').has('content_md5')) {
    // The rebuild above added the column: a single PUT's ETag is the MD5 of its content.
    db.exec('UPDATE objects SET content_md5 = etag WHERE parts_count IS NULL');
  }
  if (!columnsOf(db, 'objects').has('content_md5')) {
    db.exec('ALTER TABLE objects ADD COLUMN content_md5 TEXT');
    db.exec('UPDATE objects SET content_md5 = etag WHERE parts_count IS NULL');
  }
  addMissingColumns(db, 'objects', {
    content_sha1: 'TEXT',
    upload_id: 'TEXT',
    checksum_algorithm: 'TEXT',
    checksum_type: 'TEXT',
    checksum_value: 'BLOB',
  });
  addMissingColumns(db, 'parts', { checksum_algorithm: 'TEXT', checksum_value: 'BLOB' });
  addMissingColumns(db, 'uploads', { checksum_algorithm: 'TEXT', checksum_type: 'TEXT' });
}

/**
 * Version 4: a `tags` column on objects and uploads, added only where missing (as version 1 adds
 * its columns), so a directory that has the columns under an older version number migrates too.
 */
function objectAndUploadTags(db: Database.Database): void {
  addMissingColumns(db, 'objects', { tags: 'TEXT' });
  addMissingColumns(db, 'uploads', { tags: 'TEXT' });
}

/**
 * Version 5: versioning. `objects` keeps only each key's current version (`version_id` NULL is the
 * `null` version); noncurrent versions and delete markers live in `object_versions`, which has every
 * column `objects` has (copied from it, so columns added before this migration ride along) plus the
 * version's place in its key's history and whether it is a delete marker.
 */
function versionTables(db: Database.Database): void {
  // Only what is missing, as versions 1 and 4 do: a directory may have it under an older version number.
  addMissingColumns(db, 'objects', { version_id: 'TEXT' });
  const columns = (db.pragma('table_info(objects)') as Array<{ name: string; type: string }>)
    .map((column) => `${column.name} ${column.type}`)
    .join(', ');
  db.exec(`CREATE TABLE IF NOT EXISTS object_versions (${columns}, seq INTEGER NOT NULL, delete_marker INTEGER NOT NULL)`);
  db.exec('CREATE UNIQUE INDEX IF NOT EXISTS object_versions_by_key ON object_versions (bucket, key, seq DESC)');
  db.exec('CREATE INDEX IF NOT EXISTS object_versions_by_version ON object_versions (bucket, key, version_id)');
  db.exec('CREATE INDEX IF NOT EXISTS object_versions_by_id ON object_versions (id) WHERE id IS NOT NULL');
  db.exec('CREATE INDEX IF NOT EXISTS object_versions_by_upload ON object_versions (upload_id) WHERE upload_id IS NOT NULL');
}

/**
 * Version 6: Object Lock. A version's retention (`lock_mode`, `lock_until` in ms) and legal hold
 * (`legal_hold`: 1 ON, 0 OFF, NULL never set), on objects and object_versions alike (object_versions copied objects'
 * columns at version 5, so both get them here), and on uploads, which carry them from Create to Complete.
 */
function objectLockColumns(db: Database.Database): void {
  for (const table of ['objects', 'object_versions', 'uploads']) {
    addMissingColumns(db, table, { lock_mode: 'TEXT', lock_until: 'INTEGER', legal_hold: 'INTEGER' });
  }
}

/**
 * Version 9: an object's (and an upload's, for its object) own ACL and its server-side encryption,
 * each a JSON document, NULL for none.
 */
function aclAndEncryptionColumns(db: Database.Database): void {
  for (const table of ['objects', 'object_versions', 'uploads']) addMissingColumns(db, table, { acl: 'TEXT', encryption: 'TEXT' });
}

/**
 * Version 7: when each noncurrent version became noncurrent (lifecycle's NoncurrentDays count from
 * it); NULL for the key's latest entry (a delete marker). Existing history gets the time the next
 * newer version (or the current object) was written, the best the rows tell.
 */
function noncurrentSince(db: Database.Database): void {
  addMissingColumns(db, 'object_versions', { noncurrent_since: 'INTEGER' });
  db.exec(`UPDATE object_versions SET noncurrent_since = COALESCE(
    (SELECT n.last_modified FROM object_versions n
     WHERE n.bucket = object_versions.bucket AND n.key = object_versions.key AND n.seq > object_versions.seq ORDER BY n.seq LIMIT 1),
    (SELECT o.last_modified FROM objects o WHERE o.bucket = object_versions.bucket AND o.key = object_versions.key))`);
  // The lifecycle worker: the bucket's oldest noncurrent version, and its keys' latest delete markers.
  db.exec('CREATE INDEX IF NOT EXISTS object_versions_by_noncurrent_since ON object_versions (bucket, noncurrent_since) WHERE noncurrent_since IS NOT NULL');
  db.exec('CREATE INDEX IF NOT EXISTS object_versions_latest_markers ON object_versions (bucket, key) WHERE noncurrent_since IS NULL');
}

/**
 * Version 13: the CRC32C of each blob as written (of its plaintext), kept where the blob is
 * referenced: a segment (single PUT, copy) and a part. A full GET checks it (core/verified-read.ts);
 * NULL for blobs written before, which are checked against their MD5 instead.
 */
function blobCrcColumns(db: Database.Database): void {
  for (const table of ['segments', 'parts']) addMissingColumns(db, table, { blob_crc32c: 'INTEGER' });
}

/** Version 2: the state dialects keep about their clients, imported from `pan.db` when attached. */
function clientStateTables(db: Database.Database, _dataDir: string): void {
  db.exec(CLIENT_STATE_TABLES);
  const attached = db.prepare<[], { name: string }>('PRAGMA database_list').all().some((row) => row.name === 'pan_old');
  if (!attached) return;
  const has = (name: string) =>
    db.prepare<[string], { one: number }>("SELECT 1 AS one FROM pan_old.sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  if (has('settings')) db.exec('INSERT INTO settings SELECT name, value FROM pan_old.settings');
  if (has('tokens')) db.exec('INSERT INTO tokens SELECT hash, client_id, issued_at, expires_at, revoked_at FROM pan_old.tokens');
  if (has('preuploads')) {
    db.exec(`INSERT INTO upload_sessions (id, client_id, bucket, key, requested_key, upload_id, etag, size, slice_size, duplicate,
               status, file_id, message, created_at)
             SELECT id, client_id, bucket, key, requested_key, upload_id, etag, size, slice_size, duplicate,
               status, file_id, message, created_at FROM pan_old.preuploads`);
  }
  if (has('trash')) db.exec('INSERT INTO trash SELECT object_id, bucket, trashed_at FROM pan_old.trash');
}

function tableExists(db: Database.Database, name: string): boolean {
  return db.prepare<[string], { one: number }>("SELECT 1 AS one FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

function columnsOf(db: Database.Database, table: string): Set<string> {
  return new Set((db.pragma(`table_info(${table})`) as Array<{ name: string }>).map((column) => column.name));
}

function addMissingColumns(db: Database.Database, table: string, wanted: Record<string, string>): void {
  const present = columnsOf(db, table);
  for (const [name, type] of Object.entries(wanted)) {
    if (!present.has(name)) db.exec(`ALTER TABLE ${table} ADD COLUMN ${name} ${type}`);
  }
}
