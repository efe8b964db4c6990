/**
 * The scale bench's fixtures: rows Tessera reads exactly as its own, cloned by SQL from a template
 * a real server wrote over S3 (an object, an upload, a part), instead of a million requests.
 *
 * - Objects: `count` clones of the bucket's `template` object (its row and its one segment), keys
 *   `d<NN>/k<NNNNNNN>` over DIRECTORIES directories in the order of their number. Every clone's
 *   segment points at the template's blob: one small blob shared by all (the engine's blob
 *   references allow it; a GET of a clone reads the template's bytes, with the template's ETag).
 * - Uploads: `count` clones of the bucket's template upload (in progress, no parts), keys as above,
 *   upload ids in Tessera's format (12 hex digits of the template's creation time, 4 of sequence,
 *   16 random; upper case).
 * - Parts: `count` clones of the template upload's part 1 under another upload, part numbers
 *   1..count, each pointing at the template part's blob (same size, ETag and checksum).
 *
 * One INSERT … SELECT per table on the bench's own connection (SQLite: a second connection to
 * meta.db in WAL mode, beside the idle server; PostgreSQL: one client), then ANALYZE, as a real
 * store's statistics would be.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';

export type Backend = 'sqlite' | 'postgres';

/** Keys spread over this many directories (`d00/` … `d09/`). */
export const DIRECTORIES = 10;
export const TEMPLATE_KEY = 'template';

/** The key of clone `i` of `count`: in the same order as `i`. */
export function keyOf(i: number, count: number): string {
  const perDirectory = Math.ceil(count / DIRECTORIES);
  return `d${String(Math.floor(i / perDirectory)).padStart(2, '0')}/k${String(i).padStart(7, '0')}`;
}

/** Where a backend's metadata lives: SQLite's meta.db in the data directory, or a PostgreSQL URL. */
export interface MetadataPlace {
  backend: Backend;
  dataDir: string;
  postgresUrl?: string;
}

/** One connection to the store for the fixture's statements. */
export interface FixtureConnection {
  fillObjects(bucket: string, count: number): Promise<void>;
  fillUploads(bucket: string, count: number): Promise<void>;
  /** Clones part 1 of `templateUploadId` into `uploadId` as parts 1..count. */
  fillParts(templateUploadId: string, uploadId: string, count: number): Promise<void>;
  /** Bytes the tables of `what` take: SQLite, the whole file with its WAL after a checkpoint; PostgreSQL, pg_total_relation_size of the tables. */
  size(what: 'objects' | 'parts'): Promise<number>;
  close(): Promise<void>;
}

const quote = (column: string) => `"${column}"`;

export async function connect(place: MetadataPlace): Promise<FixtureConnection> {
  return place.backend === 'sqlite' ? sqliteFixture(place.dataDir) : postgresFixture(place.postgresUrl!);
}

function sqliteFixture(dataDir: string): FixtureConnection {
  const file = join(dataDir, 'meta.db');
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 10000');
  const columns = (table: string, except: string[]) =>
    (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name).filter((c) => !except.includes(c));
  const numbers = (count: number) => `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${count - 1})`;
  const keyExpression = (count: number) => `printf('d%02d/k%07d', n.i / ${Math.ceil(count / DIRECTORIES)}, n.i)`;
  const analyze = (...tables: string[]) => db.exec(tables.map((t) => `ANALYZE ${t};`).join(' '));
  return {
    async fillObjects(bucket, count) {
      const objectColumns = columns('objects', ['id', 'key']);
      const segmentColumns = columns('segments', ['object_id']);
      db.transaction(() => {
        db.prepare(`${numbers(count)}
          INSERT INTO objects (key, ${objectColumns.map(quote).join(', ')})
          SELECT ${keyExpression(count)}, ${objectColumns.map((c) => `t.${quote(c)}`).join(', ')}
          FROM n, (SELECT * FROM objects WHERE bucket = ? AND key = ?) t`).run(bucket, TEMPLATE_KEY);
        db.prepare(`INSERT INTO segments (object_id, ${segmentColumns.map(quote).join(', ')})
          SELECT o.id, ${segmentColumns.map((c) => `s.${quote(c)}`).join(', ')}
          FROM objects o, (SELECT * FROM segments WHERE object_id = (SELECT id FROM objects WHERE bucket = ? AND key = ?)) s
          WHERE o.bucket = ? AND o.key <> ?`).run(bucket, TEMPLATE_KEY, bucket, TEMPLATE_KEY);
      })();
      analyze('objects', 'segments');
    },
    async fillUploads(bucket, count) {
      const uploadColumns = columns('uploads', ['upload_id', 'key']);
      db.prepare(`${numbers(count)}
        INSERT INTO uploads (upload_id, key, ${uploadColumns.map(quote).join(', ')})
        SELECT printf('%012X%04X', t.initiated + n.i / 65536, n.i % 65536) || hex(randomblob(8)), ${keyExpression(count)},
          ${uploadColumns.map((c) => `t.${quote(c)}`).join(', ')}
        FROM n, (SELECT * FROM uploads WHERE bucket = ? AND key = ? AND completed_at IS NULL) t`).run(bucket, TEMPLATE_KEY);
      analyze('uploads');
    },
    async fillParts(templateUploadId, uploadId, count) {
      const partColumns = columns('parts', ['upload_id', 'part_number']);
      db.prepare(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${count})
        INSERT INTO parts (upload_id, part_number, ${partColumns.map(quote).join(', ')})
        SELECT ?, n.i, ${partColumns.map((c) => `t.${quote(c)}`).join(', ')}
        FROM n, (SELECT * FROM parts WHERE upload_id = ? AND part_number = 1) t`).run(uploadId, templateUploadId);
    },
    async size() {
      db.pragma('wal_checkpoint(TRUNCATE)');
      const bytes = async (path: string) => (await stat(path).catch(() => undefined))?.size ?? 0;
      return (await bytes(file)) + (await bytes(`${file}-wal`));
    },
    async close() {
      analyze('parts');
      db.close();
    },
  };
}

async function postgresFixture(url: string): Promise<FixtureConnection> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const columns = async (table: string, except: string[]) =>
    (await client.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`,
      [table],
    )).rows.map((r) => r.column_name).filter((c) => !except.includes(c));
  const keyExpression = (count: number) =>
    `'d' || lpad((n.i / ${Math.ceil(count / DIRECTORIES)})::text, 2, '0') || '/k' || lpad(n.i::text, 7, '0')`;
  const inTransaction = async (statements: Array<[string, unknown[]]>) => {
    await client.query('BEGIN');
    try {
      for (const [sql, values] of statements) await client.query(sql, values);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK');
      throw err;
    }
  };
  return {
    async fillObjects(bucket, count) {
      const objectColumns = await columns('objects', ['id', 'key']);
      const segmentColumns = await columns('segments', ['object_id']);
      await inTransaction([
        [
          `INSERT INTO objects (key, ${objectColumns.map(quote).join(', ')})
           SELECT ${keyExpression(count)}, ${objectColumns.map((c) => `t.${quote(c)}`).join(', ')}
           FROM generate_series(0, ${count - 1}) AS n(i), (SELECT * FROM objects WHERE bucket = $1 AND key = $2) t`,
          [bucket, TEMPLATE_KEY],
        ],
        [
          `INSERT INTO segments (object_id, ${segmentColumns.map(quote).join(', ')})
           SELECT o.id, ${segmentColumns.map((c) => `s.${quote(c)}`).join(', ')}
           FROM objects o, (SELECT * FROM segments WHERE object_id = (SELECT id FROM objects WHERE bucket = $1 AND key = $2)) s
           WHERE o.bucket = $1 AND o.key <> $2`,
          [bucket, TEMPLATE_KEY],
        ],
      ]);
      await client.query('ANALYZE objects');
      await client.query('ANALYZE segments');
    },
    async fillUploads(bucket, count) {
      const uploadColumns = await columns('uploads', ['upload_id', 'key']);
      await inTransaction([
        [
          `INSERT INTO uploads (upload_id, key, ${uploadColumns.map(quote).join(', ')})
           SELECT upper(lpad(to_hex(t.initiated + n.i / 65536), 12, '0') || lpad(to_hex(n.i % 65536), 4, '0') || substr(md5(random()::text || n.i), 1, 16)),
             ${keyExpression(count)}, ${uploadColumns.map((c) => `t.${quote(c)}`).join(', ')}
           FROM generate_series(0, ${count - 1}) AS n(i), (SELECT * FROM uploads WHERE bucket = $1 AND key = $2 AND completed_at IS NULL) t`,
          [bucket, TEMPLATE_KEY],
        ],
      ]);
      await client.query('ANALYZE uploads');
    },
    async fillParts(templateUploadId, uploadId, count) {
      const partColumns = await columns('parts', ['upload_id', 'part_number']);
      await inTransaction([
        [
          `INSERT INTO parts (upload_id, part_number, ${partColumns.map(quote).join(', ')})
           SELECT $1, n.i, ${partColumns.map((c) => `t.${quote(c)}`).join(', ')}
           FROM generate_series(1, ${count}) AS n(i), (SELECT * FROM parts WHERE upload_id = $2 AND part_number = 1) t`,
          [uploadId, templateUploadId],
        ],
      ]);
    },
    async size(what) {
      const tables = what === 'objects' ? ['objects', 'segments'] : ['parts'];
      const sql = `SELECT ${tables.map((t) => `pg_total_relation_size('${t}')`).join(' + ')} AS bytes`;
      return Number((await client.query<{ bytes: string }>(sql)).rows[0]!.bytes);
    },
    async close() {
      await client.query('ANALYZE parts');
      await client.end();
    },
  };
}
