import type { ServerResponse } from 'node:http';
import type { ServiceError } from '../../core/errors.js';
import type { ObjectInfo } from '../../core/types.js';
import type { User } from '../../core/users.js';
import type { RequestContext } from '../../server/dialect.js';
import { toXml, type XmlNode } from '../common/xml.js';

export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

export function sendXml(res: ServerResponse, status: number, root: string, body: XmlNode, headers: Record<string, string> = {}): void {
  const xml = toXml({ [root]: { '@xmlns': S3_NAMESPACE, ...body } });
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(xml),
  });
  res.end(xml);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string | number> = {}): void {
  res.writeHead(status, { ...headers, 'content-length': 0 });
  res.end();
}

/** The S3 error document; HEAD answers carry no body, so only the status speaks. */
export function sendS3Error(ctx: RequestContext, error: ServiceError): void {
  const { req, res } = ctx;
  const resource = ctx.rawPath;
  const { facts } = error;
  if (facts.versionId !== undefined) res.setHeader('x-amz-version-id', facts.versionId);
  if (facts.deleteMarker) res.setHeader('x-amz-delete-marker', 'true');
  if (facts.lastModified) res.setHeader('last-modified', facts.lastModified.toUTCString());
  if (req.method === 'HEAD') {
    res.writeHead(error.status, { 'x-amz-error-code': error.code });
    res.end();
    return;
  }
  const xml = toXml({
    Error: {
      Code: error.code,
      Message: error.message,
      ...error.detail,
      Resource: resource,
      RequestId: ctx.requestId,
    },
  });
  if (error.status === 416 && error.detail.ActualObjectSize !== undefined) {
    res.setHeader('content-range', `bytes */${error.detail.ActualObjectSize}`);
  }
  res.writeHead(error.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}

export function quoteEtag(etag: string): string {
  return `"${etag}"`;
}

export function isoDate(date: Date): string {
  return date.toISOString();
}

export function owner(user: User | undefined, id: string): XmlNode {
  return { ID: id, DisplayName: user?.displayName ?? id };
}

/** Response headers that describe an object, with `response-*` query overrides for presigned GETs. */
export function objectHeaders(info: ObjectInfo, query: URLSearchParams, metaPrefix: string): Record<string, string> {
  const headers: Record<string, string> = {
    etag: quoteEtag(info.etag),
    'last-modified': info.lastModified.toUTCString(),
    'accept-ranges': 'bytes',
    'content-type': info.headers.contentType ?? 'binary/octet-stream',
  };
  if (info.headers.contentEncoding) headers['content-encoding'] = info.headers.contentEncoding;
  if (info.headers.contentDisposition) headers['content-disposition'] = info.headers.contentDisposition;
  if (info.headers.contentLanguage) headers['content-language'] = info.headers.contentLanguage;
  if (info.headers.cacheControl) headers['cache-control'] = info.headers.cacheControl;
  if (info.headers.expires) headers.expires = info.headers.expires;
  for (const [name, value] of Object.entries(info.userMeta)) headers[metaPrefix + name] = value;
  const overrides: Array<[string, string]> = [
    ['response-content-type', 'content-type'],
    ['response-content-language', 'content-language'],
    ['response-expires', 'expires'],
    ['response-cache-control', 'cache-control'],
    ['response-content-disposition', 'content-disposition'],
    ['response-content-encoding', 'content-encoding'],
  ];
  for (const [param, name] of overrides) {
    const value = query.get(param);
    if (value !== null) headers[name] = value;
  }
  return headers;
}

/**
 * `encoding-type=url` as S3 answers it: form encoding of the UTF-8 bytes (Java's URLEncoder set:
 * A-Z a-z 0-9 `.` `-` `*` `_` kept, a space as `+`), with `/` left as it is. Measured on AWS:
 * `a b` → `a+b`, `a+b` → `a%2Bb`, `100%` → `100%25`, `한글/x` → `%ED%95%9C%EA%B8%80/x`; the SDKs
 * read it back with form decoding (botocore's `unquote_plus`).
 */
export function urlEncode(value: string): string {
  return encodeURIComponent(value).replace(/%20|%2F|[!'()~]/g, (match) =>
    match === '%20' ? '+' : match === '%2F' ? '/' : '%' + match.charCodeAt(0).toString(16).toUpperCase(),
  );
}
