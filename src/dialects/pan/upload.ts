import { randomBytes } from 'node:crypto';
import { ServiceError } from '../../core/errors.js';
import type { PartInfo } from '../../core/types.js';
import type { RequestContext } from '../../server/dialect.js';
import { tap } from '../common/body.js';
import { sliceCount, sliceSizeFor } from './config.js';
import { validateName, type Drive } from './drive.js';
import { panErrors, PanError, CODE, Reply } from './envelope.js';
import { boundaryOf, fieldText, readForm, type FormPart } from './form-data.js';
import { awaitCompletion, complete, sliceSource } from './completion.js';
import { Params } from './params.js';
import { originOf, type PanCall, type PanService } from './service.js';
import type { UploadSession as Preupload } from '../../core/metadata/types.js';

const SLICE_PATH = '/-/pan/slice/';

type Version = 1 | 2;

// create, single/create and sha1_reuse share the target: parent folder, name, duplicate mode.

interface Target {
  parentKey: string;
  name: string;
  duplicate: number;
}

async function targetOf(drive: Drive, params: Params): Promise<Target> {
  const parentId = params.int('parentFileID', 0);
  const filename = params.requiredString('filename');
  const duplicate = params.int('duplicate', 0);
  if (duplicate > 2) throw panErrors.invalid('duplicate', 'must be 1 (keep both) or 2 (overwrite)');
  let parentKey = await drive.dirKey(parentId);
  let name = filename;
  if (params.bool('containDir')) {
    const segments = filename.split('/').filter((segment) => segment !== '');
    if (segments.length === 0) throw panErrors.invalid('filename', 'empty path');
    name = segments.pop()!;
    validateName(name);
    parentKey = await drive.mkdirs(parentKey, segments);
  }
  validateName(name);
  return { parentKey, name, duplicate };
}

function md5Param(params: Params, name: string): string {
  const value = params.requiredString(name).trim().toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(value)) throw panErrors.invalid(name, 'must be the MD5 in 32 hex digits');
  return value;
}

/** 秒传: a new file sharing the bytes of `found` (delete either, the other stays). Undefined when it vanished meanwhile. */
async function reuse(drive: Drive, found: { bucket: string; key: string }, target: Target): Promise<number | undefined> {
  const place = await drive.placeFile(target.parentKey, target.name, target.duplicate);
  try {
    const copy = await drive.storage.copies.copy(drive.actor, found, { bucket: drive.bucket, key: place.key }, undefined, {
      forbidOverwrite: !place.overwrite,
      // A pan file has no tags: the object whose bytes it shares may have some of its own.
      tags: [],
    });
    return copy.id;
  } catch (err) {
    if (err instanceof ServiceError && err.code === 'NoSuchKey') return undefined;
    throw err;
  }
}

export async function create(call: PanCall, version: Version): Promise<unknown> {
  const { drive, params, service } = call;
  const target = await targetOf(drive, params);
  const etag = md5Param(params, 'etag');
  const size = params.int('size');
  if (size > service.config.maxFileSize) {
    throw panErrors.badRequest(`文件大小超过限制 (the file is over ${service.config.maxFileSize} bytes)`);
  }
  const requestedKey = target.parentKey + target.name;
  const extra = version === 2 ? { servers: [originOf(call.ctx.req)] } : {};

  // The same file created again in the same place: the same session (resume by list_upload_parts).
  const open = await service.store.findOpenSession(drive.bucket, requestedKey, etag, size);
  if (open && open.clientId === call.app.clientID) {
    if (await engineUploadOpen(drive, open)) return { fileID: 0, reuse: false, preuploadID: open.id, sliceSize: open.sliceSize, ...extra };
    await service.store.setSessionStatus(open.id, 'failed', undefined, 'the upload expired');
    await service.hasher.forget(open.id);
  }

  const sliceSize = sliceSizeFor(size, service.config.sliceSize);
  const found = await drive.storage.findByContentHash(drive.actor, { md5: etag, size });
  if (found || size === 0) {
    const fileID = found ? await reuse(drive, found, target) : await putEmpty(drive, target);
    if (fileID !== undefined) return { fileID, reuse: true, preuploadID: '', sliceSize, ...extra };
  }
  if (sliceCount(size, sliceSize) > 10_000) throw panErrors.badRequest('分片数超过 10000 (too many slices for this slice size)');

  const place = await drive.placeFile(target.parentKey, target.name, target.duplicate);
  const upload = await drive.storage.uploads.create(drive.actor, drive.bucket, place.key, { headers: {}, userMeta: {} });
  // Hex: an id starting with '-' would read as an option on a command line (tessera pan parts <id>).
  const id = randomBytes(24).toString('hex');
  await service.store.insertSession({
    id,
    clientId: call.app.clientID,
    bucket: drive.bucket,
    key: place.key,
    requestedKey,
    uploadId: upload.uploadId,
    etag,
    size,
    sliceSize,
    duplicate: target.duplicate,
    createdAt: new Date(),
  });
  return { fileID: 0, reuse: false, preuploadID: id, sliceSize, ...extra };
}

async function engineUploadOpen(drive: Drive, pre: Preupload): Promise<boolean> {
  try {
    await drive.storage.uploads.get(drive.actor, drive.bucket, pre.key, pre.uploadId, 's3:PutObject');
    return true;
  } catch (err) {
    if (err instanceof ServiceError && err.code === 'NoSuchUpload') return false;
    throw err;
  }
}

async function putEmpty(drive: Drive, target: Target): Promise<number> {
  const place = await drive.placeFile(target.parentKey, target.name, target.duplicate);
  const empty: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: async function* () {} };
  const stored = await drive.storage.putObject(drive.actor, drive.bucket, place.key, empty, { headers: {}, userMeta: {} }, {
    forbidOverwrite: !place.overwrite,
  });
  return stored.id;
}

async function preuploadOf(call: PanCall, id = call.params.requiredString('preuploadID')): Promise<Preupload> {
  const pre = await call.service.store.getSession(id);
  if (!pre || pre.bucket !== call.drive.bucket) throw panErrors.noSuchPreupload();
  return pre;
}

function expectedSliceSize(pre: Preupload, sliceNo: number): number {
  const count = sliceCount(pre.size, pre.sliceSize);
  if (!Number.isInteger(sliceNo) || sliceNo < 1 || sliceNo > count) {
    throw panErrors.invalid('sliceNo', `must be between 1 and ${count} for this file`);
  }
  return sliceNo < count ? pre.sliceSize : pre.size - (count - 1) * pre.sliceSize;
}

function requireOpen(pre: Preupload): void {
  if (pre.status === 'open') return;
  if (pre.status === 'failed') throw panErrors.uploadFailed(pre.message ?? '');
  throw panErrors.badRequest('上传已完成或正在校验,不能再上传分片 (the upload is being completed)');
}

export async function getUploadUrl(call: PanCall): Promise<unknown> {
  const pre = await preuploadOf(call);
  requireOpen(pre);
  const sliceNo = call.params.int('sliceNo');
  expectedSliceSize(pre, sliceNo);
  const path = `${SLICE_PATH}${pre.id}/${sliceNo}`;
  return { presignedURL: originOf(call.ctx.req) + call.service.signer.signedPath(path, call.service.config.urlTtlMs), isMultipart: true };
}

/** Exactly `expected` bytes, or a clear error as soon as it is clear. */
async function* exactly(body: AsyncIterable<Buffer>, expected: number, sliceNo: number): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > expected) throw wrongSliceSize(sliceNo, expected, `more than that`);
    yield chunk;
  }
  if (size !== expected) throw wrongSliceSize(sliceNo, expected, `${size}`);
}

function wrongSliceSize(sliceNo: number, expected: number, got: string): PanError {
  return panErrors.invalid('slice', `分片 ${sliceNo} 应为 ${expected} 字节, 收到 ${got} (slice ${sliceNo} must be ${expected} bytes)`);
}

/**
 * Stores one slice as engine part `sliceNo`. When the stored hash state expects it next, it is
 * hashed on its way to disk and the state moves past it; otherwise the state catches up from
 * disk (and starts over if this slice replaced one it had hashed with other bytes).
 */
async function storeSlice(
  service: PanService,
  drive: Drive,
  pre: Preupload,
  sliceNo: number,
  body: AsyncIterable<Buffer>,
  check: { declaredSize?: number; sliceMd5?: string },
): Promise<PartInfo> {
  requireOpen(pre);
  const expected = expectedSliceSize(pre, sliceNo);
  if (check.declaredSize !== undefined && check.declaredSize !== expected) throw wrongSliceSize(sliceNo, expected, String(check.declaredSize));
  const fork = await service.hasher.fork(pre.id, sliceNo);
  let stream = exactly(body, expected, sliceNo);
  if (fork) stream = tap(stream, (chunk) => fork.update(chunk));
  const part = await drive.storage.uploads.uploadPart(drive.actor, drive.bucket, pre.key, pre.uploadId, sliceNo, stream, {
    verify: (digests) => {
      if (check.sliceMd5 !== undefined && digests.md5.toString('hex') !== check.sliceMd5) {
        throw panErrors.badRequest(`分片MD5校验失败 (sliceMD5 does not match slice ${sliceNo}: got ${digests.md5.toString('hex')})`);
      }
    },
  });
  // The slice is stored: what follows only brings the hash along (completion catches up on whatever it misses).
  const slices = sliceSource(drive, pre);
  try {
    if (fork && (await fork.commit(part.etag))) {
      // Slices that came early wait on disk for this one.
      if ((await slices.etagOf(sliceNo + 1)) !== undefined) void service.hasher.pump(pre.id, slices).catch(() => {});
    } else {
      await service.hasher.checkReplaced(pre.id, sliceNo, slices);
      void service.hasher.pump(pre.id, slices).catch(() => {});
    }
  } catch {
    // The store or the upload went away after the part was stored: the completion will say so.
  }
  return part;
}

/** The presigned PUT: no Authorization, no Platform; the signature in the URL is the credential. */
export async function putPresignedSlice(
  service: PanService,
  ctx: RequestContext,
  drive: (pre: Preupload) => Promise<Drive>,
): Promise<void> {
  const match = /^\/-\/pan\/slice\/([A-Za-z0-9_-]+)\/(\d{1,5})$/.exec(ctx.rawPath);
  if (!match || !service.signer.verify(ctx.rawPath, ctx.query)) {
    throw new PanError(CODE.unauthorized, '上传链接无效或已过期 (the presigned URL is invalid or expired)', 403);
  }
  const pre = await service.store.getSession(match[1]!);
  if (!pre) throw new PanError(CODE.badRequest, 'preuploadID 不存在或已过期 (no such upload)', 404);
  const declared = ctx.req.headers['content-length'];
  await storeSlice(service, await drive(pre), pre, Number(match[2]), ctx.req, {
    declaredSize: declared === undefined ? undefined : Number(declared),
  });
  ctx.res.writeHead(200, { 'content-length': '0' }).end();
}

/** Reads the text fields before the file part of a multipart form; returns them and the file part. */
async function formUntilFile(ctx: RequestContext, fileField: string): Promise<{ params: Params; file?: FormPart; rest: AsyncGenerator<FormPart> }> {
  const boundary = boundaryOf(ctx.req.headers['content-type']);
  if (!boundary) throw panErrors.badRequest('需要 multipart/form-data 请求体 (this endpoint takes multipart/form-data)');
  const form = readForm(ctx.req, boundary);
  const params = new Params();
  for (;;) {
    const next = await form.next();
    if (next.done) return { params, rest: form };
    const part = next.value;
    if (part.name.toLowerCase() === fileField.toLowerCase()) return { params, file: part, rest: form };
    params.set(part.name, await fieldText(part));
  }
}

/** Reads what is left of a form (the closing boundary). */
async function drain(rest: AsyncGenerator<FormPart>): Promise<void> {
  for await (const part of rest) for await (const _ of part.body) void _;
}

/** V2 `slice`: multipart with preuploadID, sliceNo, sliceMD5 and then the slice file. */
export async function uploadSliceV2(call: PanCall): Promise<unknown> {
  const { params, file, rest } = await formUntilFile(call.ctx, 'slice');
  if (!file) throw panErrors.missing('slice');
  const pre = await preuploadOf({ ...call, params });
  const sliceNo = params.int('sliceNo');
  const sliceMd5 = md5Param(params, 'sliceMD5');
  expectedSliceSize(pre, sliceNo);
  requireOpen(pre);
  const existing = await sliceSource(call.drive, pre).etagOf(sliceNo);
  if (existing === sliceMd5) {
    await drain(rest);
    return new Reply(null, '分片重复上传');
  }
  await storeSlice(call.service, call.drive, pre, sliceNo, file.body, { sliceMd5 });
  await drain(rest);
  return null;
}

export async function listUploadParts(call: PanCall): Promise<unknown> {
  const pre = await preuploadOf(call);
  if (pre.status === 'done') return { parts: [] };
  requireOpen(pre);
  const parts = await call.drive.storage.uploads.allParts(call.drive.actor, call.drive.bucket, pre.key, pre.uploadId);
  return { parts: parts.map((part) => ({ partNumber: String(part.partNumber), size: part.size, etag: part.etag })) };
}

export async function uploadCompleteV1(call: PanCall): Promise<unknown> {
  const outcome = await complete(call.service, call.drive, await preuploadOf(call));
  return outcome.completed ? { async: false, completed: true, fileID: outcome.fileID } : { async: true, completed: false, fileID: 0 };
}

export async function uploadCompleteV2(call: PanCall): Promise<unknown> {
  const outcome = await complete(call.service, call.drive, await preuploadOf(call));
  if (!outcome.completed) throw panErrors.verifying();
  return { completed: true, fileID: outcome.fileID };
}

export async function uploadAsyncResult(call: PanCall): Promise<unknown> {
  const pre = await preuploadOf(call);
  if (pre.status === 'done') return { completed: true, fileID: pre.fileId ?? 0 };
  if (pre.status === 'failed') throw panErrors.uploadFailed(pre.message ?? '');
  if (pre.status === 'open') throw panErrors.badRequest('请先调用 upload_complete (call upload_complete first)');
  const outcome = await awaitCompletion(call.service, call.drive, pre);
  return outcome.completed ? { completed: true, fileID: outcome.fileID } : { completed: false, fileID: 0 };
}

export function domain(call: PanCall): unknown {
  return [originOf(call.ctx.req)];
}

/** `single/create`: the whole file in one multipart post, its MD5 and size checked before it appears. */
export async function singleCreate(call: PanCall): Promise<unknown> {
  const { params, file, rest } = await formUntilFile(call.ctx, 'file');
  if (!file) throw panErrors.missing('file');
  const { drive, service } = call;
  const target = await targetOf(drive, params);
  const etag = md5Param(params, 'etag');
  const size = params.int('size');
  if (size > service.config.singleMaxSize) throw panErrors.badRequest(`单步上传的文件不能超过 ${service.config.singleMaxSize} 字节 (too large for single/create)`);
  const place = await drive.placeFile(target.parentKey, target.name, target.duplicate);
  let received = 0;
  const body = tap(file.body, (chunk) => {
    received += chunk.length;
    if (received > size) throw panErrors.uploadFailed(`文件大小不一致 (more than the declared ${size} bytes)`);
  });
  const stored = await drive.storage.putObject(drive.actor, drive.bucket, place.key, body, { headers: {}, userMeta: {} }, {
    digests: ['sha1'],
    forbidOverwrite: !place.overwrite,
    verify: (digests) => {
      if (digests.size !== size) throw panErrors.uploadFailed(`文件大小不一致 (received ${digests.size} bytes, declared ${size})`);
      if (digests.md5.toString('hex') !== etag) throw panErrors.uploadFailed(`文件MD5不一致 (received ${digests.md5.toString('hex')}, declared ${etag})`);
    },
  });
  await drain(rest);
  return { fileID: stored.id, completed: true };
}

/** `sha1_reuse`: instant upload by SHA-1 and size. */
export async function sha1Reuse(call: PanCall): Promise<unknown> {
  const { drive, params } = call;
  const target = await targetOf(drive, params);
  const sha1 = params.requiredString('sha1').trim().toLowerCase();
  if (!/^[0-9a-f]{40}$/.test(sha1)) throw panErrors.invalid('sha1', 'must be 40 hex digits');
  const size = params.int('size');
  const found = await drive.storage.findByContentHash(drive.actor, { sha1, size });
  const fileID = found ? await reuse(drive, found, target) : undefined;
  return fileID === undefined ? { fileID: 0, reuse: false } : { fileID, reuse: true };
}
