import type { ServerResponse } from 'node:http';
import { ServiceError } from '../../core/errors.js';
import type { ObjectInfo } from '../../core/types.js';
import type { RequestContext } from '../../server/dialect.js';
import { toXml, type XmlNode } from '../common/xml.js';
import { objectHeaders } from '../s3/render.js';
import { awsUriEncode } from '../s3/sigv4.js';

export const META_PREFIX = 'x-oss-meta-';
const CRC64_HEADER = 'x-oss-hash-crc64ecma';
export const STORAGE_CLASS = 'Standard';

/** OSS documents carry no namespace. */
export function sendOssXml(res: ServerResponse, status: number, root: string, body: XmlNode, headers: Record<string, string> = {}): void {
  const xml = toXml({ [root]: body });
  res.writeHead(status, { ...headers, 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}

/**
 * `encoding-type=url` as OSS answers it, unlike S3: every byte but RFC 3986's unreserved ones
 * escaped (`/` → %2F, space → %20, `+` → %2B), which oss2's `unquote` and Go's `QueryUnescape`
 * both read back.
 */
export const urlEncode = awsUriEncode;

/** OSS quotes its ETags in upper-case hex (the engine keeps them lower-case). */
export function ossEtag(etag: string): string {
  return `"${etag.toUpperCase()}"`;
}

export function objectType(info: { partsCount?: number }): 'Normal' | 'Multipart' {
  return info.partsCount === undefined ? 'Normal' : 'Multipart';
}

/** `x-oss-hash-crc64ecma` only when the CRC is known (objects written through S3 have none). */
export function crcHeader(crc64: string | undefined): Record<string, string> {
  return crc64 === undefined ? {} : { [CRC64_HEADER]: crc64 };
}

/** GET/HEAD headers: the shared ones, then OSS's spelling of ETag, type, class, CRC and default type. */
export function ossObjectHeaders(info: ObjectInfo, query: URLSearchParams): Record<string, string> {
  const headers = objectHeaders(info, query, META_PREFIX);
  headers.etag = ossEtag(info.etag);
  if (info.headers.contentType === undefined && !query.has('response-content-type')) headers['content-type'] = 'application/octet-stream';
  headers['x-oss-object-type'] = objectType(info);
  headers['x-oss-storage-class'] = STORAGE_CLASS;
  return { ...headers, ...crcHeader(info.crc64) };
}

/** Where OSS names a condition differently from the engine's (S3) vocabulary, or words it otherwise. */
const OSS_ERRORS: Record<string, { code?: string; message?: string }> = {
  BadDigest: { code: 'InvalidDigest', message: 'The Content-MD5 you specified was invalid.' },
  BucketAlreadyOwnedByYou: {
    code: 'BucketAlreadyExists',
    message: 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
  },
  InvalidPart: {
    message: "One or more of the specified parts could not be found or the specified entity tag might not have matched the part's entity tag",
  },
  InvalidPartOrder: {
    message: 'The list of parts was not in ascending order. Parts list must specified in order by part number.',
  },
  EntityTooSmall: { message: 'Your proposed upload smaller than the minimum allowed size.' },
  KeyTooLongError: { code: 'InvalidObjectName', message: 'The Length of Object name must be less than 1024.' },
  NoSuchCORSConfiguration: { message: 'The CORS Configuration does not exist.' },
};

function toOssError(error: ServiceError): ServiceError {
  const renamed = OSS_ERRORS[error.code];
  if (!renamed) return error;
  return new ServiceError(renamed.code ?? error.code, renamed.message ?? error.message, error.status, error.detail);
}

/**
 * `<Error><Code/><Message/><RequestId/><HostId/>…</Error>`, plus the fields OSS adds (UploadId,
 * ArgumentName/Value, StringToSign, …). HEAD answers have no body: the document travels
 * base64-encoded in `x-oss-err`, where the Go SDKs look for it.
 */
export function sendOssError(ctx: RequestContext, original: ServiceError): void {
  const { req, res } = ctx;
  const error = toOssError(original);
  ctx.log.errorCode = error.code;
  const { facts } = original;
  if (facts.versionId !== undefined) res.setHeader('x-oss-version-id', facts.versionId);
  if (facts.deleteMarker) res.setHeader('x-oss-delete-marker', 'true');
  if (facts.lastModified) res.setHeader('last-modified', facts.lastModified.toUTCString());
  const xml = toXml({
    Error: {
      Code: error.code,
      Message: error.message,
      RequestId: ctx.requestId,
      HostId: req.headers.host ?? '',
      ...error.detail,
    },
  });
  if (error.status === 416 && error.detail.ActualObjectSize !== undefined) {
    res.setHeader('content-range', `bytes */${error.detail.ActualObjectSize}`);
  }
  if (req.method === 'HEAD') {
    res.writeHead(error.status, { 'x-oss-err': Buffer.from(xml).toString('base64'), 'content-length': 0 });
    res.end();
    return;
  }
  res.writeHead(error.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}
