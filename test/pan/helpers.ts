import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { PanClient } from '../../src/client/pan.js';
import { openMetadata } from '../../src/core/metadata/open.js';
import type { Metadata } from '../../src/core/metadata/types.js';
import { DEFAULT_RATE_LIMITS } from '../../src/dialects/pan/config.js';
import { s3Client } from '../helpers/s3.js';
import type { TestCluster } from '../helpers/cluster.js';
import { startServer, type TestServer, type TestServerOptions } from '../helpers/server.js';

export const ALICE = { accessKey: 'alice-access-key', secretKey: 'alice-secret-key-0123456789', id: 'alice', displayName: 'Alice' };
export const BOB = { accessKey: 'bob-access-key', secretKey: 'bob-secret-key-0123456789', id: 'bob', displayName: 'Bob' };
export const APP = { clientID: 'alice-app', clientSecret: 'alice-app-secret', user: 'alice' };
export const BOB_APP = { clientID: 'bob-app', clientSecret: 'bob-app-secret', user: 'bob' };
export const ALICE_BUCKET = 'pan-alice';
export const KiB = 1024;
export const SLICE = 64 * KiB;

/** Every documented limit off (0), so tests are not throttled; the rate-limit test sets its own. */
export const NO_LIMITS = Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((path) => [path, 0]));

export function panConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { users: [ALICE, BOB], panApps: [APP, BOB_APP], panRateLimits: NO_LIMITS, panSliceSize: SLICE, ...extra };
}

export function startPanServer(extra: Record<string, unknown> = {}, options: TestServerOptions = {}): Promise<TestServer> {
  return startServer({ ...options, config: panConfig(extra) });
}

export interface Envelope<T = any> {
  code: number;
  message: string;
  data: T;
  'x-traceID': string;
}

export interface PanCallOptions {
  token?: string;
  json?: unknown;
  form?: Record<string, string>;
  body?: RequestInit['body'];
  query?: Record<string, string | number>;
  headers?: Record<string, string>;
  /** Leave out `Platform: open_platform`. */
  noPlatform?: boolean;
}

/** One raw call with fetch: the HTTP status and the parsed envelope. */
export async function panCall<T = any>(base: string, method: string, path: string, options: PanCallOptions = {}): Promise<{ status: number; body: Envelope<T> }> {
  const url = new URL(base.replace(/\/$/, '') + path);
  for (const [name, value] of Object.entries(options.query ?? {})) url.searchParams.set(name, String(value));
  const headers: Record<string, string> = { ...options.headers };
  if (!options.noPlatform) headers.Platform = 'open_platform';
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let body: RequestInit['body'] = options.body;
  if (options.json !== undefined) {
    headers['Content-Type'] ??= 'application/json';
    body = JSON.stringify(options.json);
  } else if (options.form) {
    headers['Content-Type'] ??= 'application/x-www-form-urlencoded';
    body = new URLSearchParams(options.form).toString();
  }
  const response = await fetch(url, { method, headers, body });
  const text = await response.text();
  let parsed: Envelope<T>;
  try {
    parsed = JSON.parse(text) as Envelope<T>;
  } catch {
    throw new Error(`${method} ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 300)}`);
  }
  return { status: response.status, body: parsed };
}

/** A call that must succeed: its `data`. */
export async function ok<T = any>(base: string, method: string, path: string, options: PanCallOptions = {}): Promise<T> {
  const { status, body } = await panCall<T>(base, method, path, options);
  if (status !== 200 || body.code !== 0) throw new Error(`${method} ${path}: HTTP ${status} ${JSON.stringify(body)}`);
  return body.data;
}

export async function login(base: string, app = APP): Promise<string> {
  const data = await ok<{ accessToken: string }>(base, 'POST', '/api/v1/access_token', { json: { clientID: app.clientID, clientSecret: app.clientSecret } });
  return data.accessToken;
}

export function panClient(server: TestServer, app = APP, extra: Partial<ConstructorParameters<typeof PanClient>[0]> = {}): PanClient {
  return new PanClient({ baseUrl: server.url, clientID: app.clientID, clientSecret: app.clientSecret, pollIntervalMs: 100, ...extra });
}

export function md5(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

export function sha1(data: Buffer): string {
  return createHash('sha1').update(data).digest('hex');
}

export function randomData(size: number): Buffer {
  return randomBytes(size);
}

export function slicesOf(data: Buffer, sliceSize: number): Buffer[] {
  const slices: Buffer[] = [];
  for (let offset = 0; offset < data.length || slices.length === 0; offset += sliceSize) slices.push(data.subarray(offset, offset + sliceSize));
  return slices;
}

/** PUT to a presigned slice URL with no credentials at all. */
export async function putSlice(url: string, data: Buffer): Promise<{ status: number; text: string }> {
  const response = await fetch(url, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: data });
  return { status: response.status, text: await response.text() };
}

/** The V2 slice as a real multipart/form-data post (undici's FormData). */
export async function postSliceV2(server: string, token: string, preuploadID: string, sliceNo: number, data: Buffer, sliceMD5 = md5(data)) {
  const form = new FormData();
  form.set('preuploadID', preuploadID);
  form.set('sliceNo', String(sliceNo));
  form.set('sliceMD5', sliceMD5);
  form.set('slice', new Blob([data]), `part${sliceNo}`);
  return panCall(server, 'POST', '/upload/v2/file/slice', { token, body: form });
}

/** Polls `check` up to `tries` times, `ms` apart, until it returns a value. */
export async function poll<T>(check: () => Promise<T | undefined>, tries = 100, ms = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, ms));
  }
  throw new Error(`condition not met after ${tries} polls`);
}

/** Every blob file in a data directory. */
export async function blobFiles(dataDir: string): Promise<string[]> {
  const root = join(dataDir, 'blobs');
  const names: string[] = [];
  for (const dir of await readdir(root)) for (const name of await readdir(join(root, dir))) names.push(name);
  return names;
}

/** Alice's object read back through S3 (the drive is her bucket). */
export async function s3Bytes(server: TestServer, key: string): Promise<Buffer> {
  const s3 = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
  const object = await s3.send(new GetObjectCommand({ Bucket: ALICE_BUCKET, Key: key }));
  const chunks: Buffer[] = [];
  for await (const chunk of object.Body as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

export async function s3Md5(server: TestServer, key: string): Promise<string> {
  return md5(await s3Bytes(server, key));
}

/**
 * The server's metadata store, opened from the test as another node of a cluster would open it:
 * to hold a lease as that node, or to look at an upload's stored state. Close it when done.
 */
export function openStore(server: TestServer): Promise<Metadata> {
  // A cluster's metadata is in its PostgreSQL database; one node's in its data directory.
  const postgres = (server as Partial<TestCluster>).postgres;
  return openMetadata({ dataDir: server.dataDir, url: postgres?.url });
}

/** Holds lease `name` as another node (one that is working on it now, or one that died: `expired`). */
export async function holdLease(store: Metadata, name: string, expired = false): Promise<void> {
  const now = new Date();
  const until = new Date(now.getTime() + (expired ? -1000 : 3600_000));
  assert.equal(await store.acquireLease(name, 'another-node', until, now), true);
}
