import type Database from 'better-sqlite3';
import { dirname } from 'node:path';
import { GroupSync } from '../group-sync.js';
import { openDatabase } from '../sqlite.js';
import { migrateSqlite } from './sqlite-schema.js';
import { SqliteQueries } from './sqlite-queries.js';
import type { Metadata, MetadataQueries, NewObject, WriteGuard, WriteOutcome } from './types.js';
import { writeObjectInTransaction } from './write-object.js';

/**
 * The embedded backend: one SQLite file (`meta.db`) in the data directory, for a single node.
 *
 * better-sqlite3 is synchronous, so one query never interleaves with another. A transaction,
 * though, awaits between its queries, and other requests' queries could run on the same
 * connection in those gaps (seeing its uncommitted rows, or slipping into it). So a transaction
 * holds the connection: queries and transactions that arrive meanwhile wait their turn, in order.
 *
 * Durability is group commit (core/group-sync.ts): a COMMIT does not fsync (synchronous NORMAL);
 * a call that changed rows resolves only once an fsync of the WAL that started after its COMMIT
 * has finished, off the event loop and shared by the commits that arrived meanwhile. The
 * connection is free again as soon as COMMIT returns, so the next transaction runs while the
 * fsync does. With synchronous FULL, SQLite fsynced the WAL inside every COMMIT, on the event
 * loop (~1.5–2 ms on the benchmark machine's disk, during which nothing else ran).
 *
 * Power loss: what was acknowledged had its WAL frames fsynced, as with FULL, and what a crash
 * can lose is what FULL could (commits not yet acknowledged), with one difference: another request
 * may read a commit whose fsync is still running (FULL made a commit durable before any other
 * JavaScript ran), and lose sight of it after a power loss if its writer was never answered.
 * NORMAL keeps the database consistent across power loss (SQLite fsyncs the WAL before each
 * checkpoint and the database after it; a WAL frame counts only when its checksum and salt match,
 * so a torn tail is ignored). A process crash (`kill -9`) loses nothing committed: the frames are
 * in the page cache from the COMMIT on.
 */
export class SqliteMetadata implements Metadata {
  readonly backend = 'sqlite';
  private readonly queries: SqliteQueries;
  /** The queries, for the transaction that holds the connection. */
  private readonly inTransaction: MetadataQueries;
  /** Settles when everything queued so far has run; undefined when nothing is queued. */
  private tail: Promise<unknown> | undefined;
  private queued = 0;
  /** Rows inserted, updated or deleted on this connection so far: whether a call wrote. */
  private readonly totalChanges: Database.Statement<[], number>;

  private constructor(
    private readonly db: Database.Database,
    private readonly wal: GroupSync,
  ) {
    this.queries = new SqliteQueries(db);
    this.totalChanges = db.prepare<[], number>('SELECT total_changes()').pluck();
    this.inTransaction = asynchronous(this.queries, (run) => Promise.resolve().then(run));
    // Every method of the interface, outside a transaction: at once when the connection is free,
    // and, when it wrote, answered once that is on disk.
    Object.assign(
      this,
      asynchronous(this.queries, (run) => {
        let wrote = false;
        const result = this.exclusive(() => {
          const before = this.totalChanges.get();
          const value = run();
          wrote = this.totalChanges.get() !== before;
          return value;
        });
        return result.then((value) => (wrote ? this.wal.durable().then(() => value) : value));
      }),
    );
  }

  static open(path: string): SqliteMetadata {
    // The migrations commit with synchronous FULL; the server's own commits with NORMAL, each made
    // durable by the group commit before it is answered.
    const db = openDatabase(path);
    try {
      db.pragma('foreign_keys = OFF');
      migrateSqlite(db, dirname(path));
      db.pragma('synchronous = NORMAL');
    } catch (err) {
      db.close();
      throw err;
    }
    return new SqliteMetadata(db, new GroupSync(`${path}-wal`));
  }

  writeObject(object: NewObject, guard: WriteGuard): Promise<WriteOutcome> {
    return writeObjectInTransaction(this, object, guard);
  }

  async transaction<T>(fn: (tx: MetadataQueries) => Promise<T>): Promise<T> {
    let wrote = false;
    const result = await this.exclusive(async () => {
      const before = this.totalChanges.get();
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const value = await fn(this.inTransaction);
        this.db.exec('COMMIT');
        wrote = this.totalChanges.get() !== before;
        return value;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
    // The connection is already free for the next transaction; this caller waits for the disk.
    if (wrote) await this.wal.durable();
    return result;
  }

  /** One node, one process: the change was reloaded where it was made. */
  async announceIdentityChange(): Promise<void> {}

  watchIdentityChanges(_onChange: () => void): { close(): Promise<void> } {
    return { close: async () => {} };
  }

  /** One connection, no pool. */
  poolStats(): undefined {
    return undefined;
  }

  async close(): Promise<void> {
    await this.tail;
    await this.wal.drain();
    this.db.close();
    this.wal.close();
  }

  /** Runs `work` when everything queued before it has finished; at once when nothing is. */
  private exclusive<T>(work: () => T | Promise<T>): Promise<T> {
    let result: Promise<T>;
    if (this.queued === 0) {
      try {
        const value = work();
        // A synchronous query finished already; only a transaction keeps the connection.
        if (!(value instanceof Promise)) return Promise.resolve(value);
        result = value;
      } catch (err) {
        return Promise.reject(err);
      }
    } else {
      result = this.tail!.then(work, work) as Promise<T>;
    }
    this.queued++;
    const settled: Promise<void> = result.then(
      () => this.release(settled),
      () => this.release(settled),
    );
    this.tail = settled;
    return result;
  }

  private release(settled: Promise<unknown>): void {
    this.queued--;
    if (this.tail === settled) this.tail = undefined;
  }
}

// The interface's methods are declared on the instance by the constructor.
export interface SqliteMetadata extends MetadataQueries {}

/** The queries' methods as promises, each run through `schedule`. */
function asynchronous(queries: SqliteQueries, schedule: (run: () => unknown) => Promise<unknown>): MetadataQueries {
  const methods: Record<string, unknown> = {};
  for (const name of Object.getOwnPropertyNames(SqliteQueries.prototype)) {
    if (name === 'constructor') continue;
    const method = (queries as unknown as Record<string, (...args: unknown[]) => unknown>)[name]!;
    methods[name] = (...args: unknown[]) => schedule(() => method.apply(queries, args));
  }
  return methods as unknown as MetadataQueries;
}
