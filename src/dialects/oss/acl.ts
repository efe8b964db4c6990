import { ServiceError, errors } from '../../core/errors.js';
import type { IncomingHttpHeaders } from 'node:http';
import { cannedAcl, OBJECT_OWNER, OSS_BUCKET_ACLS, ossAclName, ossBucketAcl, type Acl, type OssBucketAcl } from '../../core/acl.js';
import { owner, sendEmpty } from '../s3/render.js';
import { header } from '../s3/request.js';
import { sendOssXml } from './render.js';
import type { OssCall } from './request.js';

/**
 * OSS's ACLs: a bucket is private, public-read or public-read-write (`x-oss-acl`), and its
 * objects follow it (their ACL is `default`) unless they have one of those levels of their own
 * (`x-oss-object-acl`). The rules are core/acl.ts's: OSS's levels are grants to AllUsers, which
 * a bucket's objects follow.
 */

/** `x-oss-acl` of PutBucket or PutBucketAcl; undefined when absent. */
export function bucketAclHeader(call: OssCall): OssBucketAcl | undefined {
  const value = header(call.ctx.req.headers, 'x-oss-acl')?.trim();
  if (value === undefined) return undefined;
  if (!(OSS_BUCKET_ACLS as readonly string[]).includes(value)) throw errors.invalidArgument('no such bucket access control exists', 'x-oss-acl', value);
  return value as OssBucketAcl;
}

function sendAcl(call: OssCall, ownerId: string, grant: string): void {
  sendOssXml(call.ctx.res, 200, 'AccessControlPolicy', {
    Owner: owner(call.users.byId(ownerId), ownerId),
    AccessControlList: { Grant: grant },
  });
}

export async function getBucketAcl(call: OssCall): Promise<void> {
  const acl = await call.storage.settings.getAcl(call.actor, call.bucket);
  sendAcl(call, acl.owner, ossAclName(acl));
}

export async function putBucketAcl(call: OssCall): Promise<void> {
  const name = bucketAclHeader(call);
  if (name === undefined) throw errors.invalidArgument('x-oss-acl is required', 'x-oss-acl', '');
  await call.storage.settings.putAcl(call.actor, call.bucket, (owner) => ossBucketAcl(name, owner));
  sendEmpty(call.ctx.res, 200);
}

const versionIdOf = (call: OssCall) => call.ctx.query.get('versionId') ?? undefined;

/** `x-oss-object-acl` as given: `default` or one of the three levels; undefined when absent. */
function objectAclLevel(headers: IncomingHttpHeaders): OssBucketAcl | 'default' | undefined {
  const value = header(headers, 'x-oss-object-acl')?.trim();
  if (value === undefined) return undefined;
  if (value !== 'default' && !(OSS_BUCKET_ACLS as readonly string[]).includes(value)) {
    throw errors.invalidArgument('no such object access control exists', 'x-oss-object-acl', value);
  }
  return value as OssBucketAcl | 'default';
}

/**
 * The ACL an object write's `x-oss-object-acl` asks for (PutObject, InitiateMultipartUpload,
 * CopyObject, a form's field), for the object's owner (core/acl.ts OBJECT_OWNER): undefined for
 * `default` or none, the bucket's to follow.
 */
export function objectAclFromHeaders(headers: IncomingHttpHeaders): Acl | undefined {
  const level = objectAclLevel(headers);
  return level === undefined || level === 'default' ? undefined : cannedAcl(level, OBJECT_OWNER);
}

/** GetObjectACL: the object's own level, or `default` where it follows its bucket's. */
export async function getObjectAcl(call: OssCall): Promise<void> {
  const acl = await call.storage.getObjectAcl(call.actor, call.bucket, call.key, versionIdOf(call));
  sendAcl(call, acl.owner, acl.objectsFollow ? 'default' : ossAclName(acl));
}

/** PutObjectACL: a level of the object's own, or `default` to follow its bucket's again. */
export async function putObjectAcl(call: OssCall): Promise<void> {
  const level = objectAclLevel(call.ctx.req.headers);
  if (level === undefined) throw errors.invalidArgument('x-oss-object-acl is required', 'x-oss-object-acl', '');
  await call.storage.putObjectAcl(call.actor, call.bucket, call.key, (bucket) => (level === 'default' ? undefined : cannedAcl(level, bucket.owner)), versionIdOf(call));
  sendEmpty(call.ctx.res, 200);
}
