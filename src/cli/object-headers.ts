/**
 * What `cp` says about the objects it writes: the Content-Type from the file's extension,
 * ossutil's `--meta "Header:value#Header:value"`, and `--acl`. Wrong values are usage errors.
 */
import mime from 'mime-types';
import type { DialectName } from '../client/types.js';
import { UsageError } from './cloud.js';

/** The standard headers `--meta` may set, by their lower-case name. */
const STANDARD_HEADERS = new Map(
  ['Content-Type', 'Cache-Control', 'Content-Disposition', 'Content-Encoding', 'Content-Language', 'Expires'].map((name) => [name.toLowerCase(), name]),
);

/** S3's canned ACLs (x-amz-acl). */
const S3_ACLS = ['private', 'public-read', 'public-read-write', 'authenticated-read', 'aws-exec-read', 'bucket-owner-read', 'bucket-owner-full-control'];
/** OSS's object ACLs (x-oss-object-acl); `default` is the bucket's. */
const OSS_ACLS = ['default', 'private', 'public-read', 'public-read-write'];

export interface ObjectHeaders {
  contentType?: string;
  /** User metadata by name, without the dialect's prefix. */
  metadata: Record<string, string>;
  /** Other request headers (lower-case names): the standard ones but Content-Type, and the ACL. */
  headers: Record<string, string>;
}

/** The MIME type for a file name's extension; application/octet-stream when unknown. */
export function contentTypeFor(path: string): string {
  return mime.lookup(path) || 'application/octet-stream';
}

/**
 * ossutil's `--meta`: `Header:value` pairs separated by `#`. Standard headers by name (any
 * case); user metadata as `X-Oss-Meta-Name` or `X-Amz-Meta-Name`, whatever the endpoint's
 * dialect (the client sends it with its own prefix).
 */
export function parseMeta(text: string): ObjectHeaders {
  const result: ObjectHeaders = { metadata: {}, headers: {} };
  for (const pair of text.split('#')) {
    const colon = pair.indexOf(':');
    if (colon <= 0) throw new UsageError(`--meta: "${pair}" is not Header:value (pairs are separated by #)`);
    const name = pair.slice(0, colon).trim();
    const value = pair.slice(colon + 1).trim();
    const lower = name.toLowerCase();
    const userMeta = /^x-(oss|amz)-meta-(.+)$/.exec(lower);
    if (userMeta) {
      if (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(userMeta[2]!)) throw new UsageError(`--meta: "${name}" is not a valid metadata name`);
      result.metadata[userMeta[2]!] = value;
    } else if (lower === 'content-type') {
      result.contentType = value;
    } else if (STANDARD_HEADERS.has(lower)) {
      result.headers[lower] = value;
    } else {
      throw new UsageError(
        `--meta: unsupported header "${name}": give ${[...STANDARD_HEADERS.values()].join(', ')}, or user metadata as X-Oss-Meta-* or X-Amz-Meta-*`,
      );
    }
  }
  return result;
}

/** The ACL header for the dialect, or a usage error naming the values it takes. */
export function aclHeader(dialect: DialectName, acl: string): Record<string, string> {
  const allowed = dialect === 'oss' ? OSS_ACLS : S3_ACLS;
  if (!allowed.includes(acl)) throw new UsageError(`--acl: "${acl}" is not an ${dialect === 'oss' ? 'OSS object ACL' : 'S3 canned ACL'}: ${allowed.join(', ')}`);
  return dialect === 'oss' ? { 'x-oss-object-acl': acl } : { 'x-amz-acl': acl };
}
