import type Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { readFile, realpath, rename } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase } from '../sqlite.js';
import { columnsOf, insertStatement, ROOT_CREDENTIALS_SETTING, tablesToCopy, type TableCopy } from './migrate-tables.js';
import { MIGRATED_SUFFIX, MIGRATION_SETTING, parseMarker, type MigrationMarker } from './migration-marker.js';
import { maskUrl, PostgresMetadata } from './postgres.js';
import { migrateSqlite } from './sqlite-schema.js';

/**
 * Moving a single node to cluster mode: copies its metadata (SQLite `meta.db`, and an older
 * `pan.db` the SQLite schema migration imports first) into an empty PostgreSQL database, table
 * by table, keeping every id. The blobs stay where they are; the nodes are pointed at the same
 * data directory.
 *
 * The source is held with an exclusive SQLite lock for the whole copy: a server running on it
 * holds the database open, so the lock is refused and the copy never starts; a server started
 * meanwhile cannot open it. The target is marked (migration-marker.ts) before the first row and
 * marked finished only after the count check passed; a node refuses a database so marked, and a
 * second run after an interruption starts the copy over from an empty database. Then the source's
 * meta.db is renamed (MIGRATED_SUFFIX), so a single node is not started on the directory again by
 * mistake (it would sweep the blobs the cluster writes).
 */

export const DEFAULT_BATCH_ROWS = 5000;

/** The session-level advisory lock one `tessera migrate` holds on its target: "TsMigrat" in ASCII. */
const MIGRATE_LOCK_KEY = '6085292636610126196';
/** How long a run waits for that lock: the session of a run just killed may take a moment to end. */
const LOCK_WAIT_MS = 10_000;

export interface MigrateOptions {
  /** The stopped node's data directory. */
  dataDir: string;
  /** `postgres://…` of the target database. */
  url: string;
  /** Rows per INSERT (DEFAULT_BATCH_ROWS). */
  batchRows?: number;
  events?: MigrationEvents;
}

/** What a progress display is told. */
export interface MigrationEvents {
  /** The source is locked and counted, the target claimed; `restart` when an interrupted copy from the same source is started over. */
  started?(plan: { source: string; target: string; restart: boolean; tables: Array<{ name: string; rows: number }> }): void;
  /** `rows` of `total` rows of `table` are in the target now. */
  copied?(table: string, rows: number, total: number): void;
  /** Every row of `table` was sent: `rows` of them. */
  tableCopied?(table: string, rows: number): void;
}

export interface TableCount {
  table: string;
  source: number;
  target: number;
}

export interface MigrationResult {
  source: string;
  /** Per table: rows read from the source, rows in the target after the copy. */
  counts: TableCount[];
  /** Every count matched: the target is marked finished and nodes may start on it. */
  ok: boolean;
  elapsedMs: number;
}

export async function migrateToPostgres(options: MigrateOptions): Promise<MigrationResult> {
  const started = Date.now();
  const batchRows = options.batchRows ?? DEFAULT_BATCH_ROWS;
  const source = await Source.open(options.dataDir);
  const counts: TableCount[] = [];
  try {
    const target = await Target.open(options.url);
    try {
      const restart = await target.claim(source.path);
      options.events?.started?.({
        source: source.path,
        target: maskUrl(options.url),
        restart,
        tables: source.tables.map((copy) => ({ name: copy.name, rows: source.count(copy) })),
      });
      for (const copy of source.tables) {
        const total = source.count(copy);
        const rows = await target.copy(copy, source.rows(copy), batchRows, (copied) => options.events?.copied?.(copy.name, copied, total));
        options.events?.tableCopied?.(copy.name, rows);
      }
      await target.advanceIdentities(source.identityFloors());
      for (const copy of source.tables) counts.push({ table: copy.name, source: source.count(copy), target: await target.count(copy.name) });
      if (matches(counts)) await target.markFinished();
    } finally {
      await target.close();
    }
  } finally {
    source.close();
  }
  const ok = matches(counts);
  if (ok) await source.retire();
  return { source: source.path, counts, ok, elapsedMs: Date.now() - started };
}

function matches(counts: TableCount[]): boolean {
  return counts.every((count) => count.source === count.target);
}

/** The node's data directory: `meta.db` under an exclusive lock, read in one snapshot. */
class Source {
  readonly tables: TableCopy[];
  private readonly counts = new Map<string, number>();

  private constructor(
    readonly path: string,
    private readonly db: Database.Database,
    /** Settings rows from outside meta.db: the root credentials a single node keeps in a file. */
    private readonly extraSettings: Array<[string, string]>,
  ) {
    this.tables = tablesToCopy({ settingsExcept: extraSettings.length > 0 ? ROOT_CREDENTIALS_SETTING : undefined });
    db.exec('BEGIN');
    for (const copy of this.tables) {
      const rows = db.prepare<[], number>(copy.count).pluck().get()!;
      this.counts.set(copy.name, rows + (copy.name === 'settings' ? extraSettings.length : 0));
    }
  }

  static async open(dataDir: string): Promise<Source> {
    let path: string;
    try {
      path = await realpath(dataDir);
    } catch (err) {
      throw new Error(`cannot read the data directory ${dataDir}: ${(err as Error).message}`, { cause: err });
    }
    const file = join(path, 'meta.db');
    if (!existsSync(file)) {
      if (existsSync(file + MIGRATED_SUFFIX)) throw new Error(`${path} was migrated already: its meta.db is meta.db${MIGRATED_SUFFIX} now`);
      throw new Error(`${path} has no meta.db: not the data directory of a single-node Tessera`);
    }
    const extraSettings = await rootCredentialsOf(path);
    const db = openDatabase(file);
    try {
      db.pragma('busy_timeout = 500');
      // Held until the connection closes: refused while a server has the database open, and
      // keeps one from opening it while the copy runs.
      db.pragma('locking_mode = EXCLUSIVE');
      try {
        db.exec('BEGIN EXCLUSIVE');
        db.exec('COMMIT');
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY') throw err;
        throw new Error(`${file} is in use: a Tessera server seems to be running on ${path}; stop it first`, { cause: err });
      }
      // As the SQLite backend opens it: the newest schema, with an older pan.db imported.
      db.pragma('foreign_keys = OFF');
      migrateSqlite(db, path);
      return new Source(path, db, extraSettings);
    } catch (err) {
      db.close();
      throw err;
    }
  }

  count(copy: TableCopy): number {
    return this.counts.get(copy.name)!;
  }

  /** The table's rows, one at a time from SQLite (never the whole table in memory). */
  *rows(copy: TableCopy): Generator<unknown[]> {
    yield* this.db.prepare(copy.select).raw(true).iterate() as IterableIterator<unknown[]>;
    if (copy.name === 'settings') yield* this.extraSettings;
  }

  /** The last value each identity column has handed out: PostgreSQL's sequences continue after it. */
  identityFloors(): { objects: number; tokens: number } {
    const maxId = this.db.prepare<[], number | null>('SELECT max(id) FROM objects').pluck().get() ?? 0;
    // AUTOINCREMENT remembers ids of objects since deleted: those are never handed out again either.
    const hasSequence = this.db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").get() !== undefined;
    const sequence = hasSequence ? (this.db.prepare<[], number | null>("SELECT seq FROM sqlite_sequence WHERE name = 'objects'").pluck().get() ?? 0) : 0;
    const tokens = this.db.prepare<[], number | null>('SELECT max(rowid) FROM tokens').pluck().get() ?? 0;
    return { objects: Math.max(maxId, sequence), tokens };
  }

  close(): void {
    if (this.db.open && this.db.inTransaction) this.db.exec('COMMIT');
    this.db.close();
  }

  /** Renames meta.db (closed) so that no single node starts on it again; see MIGRATED_SUFFIX. */
  async retire(): Promise<void> {
    const file = join(this.path, 'meta.db');
    // Closing the last connection folded the WAL into the file. A leftover follows it, the file
    // first: renamed back, meta.db finds its WAL again even if this stopped half-way.
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(file + suffix)) await rename(file + suffix, file + MIGRATED_SUFFIX + suffix);
    }
  }
}

/** A single node's generated root credentials (root-credentials.json), as cluster nodes read them from the settings. */
async function rootCredentialsOf(dataDir: string): Promise<Array<[string, string]>> {
  const path = join(dataDir, 'root-credentials.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  let stored: { accessKey?: unknown; secretKey?: unknown };
  try {
    stored = JSON.parse(text) as typeof stored;
  } catch {
    stored = {};
  }
  if (typeof stored.accessKey !== 'string' || typeof stored.secretKey !== 'string') throw new Error(`${path} is damaged: it holds no access key and secret key`);
  return [[ROOT_CREDENTIALS_SETTING, JSON.stringify({ accessKey: stored.accessKey, secretKey: stored.secretKey })]];
}

/** The PostgreSQL database being filled, on one connection that holds the migrate lock. */
class Target {
  private marker: MigrationMarker | undefined;

  private constructor(private readonly client: pg.Client) {}

  static async open(url: string): Promise<Target> {
    // Creates the schema by the backend's own migrations (or refuses a newer one).
    await (await PostgresMetadata.open(url, { poolSize: 1 })).close();
    const client = new pg.Client({ connectionString: url, application_name: 'tessera migrate', connectionTimeoutMillis: 10_000 });
    // A connection that drops fails the query in flight; this only keeps the event from ending the process.
    client.on('error', () => undefined);
    try {
      await client.connect();
    } catch (err) {
      await client.end().catch(() => undefined);
      throw new Error(`cannot connect to ${maskUrl(url)}: ${(err as Error).message}`, { cause: err });
    }
    // Every batch is checked at the end, and an interrupted copy is started over: a batch need not
    // be on disk when its commit returns. The commit that marks the copy finished is (see markFinished).
    await client.query('SET synchronous_commit = off');
    return new Target(client);
  }

  /**
   * Takes the database for a copy from `source`: an empty one, or one an interrupted copy from
   * the same source left (emptied again). True for the latter.
   */
  async claim(source: string): Promise<boolean> {
    for (const deadline = Date.now() + LOCK_WAIT_MS; ; ) {
      const { rows } = await this.client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [MIGRATE_LOCK_KEY]);
      if (rows[0]!.locked) break;
      if (Date.now() >= deadline) throw new Error('another `tessera migrate` is copying into this database now');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await this.client.query('BEGIN');
    try {
      const live = await this.client.query<{ name: string; until: string }>('SELECT name, until FROM leases WHERE until > $1 LIMIT 1', [Date.now()]);
      if (live.rows[0]) {
        const until = new Date(Number(live.rows[0].until)).toISOString();
        throw new Error(`a Tessera node seems to be running on this database (it holds the lease "${live.rows[0].name}" until ${until}); stop every node first`);
      }
      const found = parseMarker((await this.client.query<{ value: string }>('SELECT value FROM settings WHERE name = $1', [MIGRATION_SETTING])).rows[0]?.value);
      const restart = found !== undefined;
      if (found?.finishedAt !== undefined) {
        throw new Error(
          `this database already holds a finished migration from ${found.source} (${new Date(found.finishedAt).toISOString()}); ` +
            'nodes may have changed it since, so it is not copied over: to copy again, drop and create the database',
        );
      }
      if (found !== undefined && found.source !== source) {
        throw new Error(`this database holds an unfinished migration from another data directory (${found.source}): finish that one, or drop and create the database`);
      }
      if (found === undefined) {
        const held = await this.rowCounts(tablesToCopy().map((copy) => copy.name));
        const nonEmpty = held.filter(([, rows]) => rows > 0);
        if (nonEmpty.length > 0) {
          throw new Error(
            `this database is not empty (${nonEmpty.map(([table, rows]) => `${rows} rows in ${table}`).join(', ')}): ` +
              'tessera migrate copies into an empty database only',
          );
        }
      }
      // Starting over: whatever a run before copied goes, with the leases of nodes long stopped.
      await this.client.query(`TRUNCATE ${[...tablesToCopy().map((copy) => copy.name), 'leases', 'rate_windows'].join(', ')} RESTART IDENTITY`);
      this.marker = { source, startedAt: Date.now() };
      await this.client.query('INSERT INTO settings (name, value) VALUES ($1, $2)', [MIGRATION_SETTING, JSON.stringify(this.marker)]);
      await this.client.query('COMMIT');
      return restart;
    } catch (err) {
      await this.client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /**
   * Inserts `rows` in batches of `batchRows`, each one statement and one transaction; `progress`
   * hears the running total. Returns how many rows were inserted.
   */
  async copy(copy: TableCopy, rows: Iterable<unknown[]>, batchRows: number, progress: (rows: number) => void): Promise<number> {
    const insert = insertStatement(copy);
    let batch: unknown[][] = [];
    let copied = 0;
    const flush = async () => {
      try {
        await this.client.query(insert, columnsOf(batch, copy.columns.length));
      } catch (err) {
        throw new Error(`copying ${copy.name}: ${(err as Error).message}`, { cause: err });
      }
      copied += batch.length;
      batch = [];
      progress(copied);
    };
    for (const row of rows) {
      batch.push(row);
      if (batch.length >= batchRows) await flush();
    }
    if (batch.length > 0) await flush();
    return copied;
  }

  /** Sets the identity sequences past every id the source handed out (ids are never reused). */
  async advanceIdentities(floors: { objects: number; tokens: number }): Promise<void> {
    for (const [table, column, floor] of [['objects', 'id', floors.objects], ['tokens', 'seq', floors.tokens]] as const) {
      if (floor > 0) await this.client.query('SELECT setval(pg_get_serial_sequence($1, $2), $3)', [table, column, floor]);
    }
  }

  /** Rows in `table` (the migration marker not counted). */
  async count(table: string): Promise<number> {
    return (await this.rowCounts([table]))[0]![1];
  }

  private async rowCounts(tables: string[]): Promise<Array<[string, number]>> {
    const out: Array<[string, number]> = [];
    for (const table of tables) {
      const where = table === 'settings' ? ` WHERE name <> '${MIGRATION_SETTING}'` : '';
      const { rows } = await this.client.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}${where}`);
      out.push([table, Number(rows[0]!.n)]);
    }
    return out;
  }

  /** Marks the copy finished: nodes may start on the database now. */
  async markFinished(): Promise<void> {
    await this.client.query('SET synchronous_commit = on');
    const finished: MigrationMarker = { ...this.marker!, finishedAt: Date.now() };
    await this.client.query('UPDATE settings SET value = $2 WHERE name = $1', [MIGRATION_SETTING, JSON.stringify(finished)]);
  }

  async close(): Promise<void> {
    // Ending the session releases the advisory lock.
    await this.client.end().catch(() => undefined);
  }
}
