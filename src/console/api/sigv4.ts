/**
 * SigV4 header signing with WebCrypto, for the console API's own requests (S3 calls go through
 * the AWS SDK, which signs its own). The server checks these with the same verifier as S3
 * requests, so the algorithm is AWS's: canonical request, string to sign, derived key.
 */

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface RequestToSign {
  method: string;
  url: URL;
  /** Headers to send and sign besides host and the x-amz-* ones added here (content-type, say). */
  headers: Record<string, string>;
  body?: string;
  credentials: SigningCredentials;
  region: string;
  now?: Date;
}

const encoder = new TextEncoder();

/** The headers to send: the caller's, x-amz-date, x-amz-content-sha256, x-amz-security-token and authorization. */
export async function signRequest(request: RequestToSign): Promise<Record<string, string>> {
  const datetime = (request.now ?? new Date()).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
  const date = datetime.slice(0, 8);
  const scope = `${date}/${request.region}/s3/aws4_request`;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) headers[name.toLowerCase()] = value;
  headers['x-amz-date'] = datetime;
  headers['x-amz-content-sha256'] = await sha256Hex(request.body ?? '');
  if (request.credentials.sessionToken) headers['x-amz-security-token'] = request.credentials.sessionToken;
  // Host is set by the browser to the URL's; it is signed, not sent by us.
  const signed: Record<string, string> = { ...headers, host: request.url.host };
  const names = Object.keys(signed).sort();
  const canonical = [
    request.method,
    request.url.pathname.split('/').map((segment) => awsUriEncode(decodeURIComponent(segment))).join('/'),
    [...request.url.searchParams.entries()]
      .map(([name, value]) => [awsUriEncode(name), awsUriEncode(value)])
      .sort(([a, x], [b, y]) => (a! < b! ? -1 : a! > b! ? 1 : x! < y! ? -1 : x! > y! ? 1 : 0))
      .map(([name, value]) => `${name}=${value}`)
      .join('&'),
    names.map((name) => `${name}:${signed[name]!.trim().replace(/\s+/g, ' ')}\n`).join(''),
    names.join(';'),
    headers['x-amz-content-sha256'],
  ].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', datetime, scope, await sha256Hex(canonical)].join('\n');
  let key: ArrayBuffer = encoder.encode(`AWS4${request.credentials.secretAccessKey}`).buffer as ArrayBuffer;
  for (const part of [date, request.region, 's3', 'aws4_request']) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${request.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}`;
  return headers;
}

/** RFC 3986 encoding as SigV4 wants it: only A-Z a-z 0-9 - . _ ~ left as they are. */
export function awsUriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

async function sha256Hex(text: string): Promise<string> {
  return hex(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
}

async function hmac(key: ArrayBuffer, text: string): Promise<ArrayBuffer> {
  const imported = await crypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return crypto.subtle.sign('HMAC', imported, encoder.encode(text));
}

function hex(buffer: ArrayBuffer): string {
  return [...new Uint8Array(buffer)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}
