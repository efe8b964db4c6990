import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import OSS from 'ali-oss';
import { signV1, signV4, uriEncode } from '../../src/dialects/oss/signing.js';
import { rawRequest, type RawResponse } from '../helpers/raw.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, type TestServer } from '../helpers/server.js';

export type Signature = 'v1' | 'v4';

/**
 * How ali-oss addresses the server:
 * - 'ip-host': endpoint `http://127.0.0.1:PORT` as is: ali-oss then sends `Host: <bucket>.oss-<region>.aliyuncs.com` and a bare path;
 * - 'ip-path': the same with `sldEnable: true`: the bucket is in the path and (still) in the Host;
 * - 'localhost-path': endpoint `http://localhost:PORT` with `sldEnable: true`: plain path style, and signatureUrl works.
 */
export type Addressing = 'ip-host' | 'ip-path' | 'localhost-path';

/**
 * The SDK as its own JS documents it: @types/ali-oss lags behind it (no `sldEnable`, ListParts
 * fields typed as numbers where the SDK hands strings over, required query fields that are optional).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AliOss = any;

export function ossClient(server: TestServer, signature: Signature, bucket: string, addressing: Addressing = 'ip-host'): AliOss {
  const endpoint = addressing === 'localhost-path' ? `http://localhost:${server.port}` : server.url;
  const options = {
    accessKeyId: ROOT_ACCESS_KEY,
    accessKeySecret: ROOT_SECRET_KEY,
    bucket,
    endpoint,
    sldEnable: addressing !== 'ip-host',
    authorizationV4: signature === 'v4',
    region: 'oss-cn-hangzhou',
    timeout: 60_000,
  };
  return new OSS(options as OSS.Options) as AliOss;
}

export const md5Hex = (data: Buffer): string => createHash('md5').update(data).digest('hex');

/** The multipart ETag as OSS shows it: upper-case MD5 of the parts' MD5s, dash, part count. */
export function multipartEtag(parts: Buffer[]): string {
  const digests = Buffer.concat(parts.map((part) => createHash('md5').update(part).digest()));
  return `"${createHash('md5').update(digests).digest('hex').toUpperCase()}-${parts.length}"`;
}

/** What an ali-oss call rejected with: its OSS error code and HTTP status. */
export async function expectOssError(promise: Promise<unknown>, status: number, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    const e = err as { code?: string; status?: number; message?: string };
    assert.equal(e.status, status, `status of ${String(e.code)}: ${String(e.message)}`);
    assert.equal(e.code, code);
    return true;
  });
}

/** The text of each `<name>` element of an XML document, in order, entities decoded. */
export function xmlValues(xml: string, name: string): string[] {
  return [...xml.matchAll(new RegExp(`<${name}>([\\s\\S]*?)</${name}>`, 'g'))].map((m) => decodeEntities(m[1]!));
}

const ENTITIES: Record<string, string> = { quot: '"', apos: "'", lt: '<', gt: '>', amp: '&' };

function decodeEntities(text: string): string {
  return text.replace(/&(quot|apos|lt|gt|amp|#\d+);/g, (_, name: string) =>
    name.startsWith('#') ? String.fromCharCode(Number(name.slice(1))) : ENTITIES[name]!,
  );
}

export function xmlValue(xml: string, name: string): string | undefined {
  return xmlValues(xml, name)[0];
}

export interface OssRawRequest {
  method?: string;
  bucket?: string;
  key?: string;
  /** Query parameters in order; '' is a bare sub-resource such as `uploads`. */
  query?: Array<[string, string]>;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signature?: Signature | 'none';
  now?: Date;
  /** Send this Host header (the connection still goes to the server). */
  host?: string;
  /** Path as sent; default path style `/bucket/key` with the key percent-encoded but '/'. */
  path?: string;
  credentials?: { accessKeyId: string; secret: string };
}

/** One OSS request signed by our own signer (proven against ali-oss vectors), sent as raw HTTP. */
export function ossRequest(server: TestServer, request: OssRawRequest): Promise<RawResponse> {
  const method = request.method ?? 'GET';
  const query = request.query ?? [];
  const body = request.body ?? '';
  const headers: Record<string, string> = { ...request.headers };
  if (request.host) headers.host = request.host;
  const signature = request.signature ?? 'v1';
  const credentials = request.credentials ?? { accessKeyId: ROOT_ACCESS_KEY, secret: ROOT_SECRET_KEY };
  const signing = { method, bucket: request.bucket, key: request.key, query, headers, ...credentials, now: request.now };
  if (signature === 'v1') {
    if (!headers.date && !headers['x-oss-date']) headers.date = (request.now ?? new Date()).toUTCString();
    Object.assign(headers, signV1(signing));
  } else if (signature === 'v4') {
    Object.assign(headers, signV4({ ...signing, region: 'cn-hangzhou' }));
  }
  let path = request.path;
  if (path === undefined) {
    path = request.bucket === undefined ? '/' : `/${request.bucket}/${request.key === undefined ? '' : uriEncode(request.key, true)}`;
  }
  const search = query.map(([k, v]) => (v === '' ? uriEncode(k) : `${uriEncode(k)}=${uriEncode(v)}`)).join('&');
  return rawRequest(server.url, {
    method,
    headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
    body,
    path: search ? `${path}?${search}` : path,
  });
}

/** Asserts an OSS error document: status, code, the request id of the response, the Host as HostId. */
export function assertOssError(response: RawResponse, status: number, code: string, host?: string): void {
  assert.equal(response.status, status, response.body);
  assert.equal(xmlValue(response.body, 'Code'), code, response.body);
  assert.ok(xmlValue(response.body, 'Message'), 'a Message');
  const requestId = response.headers['x-oss-request-id'];
  assert.ok(typeof requestId === 'string' && requestId.length > 0, 'x-oss-request-id');
  assert.equal(xmlValue(response.body, 'RequestId'), requestId);
  if (host !== undefined) assert.equal(xmlValue(response.body, 'HostId'), host);
}
