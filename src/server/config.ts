import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { DEFAULT_CLUSTER_TIMINGS, type ClusterTimings } from '../core/coordination.js';
import { DEFAULT_RELOAD_INTERVAL_MS } from '../core/identities.js';
import { DEFAULT_RECLAIM_AFTER_MS, DEFAULT_STAGING_BUDGET_BYTES } from '../core/slot-pool.js';
import type { User } from '../core/users.js';
import { DEFAULT_SLOW_CLIENT_LIMITS, type SlowClientLimits } from './slow-clients.js';
import { parsePanConfig, type PanConfig } from '../dialects/pan/config.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

export interface ServerConfig {
  dataDir: string;
  host: string;
  port: number;
  logLevel: LogLevel;
  /** Virtual-host style: `bucket.<domain>` names the bucket. */
  domain?: string;
  region: string;
  minPartSize: number;
  uploadExpiryMs: number;
  sweepIntervalMs: number;
  /** A lifecycle rule's day (shorter only for tests). */
  lifecycleDayMs: number;
  /** Worker threads hashing large bodies; 0 hashes on the event loop. */
  hashThreads: number;
  /** Write large bodies with O_DIRECT where the filesystem takes it. */
  directIo: boolean;
  /** The most memory the staging slots may hold, in bytes (`stagingMemoryMiB`, TESSERA_STAGING_MEMORY_MIB; default 32 MiB). */
  stagingBudgetBytes: number;
  /**
   * While bodies wait for a staging slot, a slot whose body has brought nothing for this long is written
   * out and given back (TESSERA_STAGING_RECLAIM_MS, environment only; default 1 s).
   */
  stagingReclaimAfterMs: number;
  /**
   * Accept SSE-C keys over plain HTTP (AWS refuses them: the key would cross the network in the
   * clear). For tests and for a TLS-terminating proxy in front; off by default.
   */
  allowInsecureSseC: boolean;
  /** Users from the config file; root is added from the environment or the data directory. */
  users: Array<Omit<User, 'root'>>;
  /** The 123pan dialect: apps, limits, and its own listener (`--pan-address`). */
  pan: PanConfig;
  /**
   * Cluster mode: metadata in this PostgreSQL database (`postgres://USER:PASS@HOST:PORT/DB`) instead of
   * SQLite in the data directory, so several nodes can share it (and one data directory for the bytes).
   */
  metadataUrl?: string;
  /**
   * Cluster mode: how long a node's lease lasts, how long after it ran out a node is gone, how often
   * gone nodes' temp files are looked for. Environment only (TESSERA_NODE_LEASE_MS,
   * TESSERA_GONE_NODE_GRACE_MS, TESSERA_TEMP_SWEEP_INTERVAL_MS): knobs for tests and operations.
   */
  cluster: ClusterTimings;
  /**
   * Cluster mode: how often a node reads every user and key again, besides when another node
   * announces a change (TESSERA_IDENTITY_RELOAD_MS, default 5 s): the safety net for a lost notification.
   */
  identityReloadMs: number;
  /** Slow and greedy clients: how long a body may bring nothing, how many connections one address may hold. */
  slowClients: SlowClientLimits;
  /** HTTPS on the listeners (`--tls-cert`/`--tls-key`): PEM files, read at start and again on SIGHUP. */
  tls?: TlsFiles;
  /**
   * The bearer token `/-/metrics` asks for (TESSERA_METRICS_TOKEN, or `metricsToken` in the config
   * file); unset, the metrics are open, as `/-/health` is. A secret: never logged.
   */
  metricsToken?: string;
  /** The background scrub (core/scrub.ts): every this many ms (0: off, the default), reading at most scrubRateBytesPerSecond (0: no limit). */
  scrubIntervalMs: number;
  scrubRateBytesPerSecond: number;
  /** Check each plaintext blob a full GET sends against its recorded CRC32C, or MD5 for older blobs (default true; docs/reliability.md). */
  verifyGets: boolean;
}

/** The PEM files of the server's certificate (its chain after it) and private key. */
export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

/** What `tessera serve` takes on the command line; each overrides its environment variable. */
export interface ServeFlags {
  data?: string;
  address?: string;
  config?: string;
  logLevel?: string;
  domain?: string;
  panAddress?: string;
  metadata?: string;
  tlsCert?: string;
  tlsKey?: string;
}

interface ConfigFile {
  users?: Array<{ accessKey?: unknown; secretKey?: unknown; displayName?: unknown; id?: unknown }>;
  domain?: string;
  region?: string;
  minPartSize?: number;
  uploadExpirySeconds?: number;
  sweepIntervalSeconds?: number;
  lifecycleDaySeconds?: number;
  hashThreads?: number;
  directIo?: boolean;
  stagingMemoryMiB?: number;
  allowInsecureSseC?: boolean;
  logLevel?: string;
  panAddress?: string;
  metadata?: unknown;
  bodyIdleTimeoutSeconds?: number;
  maxConnectionsPerAddress?: number;
  tlsCert?: unknown;
  tlsKey?: unknown;
  metricsToken?: unknown;
  scrubIntervalHours?: number;
  scrubRateMBps?: number;
  verifyGets?: boolean;
}

const LOG_LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent'];
const DAY_MS = 24 * 60 * 60 * 1000;

export function parseAddress(address: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(address);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) throw new Error(`invalid address "${address}": expected HOST:PORT`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

export async function loadConfig(flags: ServeFlags, env: NodeJS.ProcessEnv = process.env): Promise<ServerConfig> {
  const configPath = flags.config ?? env.TESSERA_CONFIG;
  const file: ConfigFile = configPath ? parseConfigFile(await readFile(configPath, 'utf8'), configPath) : {};
  const { host, port } = parseAddress(flags.address ?? env.TESSERA_ADDRESS ?? '127.0.0.1:9000');
  const logLevel = (flags.logLevel ?? env.TESSERA_LOG_LEVEL ?? file.logLevel ?? 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) throw new Error(`invalid log level "${logLevel}": one of ${LOG_LEVELS.join(', ')}`);
  const panAddress = flags.panAddress ?? env.TESSERA_PAN_ADDRESS ?? file.panAddress;
  return {
    dataDir: resolve(flags.data ?? env.TESSERA_DATA ?? './data'),
    host,
    port,
    logLevel,
    domain: flags.domain ?? env.TESSERA_DOMAIN ?? file.domain,
    region: file.region ?? 'us-east-1',
    minPartSize: positive(file.minPartSize, 'minPartSize') ?? 5 * 1024 * 1024,
    uploadExpiryMs: (positive(file.uploadExpirySeconds, 'uploadExpirySeconds') ?? 7 * DAY_MS / 1000) * 1000,
    sweepIntervalMs: (positive(file.sweepIntervalSeconds, 'sweepIntervalSeconds') ?? 3600) * 1000,
    lifecycleDayMs: (positive(file.lifecycleDaySeconds, 'lifecycleDaySeconds') ?? DAY_MS / 1000) * 1000,
    hashThreads: threadCount(env.TESSERA_HASH_THREADS ?? file.hashThreads, 'hashThreads') ?? Math.min(4, availableParallelism()),
    directIo: flag(envFlag(env.TESSERA_DIRECT_IO) ?? file.directIo, 'directIo') ?? false,
    stagingBudgetBytes: (stagingMiB(env.TESSERA_STAGING_MEMORY_MIB ?? file.stagingMemoryMiB) ?? DEFAULT_STAGING_BUDGET_BYTES / MiB) * MiB,
    stagingReclaimAfterMs: milliseconds(env.TESSERA_STAGING_RECLAIM_MS, 'TESSERA_STAGING_RECLAIM_MS') ?? DEFAULT_RECLAIM_AFTER_MS,
    allowInsecureSseC: flag(envFlag(env.TESSERA_ALLOW_INSECURE_SSE_C) ?? file.allowInsecureSseC, 'allowInsecureSseC') ?? false,
    users: (file.users ?? []).map((user, index) => {
      const field = (name: 'accessKey' | 'secretKey' | 'displayName' | 'id', fallback?: string): string => {
        const value = user[name] ?? fallback;
        if (typeof value !== 'string' || value === '') throw new Error(`${configPath}: users[${index}].${name} must be a non-empty string`);
        return value;
      };
      const accessKey = field('accessKey');
      return { accessKey, secretKey: field('secretKey'), id: field('id', accessKey), displayName: field('displayName', accessKey) };
    }),
    pan: parsePanConfig(file as Record<string, unknown>, panAddress ? parseAddress(panAddress) : undefined),
    metadataUrl: metadataUrl(flags.metadata ?? env.TESSERA_METADATA ?? file.metadata),
    cluster: {
      nodeLeaseMs: milliseconds(env.TESSERA_NODE_LEASE_MS, 'TESSERA_NODE_LEASE_MS') ?? DEFAULT_CLUSTER_TIMINGS.nodeLeaseMs,
      goneNodeGraceMs: milliseconds(env.TESSERA_GONE_NODE_GRACE_MS, 'TESSERA_GONE_NODE_GRACE_MS') ?? DEFAULT_CLUSTER_TIMINGS.goneNodeGraceMs,
      tempSweepIntervalMs:
        milliseconds(env.TESSERA_TEMP_SWEEP_INTERVAL_MS, 'TESSERA_TEMP_SWEEP_INTERVAL_MS') ?? DEFAULT_CLUSTER_TIMINGS.tempSweepIntervalMs,
    },
    identityReloadMs: milliseconds(env.TESSERA_IDENTITY_RELOAD_MS, 'TESSERA_IDENTITY_RELOAD_MS') ?? DEFAULT_RELOAD_INTERVAL_MS,
    slowClients: {
      bodyIdleTimeoutMs:
        (wholeOrZero(env.TESSERA_BODY_IDLE_TIMEOUT_SECONDS ?? file.bodyIdleTimeoutSeconds, 'bodyIdleTimeoutSeconds', 86_400) ??
          DEFAULT_SLOW_CLIENT_LIMITS.bodyIdleTimeoutMs / 1000) * 1000,
      maxConnectionsPerAddress:
        wholeOrZero(env.TESSERA_MAX_CONNECTIONS_PER_ADDRESS ?? file.maxConnectionsPerAddress, 'maxConnectionsPerAddress', 1_000_000) ??
        DEFAULT_SLOW_CLIENT_LIMITS.maxConnectionsPerAddress,
    },
    tls: tlsFiles(flags.tlsCert ?? env.TESSERA_TLS_CERT ?? file.tlsCert, flags.tlsKey ?? env.TESSERA_TLS_KEY ?? file.tlsKey),
    metricsToken: metricsToken(env.TESSERA_METRICS_TOKEN ?? file.metricsToken),
    scrubIntervalMs: Math.round((nonNegative(file.scrubIntervalHours, 'scrubIntervalHours') ?? 0) * 60 * 60 * 1000),
    scrubRateBytesPerSecond: Math.round((nonNegative(file.scrubRateMBps, 'scrubRateMBps') ?? 0) * 1024 * 1024),
    verifyGets: flag(file.verifyGets, 'verifyGets') ?? true,
  };
}

/** Both files or neither: a certificate without its key (or the reverse) cannot serve HTTPS. */
function tlsFiles(cert: unknown, key: unknown): TlsFiles | undefined {
  if (cert === undefined && key === undefined) return undefined;
  for (const [value, name] of [[cert, 'tlsCert'], [key, 'tlsKey']] as const) {
    if (value !== undefined && (typeof value !== 'string' || value === '')) throw new Error(`config: ${name} must be a file name`);
  }
  if (key === undefined) throw new Error('a TLS certificate was given (--tls-cert, TESSERA_TLS_CERT or tlsCert) but no private key: add --tls-key FILE (TESSERA_TLS_KEY, config tlsKey)');
  if (cert === undefined) throw new Error('a TLS private key was given (--tls-key, TESSERA_TLS_KEY or tlsKey) but no certificate: add --tls-cert FILE (TESSERA_TLS_CERT, config tlsCert)');
  return { certFile: resolve(cert as string), keyFile: resolve(key as string) };
}

const POSTGRES_FORM = 'expected postgres://USER:PASS@HOST:PORT/DB (or postgresql://)';
const METADATA_FORM = `${POSTGRES_FORM}, or no metadata setting for SQLite in the data directory`;

/**
 * The PostgreSQL URL of cluster mode. Refused unless it is one: a typo must not start a node on a
 * private SQLite file beside nodes that share a database.
 */
function metadataUrl(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return postgresUrl(value, 'metadata', METADATA_FORM);
}

/** `value` if it is a PostgreSQL URL; otherwise an error about `setting`, which never repeats the URL (it may hold a password). */
export function postgresUrl(value: unknown, setting: string, form = POSTGRES_FORM): string {
  if (typeof value !== 'string' || value.trim() === '') throw new Error(`${setting}: must be a non-empty string; ${form}`);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`${setting}: not a URL; ${form}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`${setting}: the scheme "${url.protocol.slice(0, -1)}" is not PostgreSQL's; ${form}`);
  }
  // `postgres:db` parses as a URL too, with no authority: a PostgreSQL client would read it otherwise.
  if (!/^postgres(?:ql)?:\/\//i.test(value)) throw new Error(`${setting}: not a URL; ${form}`);
  return value;
}

function parseConfigFile(text: string, path: string): ConfigFile {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as ConfigFile;
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

/** A bearer token: visible ASCII without spaces (RFC 6750's b64token is narrower still), never repeated in the error. */
function metricsToken(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[\x21-\x7e]{1,1024}$/.test(value)) {
    throw new Error('metricsToken (TESSERA_METRICS_TOKEN): must be 1 to 1024 visible ASCII characters, no spaces');
  }
  return value;
}

function positive(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value > 0)) throw new Error(`config: ${name} must be a positive number`);
  return value;
}

function nonNegative(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) throw new Error(`config: ${name} must be a number, 0 or more`);
  return value;
}

/** An environment variable meant as a boolean: `1`/`true` or `0`/`false`; anything else is passed on to be refused. */
function envFlag(value: string | undefined): unknown {
  if (value === undefined) return undefined;
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  return value;
}

function flag(value: unknown, name: string): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  throw new Error(`config: ${name} must be true or false`);
}

/** A duration in whole milliseconds from the environment (at least 1). */
function milliseconds(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(ms >= 1 && ms <= 2 ** 31 - 1)) throw new Error(`${name} must be a whole number of milliseconds from 1 to ${2 ** 31 - 1}`);
  return ms;
}

/** A whole number from 0 (off) to `max`, from the config file or (as text) the environment. */
function wholeOrZero(value: unknown, name: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isInteger(number) || number < 0 || number > max) {
    throw new Error(`config: ${name} must be a whole number from 0 (off) to ${max}`);
  }
  return number;
}

const MiB = 1024 * 1024;

/** The staging budget in MiB: whole arenas of 16 MiB, from 16 to 65536 (64 GiB). */
function stagingMiB(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const mib = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof mib !== 'number' || !Number.isInteger(mib) || mib < 16 || mib > 65536 || mib % 16 !== 0) {
    throw new Error('config: stagingMemoryMiB must be a whole number of MiB, a multiple of 16 from 16 to 65536');
  }
  return mib;
}

function threadCount(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined;
  const count = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > 64) {
    throw new Error(`config: ${name} must be a whole number from 0 to 64`);
  }
  return count;
}
