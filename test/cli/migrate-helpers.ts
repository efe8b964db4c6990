/** Shared by the `tessera migrate` tests: fresh databases, and the check that a copy is exact. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { postgresBinDir, type TestPostgres } from '../helpers/postgres.js';

/** Given in every target URL (the test server trusts any): it must never be printed. */
export const PASSWORD = 'pw-never-printed-4242';

export const skipWithoutPostgres = (): string | false => {
  if (postgresBinDir()) return false;
  // .ci/run installs Debian's postgresql; on CI this must not skip.
  if (process.env.CI) assert.fail('PostgreSQL server binaries are missing on CI');
  return 'PostgreSQL not installed';
};

let databases = 0;

/** A new, empty database on `postgres`: its URL, with a password. */
export async function freshDatabase(postgres: TestPostgres): Promise<string> {
  const name = `migrate_${process.pid}_${++databases}`;
  await withDatabase(postgres.url, (client) => client.query(`CREATE DATABASE ${name}`));
  return `postgres://tessera:${PASSWORD}@127.0.0.1:${postgres.port}/${name}`;
}

export async function withDatabase<T>(url: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Tables of a node that are not copied: they describe running nodes. */
const NOT_COPIED = new Set(['sqlite_sequence', 'leases', 'call_windows']);

/** A value as text both databases agree on (SQLite's JSON text and PostgreSQL's TEXT[] alike). */
function normalized(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value)) return `bytes:${value.toString('hex')}`;
  // SQLite keeps a boolean as 0 or 1.
  if (typeof value === 'boolean') return value ? '1' : '0';
  if (Array.isArray(value)) return JSON.stringify(value);
  return String(value);
}

function rowKey(row: unknown[]): string {
  return JSON.stringify(row.map(normalized));
}

function assertSameRows(table: string, expected: string[], actual: string[]): void {
  expected.sort();
  actual.sort();
  assert.equal(actual.length, expected.length, `${table}: ${actual.length} rows in PostgreSQL, ${expected.length} in SQLite`);
  const index = expected.findIndex((row, i) => row !== actual[i]);
  if (index >= 0) assert.fail(`${table}: rows differ, SQLite ${expected[index]} vs PostgreSQL ${actual[index]}`);
}

/**
 * Every row of every table of a migrated data directory's meta.db (renamed meta.db.migrated by
 * then) is in the database, column by column (the columns as SQLite lists them, not as the
 * migration does), and nothing else is, but for `extraSettings` and the migration's own marker,
 * which must say the copy finished.
 */
export async function assertExactCopy(dataDir: string, url: string, extraSettings: Array<[string, string]> = []): Promise<void> {
  assert.equal(existsSync(join(dataDir, 'meta.db')), false, 'the source meta.db is renamed once copied');
  const db = new Database(join(dataDir, 'meta.db.migrated'), { readonly: true });
  try {
    await withDatabase(url, async (client) => {
      const tables = db
        .prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all()
        .map((row) => row.name)
        .filter((name) => !NOT_COPIED.has(name));
      assert.ok(tables.includes('objects') && tables.includes('upload_sessions'), `unexpected tables: ${tables.join(', ')}`);
      for (const table of tables) {
        const columns = (db.pragma(`table_info(${table})`) as Array<{ name: string }>).map((column) => `"${column.name}"`).join(', ');
        const expected = (db.prepare(`SELECT ${columns} FROM ${table}`).raw(true).all() as unknown[][]).map(rowKey);
        const where = table === 'settings' ? " WHERE name <> 'migration'" : '';
        const actual = (await client.query<unknown[]>({ text: `SELECT ${columns} FROM ${table}${where}`, rowMode: 'array' })).rows.map(rowKey);
        if (table === 'settings') expected.push(...extraSettings.map((row) => rowKey(row)));
        assertSameRows(table, expected, actual);
      }
      // The same token is the oldest among those issued in one millisecond.
      const sqliteOrder = db.prepare('SELECT hash FROM tokens ORDER BY issued_at, rowid').pluck().all();
      const pgOrder = (await client.query<{ hash: string }>('SELECT hash FROM tokens ORDER BY issued_at, seq')).rows.map((row) => row.hash);
      assert.deepEqual(pgOrder, sqliteOrder);
      const marker = (await client.query<{ value: string }>("SELECT value FROM settings WHERE name = 'migration'")).rows[0];
      assert.ok(marker, 'the database is marked as a migration target');
      assert.equal(typeof (JSON.parse(marker.value) as { finishedAt?: unknown }).finishedAt, 'number', 'and the copy as finished');
    });
  } finally {
    db.close();
  }
}
