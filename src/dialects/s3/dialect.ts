import type { IncomingMessage } from 'node:http';
import { ServiceError } from '../../core/errors.js';
import type { Storage } from '../../core/storage.js';
import { actorOf, type UserDirectory } from '../../core/users.js';
import type { Dialect, RequestContext } from '../../server/dialect.js';
import { preflightRefusal } from '../common/cors.js';
import { routeRest, type RouteTable } from '../common/routing.js';
import * as buckets from './buckets.js';
import type { S3Call, S3Settings } from './call.js';
import * as multipart from './multipart.js';
import * as objects from './objects.js';
import { sendS3Error } from './render.js';
import { authenticate, header, resolveTarget } from './request.js';

type Handler = (call: S3Call) => void | Promise<void>;

/** Sub-resources S3 has and Tessera does not: a clear 501 instead of a wrong answer. */
const UNSUPPORTED_SUBRESOURCES = [
  'acl', 'policy', 'cors', 'lifecycle', 'tagging', 'website', 'logging', 'notification', 'replication',
  'encryption', 'object-lock', 'ownershipControls', 'publicAccessBlock', 'requestPayment', 'accelerate',
  'analytics', 'inventory', 'metrics', 'intelligent-tiering', 'retention', 'legal-hold', 'attributes',
  'torrent', 'restore', 'select', 'policyStatus',
];

function notImplemented(): ServiceError {
  return new ServiceError('NotImplemented', 'A header you provided implies functionality that is not implemented.', 501);
}

const copySourceOf = (call: S3Call) => header(call.ctx.req.headers, 'x-amz-copy-source') ?? '';

const ROUTES: RouteTable<Handler> = {
  operations: {
    ListBuckets: ['ListBuckets', buckets.listBuckets],
    CreateBucket: ['CreateBucket', buckets.createBucket],
    HeadBucket: ['HeadBucket', buckets.headBucket],
    DeleteBucket: ['DeleteBucket', buckets.deleteBucket],
    DeleteObjects: ['DeleteObjects', buckets.deleteObjects],
    ListMultipartUploads: ['ListMultipartUploads', multipart.listMultipartUploads],
    ListObjects: ['ListObjects', (call) => buckets.listObjects(call, 1)],
    ListObjectsV2: ['ListObjectsV2', (call) => buckets.listObjects(call, 2)],
    PutObject: ['PutObject', objects.putObject],
    CopyObject: ['CopyObject', (call) => objects.copyObject(call, copySourceOf(call))],
    UploadPart: ['UploadPart', multipart.uploadPart],
    UploadPartCopy: ['UploadPartCopy', (call) => multipart.uploadPartCopy(call, copySourceOf(call))],
    GetObject: ['GetObject', (call) => objects.getObject(call, false)],
    HeadObject: ['HeadObject', (call) => objects.getObject(call, true)],
    ListParts: ['ListParts', multipart.listParts],
    DeleteObject: ['DeleteObject', objects.deleteObject],
    AbortMultipartUpload: ['AbortMultipartUpload', multipart.abortMultipartUpload],
    CreateMultipartUpload: ['CreateMultipartUpload', multipart.createMultipartUpload],
    CompleteMultipartUpload: ['CompleteMultipartUpload', multipart.completeMultipartUpload],
  },
  bucketGets: [
    ['versions', 'ListObjectVersions', buckets.listObjectVersions],
    ['location', 'GetBucketLocation', buckets.getBucketLocation],
    ['versioning', 'GetBucketVersioning', buckets.getBucketVersioning],
  ],
};

/** Picks the operation from method, target and query, as S3 does. */
function route(method: string, target: { bucket?: string; key?: string }, ctx: RequestContext): readonly [string, Handler] {
  const { query, req } = ctx;
  const has = (name: string) => query.has(name);
  if (UNSUPPORTED_SUBRESOURCES.some(has)) throw notImplemented();
  if (method === 'PUT' && target.bucket !== undefined && target.key === undefined && has('versioning')) throw notImplemented();
  return routeRest(ROUTES, method, target, query, header(req.headers, 'x-amz-copy-source') !== undefined);
}

/** The AWS S3 REST API: SigV4 (header and presigned), path and virtual-host style. */
export class S3Dialect implements Dialect {
  readonly name = 's3';

  constructor(
    private readonly storage: Storage,
    private readonly users: UserDirectory,
    private readonly settings: S3Settings,
  ) {}

  /** S3 is the default dialect: it takes whatever no other dialect claims. */
  matches(_req: IncomingMessage): boolean {
    return true;
  }

  async handle(ctx: RequestContext): Promise<void> {
    ctx.res.setHeader('x-amz-request-id', ctx.requestId);
    ctx.res.setHeader('x-amz-id-2', ctx.requestId);
    const target = resolveTarget(ctx.req.headers.host, ctx.rawPath, this.settings.domain);
    if (ctx.req.method === 'OPTIONS') {
      ctx.log.operation = 'PreflightRequest';
      throw preflightRefusal(ctx.req.headers, target.bucket);
    }
    const auth = authenticate(ctx, this.users);
    ctx.log.user = auth.user.id;
    const [operation, handler] = route(ctx.req.method ?? 'GET', target, ctx);
    ctx.log.operation = operation;
    await handler({
      ctx,
      storage: this.storage,
      users: this.users,
      settings: this.settings,
      auth,
      user: auth.user,
      actor: actorOf(auth.user),
      bucket: target.bucket ?? '',
      key: target.key ?? '',
    });
  }

  sendError(ctx: RequestContext, error: ServiceError): void {
    sendS3Error(ctx, error);
  }
}
