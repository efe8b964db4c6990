import type Database from 'better-sqlite3';
import { dirname } from 'node:path';
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
 */
export class SqliteMetadata implements Metadata {
  readonly backend = 'sqlite';
  private readonly queries: SqliteQueries;
  /** The queries, for the transaction that holds the connection. */
  private readonly inTransaction: MetadataQueries;
  /** Settles when everything queued so far has run; undefined when nothing is queued. */
  private tail: Promise<unknown> | undefined;
  private queued = 0;

  private constructor(private readonly db: Database.Database) {
    this.queries = new SqliteQueries(db);
    this.inTransaction = asynchronous(this.queries, (run) => Promise.resolve().then(run));
    // Every method of the interface, outside a transaction: at once when the connection is free.
    Object.assign(this, asynchronous(this.queries, (run) => this.exclusive(run)));
  }

  static open(path: string): SqliteMetadata {
    const db = openDatabase(path);
    try {
      db.pragma('foreign_keys = OFF');
      migrateSqlite(db, dirname(path));
    } catch (err) {
      db.close();
      throw err;
    }
    return new SqliteMetadata(db);
  }

  writeObject(object: NewObject, guard: WriteGuard): Promise<WriteOutcome> {
    return writeObjectInTransaction(this, object, guard);
  }

  transaction<T>(fn: (tx: MetadataQueries) => Promise<T>): Promise<T> {
    return this.exclusive(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await fn(this.inTransaction);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw err;
      }
    });
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
    this.db.close();
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
