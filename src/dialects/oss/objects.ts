import { errors } from '../../core/errors.js';
import type { ObjectInfo } from '../../core/types.js';
import { readSmallBody } from '../common/body.js';
import { evaluateConditions, preconditionFailed, readConditions } from '../common/conditions.js';
import { answeredNotModified, sendObject } from '../common/object-response.js';
import { parseRange } from '../common/range.js';
import { sendEmpty } from '../s3/render.js';
import { header, objectAttributes } from '../s3/request.js';
import { parseCopySource } from '../s3/objects.js';
import { crcHeader, META_PREFIX, ossEtag, ossObjectHeaders, sendOssXml } from './render.js';
import { forbidOverwrite, uploadBody, type OssCall } from './request.js';
import { copyTagging, taggingCountHeader, taggingHeader } from './tagging.js';
import { ossVersionHeaders } from './versioning.js';
import { ossEncryptionHeaders, requestedOssEncryption } from './encryption.js';
import { objectAclFromHeaders } from './acl.js';

export const COPY_SOURCE = 'x-oss-copy-source';

/** The headers PutObject and UploadPart answer with: ETag, CRC-64 and Content-MD5. */
export function writeHeaders(written: { etag: string; crc64?: string }): Record<string, string> {
  return {
    etag: ossEtag(written.etag),
    ...crcHeader(written.crc64),
    'content-md5': Buffer.from(written.etag, 'hex').toString('base64'),
  };
}

export async function putObject(call: OssCall): Promise<void> {
  const { headers } = call.ctx.req;
  const attributes = { ...objectAttributes(headers, META_PREFIX), tags: taggingHeader(headers), acl: objectAclFromHeaders(headers) };
  const encryption = requestedOssEncryption(call);
  const body = uploadBody(call.ctx);
  const info = await call.storage.putObject(call.actor, call.bucket, call.key, body.body, attributes, {
    ...body,
    forbidOverwrite: forbidOverwrite(call.ctx),
    encryption,
  });
  sendEmpty(call.ctx.res, 200, { ...writeHeaders(info), ...ossVersionHeaders(info.versionId), ...ossEncryptionHeaders(info.encryption) });
}

/** GET and HEAD (and `?objectMeta`): conditions, a single range, streamed across the object's blobs. */
export async function getObject(call: OssCall, headOnly: boolean): Promise<void> {
  const { req, res, query } = call.ctx;
  const read = await call.storage.getObject(call.actor, call.bucket, call.key, query.get('versionId') ?? undefined);
  const headers = {
    ...ossObjectHeaders(read.info, query),
    ...ossVersionHeaders(read.info.versionId),
    ...taggingCountHeader(read.info.tags),
    ...ossEncryptionHeaders(read.info.encryption),
  };
  if (answeredNotModified(req, res, read, headers)) return;
  await sendObject(call.storage, read, res, headers, parseRange(header(req.headers, 'range'), read.info.size), headOnly);
}

export async function deleteObject(call: OssCall): Promise<void> {
  const outcome = await call.storage.deleteObject(call.actor, call.bucket, call.key, call.ctx.query.get('versionId') ?? undefined);
  sendEmpty(call.ctx.res, 204, ossVersionHeaders(outcome.versionId, outcome.deleteMarker));
}

/** `x-oss-copy-source-if-*` on a copy: any failure (including "not modified") is 412. */
export function copySourceCheck(call: OssCall): (source: ObjectInfo) => void {
  const conditions = readConditions(call.ctx.req.headers, `${COPY_SOURCE}-`);
  return (source) => {
    if (evaluateConditions(conditions, source) === 'not-modified') throw preconditionFailed(`${COPY_SOURCE}-if-none-match`);
  };
}

/** CopyObject by reference; `x-oss-metadata-directive` COPY (default) or REPLACE; copying onto itself is allowed. */
export async function copyObject(call: OssCall, copySource: string): Promise<void> {
  await readSmallBody(call.ctx.req, 64 * 1024);
  const source = parseCopySource(copySource, COPY_SOURCE);
  const directive = (header(call.ctx.req.headers, 'x-oss-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw errors.invalidArgument('Unknown metadata directive.', 'x-oss-metadata-directive', directive);
  }
  const attributes = directive === 'REPLACE' ? objectAttributes(call.ctx.req.headers, META_PREFIX) : undefined;
  const info = await call.storage.copies.copy(call.actor, source, { bucket: call.bucket, key: call.key }, attributes, {
    check: copySourceCheck(call),
    forbidOverwrite: forbidOverwrite(call.ctx),
    tags: copyTagging(call.ctx.req.headers),
    encryption: requestedOssEncryption(call),
    // The copy's own ACL is the one this request asks for (none: `default`), never the source's.
    acl: objectAclFromHeaders(call.ctx.req.headers),
  });
  const headers = { ...crcHeader(info.crc64), ...ossVersionHeaders(info.versionId), ...ossEncryptionHeaders(info.encryption) };
  if (info.sourceVersionId !== undefined) headers['x-oss-copy-source-version-id'] = info.sourceVersionId;
  sendOssXml(call.ctx.res, 200, 'CopyObjectResult', { ETag: ossEtag(info.etag), LastModified: info.lastModified.toISOString() }, headers);
}
