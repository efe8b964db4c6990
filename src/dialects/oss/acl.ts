import { ServiceError, errors } from '../../core/errors.js';
import { cannedAcl, OSS_BUCKET_ACLS, ossAclName, ossBucketAcl, type OssBucketAcl } from '../../core/acl.js';
import { owner, sendEmpty } from '../s3/render.js';
import { header } from '../s3/request.js';
import { sendOssXml } from './render.js';
import type { OssCall } from './request.js';

/**
 * OSS's ACLs: a bucket is private, public-read or public-read-write (`x-oss-acl`), and its
 * objects follow it (their ACL is `default`; Tessera keeps no other object ACL). The rules are
 * core/acl.ts's: OSS's levels are grants to AllUsers that the bucket's objects follow.
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
  const acl = await call.storage.getBucketAcl(call.actor, call.bucket);
  sendAcl(call, acl.owner, ossAclName(acl));
}

export async function putBucketAcl(call: OssCall): Promise<void> {
  const name = bucketAclHeader(call);
  if (name === undefined) throw errors.invalidArgument('x-oss-acl is required', 'x-oss-acl', '');
  await call.storage.putBucketAcl(call.actor, call.bucket, (owner) => ossBucketAcl(name, owner));
  sendEmpty(call.ctx.res, 200);
}

const versionIdOf = (call: OssCall) => call.ctx.query.get('versionId') ?? undefined;

/** An OSS object ACL level as the grants it stands for. */
const ossObjectAcl = (level: OssBucketAcl, owner: string) => cannedAcl(level, owner);

/** GetObjectACL: `default`, the bucket's, which every object follows here. */
export async function getObjectAcl(call: OssCall): Promise<void> {
  const acl = await call.storage.getObjectAcl(call.actor, call.bucket, call.key, versionIdOf(call));
  sendAcl(call, acl.owner, 'default');
}

/** PutObjectACL: `default` (and `private` where the bucket is) leave the object as it is; another is refused. */
export async function putObjectAcl(call: OssCall): Promise<void> {
  const value = header(call.ctx.req.headers, 'x-oss-object-acl')?.trim();
  if (value === undefined) throw errors.invalidArgument('x-oss-object-acl is required', 'x-oss-object-acl', '');
  if (!['default', 'private', 'public-read', 'public-read-write'].includes(value)) {
    throw errors.invalidArgument('no such object access control exists', 'x-oss-object-acl', value);
  }
  // `default` keeps what the object has (its bucket's); a level is taken only where it is that.
  const level = value === 'default' ? undefined : (value as OssBucketAcl);
  await call.storage.putObjectAcl(call.actor, call.bucket, call.key, (bucket) => level && ossObjectAcl(level, bucket.owner), versionIdOf(call));
  sendEmpty(call.ctx.res, 200);
}
