import type { IncomingMessage } from 'node:http';
import { ServiceError } from '../../core/errors.js';
import type { Storage } from '../../core/storage.js';
import { actorOf, type UserDirectory } from '../../core/users.js';
import type { Dialect, RequestContext } from '../../server/dialect.js';
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

/** Picks the operation from method, target and query, as S3 does. */
function route(method: string, target: { bucket?: string; key?: string }, ctx: RequestContext): [string, Handler] {
  const { query, req } = ctx;
  const has = (name: string) => query.has(name);
  if (UNSUPPORTED_SUBRESOURCES.some(has)) throw notImplemented();
  if (target.bucket === undefined) {
    if (method === 'GET') return ['ListBuckets', buckets.listBuckets];
    throw methodNotAllowed();
  }
  if (target.key === undefined) {
    switch (method) {
      case 'PUT':
        if (has('versioning')) throw notImplemented();
        return ['CreateBucket', buckets.createBucket];
      case 'HEAD':
        return ['HeadBucket', buckets.headBucket];
      case 'DELETE':
        return ['DeleteBucket', buckets.deleteBucket];
      case 'POST':
        if (has('delete')) return ['DeleteObjects', buckets.deleteObjects];
        throw methodNotAllowed();
      case 'GET':
        if (has('uploads')) return ['ListMultipartUploads', multipart.listMultipartUploads];
        if (has('versions')) return ['ListObjectVersions', buckets.listObjectVersions];
        if (has('location')) return ['GetBucketLocation', buckets.getBucketLocation];
        if (has('versioning')) return ['GetBucketVersioning', buckets.getBucketVersioning];
        if (query.get('list-type') === '2') return ['ListObjectsV2', (call) => buckets.listObjects(call, 2)];
        return ['ListObjects', (call) => buckets.listObjects(call, 1)];
      default:
        throw methodNotAllowed();
    }
  }
  const copySource = header(req.headers, 'x-amz-copy-source');
  switch (method) {
    case 'PUT':
      if (has('uploadId') || has('partNumber')) {
        if (copySource !== undefined) return ['UploadPartCopy', (call) => multipart.uploadPartCopy(call, copySource)];
        return ['UploadPart', multipart.uploadPart];
      }
      if (copySource !== undefined) return ['CopyObject', (call) => objects.copyObject(call, copySource)];
      return ['PutObject', objects.putObject];
    case 'GET':
      if (has('uploadId')) return ['ListParts', multipart.listParts];
      return ['GetObject', (call) => objects.getObject(call, false)];
    case 'HEAD':
      return ['HeadObject', (call) => objects.getObject(call, true)];
    case 'DELETE':
      if (has('uploadId')) return ['AbortMultipartUpload', multipart.abortMultipartUpload];
      return ['DeleteObject', objects.deleteObject];
    case 'POST':
      if (has('uploads')) return ['CreateMultipartUpload', multipart.createMultipartUpload];
      if (has('uploadId')) return ['CompleteMultipartUpload', multipart.completeMultipartUpload];
      throw methodNotAllowed();
    default:
      throw methodNotAllowed();
  }
}

function methodNotAllowed(): ServiceError {
  return new ServiceError('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405);
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
