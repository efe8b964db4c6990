import Database from 'better-sqlite3';

/**
 * Opens (or creates) a SQLite database the way every Tessera store does: WAL, so
 * readers never block the writer, and synchronous FULL, so a commit is on disk
 * before the client hears "200" (survives power loss, not just kill -9).
 */
export function openDatabase(path: string): Database.Database {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  return db;
}
