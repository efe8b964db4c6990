import type { IncomingMessage } from 'node:http';
import type { ServiceError } from '../../core/errors.js';
import type { Metadata } from '../../core/metadata/types.js';
import type { Storage } from '../../core/storage.js';
import type { UserDirectory } from '../../core/users.js';
import type { Dialect, RequestContext } from '../../server/dialect.js';
import type { PanConfig } from './config.js';
import { chinaRfc3339 } from './drive.js';
import { CODE, PanError, Reply, sendEnvelope, toPanError } from './envelope.js';
import * as files from './files.js';
import { Params, readParams } from './params.js';
import { PanService, type PanCall } from './service.js';
import * as upload from './upload.js';
import { resumeCompletions } from './completion.js';

type Handler = (call: PanCall) => unknown;

interface Route {
  handler: Handler;
  /** The handler reads the (multipart) body itself. */
  multipart?: boolean;
}

const ROUTES: Record<string, Route> = {
  'POST upload/v1/file/create': { handler: (call) => upload.create(call, 1) },
  'POST upload/v1/file/get_upload_url': { handler: upload.getUploadUrl },
  'POST upload/v1/file/list_upload_parts': { handler: upload.listUploadParts },
  'POST upload/v1/file/upload_complete': { handler: upload.uploadCompleteV1 },
  'POST upload/v1/file/upload_async_result': { handler: upload.uploadAsyncResult },
  'POST upload/v1/file/mkdir': { handler: files.mkdir },
  'POST upload/v2/file/create': { handler: (call) => upload.create(call, 2) },
  'POST upload/v2/file/slice': { handler: upload.uploadSliceV2, multipart: true },
  'POST upload/v2/file/upload_complete': { handler: upload.uploadCompleteV2 },
  'GET upload/v2/file/domain': { handler: upload.domain },
  'POST upload/v2/file/single/create': { handler: upload.singleCreate, multipart: true },
  'POST upload/v2/file/sha1_reuse': { handler: upload.sha1Reuse },
  'GET api/v2/file/list': { handler: files.list },
  'GET api/v1/file/detail': { handler: files.detail },
  'POST api/v1/file/infos': { handler: files.infos },
  'POST api/v1/file/trash': { handler: files.trash },
  'POST api/v1/file/recover': { handler: files.recover },
  'POST api/v1/file/delete': { handler: files.remove },
  'POST api/v1/file/move': { handler: files.move },
  'PUT api/v1/file/name': { handler: files.rename },
  'POST api/v1/file/rename': { handler: files.renameMany },
  'GET api/v1/file/download_info': { handler: files.downloadInfo },
  'GET api/v1/user/info': { handler: files.userInfo },
};

const PAN_PATH = /^\/(api\/v[12]|upload\/v[12])\//;
/** Requests under this prefix (the presigned slice PUT, the download) answer errors with real HTTP statuses. */
const RAW_PREFIX = '/-/pan/';

/**
 * The 123pan open-platform API (`open-api.123pan.com`) over the engine: auth, V1 and V2
 * uploads with instant upload and in-order hashing, and the drive's file endpoints. Every
 * answer is the envelope `{code, message, data, x-traceID}`, errors as HTTP 200.
 */
export class PanDialect implements Dialect {
  readonly name = 'pan';
  private opened?: Promise<PanService>;
  private scanTimer?: NodeJS.Timeout;

  constructor(
    private readonly storage: Storage,
    private readonly users: UserDirectory,
    private readonly config: PanConfig,
    private readonly metadata: Metadata,
  ) {
    for (const app of config.apps) {
      if (!users.exists(app.user)) throw new Error(`config: panApps: app ${app.clientID} names user "${app.user}", who is not in users`);
    }
  }

  /**
   * Starts the periodic scan for completions a dead node left 'verifying' (when apps are
   * configured: without them there is no upload to finish).
   */
  start(): void {
    if (this.config.apps.length === 0 || this.scanTimer) return;
    const scan = () => void this.service().then(resumeCompletions).catch(() => {});
    scan();
    this.scanTimer = setInterval(scan, this.config.recoveryIntervalMs);
    this.scanTimer.unref();
  }

  /** Stops the scan and this node's background work (what is left unfinished, another node or the next start takes over). */
  async close(): Promise<void> {
    clearInterval(this.scanTimer);
    this.scanTimer = undefined;
    const service = await this.opened?.catch(() => undefined);
    await service?.close();
  }

  /** Made on the first pan request, or at start (its secrets are read, or made, then). */
  service(): Promise<PanService> {
    this.opened ??= PanService.open(this.storage, this.metadata, this.users, this.config);
    this.opened.catch(() => (this.opened = undefined));
    return this.opened;
  }

  /** `Platform: open_platform`, or a pan path not signed for S3 or OSS (a bucket named `api` stays S3's). */
  matches(req: IncomingMessage, rawPath: string, query: URLSearchParams): boolean {
    if (req.headers.platform !== undefined) return true;
    if (rawPath.startsWith(RAW_PREFIX)) return true;
    if (!PAN_PATH.test(rawPath)) return false;
    const authorization = req.headers.authorization ?? '';
    const signedForStorage = /^(AWS4-HMAC-SHA256|AWS|OSS|OSS4-HMAC-SHA256)\s/.test(authorization) || query.has('X-Amz-Signature') || query.has('OSSAccessKeyId');
    return !signedForStorage;
  }

  async handle(ctx: RequestContext): Promise<void> {
    const method = ctx.req.method ?? 'GET';
    const service = await this.service();
    if (ctx.rawPath.startsWith(RAW_PREFIX)) {
      if (method === 'PUT' && ctx.rawPath.startsWith(`${RAW_PREFIX}slice/`)) {
        ctx.log.operation = 'PutSlice';
        await upload.putPresignedSlice(service, ctx, async (pre) => (await service.driveOfBucket(pre.bucket, ctx.req))!);
        return;
      }
      if ((method === 'GET' || method === 'HEAD') && ctx.rawPath.startsWith(`${RAW_PREFIX}download/`)) {
        ctx.log.operation = 'Download';
        await files.download(service, ctx, (bucket) => service.driveOfBucket(bucket, ctx.req));
        return;
      }
      throw notFound(method, ctx.rawPath);
    }
    const endpoint = ctx.rawPath.replace(/^\/+/, '').replace(/\/+$/, '');
    const route = ROUTES[`${method} ${endpoint}`];
    const isTokenCall = endpoint === 'api/v1/access_token' && method === 'POST';
    // Named by its route only: an unknown path is any client's choice, and would grow the access
    // log's and the metrics' set of operations without end.
    ctx.log.operation = route || isTokenCall ? endpoint : 'Unknown';
    if (!route && !isTokenCall) throw notFound(method, ctx.rawPath);
    const platform = ctx.req.headers.platform;
    if (platform !== 'open_platform') {
      throw new PanError(CODE.badRequest, `请求头 Platform 必须是 open_platform (header Platform: open_platform is required, got ${platform === undefined ? 'none' : JSON.stringify(platform)})`);
    }
    if (!route) {
      const params = await readParams(ctx.req, ctx.query);
      const clientId = params.requiredString('clientID');
      await service.auth.checkRate(clientId, endpoint);
      const token = await service.auth.issue(clientId, params.requiredString('clientSecret'));
      // An app whose user is disabled gets no token (the secret was right: say why).
      const app = this.config.apps.find((candidate) => candidate.clientID === clientId);
      if (app && !this.users.byId(app.user)) throw new PanError(CODE.unauthorized, `app ${clientId}'s user is disabled`);
      ctx.log.user = clientId;
      sendEnvelope(ctx.res, ctx.requestId, { accessToken: token.accessToken, expiredAt: chinaRfc3339(token.expiredAt) });
      return;
    }
    const app = await service.auth.authenticate(ctx.req.headers.authorization);
    ctx.log.user = app.clientID;
    await service.auth.checkRate(app.clientID, endpoint);
    const params = route.multipart ? new Params() : await readParams(ctx.req, ctx.query);
    const result = await route.handler({ ctx, service, app, drive: await service.drive(app, ctx.req), params });
    if (result instanceof Reply) sendEnvelope(ctx.res, ctx.requestId, result.data, 0, result.message);
    else sendEnvelope(ctx.res, ctx.requestId, result);
  }

  sendError(ctx: RequestContext, error: ServiceError): void {
    const pan = toPanError(error);
    ctx.log.errorCode = String(pan.panCode);
    // A raw request's client looks at the HTTP status, not the envelope: never 200 for an error.
    const status = ctx.rawPath.startsWith(RAW_PREFIX) && pan.status === 200 ? (error.status === 200 ? 400 : error.status) : pan.status;
    sendEnvelope(ctx.res, ctx.requestId, null, pan.panCode, pan.message, status);
  }
}

function notFound(method: string, path: string): PanError {
  return new PanError(CODE.notFound, `no such endpoint: ${method} ${path}`, 404);
}
