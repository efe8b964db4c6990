import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { Agent } from 'node:http';
import { basename, join } from 'node:path';
import { GetObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import pg from 'pg';
import type { TestCluster } from '../helpers/cluster.js';
import { postgresBinDir } from '../helpers/postgres.js';
import { s3Client } from '../helpers/s3.js';
import { filesUnder, type TestServer } from '../helpers/server.js';

/**
 * What the cluster tests (test/cluster/*.test.ts) share: each file runs its own three nodes on one
 * PostgreSQL and one data directory (test/helpers/cluster.ts) and addresses the nodes directly
 * (`cluster.nodes[i].url`) where it matters which node serves a request.
 */

/** Why the cluster tests cannot run here (undefined: they can). On CI PostgreSQL must be there. */
export function skipWithoutPostgres(): string | undefined {
  if (postgresBinDir()) return undefined;
  if (process.env.CI) assert.fail('PostgreSQL server binaries are missing on CI');
  return 'PostgreSQL not installed';
}

/** An S3 client aimed at one node (or the proxy), at the SDK's defaults unless `extra` says otherwise. */
export function s3At(server: TestServer, extra: Partial<S3ClientConfig> = {}): S3Client {
  return s3Client(server, undefined, extra);
}

/**
 * The same, with no retries: a race's every outcome is seen as the server answered it. Its idle
 * connections close after 4 s, before the node closes them (5 s): a request never goes out on a
 * connection the node is closing (which an SDK retries, and this client must not need to).
 */
export function s3Once(server: TestServer): S3Client {
  const agent = new Agent({ keepAlive: true, timeout: 4_000 });
  return s3Client(server, undefined, { maxAttempts: 1, requestHandler: new NodeHttpHandler({ httpAgent: agent }) });
}

export const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

export async function getBytes(s3: S3Client, bucket: string, key: string): Promise<Buffer> {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await object.Body!.transformToByteArray());
}

/** The S3 error an SDK call rejected with: its code (`name`) and HTTP status. */
export async function s3Failure(promise: Promise<unknown>): Promise<{ code: string; status: number | undefined }> {
  return promise.then(
    () => assert.fail('expected an error'),
    (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => ({ code: String(err.name), status: err.$metadata?.httpStatusCode }),
  );
}

/** What an SDK call came to: its value, or its error code and status. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string; status: number | undefined; message: string };

export function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => ({ ok: true as const, value }),
    (err: { name?: string; message?: string; $metadata?: { httpStatusCode?: number } }) => ({
      ok: false as const,
      code: String(err.name),
      status: err.$metadata?.httpStatusCode,
      message: String(err.message),
    }),
  );
}

/** A PostgreSQL client on the cluster's database (for looking at what the nodes share). Close it when done. */
export async function database(cluster: TestCluster): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: cluster.postgres.url });
  await client.connect();
  return client;
}

/** Every blob id the metadata refers to (an object's segments, an upload's parts). */
export async function referencedBlobs(cluster: TestCluster): Promise<Set<string>> {
  const client = await database(cluster);
  try {
    const result = await client.query<{ blob_id: string }>('SELECT blob_id FROM segments UNION SELECT blob_id FROM parts');
    return new Set(result.rows.map((row) => row.blob_id));
  } finally {
    await client.end();
  }
}

/** The names of the blob files in the shared directory. */
export async function blobFiles(dataDir: string): Promise<Set<string>> {
  return new Set((await filesUnder(join(dataDir, 'blobs'))).map((path) => basename(path)));
}

/**
 * The blob files on disk are exactly those the metadata refers to: none leaked (a file nothing
 * refers to) and none wrongly removed (a referenced id without its file). Every answer is sent
 * after its clean-up, so once the requests are answered the two agree. `orphansBefore`: a file
 * written before then may be unreferenced (a node killed between a body's rename into blobs/ and
 * its commit leaves such an orphan, for the hourly orphan sweep).
 */
export async function assertBlobsMatchMetadata(cluster: TestCluster, options: { orphansBefore?: Date } = {}): Promise<void> {
  const [files, referenced] = [await blobFiles(cluster.dataDir), await referencedBlobs(cluster)];
  const unreferenced = [...files].filter((id) => !referenced.has(id));
  const leaked: string[] = [];
  for (const id of unreferenced) {
    const written = (await stat(join(cluster.dataDir, 'blobs', id.slice(0, 2), id))).mtime;
    if (!(options.orphansBefore && written < options.orphansBefore)) leaked.push(id);
  }
  const missing = [...referenced].filter((id) => !files.has(id));
  assert.deepEqual({ leaked, missing }, { leaked: [], missing: [] }, `${files.size} blob files, ${referenced.size} referenced`);
}

/** The temp directory of a node (`tmp/<node id>/`): its id holds its pid. */
export async function tempDirOf(cluster: TestCluster, node: TestServer): Promise<string> {
  const pid = node.process.pid;
  const names = await readdir(join(cluster.dataDir, 'tmp'));
  const mine = names.filter((name) => name.includes(`-${pid}-`));
  assert.equal(mine.length, 1, `one temp directory for pid ${pid} among ${names.join(', ')}`);
  return join(cluster.dataDir, 'tmp', mine[0]!);
}

/** Files under the shared `tmp/` (bodies being received, or left by a node that died). */
export async function tempFiles(cluster: TestCluster): Promise<string[]> {
  return filesUnder(join(cluster.dataDir, 'tmp'));
}

/** Polls `check` every `ms` until it returns a value other than undefined; fails after `tries`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined>, tries = 200, ms = 50): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await sleep(ms);
  }
  assert.fail(`${what}: not so after ${tries} polls ${ms} ms apart`);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Random bytes of a random size in [min, max]. */
export function randomBody(min: number, max: number): Buffer {
  return randomBytes(min + Math.floor(Math.random() * (max - min + 1)));
}

/** Whether the node's process is still running (never crashed). */
export function alive(node: TestServer): boolean {
  return node.process.exitCode === null && node.process.signalCode === null;
}
