// Fixtures for the metadata migration that dates noncurrent versions (test/unit/*metadata.test.ts).

/**
 * A versioned key's history as schema version 5 held it (key k: v1, v2 noncurrent under current
 * v3; key m: m1 under the latest delete marker m2), in SQL both backends take.
 */
export const HISTORY_BEFORE_MIGRATION_7 = `
INSERT INTO buckets (name, owner, created_at) VALUES ('old', 'alice', 0);
INSERT INTO objects (bucket, key, size, etag, last_modified, headers, user_meta, version_id) VALUES ('old', 'k', 1, 'e', 3000, '{}', '{}', 'v3');
INSERT INTO object_versions (id, bucket, key, size, etag, last_modified, headers, user_meta, version_id, seq, delete_marker) VALUES
  (101, 'old', 'k', 1, 'e', 1000, '{}', '{}', 'v1', 1, false),
  (102, 'old', 'k', 1, 'e', 2000, '{}', '{}', 'v2', 2, false),
  (103, 'old', 'm', 1, 'e', 500, '{}', '{}', 'm1', 1, false),
  (NULL, 'old', 'm', 0, '', 600, '{}', '{}', 'm2', 2, true);
`;
export const HISTORY_AFTER_MIGRATION_7 = [
  { version_id: 'v1', noncurrent_since: 2000 },
  { version_id: 'v2', noncurrent_since: 3000 },
  { version_id: 'm1', noncurrent_since: 600 },
  { version_id: 'm2', noncurrent_since: null },
];
