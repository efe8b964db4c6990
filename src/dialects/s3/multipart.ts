import type { UploadInfo } from '../../core/types.js';
import { readSmallBody } from '../common/body.js';
import { parseCompleteBody } from '../common/complete-body.js';
import { parseCopySourceRange } from '../common/range.js';
import type { XmlNode } from '../common/xml.js';
import { encodingType, intParam, optionalParam, type S3Call } from './call.js';
import { copySourceCheck, META_PREFIX, parseCopySource } from './objects.js';
import { isoDate, owner, quoteEtag, sendEmpty, sendXml, urlEncode } from './render.js';
import { header, objectAttributes, readVerifiedBody, requestBody } from './request.js';
import { overwriteCondition } from './write-conditions.js';

/** A Complete body for 10,000 parts is ~1 MB; leave room for whitespace. */
const MAX_COMPLETE_BODY = 4 * 1024 * 1024;

function uploadIdOf(call: S3Call): string {
  return call.ctx.query.get('uploadId') ?? '';
}

export function createMultipartUpload(call: S3Call): void {
  const upload = call.storage.createMultipartUpload(call.actor, call.bucket, call.key, objectAttributes(call.ctx.req.headers, META_PREFIX));
  sendXml(call.ctx.res, 200, 'InitiateMultipartUploadResult', { Bucket: call.bucket, Key: call.key, UploadId: upload.uploadId });
}

export async function uploadPart(call: S3Call): Promise<void> {
  const partNumber = intParam(call.ctx.query, 'partNumber', 0);
  const body = requestBody(call.ctx, call.auth);
  const part = await call.storage.uploadPart(call.actor, call.bucket, call.key, uploadIdOf(call), partNumber, body.body, body);
  sendEmpty(call.ctx.res, 200, { etag: quoteEtag(part.etag) });
}

export async function uploadPartCopy(call: S3Call, copySource: string): Promise<void> {
  await readSmallBody(call.ctx.req, 64 * 1024);
  const partNumber = intParam(call.ctx.query, 'partNumber', 0);
  const source = parseCopySource(copySource);
  const rangeHeader = header(call.ctx.req.headers, 'x-amz-copy-source-range');
  const sourceInfo = call.storage.headObject(call.actor, source.bucket, source.key);
  const range = rangeHeader === undefined ? undefined : parseCopySourceRange(rangeHeader, sourceInfo.size);
  const part = await call.storage.uploadPartCopy(
    call.actor,
    { bucket: call.bucket, key: call.key, uploadId: uploadIdOf(call), partNumber },
    { ...source, range },
    { check: copySourceCheck(call) },
  );
  sendXml(call.ctx.res, 200, 'CopyPartResult', { LastModified: isoDate(part.lastModified), ETag: quoteEtag(part.etag) });
}

export async function completeMultipartUpload(call: S3Call): Promise<void> {
  const condition = overwriteCondition(call, false);
  const parts = parseCompleteBody((await readVerifiedBody(call.ctx, call.auth, MAX_COMPLETE_BODY)).toString('utf8'));
  const result = await condition.guard(
    call.storage.completeMultipartUpload(call.actor, call.bucket, call.key, uploadIdOf(call), parts, { forbidOverwrite: condition.forbidOverwrite }),
  );
  const host = call.ctx.req.headers.host ?? 'localhost';
  sendXml(call.ctx.res, 200, 'CompleteMultipartUploadResult', {
    Location: `http://${host}/${call.bucket}/${call.key.split('/').map(encodeURIComponent).join('/')}`,
    Bucket: call.bucket,
    Key: call.key,
    ETag: quoteEtag(result.etag),
  });
}

export async function abortMultipartUpload(call: S3Call): Promise<void> {
  await call.storage.abortMultipartUpload(call.actor, call.bucket, call.key, uploadIdOf(call));
  sendEmpty(call.ctx.res, 204);
}

function ownerNodes(call: S3Call, upload: UploadInfo): XmlNode {
  const node = owner(call.users.byId(upload.owner), upload.owner);
  return { Initiator: node, Owner: node };
}

export function listParts(call: S3Call): void {
  const { query } = call.ctx;
  const encoding = encodingType(query);
  const encode = encoding ? urlEncode : (v: string) => v;
  const maxParts = Math.min(intParam(query, 'max-parts', 1000), 1000);
  const marker = intParam(query, 'part-number-marker', 0);
  const page = call.storage.listParts(call.actor, call.bucket, call.key, uploadIdOf(call), { partNumberMarker: marker, maxParts });
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
    })),
  });
}

export function listMultipartUploads(call: S3Call): void {
  const { query } = call.ctx;
  const encoding = encodingType(query);
  const encode = encoding ? urlEncode : (v: string) => v;
  const maxUploads = Math.min(intParam(query, 'max-uploads', 1000), 1000);
  const prefix = query.get('prefix') ?? '';
  const delimiter = optionalParam(query, 'delimiter') || undefined;
  const keyMarker = optionalParam(query, 'key-marker') ?? '';
  const uploadIdMarker = optionalParam(query, 'upload-id-marker') ?? '';
  const page = call.storage.listMultipartUploads(call.actor, call.bucket, {
    prefix,
    delimiter,
    keyMarker,
    uploadIdMarker,
    maxUploads,
  });
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
    Upload: page.uploads.map((upload) => ({
      Key: encode(upload.key),
      UploadId: upload.uploadId,
      ...ownerNodes(call, upload),
      StorageClass: 'STANDARD',
      Initiated: isoDate(upload.initiated),
    })),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
  });
}
