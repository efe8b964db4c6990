import { ServiceError, errors } from '../../core/errors.js';
import { MAX_PART_NUMBER } from '../../core/multipart.js';
import type { ObjectRead } from '../../core/storage.js';
import type { StoredObject } from '../../core/metadata/types.js';
import type { ChecksumAlgorithm, ObjectInfo } from '../../core/types.js';
import { readSmallBody } from '../common/body.js';
import { evaluateConditions, preconditionFailed, readConditions } from '../common/conditions.js';
import { answeredNotModified, sendObject } from '../common/object-response.js';
import { invalidRange, parseRange, type ByteRange } from '../common/range.js';
import { intParam, type S3Call } from './call.js';
import { checksumElements, checksumHeader, objectChecksumHeaders, requestedAlgorithm, wireType } from './checksums.js';
import { isoDate, objectHeaders, quoteEtag, sendEmpty, sendXml } from './render.js';
import { decodePath, header, objectAttributes, requestBody } from './request.js';
import { expirationHeaders } from './lifecycle.js';
import { overwriteCondition } from './write-conditions.js';
import { copyTagging, taggingCountHeader, taggingHeader } from './tagging.js';
import { versionHeaders } from './versioning.js';
import { COPY_SOURCE_CUSTOMER_PREFIX, CUSTOMER_PREFIX, customerKey, encryptionHeaders, requestedEncryption } from './encryption.js';
import { objectAclFromHeaders } from './acl.js';
import { bypassGovernance, lockHeaders, lockResponseHeaders, requireIntegrityForLock, unverifiedBody } from './object-lock.js';

export const META_PREFIX = 'x-amz-meta-';

export async function putObject(call: S3Call): Promise<void> {
  const lock = lockHeaders(call.ctx.req.headers);
  const attributes = {
    ...objectAttributes(call.ctx.req.headers, META_PREFIX),
    tags: taggingHeader(call.ctx.req.headers),
    lock,
    acl: objectAclFromHeaders(call.ctx.req.headers, call.users),
  };
  const encryption = requestedEncryption(call);
  const condition = await overwriteCondition(call, true);
  const body = requestBody(call.ctx, call.auth);
  requireIntegrityForLock(call, lock, body);
  const info = await condition.guard(
    call.storage.putObject(call.actor, call.bucket, call.key, body.body, attributes, {
      ...body,
      forbidOverwrite: condition.forbidOverwrite,
      unverifiedBody: unverifiedBody(call, body),
      encryption,
    }),
  );
  sendEmpty(call.ctx.res, 200, {
    etag: quoteEtag(info.etag),
    ...encryptionHeaders(info.encryption, encryption?.kind === 'sse-c' ? encryption.key : undefined),
    ...versionHeaders(info.versionId),
    ...objectChecksumHeaders(info.checksum, info.partsCount),
    ...(await expirationHeaders(call, info)),
  });
}

/** GET and HEAD: conditions, a single range or one part (`?partNumber=N`), streamed across the object's blobs. */
export async function getObject(call: S3Call, headOnly: boolean): Promise<void> {
  const { req, res, query } = call.ctx;
  const presented = customerKey(call, CUSTOMER_PREFIX, true);
  const read = await call.storage.getObject(call.actor, call.bucket, call.key, query.get('versionId') ?? undefined, presented);
  const { info } = read;
  const headers = {
    ...objectHeaders(info, query, META_PREFIX),
    ...encryptionHeaders(info.encryption, presented),
    ...versionHeaders(info.versionId),
    ...taggingCountHeader(info.tags),
    ...lockResponseHeaders(info.lock),
    ...(await expirationHeaders(call, info)),
  };

  if (answeredNotModified(req, res, read, headers)) return;

  let range: ByteRange | undefined;
  const checksumMode = header(req.headers, 'x-amz-checksum-mode')?.trim().toUpperCase() === 'ENABLED';
  if (query.has('partNumber')) {
    if (req.headers.range) throw new ServiceError('InvalidRequest', 'Cannot specify both Range header and partNumber query parameter', 400);
    const partNumber = intParam(query, 'partNumber', 0);
    range = await partRange(read, partNumber);
    if (info.partsCount !== undefined) headers['x-amz-mp-parts-count'] = String(info.partsCount);
    if (checksumMode) Object.assign(headers, await partChecksumHeaders(call, info, partNumber));
  } else {
    range = parseRange(header(req.headers, 'range'), info.size);
    // A checksum covers the whole object: a range answer carries it only when the range is all of it.
    const whole = range === undefined || (range.start === 0 && range.end === info.size - 1);
    if (checksumMode && whole) Object.assign(headers, objectChecksumHeaders(info.checksum, info.partsCount));
  }

  await sendObject(call.storage, read, res, headers, range, headOnly);
}

/**
 * The checksum of the part `?partNumber=N` reads: the object's own for a single PUT (its one part
 * is all of it) and for a FULL_OBJECT object of one part; the part's stored checksum for a
 * COMPOSITE object. A part of a FULL_OBJECT object of several parts has none S3 would answer.
 */
async function partChecksumHeaders(call: S3Call, info: StoredObject, partNumber: number): Promise<Record<string, string>> {
  const checksum = info.checksum;
  if (!checksum) return {};
  if (info.partsCount === undefined || (checksum.type === 'full-object' && info.partsCount === 1)) {
    return objectChecksumHeaders(checksum, info.partsCount);
  }
  if (checksum.type !== 'composite') return {};
  const part = await call.storage.objectPartChecksum(info, partNumber);
  return part ? { ...checksumHeader(part), 'x-amz-checksum-type': wireType('composite') } : {};
}

async function partRange(read: ObjectRead, partNumber: number): Promise<ByteRange> {
  const { info } = read;
  if (partNumber < 1 || partNumber > MAX_PART_NUMBER) {
    throw errors.invalidArgument(`Part number must be an integer between 1 and ${MAX_PART_NUMBER}, inclusive`, 'partNumber', String(partNumber));
  }
  if (info.partsCount === undefined) {
    if (partNumber !== 1) throw invalidPartNumber();
    if (info.size === 0) throw invalidRange(0);
    return { start: 0, end: info.size - 1 };
  }
  const segment = (await read.segments()).find((s) => s.partNumber === partNumber);
  if (!segment) throw invalidPartNumber();
  if (segment.size === 0) throw invalidRange(info.size);
  return { start: segment.offset, end: segment.offset + segment.size - 1 };
}

function invalidPartNumber(): ServiceError {
  return new ServiceError('InvalidPartNumber', 'The requested partnumber is not satisfiable', 416);
}

export async function deleteObject(call: S3Call): Promise<void> {
  const outcome = await call.storage.deleteObject(call.actor, call.bucket, call.key, call.ctx.query.get('versionId') ?? undefined, {
    bypassGovernance: bypassGovernance(call.ctx.req.headers),
  });
  sendEmpty(call.ctx.res, 204, versionHeaders(outcome.versionId, outcome.deleteMarker));
}

/** `x-amz-copy-source`: `/bucket/key` or `bucket/key`, percent-encoded, with an optional `?versionId=`. */
export function parseCopySource(value: string, headerName = 'x-amz-copy-source'): { bucket: string; key: string; versionId?: string } {
  const [path, queryString] = value.split('?', 2);
  const versionId = queryString === undefined ? undefined : (new URLSearchParams(queryString).get('versionId') ?? undefined);
  const trimmed = (path ?? '').replace(/^\//, '');
  const slash = trimmed.indexOf('/');
  if (slash <= 0 || slash === trimmed.length - 1) {
    throw errors.invalidArgument('Copy Source must mention the source bucket and key: sourcebucket/sourcekey', headerName, value);
  }
  return { bucket: decodePath(trimmed.slice(0, slash)), key: decodePath(trimmed.slice(slash + 1)), versionId };
}

/** Precondition headers on a copy source: any failure (including "not modified") is 412. */
export function copySourceCheck(call: S3Call): (source: ObjectInfo) => void {
  const conditions = readConditions(call.ctx.req.headers, 'x-amz-copy-source-');
  return (source) => {
    if (evaluateConditions(conditions, source) === 'not-modified') throw preconditionFailed('x-amz-copy-source-If-None-Match');
  };
}

export async function copyObject(call: S3Call, copySource: string): Promise<void> {
  await readSmallBody(call.ctx.req, 64 * 1024);
  const source = parseCopySource(copySource);
  const directive = (header(call.ctx.req.headers, 'x-amz-metadata-directive') ?? 'COPY').toUpperCase();
  if (directive !== 'COPY' && directive !== 'REPLACE') {
    throw errors.invalidArgument('Unknown metadata directive.', 'x-amz-metadata-directive', directive);
  }
  const encryption = requestedEncryption(call);
  const sourceKey = customerKey(call, COPY_SOURCE_CUSTOMER_PREFIX);
  if (source.bucket === call.bucket && source.key === call.key && source.versionId === undefined && directive === 'COPY' && encryption === undefined) {
    throw new ServiceError(
      'InvalidRequest',
      "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      400,
    );
  }
  const attributes = directive === 'REPLACE' ? objectAttributes(call.ctx.req.headers, META_PREFIX) : undefined;
  const tags = copyTagging(call.ctx.req.headers);
  const requested = requestedAlgorithm(header(call.ctx.req.headers, 'x-amz-checksum-algorithm'));
  const info = await call.storage.copies.copy(call.actor, source, { bucket: call.bucket, key: call.key }, attributes, {
    check: copySourceCheck(call),
    checksum: (src) => copyChecksum(src, requested),
    tags,
    lock: lockHeaders(call.ctx.req.headers),
    encryption,
    sourceCustomerKey: sourceKey,
    // The copy's ACL is the one this request asks for (none: the default), never the source's.
    acl: objectAclFromHeaders(call.ctx.req.headers, call.users),
  });
  const headers = { ...versionHeaders(info.versionId), ...encryptionHeaders(info.encryption, encryption?.kind === 'sse-c' ? encryption.key : undefined) };
  if (info.sourceVersionId !== undefined) headers['x-amz-copy-source-version-id'] = info.sourceVersionId;
  sendXml(
    call.ctx.res,
    200,
    'CopyObjectResult',
    { LastModified: isoDate(info.lastModified), ETag: quoteEtag(info.etag), ...checksumElements(info.checksum, info.partsCount) },
    headers,
  );
}

/**
 * The algorithm whose digest of the bytes the copy gets, or undefined to keep the source's. S3
 * copies in one piece: the copy's checksum is a full-object one, the source's kept only when it is
 * one already (a composite one is computed again over the bytes); `x-amz-checksum-algorithm` asks
 * for another.
 */
function copyChecksum(source: ObjectInfo, requested: ChecksumAlgorithm | undefined): ChecksumAlgorithm | undefined {
  const wanted = requested ?? source.checksum?.algorithm;
  const kept = source.checksum?.algorithm === wanted && source.checksum?.type === 'full-object';
  return wanted === undefined || kept ? undefined : wanted;
}
