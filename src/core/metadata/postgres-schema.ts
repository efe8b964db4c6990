import type pg from 'pg';

/**
 * The PostgreSQL schema, as numbered migrations applied in order. A later change appends a
 * version; an applied version is never edited. Keys and every column a listing orders by are
 * `COLLATE "C"`, so their order is UTF-8 byte order (what S3 lists in), whatever the database's
 * own collation. Ids, sizes and millisecond timestamps are BIGINT; digests and checksums BYTEA.
 */
export interface Migration {
  version: number;
  description: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'engine metadata, leases, rate windows and the 123pan dialect state',
    sql: `
CREATE TABLE buckets (
  name TEXT COLLATE "C" PRIMARY KEY,
  owner TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE objects (
  -- never reused: dialects hand object ids out as file ids
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  bucket TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  size BIGINT NOT NULL,
  etag TEXT NOT NULL,
  last_modified BIGINT NOT NULL,
  headers TEXT NOT NULL,
  user_meta TEXT NOT NULL,
  parts_count INTEGER,
  crc64 TEXT,
  -- the flexible checksum: algorithm, 'full-object' or 'composite', digest bytes
  checksum_algorithm TEXT,
  checksum_type TEXT,
  checksum_value BYTEA,
  content_md5 TEXT,
  content_sha1 TEXT,
  -- a multipart object's bytes are its completed upload's part rows, in part-number order
  upload_id TEXT COLLATE "C",
  UNIQUE (bucket, key)
);
CREATE INDEX objects_by_upload ON objects (upload_id) WHERE upload_id IS NOT NULL;
CREATE INDEX objects_by_md5 ON objects (content_md5, size) WHERE content_md5 IS NOT NULL;
CREATE INDEX objects_by_sha1 ON objects (content_sha1, size) WHERE content_sha1 IS NOT NULL;
CREATE TABLE segments (
  object_id BIGINT NOT NULL,
  seq INTEGER NOT NULL,
  blob_id TEXT NOT NULL,
  "offset" BIGINT NOT NULL,
  size BIGINT NOT NULL,
  part_number INTEGER NOT NULL,
  PRIMARY KEY (object_id, seq)
);
CREATE INDEX segments_by_blob ON segments (blob_id);
CREATE TABLE uploads (
  upload_id TEXT COLLATE "C" PRIMARY KEY,
  bucket TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  owner TEXT NOT NULL,
  initiated BIGINT NOT NULL,
  headers TEXT NOT NULL,
  user_meta TEXT NOT NULL,
  -- the checksum every part carries and how the object's is formed, when announced
  checksum_algorithm TEXT,
  checksum_type TEXT,
  -- set once completed: kept so a repeated Complete answers the same result
  completed_at BIGINT,
  completed_fingerprint TEXT,
  completed_etag TEXT
);
CREATE INDEX uploads_by_bucket ON uploads (bucket);
CREATE INDEX open_uploads_by_key ON uploads (bucket, key, upload_id) WHERE completed_at IS NULL;
CREATE TABLE parts (
  upload_id TEXT COLLATE "C" NOT NULL,
  part_number INTEGER NOT NULL,
  blob_id TEXT NOT NULL,
  size BIGINT NOT NULL,
  etag TEXT NOT NULL,
  last_modified BIGINT NOT NULL,
  crc64 TEXT,
  checksum_algorithm TEXT,
  checksum_value BYTEA,
  PRIMARY KEY (upload_id, part_number)
);
CREATE INDEX parts_by_blob ON parts (blob_id);

CREATE TABLE settings (
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE leases (
  name TEXT COLLATE "C" PRIMARY KEY,
  holder TEXT NOT NULL,
  until BIGINT NOT NULL
);
CREATE TABLE rate_windows (
  name TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  touched_at BIGINT NOT NULL
);
CREATE INDEX rate_windows_by_age ON rate_windows (touched_at);

CREATE TABLE tokens (
  hash TEXT PRIMARY KEY,
  -- breaks ties between tokens issued in the same millisecond (oldest first)
  seq BIGINT GENERATED ALWAYS AS IDENTITY,
  client_id TEXT NOT NULL,
  issued_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked_at BIGINT
);
CREATE INDEX live_tokens ON tokens (client_id, issued_at, seq) WHERE revoked_at IS NULL;
CREATE INDEX tokens_by_expiry ON tokens (expires_at);
CREATE TABLE upload_sessions (
  id TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  bucket TEXT COLLATE "C" NOT NULL,
  key TEXT COLLATE "C" NOT NULL,
  requested_key TEXT COLLATE "C" NOT NULL,
  upload_id TEXT NOT NULL,
  etag TEXT NOT NULL,
  size BIGINT NOT NULL,
  slice_size BIGINT NOT NULL,
  duplicate INTEGER NOT NULL,
  status TEXT NOT NULL,
  file_id BIGINT,
  message TEXT,
  created_at BIGINT NOT NULL
);
CREATE INDEX open_upload_sessions ON upload_sessions (bucket, requested_key, etag, size) WHERE status = 'open';
CREATE INDEX upload_sessions_by_status ON upload_sessions (status, created_at, id);
CREATE TABLE hash_states (
  session_id TEXT PRIMARY KEY,
  next INTEGER NOT NULL,
  size BIGINT NOT NULL,
  md5 BYTEA NOT NULL,
  sha1 BYTEA NOT NULL,
  etags TEXT[] NOT NULL
);
CREATE TABLE trash (
  object_id BIGINT PRIMARY KEY,
  bucket TEXT COLLATE "C" NOT NULL,
  trashed_at BIGINT NOT NULL
);
`,
  },
  {
    version: 2,
    description: 'objects refer to their bucket (a PUT racing a DeleteBucket cannot leave an object in no bucket)',
    sql: `
ALTER TABLE objects ADD CONSTRAINT objects_bucket_exists FOREIGN KEY (bucket) REFERENCES buckets (name);
`,
  },
  {
    version: 3,
    description: 'per-bucket configuration documents (CORS rules)',
    sql: `
CREATE TABLE bucket_configs (
  bucket TEXT COLLATE "C" NOT NULL,
  -- what the document configures ('cors', …), in the format of the engine module that owns it
  kind TEXT NOT NULL,
  document TEXT NOT NULL,
  PRIMARY KEY (bucket, kind)
);
`,
  },
  {
    version: 4,
    description: 'object and upload tags',
    sql: `
-- JSON [[key, value], …] in key order; NULL for none
ALTER TABLE objects ADD COLUMN tags TEXT;
ALTER TABLE uploads ADD COLUMN tags TEXT;
`,
  },
  {
    version: 5,
    description: 'versioning: noncurrent versions and delete markers beside the current objects',
    // object_versions has every column objects has (LIKE copies them, so columns added before
    // this migration ride along), then the version's place in its key's history.
    sql: `
ALTER TABLE objects ADD COLUMN version_id TEXT COLLATE "C";
CREATE TABLE object_versions (LIKE objects INCLUDING DEFAULTS);
ALTER TABLE object_versions ALTER COLUMN id DROP NOT NULL;
ALTER TABLE object_versions ADD COLUMN seq BIGINT NOT NULL;
ALTER TABLE object_versions ADD COLUMN delete_marker BOOLEAN NOT NULL;
CREATE UNIQUE INDEX object_versions_by_key ON object_versions (bucket, key, seq DESC);
CREATE INDEX object_versions_by_version ON object_versions (bucket, key, version_id);
CREATE INDEX object_versions_by_id ON object_versions (id) WHERE id IS NOT NULL;
CREATE INDEX object_versions_by_upload ON object_versions (upload_id) WHERE upload_id IS NOT NULL;
`,
  },
  {
    version: 6,
    description: 'object lock: retention and legal hold of every version (and of an upload, for its object)',
    // object_versions copied objects' columns at version 5: it gets the new ones explicitly.
    sql: `
ALTER TABLE objects ADD COLUMN lock_mode TEXT, ADD COLUMN lock_until BIGINT, ADD COLUMN legal_hold BOOLEAN;
ALTER TABLE object_versions ADD COLUMN lock_mode TEXT, ADD COLUMN lock_until BIGINT, ADD COLUMN legal_hold BOOLEAN;
ALTER TABLE uploads ADD COLUMN lock_mode TEXT, ADD COLUMN lock_until BIGINT, ADD COLUMN legal_hold BOOLEAN;
`,
  },
  {
    version: 7,
    description: 'when each noncurrent version became noncurrent (lifecycle NoncurrentVersionExpiration)',
    // NULL for the key's latest entry (a delete marker). Existing history: the time the next newer
    // version (or the current object) was written, the best the rows tell.
    sql: `
ALTER TABLE object_versions ADD COLUMN noncurrent_since BIGINT;
UPDATE object_versions v SET noncurrent_since = COALESCE(
  (SELECT n.last_modified FROM object_versions n WHERE n.bucket = v.bucket AND n.key = v.key AND n.seq > v.seq ORDER BY n.seq LIMIT 1),
  (SELECT o.last_modified FROM objects o WHERE o.bucket = v.bucket AND o.key = v.key));
-- the lifecycle worker: the bucket's oldest noncurrent version, and its keys' latest delete markers
CREATE INDEX object_versions_by_noncurrent_since ON object_versions (bucket, noncurrent_since) WHERE noncurrent_since IS NOT NULL;
CREATE INDEX object_versions_latest_markers ON object_versions (bucket, key) WHERE noncurrent_since IS NULL;
`,
  },
  {
    version: 8,
    description: 'users and access keys made through the admin API, secrets sealed under the master key',
    sql: `
CREATE TABLE users (
  id TEXT COLLATE "C" PRIMARY KEY,
  display_name TEXT NOT NULL,
  enabled BOOLEAN NOT NULL,
  admin BOOLEAN NOT NULL,
  created BIGINT NOT NULL
);
CREATE TABLE access_keys (
  access_key_id TEXT COLLATE "C" PRIMARY KEY,
  sealed_secret TEXT NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  enabled BOOLEAN NOT NULL,
  created BIGINT NOT NULL
);
CREATE INDEX access_keys_by_user ON access_keys (user_id);
`,
  },
  {
    version: 9,
    description: "an object's (and an upload's) own ACL and its server-side encryption, JSON documents",
    sql: `
ALTER TABLE objects ADD COLUMN acl TEXT, ADD COLUMN encryption TEXT;
ALTER TABLE object_versions ADD COLUMN acl TEXT, ADD COLUMN encryption TEXT;
ALTER TABLE uploads ADD COLUMN acl TEXT, ADD COLUMN encryption TEXT;
`,
  },
  {
    version: 10,
    description: 'the local KMS key store (SSE-KMS), key material sealed under the master key',
    sql: `
CREATE TABLE kms_keys (
  id TEXT COLLATE "C" PRIMARY KEY,
  alias TEXT COLLATE "C" UNIQUE,
  description TEXT NOT NULL,
  sealed_key TEXT NOT NULL,
  enabled BOOLEAN NOT NULL,
  created BIGINT NOT NULL
);
`,
  },
  {
    version: 11,
    description: 'policies attached to users through the admin API',
    sql: `
CREATE TABLE user_policies (
  user_id TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  document TEXT NOT NULL,
  created BIGINT NOT NULL,
  PRIMARY KEY (user_id, name)
);
`,
  },
  {
    version: 12,
    description: 'managed policies: named policy documents attached to any number of users',
    sql: `
CREATE TABLE policies (
  name TEXT COLLATE "C" PRIMARY KEY,
  document TEXT NOT NULL,
  created BIGINT NOT NULL,
  updated BIGINT NOT NULL
);
CREATE TABLE policy_attachments (
  user_id TEXT COLLATE "C" NOT NULL,
  policy_name TEXT COLLATE "C" NOT NULL REFERENCES policies (name),
  created BIGINT NOT NULL,
  PRIMARY KEY (user_id, policy_name)
);
CREATE INDEX policy_attachments_by_policy ON policy_attachments (policy_name);
`,
  },
  {
    version: 13,
    description: 'the CRC32C of each blob as written, on segments and parts, for checking full reads (NULL before)',
    sql: `
ALTER TABLE segments ADD COLUMN blob_crc32c BIGINT;
ALTER TABLE parts ADD COLUMN blob_crc32c BIGINT;
`,
  },
];

/** The newest schema version this code knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

/** The advisory lock every node takes to migrate: "Tessera" in ASCII, as a 64-bit key. */
const MIGRATION_LOCK_KEY = '23755444575367777';

export class SchemaTooNewError extends Error {
  constructor(found: number, known: number) {
    super(`database schema version ${found} is newer than this Tessera knows (${known}); upgrade Tessera`);
    this.name = 'SchemaTooNewError';
  }
}

/**
 * Brings the database to SCHEMA_VERSION. The whole migration is one transaction holding a
 * transaction-level advisory lock, so nodes starting at once against an empty database wait for
 * each other and the schema is created exactly once; each then sees the versions already applied.
 * READ COMMITTED on purpose: every statement after the lock sees what the lock's previous holder
 * committed.
 */
export async function migrate(client: pg.ClientBase, migrations: readonly Migration[] = MIGRATIONS): Promise<void> {
  const known = migrations[migrations.length - 1]?.version ?? 0;
  await client.query('BEGIN ISOLATION LEVEL READ COMMITTED');
  try {
    // A migration (or the wait for another node's) may take longer than a request's statement.
    await client.query('SET LOCAL statement_timeout = 0');
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version INTEGER PRIMARY KEY,
         description TEXT NOT NULL,
         applied_at BIGINT NOT NULL
       )`,
    );
    const { rows } = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM schema_migrations');
    const current = rows[0]?.version ?? 0;
    if (current > known) throw new SchemaTooNewError(current, known);
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      await client.query(migration.sql);
      await client.query('INSERT INTO schema_migrations (version, description, applied_at) VALUES ($1, $2, $3)', [
        migration.version,
        migration.description,
        Date.now(),
      ]);
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
