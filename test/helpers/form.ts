import { randomBytes } from 'node:crypto';
import { deriveSigningKey, formatAmzDate, signature } from '../../src/dialects/s3/sigv4.js';
import { rawRequest, type RawResponse } from './raw.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, type TestServer } from './server.js';

export type Fields = Array<[name: string, value: string]>;

export interface FilePart {
  content: Buffer | string;
  /** Left out of the part's Content-Disposition when undefined (a text `file` field). */
  filename?: string;
  contentType?: string;
  /** The part's name (default `file`). */
  name?: string;
}

export interface MultipartBody {
  body: Buffer;
  contentType: string;
}

/** A multipart/form-data body written byte by byte: `fields`, then `file`, then `after`. */
export function multipartBody(fields: Fields, file?: FilePart, after: Fields = []): MultipartBody {
  const boundary = `----tessera${randomBytes(8).toString('hex')}`;
  const pieces: Buffer[] = [];
  const text = (name: string, value: string) =>
    pieces.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  for (const [name, value] of fields) text(name, value);
  if (file) {
    const filename = file.filename === undefined ? '' : `; filename="${file.filename}"`;
    const type = file.contentType === undefined ? '' : `Content-Type: ${file.contentType}\r\n`;
    pieces.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name ?? 'file'}"${filename}\r\n${type}\r\n`));
    pieces.push(Buffer.from(file.content));
    pieces.push(Buffer.from('\r\n'));
  }
  for (const [name, value] of after) text(name, value);
  pieces.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(pieces), contentType: `multipart/form-data; boundary=${boundary}` };
}

/**
 * A form whose file is sent separately (streamed): the bytes before the file's content, the bytes
 * after it, and the Content-Type.
 */
export function formAroundFile(fields: Fields, filename: string): { prefix: Buffer; suffix: Buffer; contentType: string } {
  const marker = 'FILE-CONTENT-GOES-HERE';
  const whole = multipartBody(fields, { filename, content: marker });
  const at = whole.body.indexOf(marker);
  return { prefix: whole.body.subarray(0, at), suffix: whole.body.subarray(at + marker.length), contentType: whole.contentType };
}

/** POSTs a form body, unsigned as a browser sends it, to `path` (with `host` as the Host header if given). */
export function postForm(server: TestServer, path: string, form: MultipartBody, host?: string): Promise<RawResponse> {
  const headers: Record<string, string> = { 'content-type': form.contentType, 'content-length': String(form.body.length) };
  if (host) headers.host = host;
  return rawRequest(server.url, { method: 'POST', path, headers, body: form.body });
}

export interface S3PolicyInput {
  conditions: unknown[];
  /** Default: an hour from now. */
  expiration?: Date;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  now?: Date;
  region?: string;
}

/**
 * The authentication fields of an S3 POST form, signed with Tessera's SigV4 key derivation: the
 * algorithm, credential and date (each named by a condition, as boto3 adds them), the base64
 * policy and its signature. boto3's generate_presigned_post checks the same signer from outside.
 */
export function s3PolicyFields(input: S3PolicyInput): { fields: Fields; policy: string; signature: string } {
  const now = input.now ?? new Date();
  const credentials = input.credentials ?? { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY };
  const region = input.region ?? 'us-east-1';
  const date = formatAmzDate(now);
  const credential = `${credentials.accessKeyId}/${date.slice(0, 8)}/${region}/s3/aws4_request`;
  const expiration = (input.expiration ?? new Date(now.getTime() + 3600_000)).toISOString();
  const document = {
    expiration,
    conditions: [
      ...input.conditions,
      { 'x-amz-algorithm': 'AWS4-HMAC-SHA256' },
      { 'x-amz-credential': credential },
      { 'x-amz-date': date },
    ],
  };
  const policy = Buffer.from(JSON.stringify(document)).toString('base64');
  const signed = signature(deriveSigningKey(credentials.secretAccessKey, date.slice(0, 8), region, 's3'), policy);
  return {
    policy,
    signature: signed,
    fields: [
      ['x-amz-algorithm', 'AWS4-HMAC-SHA256'],
      ['x-amz-credential', credential],
      ['x-amz-date', date],
      ['policy', policy],
      ['x-amz-signature', signed],
    ],
  };
}

/** The text of `<name>` in an XML document. */
export function xmlText(xml: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([\\s\\S]*?)</${name}>`).exec(xml);
  return match?.[1]?.replace(/&quot;/g, '"').replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'");
}
