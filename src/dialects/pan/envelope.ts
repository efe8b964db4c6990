import type { ServerResponse } from 'node:http';
import { ServiceError } from '../../core/errors.js';

/** 123pan's answer codes (0 ok; errors travel as HTTP 200 with one of these). */
export const CODE = {
  ok: 0,
  internal: 1,
  badRequest: 400,
  unauthorized: 401,
  notFound: 404,
  tooManyRequests: 429,
  fileNotFound: 5066,
  verifying: 20103,
} as const;

/** An error in the envelope: `code` and `message`, over HTTP 200 unless `httpStatus` says otherwise. */
export class PanError extends ServiceError {
  constructor(
    readonly panCode: number,
    message: string,
    httpStatus = 200,
  ) {
    super(`Pan${panCode}`, message, httpStatus);
  }
}

export const panErrors = {
  badRequest: (message: string) => new PanError(CODE.badRequest, message),
  missing: (name: string) => new PanError(CODE.badRequest, `${name} 参数缺失 (missing parameter ${name})`),
  invalid: (name: string, why: string) => new PanError(CODE.badRequest, `${name} 参数错误: ${why}`),
  unauthorized: () => new PanError(CODE.unauthorized, 'access_token无效或已过期 (access_token invalid or expired)'),
  tooManyRequests: () => new PanError(CODE.tooManyRequests, '请求太频繁 (too many requests)'),
  fileNotFound: (id?: number) => new PanError(CODE.fileNotFound, id === undefined ? '文件不存在' : `文件不存在 (fileID ${id})`),
  verifying: () => new PanError(CODE.verifying, '文件正在校验中,请间隔1秒后再试'),
  uploadFailed: (why: string) => new PanError(CODE.badRequest, `文件上传失败: ${why}`),
  noSuchPreupload: () => new PanError(CODE.badRequest, 'preuploadID 不存在或已过期 (no such upload)'),
  sameName: (name: string) =>
    new PanError(CODE.badRequest, `该目录下已经有同名文件: ${name} (pass duplicate=1 to keep both or duplicate=2 to overwrite)`),
};

/** A success whose `message` is not "ok" (e.g. 分片重复上传 for a slice sent twice). */
export class Reply {
  constructor(
    readonly data: unknown,
    readonly message: string,
  ) {}
}

export function sendEnvelope(res: ServerResponse, traceId: string, data: unknown, code = 0, message = 'ok', status = 200): void {
  const body = JSON.stringify({ code, message, data: code === 0 ? (data ?? null) : null, 'x-traceID': traceId });
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Engine errors in the pan vocabulary: missing objects are 5066, client mistakes 400, server faults 1. */
export function toPanError(error: ServiceError): PanError {
  if (error instanceof PanError) return error;
  switch (error.code) {
    case 'NoSuchKey':
      return panErrors.fileNotFound();
    case 'NoSuchUpload':
      return panErrors.noSuchPreupload();
    case 'FileAlreadyExists':
      return new PanError(CODE.badRequest, '目标位置已经有同名文件 (a file with that name exists)');
    case 'InsufficientStorage':
      return new PanError(CODE.internal, '存储空间不足 (the server has no space left; try again once space is freed)');
    case 'AccessDenied':
      // The engine's reason (a lock or a retention policy, say) tells the user why.
      return new PanError(CODE.unauthorized, `access denied (${error.message})`);
    default:
      return error.status >= 500 ? new PanError(CODE.internal, error.message) : new PanError(CODE.badRequest, error.message);
  }
}
