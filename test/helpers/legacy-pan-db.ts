import { join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Writes `pan.db` in `dataDir` as Tessera wrote it before the 123pan state moved into the metadata
 * store: a secret, a live token of app `app` (hash `h1`), an upload session `p1` in `status`, and
 * object 7 in the trash.
 */
export function writeLegacyPanDb(dataDir: string, status = 'open'): void {
  const pan = new Database(join(dataDir, 'pan.db'));
  try {
    pan.exec(`
      CREATE TABLE settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE tokens (hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, issued_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, revoked_at INTEGER);
      CREATE TABLE preuploads (id TEXT PRIMARY KEY, client_id TEXT NOT NULL, bucket TEXT NOT NULL, key TEXT NOT NULL, requested_key TEXT NOT NULL,
        upload_id TEXT NOT NULL, etag TEXT NOT NULL, size INTEGER NOT NULL, slice_size INTEGER NOT NULL, duplicate INTEGER NOT NULL,
        status TEXT NOT NULL, file_id INTEGER, message TEXT, created_at INTEGER NOT NULL);
      CREATE TABLE trash (object_id INTEGER PRIMARY KEY, bucket TEXT NOT NULL, trashed_at INTEGER NOT NULL);
      INSERT INTO settings VALUES ('token-secret', 'c2VjcmV0');
      INSERT INTO tokens VALUES ('h1', 'app', 0, ${Date.now() + 3_600_000}, NULL);
      INSERT INTO trash VALUES (7, 'drive', 1);
    `);
    pan
      .prepare(`INSERT INTO preuploads VALUES ('p1', 'app', 'drive', 'a.bin', 'a.bin', 'U1', 'e', 10, 5, 0, ?, NULL, NULL, 1)`)
      .run(status);
  } finally {
    pan.close();
  }
}
