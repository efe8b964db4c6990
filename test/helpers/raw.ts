import { request } from 'node:http';
import { createHash } from 'node:crypto';
import { signRequest } from '../../src/dialects/s3/sigv4.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY } from './server.js';

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
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
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
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
