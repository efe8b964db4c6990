import type { IncomingMessage } from 'node:http';
import { ServiceError } from '../../core/errors.js';
import type { Storage } from '../../core/storage.js';
import type { TemporaryCredentials } from '../../core/temporary-credentials.js';
import type { UserDirectory } from '../../core/users.js';
import { ANONYMOUS_USER, keyAnObjectAclMayOpen, OSS_CONDITION_HEADERS, requestActor, type RequestAuth } from '../common/actor.js';
import type { Dialect, RequestContext } from '../../server/dialect.js';
import { checkRequestFeatures, refuseUnsupportedSubresources } from '../common/request-features.js';
import { addCorsHeaders, answerPreflight } from '../common/cors.js';
import { routeRest, type RouteTable } from '../common/routing.js';
import { header } from '../s3/request.js';
import * as buckets from './buckets.js';
import * as cors from './cors.js';
import * as lifecycle from './lifecycle.js';
import { OSS_FEATURES } from './features.js';
import * as multipart from './multipart.js';
import * as objects from './objects.js';
import * as tagging from './tagging.js';
import * as versioning from './versioning.js';
import * as worm from './worm.js';
import * as acl from './acl.js';
import { OSS_FORM_UPLOADS, postObject } from './post-object.js';
import * as encryption from './encryption.js';
import * as policy from './policy.js';
import { sendOssError } from './render.js';
import { authenticate, endpointOf, resolveTargets, type OssCall, type OssSettings, type OssTarget } from './request.js';

type Handler = (call: OssCall) => void | Promise<void>;

/** Query parameters that only an OSS presigned URL carries. */
const OSS_QUERY_SIGNATURE = ['OSSAccessKeyId', 'x-oss-signature-version', 'x-oss-credential', 'x-oss-signature'];

const copySourceOf = (call: OssCall) => header(call.ctx.req.headers, objects.COPY_SOURCE) ?? '';

const ROUTES: RouteTable<Handler> = {
  operations: {
    ListBuckets: ['ListBuckets', buckets.listBuckets],
    CreateBucket: ['PutBucket', buckets.putBucket],
    HeadBucket: ['HeadBucket', buckets.headBucket],
    DeleteBucket: ['DeleteBucket', buckets.deleteBucket],
    DeleteObjects: ['DeleteMultipleObjects', buckets.deleteMultipleObjects],
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
    CreateMultipartUpload: ['InitiateMultipartUpload', multipart.initiateMultipartUpload],
    CompleteMultipartUpload: ['CompleteMultipartUpload', multipart.completeMultipartUpload],
  },
  bucketGets: [
    ['bucketInfo', 'GetBucketInfo', buckets.getBucketInfo],
    ['location', 'GetBucketLocation', buckets.getBucketLocation],
    ['versions', 'ListObjectVersions', versioning.listObjectVersions],
  ],
  bucketSubresources: [
    ['PUT', 'acl', 'PutBucketAcl', acl.putBucketAcl],
    ['GET', 'acl', 'GetBucketAcl', acl.getBucketAcl],
    ['PUT', 'versioning', 'PutBucketVersioning', versioning.putBucketVersioning],
    ['GET', 'versioning', 'GetBucketVersioning', versioning.getBucketVersioning],
    ['PUT', 'policy', 'PutBucketPolicy', policy.putBucketPolicy],
    ['GET', 'policy', 'GetBucketPolicy', policy.getBucketPolicy],
    ['DELETE', 'policy', 'DeleteBucketPolicy', policy.deleteBucketPolicy],
    ['PUT', 'encryption', 'PutBucketEncryption', encryption.putBucketEncryption],
    ['GET', 'encryption', 'GetBucketEncryption', encryption.getBucketEncryption],
    ['DELETE', 'encryption', 'DeleteBucketEncryption', encryption.deleteBucketEncryption],
    ['PUT', 'cors', 'PutBucketCors', cors.putBucketCors],
    ['GET', 'cors', 'GetBucketCors', cors.getBucketCors],
    ['DELETE', 'cors', 'DeleteBucketCors', cors.deleteBucketCors],
    ['PUT', 'lifecycle', 'PutBucketLifecycle', lifecycle.putBucketLifecycle],
    ['GET', 'lifecycle', 'GetBucketLifecycle', lifecycle.getBucketLifecycle],
    ['DELETE', 'lifecycle', 'DeleteBucketLifecycle', lifecycle.deleteBucketLifecycle],
    ['PUT', 'tagging', 'PutBucketTags', tagging.putBucketTags],
    ['GET', 'tagging', 'GetBucketTags', tagging.getBucketTags],
    ['DELETE', 'tagging', 'DeleteBucketTags', tagging.deleteBucketTags],
    ['POST', 'worm', 'InitiateBucketWorm', worm.initiateBucketWorm],
    ['DELETE', 'worm', 'AbortBucketWorm', worm.abortBucketWorm],
    ['GET', 'worm', 'GetBucketWorm', worm.getBucketWorm],
    // Extend names the policy too: it goes before Complete.
    ['POST', 'wormExtend', 'ExtendBucketWorm', worm.extendBucketWorm],
    ['POST', 'wormId', 'CompleteBucketWorm', worm.completeBucketWorm],
  ],
  objectSubresources: [
    ['PUT', 'tagging', 'PutObjectTagging', tagging.putObjectTagging],
    ['GET', 'tagging', 'GetObjectTagging', tagging.getObjectTagging],
    ['DELETE', 'tagging', 'DeleteObjectTagging', tagging.deleteObjectTagging],
    ['PUT', 'acl', 'PutObjectACL', acl.putObjectAcl],
    ['GET', 'acl', 'GetObjectACL', acl.getObjectAcl],
  ],
};

/** How an OSS request was signed, as policy conditions see it (s3:authType, s3:signatureversion). */
function ossAuthOf(ctx: RequestContext, signed: boolean): RequestAuth {
  if (!signed) return {};
  const authorization = header(ctx.req.headers, 'authorization');
  const v4 = authorization === undefined ? ctx.query.get('x-oss-signature-version') === 'OSS4-HMAC-SHA256' : authorization.startsWith('OSS4-HMAC-SHA256');
  return { authType: authorization === undefined ? 'REST-QUERY-STRING' : 'REST-HEADER', signatureVersion: v4 ? 'OSS4-HMAC-SHA256' : 'OSS' };
}

/** Picks the operation from method, target and query, as OSS does; sub-resources Tessera lacks are 501 first. */
function route(method: string, target: OssTarget, ctx: RequestContext): readonly [string, Handler] {
  refuseUnsupportedSubresources(OSS_FEATURES, ctx.query);
  return routeRest(ROUTES, method, target, ctx.query, header(ctx.req.headers, objects.COPY_SOURCE) !== undefined);
}

/**
 * The Alibaba Cloud OSS REST API over the same engine and users as S3: V1 and V4 signatures
 * (header and presigned), path style, virtual-host style and ali-oss's bucket-in-Host form.
 */
export class OssDialect implements Dialect {
  readonly name = 'oss';
  readonly formUploads = OSS_FORM_UPLOADS;

  constructor(
    private readonly storage: Storage,
    private readonly users: UserDirectory,
    private readonly settings: OssSettings,
    private readonly temporary?: TemporaryCredentials,
  ) {}

  /**
   * An OSS Authorization header, an OSS presigned query, any `x-oss-*` header, or a preflight naming one. A V1 presigned
   * query that lost its OSSAccessKeyId (`Expires` and `Signature` alone) is OSS's too, to be refused
   * in OSS's words: S3's V2 presigned query has the same two beside `AWSAccessKeyId`.
   */
  matches(req: IncomingMessage, _rawPath: string, query: URLSearchParams): boolean {
    const authorization = header(req.headers, 'authorization') ?? '';
    if (/^(OSS|OSS4-HMAC-SHA256)\s/.test(authorization)) return true;
    if (OSS_QUERY_SIGNATURE.some((name) => query.has(name))) return true;
    if (query.has('Signature') && query.has('Expires') && !query.has('AWSAccessKeyId')) return true;
    // A browser's preflight carries no x-oss-* header, only the names of those it will send.
    if (/(^|,)\s*x-oss-/i.test(header(req.headers, 'access-control-request-headers') ?? '')) return true;
    return Object.keys(req.headers).some((name) => name.startsWith('x-oss-'));
  }

  async handle(ctx: RequestContext): Promise<void> {
    ctx.res.setHeader('x-oss-request-id', ctx.requestId);
    const { host } = ctx.req.headers;
    const candidates = resolveTargets(host, ctx.rawPath, this.settings.domain);
    // Every candidate names the same bucket (they differ in whether the path repeats it).
    const addressed = candidates[candidates.length - 1]!;
    if (ctx.req.method === 'OPTIONS') {
      ctx.log.operation = 'PreflightRequest';
      try {
        await answerPreflight(ctx, this.storage, addressed, { requireRequestMethod: true, responseVary: true });
      } catch (err) {
        // OSS's error document names no Method or ResourceType.
        if (err instanceof ServiceError && err.code === 'AccessForbidden') throw new ServiceError(err.code, err.message, err.status);
        throw err;
      }
      return;
    }
    // Before authentication: the answer carries the CORS headers whatever it turns out to be.
    if (ctx.req.headers.origin !== undefined) await addCorsHeaders(ctx, this.storage, addressed.bucket, true);
    const formTarget = ctx.form ? candidates.find((target) => target.bucket !== undefined && target.key === undefined) : undefined;
    if (ctx.form && formTarget) {
      // A browser form upload: the policy in its fields, not the request, is signed.
      ctx.log.operation = 'PostObject';
      await postObject(ctx, ctx.form, { storage: this.storage, users: this.users }, { bucket: formTarget.bucket!, viaHost: formTarget.viaHost });
      return;
    }
    const { user, target } = await authenticate(ctx, this.users, candidates, this.temporary);
    ctx.log.user = user?.id ?? '';
    if (!user) await this.storage.screenAnonymous(target.bucket, keyAnObjectAclMayOpen(ctx.req.method, ctx.query, target.key));
    const [operation, handler] = route(ctx.req.method ?? 'GET', target, ctx);
    ctx.log.operation = operation;
    // Before the handler reads a byte of the body: what Tessera does not do is refused here.
    checkRequestFeatures(OSS_FEATURES, operation, ctx.req.headers, ctx.query);
    await handler({
      ctx,
      storage: this.storage,
      users: this.users,
      settings: this.settings,
      user: user ?? ANONYMOUS_USER,
      actor: requestActor(user, ctx.req, ossAuthOf(ctx, user !== undefined), OSS_CONDITION_HEADERS),
      bucket: target.bucket ?? '',
      key: target.key ?? '',
      endpoint: endpointOf(host, target),
    });
  }

  sendError(ctx: RequestContext, error: ServiceError): void {
    sendOssError(ctx, error);
  }
}
