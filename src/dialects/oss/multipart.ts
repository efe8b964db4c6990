import { taggingHeader } from './tagging.js';
import { errors } from '../../core/errors.js';
import { fileAlreadyExists, MAX_PAGE } from '../../core/engine-parts.js';
import type { CompletedPart } from '../../core/types.js';
import { readSmallBody } from '../common/body.js';
import { parseCompleteBody } from '../common/complete-body.js';
import { parseCopySourceRange } from '../common/range.js';
import { listOf } from '../common/xml.js';
import { schemeOf } from '../common/transport.js';
import { encodingType, intParam, optionalParam } from '../s3/call.js';
import { parseCopySource } from '../s3/objects.js';
import { sendEmpty } from '../s3/render.js';
import { ossEncryptionHeaders, requestedOssEncryption } from './encryption.js';
import { header, objectAttributes } from '../s3/request.js';
import { COPY_SOURCE, copySourceCheck, writeHeaders } from './objects.js';
import { objectAclFromHeaders } from './acl.js';
import { crcHeader, META_PREFIX, ossEtag, sendOssXml, STORAGE_CLASS, urlEncode } from './render.js';
import { forbidOverwrite, readCheckedBody, uploadBody, type OssCall } from './request.js';

/** OSS accepts parts down to 100 KB (all but the last), checked at Complete. */
export const OSS_MIN_PART_SIZE = 100 * 1024;
const MAX_COMPLETE_BODY = 4 * 1024 * 1024;

function uploadIdOf(call: OssCall): string {
  return call.ctx.query.get('uploadId') ?? '';
}

/** `encoding-type=url`: the encoder for keys, prefixes and markers, and the element that says so. */
function encoding(call: OssCall): { encode: (value: string) => string; EncodingType?: 'url' } {
  const type = encodingType(call.ctx.query);
  return type ? { encode: urlEncode, EncodingType: type } : { encode: (value) => value };
}

function partNumberOf(call: OssCall): number {
  const raw = call.ctx.query.get('partNumber') ?? '';
  const number = /^\d{1,5}$/.test(raw) ? Number(raw) : NaN;
  if (!(number >= 1 && number <= 10_000)) {
    throw errors.invalidArgument('Part number must be an integer between 1 and 10000, inclusive.', 'partNumber', raw);
  }
  return number;
}

export async function initiateMultipartUpload(call: OssCall): Promise<void> {
  if (forbidOverwrite(call.ctx) && await call.storage.hasObject(call.actor, call.bucket, call.key)) throw fileAlreadyExists();
  const { headers } = call.ctx.req;
  const attributes = { ...objectAttributes(headers, META_PREFIX), tags: taggingHeader(headers), acl: objectAclFromHeaders(headers) };
  const upload = await call.storage.uploads.create(call.actor, call.bucket, call.key, attributes, undefined, requestedOssEncryption(call));
  const { encode, EncodingType } = encoding(call);
  sendOssXml(
    call.ctx.res,
    200,
    'InitiateMultipartUploadResult',
    { Bucket: call.bucket, Key: encode(call.key), UploadId: upload.uploadId, EncodingType },
    ossEncryptionHeaders(upload.encryption),
  );
}


export async function uploadPart(call: OssCall): Promise<void> {
  const partNumber = partNumberOf(call);
  const body = uploadBody(call.ctx);
  const part = await call.storage.uploads.uploadPart(call.actor, call.bucket, call.key, uploadIdOf(call), partNumber, body.body, body);
  sendEmpty(call.ctx.res, 200, { ...writeHeaders(part), ...ossEncryptionHeaders(part.encryption) });
}

export async function uploadPartCopy(call: OssCall, copySource: string): Promise<void> {
  await readSmallBody(call.ctx.req, 64 * 1024);
  const partNumber = partNumberOf(call);
  const source = parseCopySource(copySource, COPY_SOURCE);
  const rangeHeader = header(call.ctx.req.headers, `${COPY_SOURCE}-range`);
  const size = (await call.storage.headObject(call.actor, source.bucket, source.key, source.versionId)).size;
  const range = rangeHeader === undefined ? undefined : parseCopySourceRange(rangeHeader, size, `${COPY_SOURCE}-range`);
  const part = await call.storage.uploads.copyPart(
    call.actor,
    { bucket: call.bucket, key: call.key, uploadId: uploadIdOf(call), partNumber },
    { ...source, range },
    { check: copySourceCheck(call), digests: ['crc64'] },
  );
  sendOssXml(call.ctx.res, 200, 'CopyPartResult', { LastModified: part.lastModified.toISOString(), ETag: ossEtag(part.etag) }, writeHeaders(part));
}

/**
 * The part list, or (`x-oss-complete-all: yes`) every uploaded part in order, in which case a
 * body is an error. Parts of 100 KB and up (but the last); the object's CRC-64 is the parts' combined.
 */
export async function completeMultipartUpload(call: OssCall): Promise<void> {
  const text = await readCheckedBody(call.ctx, MAX_COMPLETE_BODY);
  const completeAll = header(call.ctx.req.headers, 'x-oss-complete-all');
  let parts: CompletedPart[] = [];
  if (completeAll !== undefined) {
    if (completeAll.trim().toLowerCase() !== 'yes') throw errors.invalidArgument('x-oss-complete-all must be yes.', 'x-oss-complete-all', completeAll);
    if (text.trim() !== '') {
      throw errors.invalidArgument('Should not specify both complete all header and http body.', 'x-oss-complete-all', completeAll);
    }
  } else {
    parts = parseCompleteBody(text);
  }
  const result = await call.storage.uploads.complete(call.actor, call.bucket, call.key, uploadIdOf(call), parts, {
    minPartSize: OSS_MIN_PART_SIZE,
    completeAll: completeAll !== undefined,
    forbidOverwrite: forbidOverwrite(call.ctx),
    withCrc64: true,
  });
  const { encode, EncodingType } = encoding(call);
  const etag = ossEtag(result.etag);
  const host = call.ctx.req.headers.host ?? 'localhost';
  sendOssXml(
    call.ctx.res,
    200,
    'CompleteMultipartUploadResult',
    {
      EncodingType,
      Location: `${schemeOf(call.ctx.req)}://${host}/${call.bucket}/${urlEncode(call.key).replace(/%2F/g, '/')}`,
      Bucket: call.bucket,
      Key: encode(call.key),
      ETag: etag,
    },
    { etag, ...crcHeader(result.crc64) },
  );
}

export async function abortMultipartUpload(call: OssCall): Promise<void> {
  await call.storage.uploads.abort(call.actor, call.bucket, call.key, uploadIdOf(call));
  sendEmpty(call.ctx.res, 204);
}

export async function listParts(call: OssCall): Promise<void> {
  const { query } = call.ctx;
  const { encode, EncodingType } = encoding(call);
  const maxParts = Math.min(intParam(query, 'max-parts', MAX_PAGE), MAX_PAGE);
  const marker = intParam(query, 'part-number-marker', 0);
  const page = await call.storage.uploads.listParts(call.actor, call.bucket, call.key, uploadIdOf(call), { partNumberMarker: marker, maxParts });
  sendOssXml(call.ctx.res, 200, 'ListPartsResult', {
    Bucket: call.bucket,
    Key: encode(call.key),
    UploadId: page.upload.uploadId,
    StorageClass: STORAGE_CLASS,
    PartNumberMarker: marker,
    // ossutil parses this with Atoi whenever IsTruncated is true: never empty.
    NextPartNumberMarker: page.nextPartNumberMarker ?? marker,
    MaxParts: maxParts,
    IsTruncated: page.isTruncated,
    EncodingType,
    Part: page.parts.map((part) => ({
      PartNumber: part.partNumber,
      LastModified: part.lastModified.toISOString(),
      ETag: ossEtag(part.etag),
      HashCrc64ecma: part.crc64,
      Size: part.size,
    })),
  });
}

/**
 * Keys in order, one key's uploads in UploadId order. `marker` stands in for a missing
 * `key-marker` (ossutil v1 pages that way).
 */
export async function listMultipartUploads(call: OssCall): Promise<void> {
  const { query } = call.ctx;
  const { encode, EncodingType } = encoding(call);
  const maxUploads = Math.min(intParam(query, 'max-uploads', MAX_PAGE), MAX_PAGE);
  const prefix = query.get('prefix') ?? '';
  const delimiter = optionalParam(query, 'delimiter') || undefined;
  const keyMarker = optionalParam(query, 'key-marker') ?? optionalParam(query, 'marker') ?? '';
  const uploadIdMarker = optionalParam(query, 'upload-id-marker') ?? '';
  const page = await call.storage.uploads.list(call.actor, call.bucket, { prefix, delimiter, keyMarker, uploadIdMarker, maxUploads });
  sendOssXml(call.ctx.res, 200, 'ListMultipartUploadsResult', {
    Bucket: call.bucket,
    EncodingType,
    KeyMarker: encode(keyMarker),
    UploadIdMarker: keyMarker ? uploadIdMarker : '',
    NextKeyMarker: encode(page.nextKeyMarker ?? ''),
    NextUploadIdMarker: page.nextUploadIdMarker ?? '',
    Delimiter: encode(delimiter ?? ''),
    Prefix: encode(prefix),
    MaxUploads: maxUploads,
    IsTruncated: page.isTruncated,
    ...listOf(
      'Upload',
      page.uploads.map((upload) => ({
        Key: encode(upload.key),
        UploadId: upload.uploadId,
        StorageClass: STORAGE_CLASS,
        Initiated: upload.initiated.toISOString(),
      })),
    ),
    ...listOf('CommonPrefixes', page.commonPrefixes.map((p) => ({ Prefix: encode(p) }))),
  });
}
