import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import { signRequest, UNSIGNED_PAYLOAD } from '../../src/dialects/s3/sigv4.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY } from './server.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Reads a response to its end: status, headers and the body as bytes. */
export function readBody(res: IncomingMessage): Promise<{ status: number; headers: RawResponse['headers']; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    res.on('error', reject);
  });
}

/** Reads a response to its end: status, headers and the body as UTF-8 text. */
export async function readResponse(res: IncomingMessage): Promise<RawResponse> {
  const { status, headers, body } = await readBody(res);
  return { status, headers, body: body.toString('utf8') };
}

/** One HTTP request with exactly the bytes and headers given: for what no client sends. */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer; path?: string },
): Promise<RawResponse> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        method: options.method ?? 'GET',
        path: options.path ?? target.pathname + target.search,
        headers: options.headers,
      },
      (res) => void readResponse(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * The fields of a URL our signer reads, for a path sent exactly as written: a real
 * URL object would resolve `..` and re-encode it.
 */
export function verbatimUrl(host: string, pathAndQuery: string): URL {
  const q = pathAndQuery.indexOf('?');
  return {
    host,
    pathname: q < 0 ? pathAndQuery : pathAndQuery.slice(0, q),
    searchParams: new URLSearchParams(q < 0 ? '' : pathAndQuery.slice(q + 1)),
  } as unknown as URL;
}

/** A SigV4-signed request (header auth, signed payload hash unless one is given) with our own signer. */
export function signedRequest(
  baseUrl: string,
  method: string,
  pathAndQuery: string,
  options: {
    body?: string | Buffer;
    headers?: Record<string, string>;
    payloadHash?: string;
    credentials?: { accessKeyId: string; secretAccessKey: string };
    now?: Date;
  } = {},
): Promise<RawResponse> {
  const url = new URL(pathAndQuery, baseUrl);
  const body = options.body ?? '';
  const headers: Record<string, string> = { host: url.host, ...options.headers };
  const payloadHash = options.payloadHash ?? createHash('sha256').update(body).digest('hex');
  const added = signRequest({
    method,
    url,
    headers,
    payloadHash,
    credentials: options.credentials ?? { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY },
    region: 'us-east-1',
    now: options.now,
  });
  return rawRequest(url.toString(), {
    method,
    headers: { ...headers, ...added, 'content-length': String(Buffer.byteLength(body)) },
    body,
    path: url.pathname + url.search,
  });
}

/**
 * Root SigV4 headers for a request with an unsigned payload (the body is not hashed,
 * so it can be streamed), with a content-length when `length` is given.
 */
export function unsignedPayloadHeaders(baseUrl: string, method: string, pathAndQuery: string, length?: number): Record<string, string> {
  const url = new URL(pathAndQuery, baseUrl);
  const headers: Record<string, string> = { host: url.host };
  const added = signRequest({
    method,
    url,
    headers,
    payloadHash: UNSIGNED_PAYLOAD,
    credentials: { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY },
    region: 'us-east-1',
  });
  return { ...headers, ...added, ...(length === undefined ? {} : { 'content-length': String(length) }) };
}

/**
 * Opens a root-signed request with an unsigned payload of `length` bytes and returns it
 * unsent, with a promise of the response: the caller writes the body (or part of it).
 * A fresh connection each time (no keep-alive), so a kill cuts only what is in flight.
 */
export function openSigned(
  baseUrl: string,
  method: string,
  pathAndQuery: string,
  length: number,
): { req: ClientRequest; response: Promise<RawResponse> } {
  const url = new URL(pathAndQuery, baseUrl);
  let req!: ClientRequest;
  const response = new Promise<RawResponse>((resolve, reject) => {
    req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path: url.pathname + url.search,
        headers: unsignedPayloadHeaders(baseUrl, method, pathAndQuery, length),
        agent: false,
      },
      (res) => void readResponse(res).then(resolve, reject),
    );
    req.on('error', reject);
  });
  return { req, response };
}
