import type { IncomingMessage } from 'node:http';
import type { ServiceError } from '../../core/errors.js';
import type { Storage } from '../../core/storage.js';
import type { TemporaryCredentials } from '../../core/temporary-credentials.js';
import type { UserDirectory } from '../../core/users.js';
import { keyAnObjectAclMayOpen, requestActor, S3_CONDITION_HEADERS } from '../common/actor.js';
import type { Dialect, RequestContext } from '../../server/dialect.js';
import { checkRequestFeatures, refuseUnsupportedSubresources } from '../common/request-features.js';
import { addCorsHeaders, answerPreflight } from '../common/cors.js';
import { routeRest, type RouteTable } from '../common/routing.js';
import * as access from './access.js';
import * as acl from './acl.js';
import * as buckets from './buckets.js';
import type { S3Call, S3Settings } from './call.js';
import * as cors from './cors.js';
import * as lifecycle from './lifecycle.js';
import * as multipart from './multipart.js';
import * as objects from './objects.js';
import * as objectLock from './object-lock.js';
import { getObjectAttributes } from './attributes.js';
import * as encryption from './encryption.js';
import * as tagging from './tagging.js';
import * as versioning from './versioning.js';
import { postObject, S3_FORM_UPLOADS } from './post-object.js';
import { checkExpectedOwners, hoistQueryHeaders, S3_FEATURES } from './features.js';
import { sendS3Error } from './render.js';
import { header, identify, resolveTarget } from './request.js';

type Handler = (call: S3Call) => void | Promise<void>;

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
    ['versions', 'ListObjectVersions', versioning.listObjectVersions],
    ['location', 'GetBucketLocation', buckets.getBucketLocation],
    ['versioning', 'GetBucketVersioning', versioning.getBucketVersioning],
  ],
  bucketSubresources: [
    ['PUT', 'versioning', 'PutBucketVersioning', versioning.putBucketVersioning],
    ['PUT', 'cors', 'PutBucketCors', cors.putBucketCors],
    ['GET', 'cors', 'GetBucketCors', cors.getBucketCors],
    ['DELETE', 'cors', 'DeleteBucketCors', cors.deleteBucketCors],
    ['PUT', 'lifecycle', 'PutBucketLifecycleConfiguration', lifecycle.putBucketLifecycle],
    ['GET', 'lifecycle', 'GetBucketLifecycleConfiguration', lifecycle.getBucketLifecycle],
    ['DELETE', 'lifecycle', 'DeleteBucketLifecycle', lifecycle.deleteBucketLifecycle],
    ['PUT', 'encryption', 'PutBucketEncryption', encryption.putBucketEncryption],
    ['GET', 'encryption', 'GetBucketEncryption', encryption.getBucketEncryption],
    ['DELETE', 'encryption', 'DeleteBucketEncryption', encryption.deleteBucketEncryption],
    ['PUT', 'tagging', 'PutBucketTagging', tagging.putBucketTagging],
    ['GET', 'tagging', 'GetBucketTagging', tagging.getBucketTagging],
    ['DELETE', 'tagging', 'DeleteBucketTagging', tagging.deleteBucketTagging],
    ['PUT', 'object-lock', 'PutObjectLockConfiguration', objectLock.putObjectLockConfiguration],
    ['GET', 'object-lock', 'GetObjectLockConfiguration', objectLock.getObjectLockConfiguration],
    ['PUT', 'acl', 'PutBucketAcl', acl.putBucketAcl],
    ['GET', 'acl', 'GetBucketAcl', acl.getBucketAcl],
    ['PUT', 'policy', 'PutBucketPolicy', access.putBucketPolicy],
    ['GET', 'policy', 'GetBucketPolicy', access.getBucketPolicy],
    ['DELETE', 'policy', 'DeleteBucketPolicy', access.deleteBucketPolicy],
    ['GET', 'policyStatus', 'GetBucketPolicyStatus', access.getBucketPolicyStatus],
    ['PUT', 'publicAccessBlock', 'PutPublicAccessBlock', access.putPublicAccessBlock],
    ['GET', 'publicAccessBlock', 'GetPublicAccessBlock', access.getPublicAccessBlock],
    ['DELETE', 'publicAccessBlock', 'DeletePublicAccessBlock', access.deletePublicAccessBlock],
    ['PUT', 'ownershipControls', 'PutBucketOwnershipControls', access.putBucketOwnershipControls],
    ['GET', 'ownershipControls', 'GetBucketOwnershipControls', access.getBucketOwnershipControls],
    ['DELETE', 'ownershipControls', 'DeleteBucketOwnershipControls', access.deleteBucketOwnershipControls],
  ],
  objectSubresources: [
    ['PUT', 'tagging', 'PutObjectTagging', tagging.putObjectTagging],
    ['GET', 'tagging', 'GetObjectTagging', tagging.getObjectTagging],
    ['DELETE', 'tagging', 'DeleteObjectTagging', tagging.deleteObjectTagging],
    ['GET', 'attributes', 'GetObjectAttributes', getObjectAttributes],
    ['PUT', 'retention', 'PutObjectRetention', objectLock.putObjectRetention],
    ['GET', 'retention', 'GetObjectRetention', objectLock.getObjectRetention],
    ['PUT', 'legal-hold', 'PutObjectLegalHold', objectLock.putObjectLegalHold],
    ['GET', 'legal-hold', 'GetObjectLegalHold', objectLock.getObjectLegalHold],
    ['PUT', 'acl', 'PutObjectAcl', acl.putObjectAcl],
    ['GET', 'acl', 'GetObjectAcl', acl.getObjectAcl],
  ],
};

/** Picks the operation from method, target and query, as S3 does; sub-resources Tessera lacks are 501 first. */
function route(method: string, target: { bucket?: string; key?: string }, ctx: RequestContext): readonly [string, Handler] {
  refuseUnsupportedSubresources(S3_FEATURES, ctx.query);
  return routeRest(ROUTES, method, target, ctx.query, header(ctx.req.headers, 'x-amz-copy-source') !== undefined);
}

/** The AWS S3 REST API: SigV4 (header and presigned), path and virtual-host style. */
export class S3Dialect implements Dialect {
  readonly name = 's3';
  readonly formUploads = S3_FORM_UPLOADS;

  constructor(
    private readonly storage: Storage,
    private readonly users: UserDirectory,
    private readonly settings: S3Settings,
    /** Issues and checks the console's session credentials; without it a session token is refused. */
    private readonly temporary?: TemporaryCredentials,
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
      await answerPreflight(ctx, this.storage, target, { requireRequestMethod: false, responseVary: false });
      return;
    }
    // Before authentication: the answer carries the CORS headers whatever it turns out to be.
    if (ctx.req.headers.origin !== undefined) await addCorsHeaders(ctx, this.storage, target.bucket, false);
    if (ctx.form && target.bucket !== undefined && target.key === undefined) {
      // A browser form upload: the policy in its fields, not the request, is signed.
      ctx.log.operation = 'PostObject';
      const viaHost = ctx.rawPath === '/' || ctx.rawPath === '';
      await postObject(ctx, ctx.form, { storage: this.storage, users: this.users, temporary: this.temporary }, { bucket: target.bucket, viaHost });
      return;
    }
    const auth = await identify(ctx, this.users, this.temporary);
    ctx.log.user = auth.user.id;
    if (auth.anonymous) await this.storage.screenAnonymous(target.bucket, keyAnObjectAclMayOpen(ctx.req.method, ctx.query, target.key));
    hoistQueryHeaders(ctx);
    const [operation, handler] = route(ctx.req.method ?? 'GET', target, ctx);
    ctx.log.operation = operation;
    // Before the handler reads a byte of the body: what Tessera does not do is refused here.
    checkRequestFeatures(S3_FEATURES, operation, ctx.req.headers, ctx.query);
    const call: S3Call = {
      ctx,
      storage: this.storage,
      users: this.users,
      settings: this.settings,
      auth,
      user: auth.user,
      actor: requestActor(auth.anonymous ? undefined : auth.user, ctx.req, {
        authType: auth.anonymous ? undefined : auth.verified.presigned ? 'REST-QUERY-STRING' : 'REST-HEADER',
        signatureVersion: auth.anonymous ? undefined : 'AWS4-HMAC-SHA256',
      }, S3_CONDITION_HEADERS),
      bucket: target.bucket ?? '',
      key: target.key ?? '',
    };
    await checkExpectedOwners(call);
    await handler(call);
  }

  sendError(ctx: RequestContext, error: ServiceError): void {
    sendS3Error(ctx, error);
  }
}
