import pg from 'pg';
import { errors, ServiceError } from '../errors.js';
import { ChangeListener } from './postgres-listener.js';
import { IDENTITY_CHANNEL } from './postgres-identities.js';
import { migrate, SchemaTooNewError } from './postgres-schema.js';
import { PostgresQueries, type QueryRunner } from './postgres-queries.js';
import { isStalePlan, PreparedStatements } from './postgres-statements.js';
import { toObject, type ObjectRow } from './rows.js';
import type { Metadata, MetadataQueries, NewObject, PoolStats, StoredObject, WriteGuard, WriteOutcome } from './types.js';
import { writeObjectInTransaction } from './write-object.js';

export interface PostgresOptions {
  /** Connections in the pool (default 10). */
  poolSize?: number;
  /** How long to wait for a connection before a query fails as ServiceUnavailable (default 10 s). */
  connectTimeoutMs?: number;
  /** Told of errors on idle connections (the database went away); the pool replaces them itself. */
  onConnectionError?: (err: Error) => void;
  /**
   * The longest a statement may run, or wait for a lock, before PostgreSQL cancels it and the
   * request is answered ServiceUnavailable (default 30 s): a stuck transaction elsewhere must not
   * hang requests for ever. A transaction left idle this long is ended too.
   */
  statementTimeoutMs?: number;
}

/** Cancellations PostgreSQL reports for a statement that ran past its time. */
const TIMED_OUT = new Set([
  '57014', // query_canceled: statement_timeout
  '55P03', // lock_not_available: lock_timeout
  '25P03', // idle_in_transaction_session_timeout
]);

/** Attempts of a transaction that keeps losing serialization races before it gives up. */
const MAX_ATTEMPTS = 10;
/** How often a rate-window count also forgets old windows, and how old they must be. */
const RATE_WINDOW_PRUNE_EVERY_MS = 60_000;
const RATE_WINDOW_KEEP_MS = 10 * 60_000;

/** The URL with its password (in the user info or a `password=` parameter) replaced by `***`. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    if (parsed.searchParams.has('password')) parsed.searchParams.set('password', '***');
    return parsed.toString().replace('password=%2A%2A%2A', 'password=***');
  } catch {
    // Not a WHATWG URL (e.g. a socket path as host): mask by shape.
    return url.replace(/^([a-z]+:\/\/[^:@/]*):[^@]*@/i, '$1:***@').replace(/(password=)[^&\s]*/gi, '$1***');
  }
}

/** SQLSTATEs of a transaction that lost a race: running it again may well succeed. */
const RETRYABLE = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '23505', // unique_violation: under SERIALIZABLE a race on a key can surface as one
  '23503', // foreign_key_violation: an object written while its bucket was being deleted
]);

/** Node's socket errors and PostgreSQL's "connection is gone" conditions. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, shutting down)
  '53300', // too_many_connections
]);
const CONNECTION_MESSAGES = /Connection terminated|connection error and is not queryable|timeout exceeded when trying to connect/;

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Whether `err` says the database cannot be reached (as opposed to a query it refused). */
export function isConnectionError(err: unknown): boolean {
  const code = sqlState(err);
  if (code !== undefined && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  return err instanceof Error && CONNECTION_MESSAGES.test(err.message);
}

/**
 * A lost database, or a statement that ran out of time, becomes the 503 every dialect renders; a
 * string PostgreSQL cannot hold (U+0000, SQLSTATE 22021) is the client's mistake; other errors
 * pass unchanged.
 */
function translate(err: unknown): unknown {
  if (TIMED_OUT.has(sqlState(err) ?? '')) {
    const unavailable = errors.serviceUnavailable();
    unavailable.cause = err;
    return unavailable;
  }
  if (sqlState(err) === '22021') {
    const refused = new ServiceError('InvalidArgument', 'A name or marker in the request contains a character no name can hold (NUL).', 400);
    refused.cause = err;
    return refused;
  }
  if (!isConnectionError(err)) return err;
  const unavailable = errors.serviceUnavailable();
  unavailable.cause = err;
  return unavailable;
}

const int8 = (value: string) => Number(value);

/** BIGINT reads as a JS number (ids, sizes and ms timestamps stay below 2^53), for this pool only. */
const TYPES: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 && format !== 'binary' ? int8 : pg.types.getTypeParser(oid, format)) as pg.CustomTypesConfig['getTypeParser'],
};

/** A top-level query, in autocommit on any pooled connection; once more when its prepared statement went stale. */
async function onPool<T>(statements: PreparedStatements, query: () => Promise<T>): Promise<T> {
  try {
    return await query();
  } catch (err) {
    if (!isStalePlan(err)) throw translate(err);
    statements.renew();
    try {
      return await query();
    } catch (again) {
      throw translate(again);
    }
  }
}

/** The queries of one transaction, on its client; `atomic` is the transaction itself. */
class TransactionQueries extends PostgresQueries {
  protected override atomic<T>(fn: (queries: PostgresQueries) => Promise<T>): Promise<T> {
    return fn(this);
  }
}

/** One attempt's client: remembers a failed statement, because PostgreSQL then aborts the whole transaction. */
class TransactionRunner implements QueryRunner {
  failure: unknown;
  finished = false;

  constructor(
    private readonly client: pg.PoolClient,
    private readonly statements: PreparedStatements,
  ) {}

  query<R extends pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    return this.run(() => this.client.query<R>(this.statements.query(sql, params)));
  }

  async queryArrays(sql: string, params?: unknown[]): Promise<unknown[][]> {
    return (await this.run(() => this.client.query<unknown[]>(this.statements.query(sql, params, 'array') as pg.QueryArrayConfig))).rows;
  }

  private async run<T>(query: () => Promise<T>): Promise<T> {
    if (this.finished) throw new Error('metadata transaction already ended: a query ran after its function returned');
    try {
      return await query();
    } catch (err) {
      this.failure ??= err;
      throw translate(err);
    }
  }
}

/**
 * The metadata in PostgreSQL, shared by every node of a cluster. Top-level calls run on the pool
 * in autocommit; `transaction` runs SERIALIZABLE on one client and runs again when it loses a
 * race. A database that goes away answers ServiceUnavailable until it is back; the pool then
 * connects again by itself.
 */
export class PostgresMetadata extends PostgresQueries implements Metadata {
  readonly backend = 'postgres' as const;
  private lastPrune = 0;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly url: string,
    private readonly statements = new PreparedStatements(),
  ) {
    super({
      query: <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) =>
        onPool(statements, () => pool.query<R>(statements.query(sql, params))),
      queryArrays: async (sql: string, params?: unknown[]) =>
        (await onPool(statements, () => pool.query<unknown[]>(statements.query(sql, params, 'array') as pg.QueryArrayConfig))).rows,
    });
  }

  static async open(url: string, options: PostgresOptions = {}): Promise<PostgresMetadata> {
    const timeout = options.statementTimeoutMs ?? 30_000;
    const size = options.poolSize ?? 10;
    const pool = new pg.Pool({
      connectionString: url,
      max: size,
      // A fixed pool: connections stay open while idle. Closing them after the driver's default
      // 10 idle seconds made the first requests after every pause connect again, and a new
      // connection costs PostgreSQL about 8 ms of CPU to start and 10 more to load its catalog
      // caches and plan its first statements (measured: 10 connections, 160-190 ms).
      idleTimeoutMillis: 0,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 10_000,
      // TCP keepalive probes after 30 idle seconds rather than the system's 2 hours: a connection
      // kept idle must not be forgotten by a firewall or NAT between node and database (and one
      // that breaks is noticed and replaced while idle, not by the next request).
      keepAlive: true,
      keepAliveInitialDelayMillis: 30_000,
      application_name: 'tessera',
      types: TYPES,
      statement_timeout: timeout,
      idle_in_transaction_session_timeout: timeout,
    });
    // An idle connection whose server went away: the pool has dropped it already; without this
    // listener the 'error' event would end the process.
    pool.on('error', (err) => options.onConnectionError?.(err));
    try {
      const client = await pool.connect();
      try {
        await migrate(client);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      if (err instanceof SchemaTooNewError) throw err;
      const cause = err instanceof Error ? err.message : String(err);
      throw new Error(`cannot open the metadata database ${maskUrl(url)}: ${cause}`, { cause: err });
    }
    // The whole pool opened now, as the SQLite file is opened at start, rather than by the first
    // requests, which then waited for it. Best effort: a connection that fails to open now is
    // opened again when a request needs it.
    const opened = await Promise.allSettled(Array.from({ length: size }, () => pool.connect()));
    for (const result of opened) if (result.status === 'fulfilled') result.value.release();
    return new PostgresMetadata(pool, url);
  }

  protected override atomic<T>(fn: (queries: PostgresQueries) => Promise<T>): Promise<T> {
    return this.runTransaction(fn);
  }

  transaction<T>(fn: (tx: MetadataQueries) => Promise<T>): Promise<T> {
    return this.runTransaction(fn);
  }

  /**
   * A new key (the common PUT) is one autocommit statement, a round trip instead of the four of
   * BEGIN, bucket check, insert, COMMIT; a replacement, or a race the statement lost, goes the
   * transactional way.
   */
  async writeObject(object: NewObject, guard: WriteGuard): Promise<WriteOutcome> {
    try {
      const { bucketOwner, row, versioned, accessStamp } = await this.insertNewGuarded(object, guard.owner, guard.accessStamp);
      if (row) return { stored: toObject(row), released: [] };
      if (bucketOwner === undefined) return { refused: 'no-bucket' };
      if (guard.owner !== undefined && bucketOwner !== guard.owner) return { refused: 'not-owner' };
      if (guard.accessStamp !== undefined && accessStamp !== guard.accessStamp) return { refused: 'access-changed' };
      // A versioned bucket's write was left to the transaction: the key may well be free.
      if (guard.ifAbsent && !versioned) return { refused: 'exists' };
    } catch (err) {
      // The bucket went away under the statement (23503), or a SERIALIZABLE transaction it
      // raced lost (40001 is reported to that one; this statement may see 40P01 or 23505).
      if (!RETRYABLE.has(sqlState((err as { cause?: unknown }).cause ?? err) ?? '')) throw err;
    }
    return writeObjectInTransaction(this, object, guard);
  }

  private async runTransaction<T>(fn: (tx: PostgresQueries) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: pg.PoolClient;
      try {
        client = await this.pool.connect();
      } catch (err) {
        throw translate(err);
      }
      // A connection that drops while checked out emits 'error' on the client: the failing
      // query reports it; this listener only keeps the event from ending the process.
      const onClientError = () => undefined;
      client.on('error', onClientError);
      const runner = new TransactionRunner(client, this.statements);
      let broken: unknown;
      try {
        await runner.query('BEGIN ISOLATION LEVEL SERIALIZABLE');
        const result = await fn(new TransactionQueries(runner));
        // A statement failed and fn went on regardless: COMMIT would quietly roll back.
        if (runner.failure !== undefined) throw runner.failure;
        await runner.query('COMMIT');
        return result;
      } catch (err) {
        // What the driver reported for a failed statement (fn sees it translated, and may have
        // wrapped it): a lost connection or a lost race decides, whatever fn threw.
        const failure = runner.failure;
        if (isConnectionError(failure)) {
          broken = failure;
          throw translate(failure);
        }
        await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
        const code = sqlState(failure);
        // A statement prepared before a newer node changed its table: prepare them all again, and retry.
        const stale = isStalePlan(failure);
        if (stale) this.statements.renew();
        if (!stale && (code === undefined || !RETRYABLE.has(code))) throw err;
        if (attempt >= MAX_ATTEMPTS) {
          // A key that is still taken after every retry was never a race: the caller's mistake.
          if (code === '23505') throw err;
          // Still losing races after every retry: too much contention, so "try again later".
          const unavailable = errors.serviceUnavailable();
          unavailable.cause = failure;
          throw unavailable;
        }
      } finally {
        runner.finished = true;
        client.removeListener('error', onClientError);
        client.release(broken instanceof Error ? broken : broken === undefined ? undefined : new Error(String(broken)));
      }
      // Randomized, growing backoff so racing transactions do not collide again in step.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(100, 2 ** attempt)));
    }
  }

  override async countCall(window: string, now: Date): Promise<number> {
    const count = await super.countCall(window, now);
    if (now.getTime() - this.lastPrune >= RATE_WINDOW_PRUNE_EVERY_MS) {
      this.lastPrune = now.getTime();
      await this.pruneRateWindows(new Date(now.getTime() - RATE_WINDOW_KEEP_MS));
    }
    return count;
  }

  async announceIdentityChange(): Promise<void> {
    await this.runner.query('SELECT pg_notify($1, $2)', [IDENTITY_CHANNEL, 'changed']);
  }

  watchIdentityChanges(onChange: () => void): { close(): Promise<void> } {
    return new ChangeListener(this.url, IDENTITY_CHANNEL, onChange);
  }

  poolStats(): PoolStats {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
