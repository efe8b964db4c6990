import { readFileSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineStats } from '../core/storage.js';
import type { PoolStats } from '../core/metadata/types.js';
import type { RequestRecord } from './http.js';
import type { Logger } from './logger.js';

/** Every metric's name starts with this. */
export const METRIC_PREFIX = 'tessera_';

/**
 * Request latency buckets, in seconds: 1 ms (a HEAD, a health check) to 5 min (a large part over a
 * slow link). Roughly 2.5x apart, so a p99 is read within a bucket's width at any scale.
 */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

/** How long the metadata store's totals are reused between scrapes: several scrapers (or a fast one) cost one query. */
export const TOTALS_TTL_MS = 5_000;

/** The longest a scrape waits for the metadata store's totals before it keeps the last values. */
export const TOTALS_TIMEOUT_MS = 3_000;

/**
 * The most operation names one dialect's requests are counted under. Operations come from the
 * dialects' route tables, but the 123pan dialect names an unknown endpoint by its path: past this
 * many, further names are counted as `other`, so that no client can grow the label sets unbounded.
 */
export const MAX_OPERATIONS_PER_DIALECT = 256;

/** A label value that is a name, not free text. */
const LABEL_VALUE = /^[A-Za-z0-9_./-]{1,64}$/;

/** What the metrics read when scraped: plain numbers from the engine and the metadata store. */
export interface MetricsSources {
  /** The data directory, whose filesystem holds the blobs (free space and size). */
  dataDir: string;
  /** Open multipart uploads and the parts and bytes they hold, from the metadata store. */
  uploadTotals(): Promise<{ uploads: number; parts: number; bytes: number }>;
  engineStats(): EngineStats;
  /** The metadata store's connection pool (PostgreSQL); undefined for SQLite. */
  poolStats(): PoolStats | undefined;
  backend: 'sqlite' | 'postgres';
  /** This node's id, in cluster mode. */
  nodeId?: string;
}

/**
 * The server's Prometheus metrics, in a registry of their own (not prom-client's global one):
 * requests as the access log records them, and gauges read when scraped.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'dialect' | 'operation' | 'status'>;
  private readonly latency: Histogram<'dialect' | 'operation'>;
  private readonly bytesIn: Counter<'dialect'>;
  private readonly bytesOut: Counter<'dialect'>;
  private readonly collectErrors: Counter<'source'>;
  private readonly operations = new Map<string, Set<string>>();
  private totals?: { at: number; value: Promise<{ uploads: number; parts: number; bytes: number }> };

  constructor(
    private readonly sources: MetricsSources,
    private readonly logger: Logger,
  ) {
    const registers = [this.registry];
    const name = (suffix: string) => METRIC_PREFIX + suffix;
    collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });

    this.requests = new Counter({
      name: name('http_requests_total'),
      help: 'Requests answered, by dialect, operation and HTTP status (0: the connection ended before a status was sent).',
      labelNames: ['dialect', 'operation', 'status'],
      registers,
    });
    this.latency = new Histogram({
      name: name('http_request_duration_seconds'),
      help: 'Time from a request\'s arrival to the end of its response, by dialect and operation.',
      labelNames: ['dialect', 'operation'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.bytesIn = new Counter({
      name: name('http_received_bytes_total'),
      help: 'Bytes read from clients (request lines, headers and bodies), by dialect.',
      labelNames: ['dialect'],
      registers,
    });
    this.bytesOut = new Counter({
      name: name('http_sent_bytes_total'),
      help: 'Bytes written to clients (status lines, headers and bodies), by dialect.',
      labelNames: ['dialect'],
      registers,
    });
    this.collectErrors = new Counter({
      name: name('metrics_collect_errors_total'),
      help: 'Scrapes that could not read a source (its gauges keep their last values), by source.',
      labelNames: ['source'],
      registers,
    });

    const info = new Gauge({
      name: name('node_info'),
      help: 'Always 1: the version, the metadata backend and (cluster mode) the node\'s id, as labels.',
      labelNames: sources.nodeId === undefined ? ['version', 'metadata'] : ['version', 'metadata', 'node_id'],
      registers,
    });
    info.set({ version: packageVersion(), metadata: sources.backend, ...(sources.nodeId === undefined ? {} : { node_id: sources.nodeId }) }, 1);

    this.uploadGauges(name, registers);
    this.diskGauges(name, registers);
    this.engineGauges(name, registers);
    if (sources.poolStats() !== undefined) this.poolGauges(name, registers);
  }

  /** Counts one finished request (the access log's record of it). */
  record(record: RequestRecord): void {
    // Called from a response's 'close' event: whatever goes wrong here must not reach the event loop.
    try {
      const dialect = labelValue(record.dialect, 'none');
      const operation = this.operationLabel(dialect, labelValue(record.operation, 'unknown'));
      this.requests.inc({ dialect, operation, status: String(record.status) });
      this.latency.observe({ dialect, operation }, record.durationMs / 1000);
      if (record.bytesIn > 0) this.bytesIn.inc({ dialect }, record.bytesIn);
      if (record.bytesOut > 0) this.bytesOut.inc({ dialect }, record.bytesOut);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'metrics: cannot record a request');
    }
  }

  /** The metrics in Prometheus's text format. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private operationLabel(dialect: string, operation: string): string {
    let seen = this.operations.get(dialect);
    if (!seen) this.operations.set(dialect, (seen = new Set()));
    if (seen.has(operation)) return operation;
    if (seen.size >= MAX_OPERATIONS_PER_DIALECT) return 'other';
    seen.add(operation);
    return operation;
  }

  /** The store's totals, as read at most TOTALS_TTL_MS ago (one query shared by the scrapes meanwhile). */
  private uploadTotals(): Promise<{ uploads: number; parts: number; bytes: number }> {
    const now = Date.now();
    if (!this.totals || now - this.totals.at >= TOTALS_TTL_MS) {
      // A database that does not answer must not hold the scrape past Prometheus's timeout (10 s by default).
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer in ${TOTALS_TIMEOUT_MS} ms`)), TOTALS_TIMEOUT_MS);
      });
      const value = Promise.race([this.sources.uploadTotals(), timeout]).finally(() => clearTimeout(timer));
      // A failed read is not kept: the next scrape asks again.
      value.catch(() => {
        if (this.totals?.value === value) this.totals = undefined;
      });
      this.totals = { at: now, value };
    }
    return this.totals.value;
  }

  /**
   * Gauges that share one asynchronous reading (a query, a statfs): each sets its value from it;
   * a failed reading keeps the last values and is counted and logged once, by the first gauge.
   */
  private readingGauges<T>(
    name: (suffix: string) => string,
    registers: Registry[],
    read: () => Promise<T>,
    failure: { source: string; message: string },
    gauges: Array<{ suffix: string; help: string; value: (reading: T) => number }>,
  ): void {
    gauges.forEach(({ suffix, help, value }, index) => {
      const metric: Gauge = new Gauge({
        name: name(suffix),
        help,
        registers,
        collect: async () => {
          try {
            metric.set(value(await read()));
          } catch (err) {
            if (index > 0) return;
            this.collectErrors.inc({ source: failure.source });
            this.logger.warn({ err: (err as Error).message }, failure.message);
          }
        },
      });
    });
  }

  private uploadGauges(name: (suffix: string) => string, registers: Registry[]): void {
    // Each gauge is collected on its own; the three read one cached query.
    this.readingGauges(name, registers, () => this.uploadTotals(), { source: 'metadata', message: 'metrics: cannot read the upload totals' }, [
      { suffix: 'multipart_uploads', help: 'Multipart uploads in progress (in the whole store: every node of a cluster reports the same).', value: (t) => t.uploads },
      { suffix: 'multipart_upload_parts', help: 'Parts stored for the multipart uploads in progress.', value: (t) => t.parts },
      { suffix: 'multipart_upload_bytes', help: 'Bytes of the parts stored for the multipart uploads in progress.', value: (t) => t.bytes },
    ]);
  }

  private diskGauges(name: (suffix: string) => string, registers: Registry[]): void {
    let disk: Promise<{ free: number; size: number }> | undefined;
    // The two gauges of one scrape share one statfs call.
    const read = () =>
      (disk ??= statfs(this.sources.dataDir)
        .then((stats) => ({ free: stats.bavail * stats.bsize, size: stats.blocks * stats.bsize }))
        .finally(() => setImmediate(() => (disk = undefined))));
    this.readingGauges(name, registers, read, { source: 'filesystem', message: "metrics: cannot read the data directory's filesystem" }, [
      { suffix: 'blob_store_free_bytes', help: "Bytes free for the server on the data directory's filesystem (statfs: blocks available to unprivileged users).", value: (d) => d.free },
      { suffix: 'blob_store_size_bytes', help: "Size of the data directory's filesystem in bytes.", value: (d) => d.size },
    ]);
  }

  private engineGauges(name: (suffix: string) => string, registers: Registry[]): void {
    const gauge = (suffix: string, help: string, value: (stats: EngineStats) => number) => {
      const metric: Gauge = new Gauge({ name: name(suffix), help, registers, collect: () => metric.set(value(this.sources.engineStats())) });
    };
    gauge('hash_pool_threads_max', 'The most hash worker threads the pool starts (0: bodies are hashed on the event loop).', (s) => s.hashPool?.size ?? 0);
    gauge('hash_pool_threads', 'Hash worker threads running (they start on demand).', (s) => s.hashPool?.threads ?? 0);
    gauge('hash_pool_busy_threads', 'Hash worker threads with at least one body to hash.', (s) => s.hashPool?.busy ?? 0);
    gauge('hash_pool_jobs', 'Large bodies being hashed on the worker threads.', (s) => s.hashPool?.jobs ?? 0);
    gauge('hash_pool_queued_slots', 'Slots (2 MiB each) posted to the hash workers and not yet hashed: the pool\'s queue.', (s) => s.hashPool?.queued ?? 0);
    gauge('staging_memory_bytes', 'Shared memory held by the slots bodies are staged through (grows with concurrent bodies up to the budget, shrinks when idle).', (s) => s.stagingMemoryBytes);
    gauge('staging_memory_budget_bytes', 'The most memory the staging slots may hold (stagingMemoryMiB): bodies past it wait, their sockets unread.', (s) => s.staging.budgetBytes);
    gauge('staging_memory_peak_bytes', 'The most memory the staging slots have held at once since the server started.', (s) => s.staging.peakBytes);
    gauge('staging_waiting_bodies', 'Request bodies waiting for a staging slot now (the staging budget is spent).', (s) => s.staging.waiting);
    const counter = (suffix: string, help: string, value: (stats: EngineStats) => number) => {
      let seen = 0;
      const metric: Counter = new Counter({
        name: name(suffix),
        help,
        registers,
        collect: () => {
          const now = value(this.sources.engineStats());
          if (now > seen) metric.inc(now - seen);
          seen = now;
        },
      });
    };
    counter('staging_waits_total', 'Request bodies that had to wait for a staging slot.', (s) => s.staging.waited);
    counter('staging_slots_reclaimed_total', 'Partly filled staging slots written out and given back because their clients paused while other bodies waited.', (s) => s.staging.reclaimed);
  }

  private poolGauges(name: (suffix: string) => string, registers: Registry[]): void {
    const gauge = (suffix: string, help: string, field: keyof PoolStats) => {
      const metric: Gauge = new Gauge({ name: name(suffix), help, registers, collect: () => metric.set(this.sources.poolStats()?.[field] ?? 0) });
    };
    gauge('metadata_pool_connections', 'PostgreSQL connections open in this node\'s pool.', 'total');
    gauge('metadata_pool_idle_connections', 'PostgreSQL connections open and idle in this node\'s pool.', 'idle');
    gauge('metadata_pool_waiting_clients', 'Queries and transactions waiting for a PostgreSQL connection from this node\'s pool.', 'waiting');
  }
}

function labelValue(value: string | undefined, fallback: string): string {
  if (value === undefined || value === '') return fallback;
  return LABEL_VALUE.test(value) ? value : 'other';
}

/** The version in package.json (two levels above dist/src/server, as published); `unknown` when unreadable. */
function packageVersion(): string {
  try {
    const parsed = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof parsed.version === 'string' ? parsed.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
