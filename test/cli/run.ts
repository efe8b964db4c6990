/** Shared by the CLI and client tests: run the built CLI, read the server's access log, make SDK clients. */
import { after, before } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StorageClient } from '../../src/client/client.js';
import { listAllParts } from '../../src/client/paging.js';
import type { DialectName } from '../../src/client/types.js';
import { CLI, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';

export const DIALECTS: DialectName[] = ['oss', 's3'];

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string | undefined>;
  input?: string;
  cwd?: string;
}

/** An environment without the host's credentials or config, so only what a test gives counts. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(TESSERA_|OSS_|AWS_)/.test(name)) env[name] = value;
  }
  env.TZ = 'UTC';
  env.HOME = '/nonexistent-tessera-home';
  for (const [name, value] of Object.entries(extra)) {
    if (value === undefined) delete env[name];
    else env[name] = value;
  }
  return env;
}

export function spawnCli(args: string[], options: CliOptions = {}): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], { env: cleanEnv(options.env), cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  const child = spawnCli(args, options);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `-e URL -i KEY -k SECRET` for the root user. */
export function creds(server: TestServer): string[] {
  return ['-e', server.url, '-i', ROOT_ACCESS_KEY, '-k', ROOT_SECRET_KEY];
}

/** A server with the access log on (info) and 100 KiB parts allowed in both dialects. */
export function startLoggingServer(): Promise<TestServer> {
  return startServer({ extraArgs: ['--log-level', 'info'], config: { minPartSize: 100 * 1024 } });
}

/** A logging server and a scratch directory for the file's tests, made before and removed after them. */
export function useServerAndWorkDir(prefix: string): { server: TestServer; work: string } {
  const env = {} as { server: TestServer; work: string };
  before(async () => {
    env.server = await startLoggingServer();
    env.work = await mkdtemp(join(tmpdir(), prefix));
  });
  after(async () => {
    await env.server?.cleanup();
    if (env.work) await rm(env.work, { recursive: true, force: true });
  });
  return env;
}

export interface AccessLine {
  method: string;
  path: string;
  dialect?: string;
  operation?: string;
  status: number;
  /** Bytes the server wrote on the connection for this request (headers and body). */
  bytesOut?: number;
}

/** The server's access log so far (one JSON line per request on stdout). */
export function accessLog(server: TestServer): AccessLine[] {
  return server
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as AccessLine & { msg?: string })
    .filter((line) => line.msg === 'request');
}

export function countOperation(server: TestServer, operation: string): number {
  return accessLog(server).filter((line) => line.operation === operation).length;
}

export function client(server: TestServer, dialect: DialectName, extra: Partial<ConstructorParameters<typeof StorageClient>[0]> = {}): StorageClient {
  return new StorageClient({
    dialect,
    endpoint: server.url,
    credentials: { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY },
    ...extra,
  });
}

export function md5Hex(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

export async function fileMd5(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The ETag as each dialect prints it: OSS upper-case hex, S3 lower-case, both quoted. */
export function quotedEtag(dialect: DialectName, md5: string): string {
  return `"${dialect === 'oss' ? md5.toUpperCase() : md5}"`;
}

/** Every UploadPart against a bucket/key so far, in order. */
export function uploadPartLines(server: TestServer, bucket: string, key: string): AccessLine[] {
  return accessLog(server).filter((line) => line.operation === 'UploadPart' && line.path === `/${bucket}/${key}`);
}

/** Waits until `check` holds, polling; fails after `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * The part numbers the service lists for an upload once the list stops changing: a part whose
 * request was cut (a kill, an abort) may still be committed by the server a moment later.
 */
export async function settledParts(c: StorageClient, bucket: string, key: string, uploadId: string): Promise<number[]> {
  const list = async () => {
    const numbers: number[] = [];
    for await (const part of listAllParts(c, bucket, key, uploadId)) numbers.push(part.partNumber);
    return numbers;
  };
  let parts = await list();
  await waitFor(
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      const again = await list();
      const settled = again.length === parts.length;
      parts = again;
      return settled;
    },
    10_000,
    'the parts list to settle',
  );
  return parts;
}
