import { signedRequest, type RawResponse } from './raw.js';
import type { TestServer } from './server.js';

/** The admin API (`/-/admin/`, src/server/admin-api.ts) for tests: raw SigV4-signed requests. */

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** One admin API call, signed by `credentials` (root by default); the answer with its JSON parsed. */
export async function admin(
  server: TestServer,
  method: string,
  path: string,
  body?: unknown,
  options: { credentials?: Credentials; rawBody?: string; contentType?: string } = {},
): Promise<RawResponse & { json: any }> {
  const text = options.rawBody ?? (body === undefined ? '' : JSON.stringify(body));
  const headers: Record<string, string> = {};
  if (text !== '' || options.contentType) headers['content-type'] = options.contentType ?? 'application/json';
  const res = await signedRequest(server.url, method, `/-/admin/${path}`, { body: text, headers, credentials: options.credentials });
  return { ...res, json: res.body === '' ? undefined : JSON.parse(res.body) };
}

