import { versionHeaders } from './versioning.js';
import { ServiceError, errors } from '../../core/errors.js';
import { normalizeEtag } from '../../core/etag.js';
import { combinesToFullObject } from '../../core/multipart-checksums.js';
import type { ChecksumAlgorithm, ChecksumSpec, CompletedPart } from '../../core/types.js';
import { readSmallBody } from '../common/body.js';
import { parseCompleteBody, type ListedPart } from '../common/complete-body.js';
import { parseCopySourceRange } from '../common/range.js';
import { listOf, type XmlNode } from '../common/xml.js';
import { schemeOf } from '../common/transport.js';
import { encodingType, intParam, optionalParam, type S3Call } from './call.js';
import { copySourceCheck, META_PREFIX, parseCopySource } from './objects.js';
import { isoDate, owner, quoteEtag, sendEmpty, sendXml, urlEncode } from './render.js';
import { header, objectAttributes, readVerifiedBody, requestBody } from './request.js';
import { overwriteCondition } from './write-conditions.js';
import { abortHeaders, expirationHeaders } from './lifecycle.js';
import { lockHeaders } from './object-lock.js';
import { objectAclFromHeaders } from './acl.js';
import { taggingHeader } from './tagging.js';
import { COPY_SOURCE_CUSTOMER_PREFIX, customerKey, encryptionHeaders, requestedEncryption } from './encryption.js';
import {
  checksumDisplayName,
  checksumElements,
  checksumHeader,
  decodeChecksumValue,
  digestHeaders,
  parseChecksumAlgorithm,
  partChecksumElement,
  requestedAlgorithm,
  requestedType,
  wireType,
} from './checksums.js';

/** A Complete body for 10,000 parts is ~1 MB; leave room for whitespace. */
const MAX_COMPLETE_BODY = 4 * 1024 * 1024;

function uploadIdOf(call: S3Call): string {
  return call.ctx.query.get('uploadId') ?? '';
}

export async function createMultipartUpload(call: S3Call): Promise<void> {
  const checksum = announcedChecksum(call);
  const { headers } = call.ctx.req;
  const attributes = {
    ...objectAttributes(headers, META_PREFIX),
    tags: taggingHeader(headers),
    lock: lockHeaders(headers),
    // The completed object's ACL.
    acl: objectAclFromHeaders(headers, call.users),
  };
  const encryption = requestedEncryption(call);
  const upload = await call.storage.uploads.create(call.actor, call.bucket, call.key, attributes, checksum, encryption);
  sendXml(
    call.ctx.res,
    200,
    'InitiateMultipartUploadResult',
    { Bucket: call.bucket, Key: call.key, UploadId: upload.uploadId },
    {
      ...(checksum ? { 'x-amz-checksum-algorithm': checksumDisplayName(checksum.algorithm), 'x-amz-checksum-type': wireType(checksum.type) } : {}),
      ...(await abortHeaders(call, call.key, upload.initiated)),
      ...encryptionHeaders(upload.encryption, encryption?.kind === 'sse-c' ? encryption.key : undefined),
    },
  );
}

/**
 * x-amz-checksum-algorithm and x-amz-checksum-type: the type defaults to COMPOSITE, FULL_OBJECT
 * for CRC64NVME (its only type); SHA1 and SHA256 cannot be FULL_OBJECT (they do not combine).
 */
function announcedChecksum(call: S3Call): ChecksumSpec | undefined {
  const algorithm = requestedAlgorithm(header(call.ctx.req.headers, 'x-amz-checksum-algorithm'));
  const type = requestedType(header(call.ctx.req.headers, 'x-amz-checksum-type'));
  if (!algorithm) {
    if (type) throw new ServiceError('InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.', 400);
    return undefined;
  }
  const spec: ChecksumSpec = { algorithm, type: type ?? (algorithm === 'crc64nvme' ? 'full-object' : 'composite') };
  const fits = spec.type === 'full-object' ? combinesToFullObject(algorithm) : algorithm !== 'crc64nvme';
  if (!fits) {
    throw new ServiceError('InvalidRequest', `The ${wireType(spec.type)} checksum type cannot be used with the ${algorithm} checksum algorithm.`, 400);
  }
  return spec;
}

/**
 * A part of an upload that announced an algorithm carries that algorithm's checksum, as a header
 * or a trailer (FULL_OBJECT: or none, and the server computes it); the part's checksum is answered.
 */
export async function uploadPart(call: S3Call): Promise<void> {
  const partNumber = intParam(call.ctx.query, 'partNumber', 0);
  // Read to write a part to it: UploadPart needs s3:PutObject, not ListParts' permission.
  const upload = await call.storage.uploads.get(call.actor, call.bucket, call.key, uploadIdOf(call), 's3:PutObject');
  const announced = upload.checksum;
  const presented = customerKey(call);
  const body = requestBody(call.ctx, call.auth);
  if (announced && body.checksum !== announced.algorithm && (body.checksum !== undefined || announced.type === 'composite')) {
    throw new ServiceError(
      'InvalidRequest',
      `Checksum Type mismatch occurred, expected checksum Type: ${announced.algorithm}, actual checksum Type: ${body.checksum ?? 'null'}`,
      400,
    );
  }
  const part = await call.storage.uploads.uploadPart(call.actor, call.bucket, call.key, uploadIdOf(call), partNumber, body.body, { ...body, customerKey: presented });
  sendEmpty(call.ctx.res, 200, {
    etag: quoteEtag(part.etag),
    ...(part.checksum ? checksumHeader(part.checksum) : {}),
    ...encryptionHeaders(upload.encryption, presented),
  });
}

export async function uploadPartCopy(call: S3Call, copySource: string): Promise<void> {
  await readSmallBody(call.ctx.req, 64 * 1024);
  const partNumber = intParam(call.ctx.query, 'partNumber', 0);
  const source = parseCopySource(copySource);
  const rangeHeader = header(call.ctx.req.headers, 'x-amz-copy-source-range');
  const presented = customerKey(call);
  const sourceKey = customerKey(call, COPY_SOURCE_CUSTOMER_PREFIX);
  const sourceInfo = await call.storage.headObject(call.actor, source.bucket, source.key, source.versionId);
  const range = rangeHeader === undefined ? undefined : parseCopySourceRange(rangeHeader, sourceInfo.size);
  const part = await call.storage.uploads.copyPart(
    call.actor,
    { bucket: call.bucket, key: call.key, uploadId: uploadIdOf(call), partNumber },
    { ...source, range, customerKey: sourceKey },
    { check: copySourceCheck(call), customerKey: presented },
  );
  const headers: Record<string, string> = sourceInfo.versionId === undefined ? {} : { 'x-amz-copy-source-version-id': sourceInfo.versionId };
  Object.assign(headers, encryptionHeaders(part.encryption, presented));
  sendXml(
    call.ctx.res,
    200,
    'CopyPartResult',
    { LastModified: isoDate(part.lastModified), ETag: quoteEtag(part.etag), ...partChecksumElement(part.checksum) },
    headers,
  );
}

/**
 * The part list is checked against the uploaded parts, their checksums included; the request's
 * x-amz-checksum-<alg> and x-amz-checksum-type describe the object (a composite value may end in
 * `-N`) and are checked against what the parts make.
 */
export async function completeMultipartUpload(call: S3Call): Promise<void> {
  const condition = await overwriteCondition(call, false);
  const { headers } = call.ctx.req;
  const body = await readVerifiedBody(call.ctx, call.auth, MAX_COMPLETE_BODY, { objectChecksum: true });
  const stated = digestHeaders(headers, { withPartCount: true });
  const type = requestedType(header(headers, 'x-amz-checksum-type'));
  const parts = completedParts(parseCompleteBody(body.toString('utf8')), uploadIdOf(call));
  const result = await condition.guard(
    call.storage.uploads.complete(call.actor, call.bucket, call.key, uploadIdOf(call), parts, {
      forbidOverwrite: condition.forbidOverwrite,
      stated: { type, object: stated && { algorithm: stated.algorithm, value: stated.value, partCount: stated.partCount } },
    }),
  );
  const host = call.ctx.req.headers.host ?? 'localhost';
  sendXml(
    call.ctx.res,
    200,
    'CompleteMultipartUploadResult',
    {
      Location: `${schemeOf(call.ctx.req)}://${host}/${call.bucket}/${call.key.split('/').map(encodeURIComponent).join('/')}`,
      Bucket: call.bucket,
      Key: call.key,
      ETag: quoteEtag(result.etag),
      ...checksumElements(result.checksum, result.partsCount),
    },
    // The object was written just now (a repeated Complete answers the same date, a moment later).
    {
      ...(await expirationHeaders(call, { key: call.key, size: result.size, lastModified: new Date() })),
      ...versionHeaders(result.versionId),
      ...encryptionHeaders(result.encryption, customerKey(call)),
    },
  );
}

/**
 * The listed parts with their checksums decoded. Two checksums on a part, or a value that is not
 * base64 of its algorithm's length, is S3's InvalidArgument; an algorithm Tessera has no part
 * stored with (MD5, XXHASH…) cannot match one, so the part is not found.
 */
function completedParts(listed: ListedPart[], uploadId: string): CompletedPart[] {
  return listed.map((part) => {
    const { checksums, ...completed } = part;
    if (!checksums) return completed;
    const algorithm = parseChecksumAlgorithm(checksums[0]!.name);
    const value = algorithm && decodeChecksumValue(algorithm, checksums[0]!.value);
    if (checksums.length > 1 || (algorithm && !value)) {
      throw new ServiceError('InvalidArgument', 'Invalid Base64 or multiple checksums present in request', 400, {
        ArgumentName: 'Checksum',
        ArgumentValue: checksums.map((checksum) => `${checksum.name}:${checksum.value};`).join(''),
      });
    }
    if (!algorithm) throw errors.invalidPart(uploadId, part.partNumber, normalizeEtag(part.etag));
    return { ...completed, checksum: { algorithm: algorithm as ChecksumAlgorithm, value: value! } };
  });
}

export async function abortMultipartUpload(call: S3Call): Promise<void> {
  await call.storage.uploads.abort(call.actor, call.bucket, call.key, uploadIdOf(call));
  sendEmpty(call.ctx.res, 204);
}

function ownerNodes(call: S3Call, upload: { owner: string }): XmlNode {
  const node = owner(call.users.byId(upload.owner), upload.owner);
  return { Initiator: node, Owner: node };
}

export async function listParts(call: S3Call): Promise<void> {
  const { query } = call.ctx;
  const encoding = encodingType(query);
  const encode = encoding ? urlEncode : (v: string) => v;
  const maxParts = Math.min(intParam(query, 'max-parts', 1000), 1000);
  const marker = intParam(query, 'part-number-marker', 0);
  const page = await call.storage.uploads.listParts(call.actor, call.bucket, call.key, uploadIdOf(call), { partNumberMarker: marker, maxParts });
  const abort = await abortHeaders(call, call.key, page.upload.initiated);
  sendXml(call.ctx.res, 200, 'ListPartsResult', {
    Bucket: call.bucket,
    EncodingType: encoding,
    Key: encode(call.key),
    UploadId: page.upload.uploadId,
    ...ownerNodes(call, page.upload),
    StorageClass: 'STANDARD',
    PartNumberMarker: marker,
    // Clients parse this as an integer whenever IsTruncated is true: never leave it empty.
    NextPartNumberMarker: page.nextPartNumberMarker ?? marker,
    MaxParts: maxParts,
    IsTruncated: page.isTruncated,
    Part: page.parts.map((part) => ({
      PartNumber: part.partNumber,
      LastModified: isoDate(part.lastModified),
      ETag: quoteEtag(part.etag),
      Size: part.size,
      ...partChecksumElement(part.checksum),
    })),
    ...announcedElements(page.upload),
  }, abort);
}

/** An upload's announced checksum as ListParts and ListMultipartUploads name it. */
function announcedElements(upload: { checksum?: ChecksumSpec }): { ChecksumAlgorithm?: string; ChecksumType?: string } {
  return upload.checksum ? { ChecksumAlgorithm: checksumDisplayName(upload.checksum.algorithm), ChecksumType: wireType(upload.checksum.type) } : {};
}

export async function listMultipartUploads(call: S3Call): Promise<void> {
  const { query } = call.ctx;
  const encoding = encodingType(query);
  const encode = encoding ? urlEncode : (v: string) => v;
  const maxUploads = Math.min(intParam(query, 'max-uploads', 1000), 1000);
  const prefix = query.get('prefix') ?? '';
  const delimiter = optionalParam(query, 'delimiter') || undefined;
  const keyMarker = optionalParam(query, 'key-marker') ?? '';
  const uploadIdMarker = optionalParam(query, 'upload-id-marker') ?? '';
  const page = await call.storage.uploads.list(call.actor, call.bucket, {
    prefix,
    delimiter,
    keyMarker,
    uploadIdMarker,
    maxUploads,
  });
  // One Initiator/Owner pair per owner, not per upload: a page's uploads mostly share one.
  const owners = new Map<string, XmlNode>();
  const ownersOf = (upload: { owner: string }): XmlNode => {
    let nodes = owners.get(upload.owner);
    if (nodes === undefined) owners.set(upload.owner, (nodes = ownerNodes(call, upload)));
    return nodes;
  };
  sendXml(call.ctx.res, 200, 'ListMultipartUploadsResult', {
    Bucket: call.bucket,
    KeyMarker: encode(keyMarker),
    UploadIdMarker: keyMarker ? uploadIdMarker : '',
    NextKeyMarker: encode(page.nextKeyMarker ?? ''),
    NextUploadIdMarker: page.nextUploadIdMarker ?? '',
    Delimiter: delimiter === undefined ? undefined : encode(delimiter),
    Prefix: encode(prefix),
    MaxUploads: maxUploads,
    IsTruncated: page.isTruncated,
    EncodingType: encoding,
    ...listOf(
      'Upload',
      page.uploads.map((upload) => ({
        Key: encode(upload.key),
        UploadId: upload.uploadId,
        ...ownersOf(upload),
        StorageClass: 'STANDARD',
        Initiated: isoDate(upload.initiated),
        ...announcedElements(upload),
      })),
    ),
    ...listOf('CommonPrefixes', page.commonPrefixes.map((p) => ({ Prefix: encode(p) }))),
  });
}
