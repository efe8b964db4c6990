import type Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { openDatabase } from '../../core/sqlite.js';

/**
 * The pan dialect's own state, in `pan.db` beside the engine's `meta.db`: access tokens,
 * pre-uploads (a 123pan upload session over an engine multipart upload) and trash marks.
 * Files and folders themselves are engine objects; nothing here duplicates them.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
  hash TEXT PRIMARY KEY,
  client_id TEXT NOT NULL,
  issued_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS live_tokens ON tokens (client_id, issued_at) WHERE revoked_at IS NULL;
CREATE TABLE IF NOT EXISTS preuploads (
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
CREATE INDEX IF NOT EXISTS open_preuploads ON preuploads (bucket, requested_key, etag, size) WHERE status = 'open';
CREATE TABLE IF NOT EXISTS trash (
  object_id INTEGER PRIMARY KEY,
  bucket TEXT NOT NULL,
  trashed_at INTEGER NOT NULL
);
`;

export type PreuploadStatus = 'open' | 'verifying' | 'done' | 'failed';

export interface Preupload {
  id: string;
  clientId: string;
  bucket: string;
  /** Where the file will be (the engine upload's key). */
  key: string;
  /** Where the client asked for it (before `duplicate=1` renaming): finds the session again on a repeated create. */
  requestedKey: string;
  uploadId: string;
  etag: string;
  size: number;
  sliceSize: number;
  duplicate: number;
  status: PreuploadStatus;
  fileId?: number;
  message?: string;
  createdAt: Date;
}

interface PreuploadRow {
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
  status: PreuploadStatus;
  file_id: number | null;
  message: string | null;
  created_at: number;
}

function toPreupload(row: PreuploadRow): Preupload {
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

export class PanStore {
  private readonly db: Database.Database;
  private readonly stmt;

  constructor(path: string) {
    this.db = openDatabase(path);
    this.db.exec(SCHEMA);
    const db = this.db;
    this.stmt = {
      getSetting: db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE name = ?'),
      putSetting: db.prepare('INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)'),
      insertToken: db.prepare('INSERT INTO tokens (hash, client_id, issued_at, expires_at) VALUES (?, ?, ?, ?)'),
      getToken: db.prepare<[string], { client_id: string; expires_at: number; revoked_at: number | null }>(
        'SELECT client_id, expires_at, revoked_at FROM tokens WHERE hash = ?',
      ),
      liveTokens: db.prepare<[string, number], { hash: string }>(
        'SELECT hash FROM tokens WHERE client_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY issued_at, rowid',
      ),
      revokeToken: db.prepare('UPDATE tokens SET revoked_at = ? WHERE hash = ?'),
      forgetTokens: db.prepare('DELETE FROM tokens WHERE expires_at < ?'),
      insertPreupload: db.prepare(
        `INSERT INTO preuploads (id, client_id, bucket, key, requested_key, upload_id, etag, size, slice_size, duplicate, status, created_at)
         VALUES (@id, @clientId, @bucket, @key, @requestedKey, @uploadId, @etag, @size, @sliceSize, @duplicate, 'open', @createdAt)`,
      ),
      getPreupload: db.prepare<[string], PreuploadRow>('SELECT * FROM preuploads WHERE id = ?'),
      openPreupload: db.prepare<[string, string, string, number], PreuploadRow>(
        `SELECT * FROM preuploads WHERE bucket = ? AND requested_key = ? AND etag = ? AND size = ? AND status = 'open'
         ORDER BY created_at DESC LIMIT 1`,
      ),
      setStatus: db.prepare('UPDATE preuploads SET status = ?, file_id = ?, message = ? WHERE id = ?'),
      trash: db.prepare('INSERT OR REPLACE INTO trash (object_id, bucket, trashed_at) VALUES (?, ?, ?)'),
      untrash: db.prepare('DELETE FROM trash WHERE object_id = ?'),
      isTrashed: db.prepare<[number], { one: number }>('SELECT 1 AS one FROM trash WHERE object_id = ?'),
    };
  }

  close(): void {
    this.db.close();
  }

  /** A random secret made once per data directory (token and URL signatures). */
  secret(name: string): Buffer {
    this.stmt.putSetting.run(name, randomBytes(32).toString('base64'));
    return Buffer.from(this.stmt.getSetting.get(name)!.value, 'base64');
  }

  // Tokens (stored by SHA-256, never in clear)

  /** Records a token; revokes the oldest live ones beyond `maxLive`. Returns how many were revoked. */
  issueToken(hash: string, clientId: string, now: Date, expiresAt: Date, maxLive: number): number {
    return this.db
      .transaction(() => {
        this.stmt.forgetTokens.run(now.getTime() - 90 * 24 * 3600 * 1000);
        this.stmt.insertToken.run(hash, clientId, now.getTime(), expiresAt.getTime());
        const live = this.stmt.liveTokens.all(clientId, now.getTime());
        const excess = live.slice(0, Math.max(0, live.length - maxLive));
        for (const token of excess) this.stmt.revokeToken.run(now.getTime(), token.hash);
        return excess.length;
      })
      .immediate();
  }

  /** The app a live token belongs to. */
  tokenClient(hash: string, now: Date): string | undefined {
    const row = this.stmt.getToken.get(hash);
    if (!row || row.revoked_at !== null || row.expires_at <= now.getTime()) return undefined;
    return row.client_id;
  }

  // Pre-uploads

  insertPreupload(preupload: Omit<Preupload, 'status' | 'fileId' | 'message'>): void {
    this.stmt.insertPreupload.run({ ...preupload, createdAt: preupload.createdAt.getTime() });
  }

  getPreupload(id: string): Preupload | undefined {
    const row = this.stmt.getPreupload.get(id);
    return row && toPreupload(row);
  }

  findOpenPreupload(bucket: string, requestedKey: string, etag: string, size: number): Preupload | undefined {
    const row = this.stmt.openPreupload.get(bucket, requestedKey, etag, size);
    return row && toPreupload(row);
  }

  setPreuploadStatus(id: string, status: PreuploadStatus, fileId?: number, message?: string): void {
    this.stmt.setStatus.run(status, fileId ?? null, message ?? null, id);
  }

  // Trash marks, by engine object id (a rename keeps the id, so the mark follows the file)

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
