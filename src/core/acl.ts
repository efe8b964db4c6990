import { ServiceError, errors } from './errors.js';
import type { Actor, BucketAccess, BucketInfo } from './types.js';

/**
 * Access control lists, S3's older way to share: an owner and grants of READ, WRITE, READ_ACP,
 * WRITE_ACP or FULL_CONTROL to users or to the groups AllUsers (anyone, signed or not) and
 * AuthenticatedUsers (anyone signed in). A bucket's ACL is the bucket configuration kind `acl`;
 * an object's own is kept with it (ObjectAttributes.acl, each version its own), its owner always
 * the bucket's owner.
 * They count only while the bucket's Object Ownership is not BucketOwnerEnforced (a new bucket's
 * is), and Block Public Access may refuse or ignore the grants to the two groups.
 */

export type Permission = 'READ' | 'WRITE' | 'READ_ACP' | 'WRITE_ACP' | 'FULL_CONTROL';
export const PERMISSIONS: readonly Permission[] = ['READ', 'WRITE', 'READ_ACP', 'WRITE_ACP', 'FULL_CONTROL'];

export type Group = 'AllUsers' | 'AuthenticatedUsers';
export type Grantee = { user: string } | { group: Group };

export interface Grant {
  grantee: Grantee;
  permission: Permission;
}

export interface Acl {
  owner: string;
  grants: Grant[];
  /**
   * OSS's bucket ACL, which its objects follow (their ACL is `default`): READ then reads the
   * objects too and WRITE writes them. S3's bucket READ lists only. On an object's ACL as
   * objectAclOf answers it: not the object's own (it has none), what it follows.
   */
  objectsFollow?: boolean;
}

export const CANNED_ACLS = ['private', 'public-read', 'public-read-write', 'authenticated-read', 'bucket-owner-read', 'bucket-owner-full-control'] as const;
export type CannedAcl = (typeof CANNED_ACLS)[number];

export function isCannedAcl(name: string): name is CannedAcl {
  return (CANNED_ACLS as readonly string[]).includes(name);
}

/** A canned ACL's grants for a resource of `owner` in a bucket of `bucketOwner`; the owner always has FULL_CONTROL. */
export function cannedAcl(name: CannedAcl, owner: string, bucketOwner = owner): Acl {
  const grants: Grant[] = [{ grantee: { user: owner }, permission: 'FULL_CONTROL' }];
  if (name === 'public-read' || name === 'public-read-write') grants.push({ grantee: { group: 'AllUsers' }, permission: 'READ' });
  if (name === 'public-read-write') grants.push({ grantee: { group: 'AllUsers' }, permission: 'WRITE' });
  if (name === 'authenticated-read') grants.push({ grantee: { group: 'AuthenticatedUsers' }, permission: 'READ' });
  if (bucketOwner !== owner && (name === 'bucket-owner-read' || name === 'bucket-owner-full-control')) {
    grants.push({ grantee: { user: bucketOwner }, permission: name === 'bucket-owner-read' ? 'READ' : 'FULL_CONTROL' });
  }
  return { owner, grants };
}

/**
 * The ACL an object's grants come from, where it has one in force: its own (set by the write that
 * made the version, or by PutObjectAcl), else its bucket's where the objects follow that (an OSS
 * bucket ACL; OSS's `default`). Undefined where ACLs are off or there is neither.
 */
export function objectAclInForce(bucket: BucketInfo, object: { acl?: Acl } | undefined): Acl | undefined {
  if (!aclsEnabled(bucket.access)) return undefined;
  if (object?.acl) return object.acl;
  const acl = bucket.access?.acl;
  return acl?.objectsFollow ? acl : undefined;
}

/**
 * What GetObjectAcl answers: the ACL in force, else the bucket owner's FULL_CONTROL. One the
 * object does not have of its own is marked `objectsFollow` (OSS calls it `default`).
 */
export function objectAclOf(bucket: BucketInfo, object: { acl?: Acl } | undefined): Acl {
  const acl = objectAclInForce(bucket, object);
  if (acl && acl === object?.acl) return acl;
  return { ...(acl ?? defaultAcl(bucket.owner)), objectsFollow: true };
}

/**
 * The owner a dialect builds an object's ACL for before the bucket is read (`cannedAcl(name,
 * OBJECT_OWNER)`): objectAclToStore puts the bucket's owner, who owns every object, in its place.
 * No user has this id.
 */
export const OBJECT_OWNER = '';

/**
 * The ACL an object write (or PutObjectAcl) asked for, as the object keeps it: its owner made the
 * bucket's, checked against the bucket's Object Ownership (only the owner's own ACL where ACLs
 * are off: AccessControlListNotSupported) and Block Public Access (BlockPublicAcls: AccessDenied).
 * Undefined when none was asked for, or ACLs are off (an owner-only ACL changes nothing there).
 */
export function objectAclToStore(requested: Acl | undefined, bucket: BucketInfo): Acl | undefined {
  if (requested === undefined) return undefined;
  const owner = bucket.owner;
  const grants = requested.grants.map((grant): Grant =>
    'user' in grant.grantee && grant.grantee.user === OBJECT_OWNER ? { grantee: { user: owner }, permission: grant.permission } : grant,
  );
  const acl: Acl = { owner, grants };
  checkBucketAcl(acl, bucket.access, false);
  return aclsEnabled(bucket.access) ? acl : undefined;
}

/** Whether two ACLs say the same: the same owner and the same grants, in any order. */
export function sameAcl(a: Acl, b: Acl): boolean {
  const grants = (acl: Acl) => acl.grants.map((grant) => JSON.stringify([grant.grantee, grant.permission])).sort().join('\n');
  return a.owner === b.owner && grants(a) === grants(b);
}

/** The ACL a resource has when none was set: its owner's FULL_CONTROL. */
export function defaultAcl(owner: string): Acl {
  return cannedAcl('private', owner);
}

/** Whether the ACL grants nothing to anyone but its owner (all a bucket with ACLs disabled takes). */
export function ownerOnly(acl: Acl): boolean {
  return acl.grants.every((grant) => 'user' in grant.grantee && grant.grantee.user === acl.owner);
}

/**
 * Checks an ACL about to be set on a bucket (or given at its creation) against the bucket's
 * Object Ownership and Block Public Access; `creating`: CreateBucket's own error codes.
 */
export function checkBucketAcl(acl: Acl, access: BucketAccess | undefined, creating: boolean): void {
  if (!aclsEnabled(access) && !ownerOnly(acl)) {
    if (creating) throw new ServiceError('InvalidBucketAclWithObjectOwnership', "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting", 400);
    throw aclsNotSupported();
  }
  if (access?.publicAccessBlock?.blockPublicAcls && aclIsPublic(acl)) {
    if (creating) throw new ServiceError('InvalidBucketAclWithBlockPublicAccessError', 'Bucket cannot have public ACLs set with BlockPublicAccess enabled', 400);
    throw errors.publicAccessBlocked('ACL');
  }
}

/** Whether any grant goes to AllUsers or AuthenticatedUsers (what Block Public Access calls public). */
export function aclIsPublic(acl: Acl): boolean {
  return acl.grants.some((grant) => 'group' in grant.grantee);
}

/**
 * The bucket's ACLs are in force: Object Ownership is not BucketOwnerEnforced. A bucket made
 * before Tessera kept Object Ownership has none stored, and is ObjectWriter, as AWS's older buckets are.
 */
export function aclsEnabled(access: BucketAccess | undefined): boolean {
  return access?.ownership !== 'BucketOwnerEnforced';
}

/** ACLs are off on this bucket: S3's refusal of a request that sets one other than the owner's own. */
export function aclsNotSupported(): ServiceError {
  return new ServiceError('AccessControlListNotSupported', 'The bucket does not allow ACLs', 400);
}

/** The permission a bucket ACL must grant for each action it can grant (S3's mapping). */
const BUCKET_PERMISSIONS = new Map<string, Permission>([
  ['s3:ListBucket', 'READ'],
  ['s3:ListBucketVersions', 'READ'],
  ['s3:ListBucketMultipartUploads', 'READ'],
  ['s3:PutObject', 'WRITE'],
  ['s3:DeleteObject', 'WRITE'],
  ['s3:DeleteObjectVersion', 'WRITE'],
  ['s3:AbortMultipartUpload', 'WRITE'],
  ['s3:ListMultipartUploadParts', 'WRITE'],
  ['s3:GetBucketAcl', 'READ_ACP'],
  ['s3:PutBucketAcl', 'WRITE_ACP'],
]);

/**
 * The permission an object's ACL must grant for each action it can grant (S3's mapping; WRITE
 * grants nothing on an object). An OSS bucket's ACL grants these over the objects that follow it.
 */
const OBJECT_PERMISSIONS = new Map<string, Permission>([
  ['s3:GetObject', 'READ'],
  ['s3:GetObjectVersion', 'READ'],
  ['s3:GetObjectAcl', 'READ_ACP'],
  ['s3:GetObjectVersionAcl', 'READ_ACP'],
  ['s3:PutObjectAcl', 'WRITE_ACP'],
  ['s3:PutObjectVersionAcl', 'WRITE_ACP'],
]);

/** Whether the bucket's ACL grants the actor the action (false where ACLs are off, or the action is not a bucket ACL's to grant). */
export function bucketAclAllows(actor: Actor, action: string, bucket: BucketInfo): boolean {
  const acl = bucket.access?.acl;
  const needed = BUCKET_PERMISSIONS.get(action);
  if (!acl || needed === undefined || !aclsEnabled(bucket.access)) return false;
  return grants(acl, needed, actor, bucket.access);
}

/**
 * Whether an object's ACL may decide the action in this bucket: ACLs are on and the action is one
 * an object ACL grants. Only then is an object read to decide a request its bucket did not allow.
 */
export function objectAclMayAllow(action: string, bucket: BucketInfo): boolean {
  return OBJECT_PERMISSIONS.has(action) && aclsEnabled(bucket.access);
}

/** Whether the object's ACL in force (objectAclInForce) grants the actor the action. */
export function objectAclAllows(actor: Actor, action: string, bucket: BucketInfo, acl: Acl): boolean {
  const needed = OBJECT_PERMISSIONS.get(action);
  return needed !== undefined && aclsEnabled(bucket.access) && grants(acl, needed, actor, bucket.access);
}

function grants(acl: Acl, needed: Permission, actor: Actor, access: BucketAccess | undefined): boolean {
  const ignorePublic = access?.publicAccessBlock?.ignorePublicAcls === true;
  return acl.grants.some((grant) => (grant.permission === needed || grant.permission === 'FULL_CONTROL') && matches(grant.grantee, actor, ignorePublic));
}

function matches(grantee: Grantee, actor: Actor, ignorePublic: boolean): boolean {
  if ('user' in grantee) return !actor.anonymous && grantee.user === actor.userId;
  if (ignorePublic) return false;
  return grantee.group === 'AllUsers' || !actor.anonymous;
}

/** Stored form of an ACL (the `acl` bucket configuration): JSON. */
export function aclDocument(acl: Acl): string {
  return JSON.stringify(acl);
}

export function parseAclDocument(document: string): Acl {
  return JSON.parse(document) as Acl;
}

/** The URIs S3 names its groups by. */
export const GROUP_URIS: Record<Group, string> = {
  AllUsers: 'http://acs.amazonaws.com/groups/global/AllUsers',
  AuthenticatedUsers: 'http://acs.amazonaws.com/groups/global/AuthenticatedUsers',
};

/** OSS's three bucket ACLs (and `default` for objects, which follows the bucket's). */
export const OSS_BUCKET_ACLS = ['private', 'public-read', 'public-read-write'] as const;
export type OssBucketAcl = (typeof OSS_BUCKET_ACLS)[number];

/** An OSS bucket ACL as grants its objects follow. */
export function ossBucketAcl(name: OssBucketAcl, owner: string): Acl {
  return { ...cannedAcl(name, owner), objectsFollow: true };
}

/** The OSS name for a bucket's ACL: what it grants everyone, read as OSS's three levels. */
export function ossAclName(acl: Acl): OssBucketAcl {
  const everyone = (permission: Permission) =>
    acl.grants.some((grant) => 'group' in grant.grantee && grant.grantee.group === 'AllUsers' && (grant.permission === permission || grant.permission === 'FULL_CONTROL'));
  return everyone('WRITE') ? 'public-read-write' : everyone('READ') ? 'public-read' : 'private';
}
