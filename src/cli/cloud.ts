/**
 * What every object command shares: `oss://` and `s3://` URLs, ossutil's common options, the
 * config file (ossutil's INI format), environment variables, the client they make, and how a
 * command ends (ossutil's elapsed line, `Error: …` and exit 1, wrong usage: help and exit 2).
 *
 * Where a setting comes from, first found wins:
 *   1. the option (`-e`, `-i`, `-k`, `-t`, `--region`, `--sign-version`);
 *   2. `TESSERA_ENDPOINT`, `TESSERA_ACCESS_KEY_ID`, `TESSERA_ACCESS_KEY_SECRET`, `TESSERA_STS_TOKEN`,
 *      `TESSERA_REGION`, `TESSERA_SIGN_VERSION` (both dialects);
 *   3. the dialect's usual variables: `OSS_ENDPOINT`, `OSS_ACCESS_KEY_ID`, `OSS_ACCESS_KEY_SECRET`,
 *      `OSS_SESSION_TOKEN`, `OSS_REGION` for oss:// and `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`,
 *      `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` for s3://;
 *   4. the config file (`-c`, else `TESSERA_CONFIG_FILE`, else `~/.ossutilconfig`): for the
 *      endpoint, `[Bucket-Cname]` then `[Bucket-Endpoint]` for the bucket, then `[Credentials]`.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import ini from 'ini';
import { StorageClient } from '../client/client.js';
import { AbortError, IntegrityError, ServiceError } from '../client/errors.js';
import type { DialectName } from '../client/types.js';
import { elapsedLine } from './format.js';
import { nonNegativeInt } from './options.js';
import { retryNotice } from './retry-notice.js';

export interface CommonFlags {
  endpoint?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  stsToken?: string;
  configFile?: string;
  signVersion?: string;
  region?: string;
  forcePathStyle?: boolean;
  retryTimes?: number;
}

/** The dialect of the last client made: errors are worded `oss: …` or `s3: …` after it. */
let lastDialect: DialectName = 'oss';

export interface CloudUrl {
  dialect: DialectName;
  bucket: string;
  key: string;
}

/** Thrown for wrong usage: the command prints its help and exits 2. */
export class UsageError extends Error {}

/** `oss://bucket/key` or `s3://bucket/key`; undefined for a local path. */
export function parseCloudUrl(text: string): CloudUrl | undefined {
  const match = /^(oss|s3):\/\/([^/]*)(?:\/(.*))?$/is.exec(text);
  if (!match) return undefined;
  return { dialect: match[1]!.toLowerCase() as DialectName, bucket: match[2]!, key: match[3] ?? '' };
}

export function requireCloudUrl(text: string): CloudUrl {
  const url = parseCloudUrl(text);
  if (url === undefined) throw new UsageError(`invalid cloud url: ${text}, it must start with oss:// or s3://`);
  return url;
}

export function cloudUrlString(dialect: DialectName, bucket: string, key = ''): string {
  return key === '' ? `${dialect}://${bucket}` : `${dialect}://${bucket}/${key}`;
}

/** Adds ossutil's common options to a command. */
export function withCommonOptions(command: Command): Command {
  return command
    .option('-e, --endpoint <endpoint>', 'service endpoint, e.g. http://127.0.0.1:9000 (a bare host means http)')
    .option('-i, --access-key-id <id>', 'access key id')
    .option('-k, --access-key-secret <secret>', 'access key secret')
    .option('-t, --sts-token <token>', 'STS security token')
    .option('-c, --config-file <file>', 'config file (default ~/.ossutilconfig)')
    .addOption(new Option('--sign-version <version>', 'OSS signature version').choices(['v1', 'v4']))
    .option('--region <region>', 'signing region (S3: us-east-1 by default; OSS V4: e.g. cn-hangzhou)')
    .option('--force-path-style', 'address buckets as /bucket/key rather than bucket.host/key')
    .option('--retry-times <n>', 'retries after a network error or a 5xx answer', nonNegativeInt, 10);
}

interface ConfigFile {
  endpoint?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  stsToken?: string;
  bucketEndpoints: Record<string, string>;
  bucketCnames: Record<string, string>;
  retryTimes?: number;
}

export function defaultConfigPath(): string {
  return process.env.TESSERA_CONFIG_FILE || join(homedir(), '.ossutilconfig');
}

function sectionOf(parsed: Record<string, unknown>, name: string): Record<string, string> {
  const section = parsed[name];
  const out: Record<string, string> = {};
  if (typeof section === 'object' && section !== null) {
    for (const [key, value] of Object.entries(section)) if (typeof value === 'string') out[key] = value;
  }
  return out;
}

/** ossutil's INI config; an absent default file is an empty config, an absent named one an error. */
export function readConfigFile(path: string | undefined): ConfigFile {
  const file = path ?? defaultConfigPath();
  let textContent: string;
  try {
    textContent = readFileSync(file, 'utf8');
  } catch (err) {
    if (path === undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') return { bucketEndpoints: {}, bucketCnames: {} };
    throw new Error(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  const parsed = ini.parse(textContent) as Record<string, unknown>;
  const credentials = sectionOf(parsed, 'Credentials');
  const defaults = sectionOf(parsed, 'Default');
  const retry = defaults.retryTimes !== undefined && /^\d+$/.test(defaults.retryTimes) ? Number(defaults.retryTimes) : undefined;
  return {
    endpoint: credentials.endpoint || undefined,
    accessKeyId: credentials.accessKeyID || credentials.accessKeyId || undefined,
    accessKeySecret: credentials.accessKeySecret || undefined,
    stsToken: credentials.stsToken || undefined,
    bucketEndpoints: sectionOf(parsed, 'Bucket-Endpoint'),
    bucketCnames: sectionOf(parsed, 'Bucket-Cname'),
    retryTimes: retry,
  };
}

function env(...names: string[]): string | undefined {
  for (const name of names) {
    const value = process.env[name];
    if (value !== undefined && value !== '') return value;
  }
  return undefined;
}

/** Where and as whom a command connects, from options, environment and config file. */
export interface Connection {
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  region?: string;
  bucketEndpoints: Record<string, string>;
  bucketCnames: Record<string, string>;
  retryTimes?: number;
}

/** The endpoint and credentials for a dialect (and, for the endpoint, a bucket). */
export function resolveConnection(dialect: DialectName, flags: CommonFlags, bucket?: string): Connection {
  const config = readConfigFile(flags.configFile);
  const dialectEnv = dialect === 'oss' ? 'OSS' : 'AWS';
  let endpoint = flags.endpoint ?? env('TESSERA_ENDPOINT', dialect === 'oss' ? 'OSS_ENDPOINT' : 'AWS_ENDPOINT_URL');
  const bucketCnames: Record<string, string> = {};
  const bucketEndpoints: Record<string, string> = {};
  if (endpoint === undefined) {
    // The option and the environment name one endpoint for every bucket; the file may name one per bucket.
    Object.assign(bucketCnames, config.bucketCnames);
    Object.assign(bucketEndpoints, config.bucketEndpoints);
    endpoint = config.endpoint;
    if (endpoint === undefined && bucket !== undefined) endpoint = config.bucketEndpoints[bucket] ?? config.bucketCnames[bucket];
  }
  if (endpoint === undefined) {
    throw new Error('no endpoint: give -e/--endpoint, set TESSERA_ENDPOINT, or write a config file with `tessera config`');
  }
  const accessKeyId = flags.accessKeyId ?? env('TESSERA_ACCESS_KEY_ID', `${dialectEnv}_ACCESS_KEY_ID`) ?? config.accessKeyId;
  const secretAccessKey =
    flags.accessKeySecret ?? env('TESSERA_ACCESS_KEY_SECRET', dialect === 'oss' ? 'OSS_ACCESS_KEY_SECRET' : 'AWS_SECRET_ACCESS_KEY') ?? config.accessKeySecret;
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new Error('no credentials: give -i and -k, set TESSERA_ACCESS_KEY_ID and TESSERA_ACCESS_KEY_SECRET, or write a config file with `tessera config`');
  }
  const sessionToken = flags.stsToken ?? env('TESSERA_STS_TOKEN', `${dialectEnv}_SESSION_TOKEN`) ?? config.stsToken;
  return {
    endpoint,
    credentials: { accessKeyId, secretAccessKey, sessionToken },
    region: flags.region ?? env('TESSERA_REGION', `${dialectEnv}_REGION`),
    bucketEndpoints,
    bucketCnames,
    retryTimes: flags.retryTimes ?? config.retryTimes,
  };
}

/** The client for a dialect (and, for the endpoint, a bucket), from options, environment and config file. */
export function makeClient(dialect: DialectName, flags: CommonFlags, bucket?: string): StorageClient {
  lastDialect = dialect;
  const connection = resolveConnection(dialect, flags, bucket);
  // --retry-times counts retries, as its help says: 10 means up to 11 attempts.
  const maxRetries = connection.retryTimes ?? 10;
  const signVersion = (flags.signVersion ?? env('TESSERA_SIGN_VERSION')) as 'v1' | 'v4' | undefined;
  if (signVersion !== undefined && signVersion !== 'v1' && signVersion !== 'v4') throw new UsageError(`invalid sign version: ${signVersion}, v1 or v4`);
  return new StorageClient({
    dialect,
    endpoint: connection.endpoint,
    credentials: connection.credentials,
    region: connection.region,
    signVersion,
    forcePathStyle: flags.forcePathStyle,
    bucketEndpoints: connection.bucketEndpoints,
    bucketCnames: connection.bucketCnames,
    retry: { maxRetries },
    onRetry: retryNotice(maxRetries),
    userAgent: 'tessera-cli/0.1',
  });
}

/** ossutil's message for an error. */
export function describeError(err: unknown, dialect: DialectName = 'oss'): string {
  if (err instanceof ServiceError) return err.describe(dialect);
  if (err instanceof AbortError) return 'the operation was cancelled';
  if (err instanceof IntegrityError) return `integrity check failed: ${err.message}`;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const message = err instanceof Error ? err.message : String(err);
  return code && !message.includes(code) ? `${message} (${code})` : message;
}

/**
 * Leaves once everything written has reached stdout and stderr: a pipe takes what fits and the
 * rest waits in a queue that process.exit() would throw away.
 */
export async function exit(code: number): Promise<never> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(code);
}

export function out(text: string): void {
  process.stdout.write(text);
}

/**
 * Wraps a command's action: prints ossutil's elapsed line after success (unless the command
 * asks not to), `Error: …` with exit 1 on failure, and the command's help with exit 2 on wrong usage.
 */
export function runner(handler: (command: Command) => Promise<{ elapsed?: boolean; exitCode?: number } | void>) {
  return async (...args: unknown[]): Promise<void> => {
    // A reader that went away (`| head`) ends the command quietly, as SIGPIPE ends ossutil.
    process.stdout.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(141);
      throw err;
    });
    const command = args[args.length - 1] as Command;
    const started = process.hrtime.bigint();
    try {
      const result = await handler(command);
      if (result?.elapsed !== false) out(elapsedLine(started));
      await exit(result?.exitCode ?? 0);
    } catch (err) {
      if (err instanceof UsageError) {
        process.stderr.write(`Error: ${err.message}\n\n`);
        command.outputHelp({ error: true });
        await exit(2);
      }
      process.stderr.write(`Error: ${describeError(err, lastDialect)}\n`);
      await exit(1);
    }
  };
}
