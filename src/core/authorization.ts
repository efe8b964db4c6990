import { aclsEnabled, bucketAclAllows, objectAclAllows, type Acl } from './acl.js';
import { errors } from './errors.js';
import { evaluatePolicies, parsePolicy, policyIsPublic, type Policy, type PolicyRequest } from './policy.js';
import type { BucketConfigKind } from './metadata/types.js';
import type { Actor, BucketInfo } from './types.js';

/**
 * The one decision on every request of every dialect: may this actor do this action to this
 * bucket or object? The engine (core/storage.ts) asks it for each call with the S3 action the
 * call amounts to, whichever dialect, console, presigned URL or POST form it came from. The order
 * (docs/security.md, "Who may do what"):
 *
 * 1. Root may do anything.
 * 2. The bucket's owner may always read, replace and delete the bucket's policy, so that a policy
 *    cannot lock its owner out (as AWS lets the owning account).
 * 3. An explicit Deny in the user's policies or the bucket policy refuses.
 * 4. A user with no policy attached may do anything to the buckets they own, create buckets and
 *    list their own. Attaching a policy confines a user to what the policies allow.
 * 5. An Allow in the user's policies, or in the bucket policy for this principal, allows. With
 *    RestrictPublicBuckets on, a public bucket policy allows signed-in users only. So does a grant
 *    of the bucket's ACL, or of the object's (`objectAcl`, read by the engine only where the
 *    bucket alone did not allow), while ACLs are enabled (core/acl.ts).
 * 6. Otherwise the request is refused: 403 AccessDenied.
 */

/** Condition values by lower-cased key (aws:SourceIp, s3:prefix, …). */
export type Conditions = Readonly<Record<string, string | undefined>>;

export interface AccessRequest {
  /** The S3 action, `s3:GetObject`, … */
  action: string;
  /** The bucket as read, with its access settings; absent for the service's own actions (CreateBucket, ListAllMyBuckets). */
  bucket?: BucketInfo;
  /** The object's key, for an object action. */
  key?: string;
  /** Condition values only this call knows (s3:prefix, s3:VersionId, …), beside the request's own. */
  conditions?: Conditions;
  /**
   * The ACL in force on the object (core/acl.ts objectAclInForce), for an action an object ACL
   * grants: the engine reads the object and gives it only when the bucket alone did not allow.
   */
  objectAcl?: Acl;
}

export type Decision = 'allow' | 'explicit-deny' | 'implicit-deny';

/** Policy actions that touch the bucket policy itself: its owner keeps them whatever the policy says. */
const POLICY_ACTIONS = new Set(['s3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy', 's3:GetBucketPolicyStatus']);
/** What a user with no policy attached may do without a bucket. */
const SERVICE_ACTIONS = new Set(['s3:CreateBucket', 's3:ListAllMyBuckets']);

export function decide(actor: Actor, request: AccessRequest): Decision {
  if (actor.root) return 'allow';
  const { bucket } = request;
  const owner = !actor.anonymous && bucket !== undefined && bucket.owner === actor.userId;
  if (owner && POLICY_ACTIONS.has(request.action)) return 'allow';

  const bucketPolicy = bucket?.access?.policy === undefined ? undefined : bucketPolicyOf(bucket.name, bucket.access.policy);
  const userPolicies = actor.anonymous ? [] : (actor.policies ?? []);
  // The request as policies see it, built only when there is a policy to ask (the usual request meets none).
  const asked = userPolicies.length > 0 || bucketPolicy ? policyRequest(actor, request) : undefined;
  const byUser = asked && userPolicies.length > 0 ? evaluatePolicies(userPolicies, asked) : 'none';
  const byBucket = asked && bucketPolicy ? evaluatePolicies([bucketPolicy], asked) : 'none';
  if (byUser === 'deny' || byBucket === 'deny') return 'explicit-deny';

  if (!actor.anonymous && actor.policies === undefined) {
    if (owner) return 'allow';
    if (bucket === undefined && SERVICE_ACTIONS.has(request.action)) return 'allow';
  }
  if (byUser === 'allow') return 'allow';
  if (byBucket === 'allow') {
    const restricted = bucket!.access?.publicAccessBlock?.restrictPublicBuckets === true && policyIsPublic(bucketPolicy!);
    if (!(restricted && actor.anonymous)) return 'allow';
  }
  if (bucket !== undefined && bucketAclAllows(actor, request.action, bucket)) return 'allow';
  if (bucket !== undefined && request.objectAcl && objectAclAllows(actor, request.action, bucket, request.objectAcl)) return 'allow';
  return 'implicit-deny';
}

/**
 * Whether anything in the bucket's settings speaks to anyone at all (a bucket policy statement
 * with Principal `*`, a bucket ACL grant to AllUsers, or, for a request naming an object, ACLs on
 * and public grants not ignored: its own ACL may grant AllUsers): when nothing does, an anonymous
 * request is refused before a dialect looks at what it asks, as it was when every request had to be signed.
 */
export function mayGrantAnonymous(bucket: BucketInfo, key?: string): boolean {
  const text = bucket.access?.policy;
  if (text !== undefined && bucketPolicyOf(bucket.name, text).statements.some((statement) => statement.principals?.anyone === true)) return true;
  if (!aclsEnabled(bucket.access) || bucket.access?.publicAccessBlock?.ignorePublicAcls === true) return false;
  if (key !== undefined) return true;
  return bucket.access?.acl?.grants.some((grant) => 'group' in grant.grantee && grant.grantee.group === 'AllUsers') === true;
}

/** decide, for a caller that goes on only when allowed: otherwise 403 AccessDenied. */
export function authorize(actor: Actor, request: AccessRequest): void {
  if (decide(actor, request) !== 'allow') throw errors.accessDenied();
}

/** Whether the actor may do the action: for answers that depend on it (a missing key is 404 only to those who may list). */
export function allowed(actor: Actor, request: AccessRequest): boolean {
  return decide(actor, request) === 'allow';
}

function policyRequest(actor: Actor, request: AccessRequest): PolicyRequest {
  const bucket = request.bucket?.name;
  const resource = bucket === undefined ? '*' : request.key === undefined ? `arn:aws:s3:::${bucket}` : `arn:aws:s3:::${bucket}/${request.key}`;
  const context: Record<string, string | undefined> = {
    ...actor.conditions,
    ...request.conditions,
    'aws:principaltype': actor.anonymous ? 'Anonymous' : 'User',
  };
  if (!actor.anonymous) {
    context['aws:username'] = actor.userId;
    context['aws:userid'] = actor.userId;
  }
  return { userId: actor.anonymous ? undefined : actor.userId, action: request.action, resource, context };
}

/**
 * Bucket policies as parsed from their stored text, by bucket: a policy is parsed once per change,
 * not per request. It was checked when it was put, so this parse only rebuilds the statements.
 */
const parsedPolicies = new Map<string, Policy>();
const MAX_PARSED_POLICIES = 1_000;

export function bucketPolicyOf(bucket: string, text: string): Policy {
  const cached = parsedPolicies.get(bucket);
  if (cached?.text === text) return cached;
  const policy = parsePolicy(text, { bucket, userExists: () => true });
  if (parsedPolicies.size >= MAX_PARSED_POLICIES) parsedPolicies.clear();
  parsedPolicies.set(bucket, policy);
  return policy;
}

/** The actions S3 has a version form of (retention and legal hold have none: they take a version id as they are). */
const VERSION_ACTIONS = new Map([
  ['s3:GetObject', 's3:GetObjectVersion'],
  ['s3:DeleteObject', 's3:DeleteObjectVersion'],
  ['s3:GetObjectTagging', 's3:GetObjectVersionTagging'],
  ['s3:PutObjectTagging', 's3:PutObjectVersionTagging'],
  ['s3:DeleteObjectTagging', 's3:DeleteObjectVersionTagging'],
  ['s3:GetObjectAcl', 's3:GetObjectVersionAcl'],
  ['s3:PutObjectAcl', 's3:PutObjectVersionAcl'],
  ['s3:GetObjectAttributes', 's3:GetObjectVersionAttributes'],
]);

/** An object action as it applies to a version named by id: s3:GetObject → s3:GetObjectVersion, … */
export function objectAction(action: string, versionId: string | undefined): string {
  return versionId === undefined ? action : (VERSION_ACTIONS.get(action) ?? action);
}

/** The actions a bucket configuration's reads and writes amount to. */
export const CONFIG_ACTIONS: Record<BucketConfigKind, { get: string; put: string; delete: string }> = {
  cors: { get: 's3:GetBucketCORS', put: 's3:PutBucketCORS', delete: 's3:PutBucketCORS' },
  lifecycle: { get: 's3:GetLifecycleConfiguration', put: 's3:PutLifecycleConfiguration', delete: 's3:PutLifecycleConfiguration' },
  tagging: { get: 's3:GetBucketTagging', put: 's3:PutBucketTagging', delete: 's3:PutBucketTagging' },
  versioning: { get: 's3:GetBucketVersioning', put: 's3:PutBucketVersioning', delete: 's3:PutBucketVersioning' },
  'object-lock': { get: 's3:GetBucketObjectLockConfiguration', put: 's3:PutBucketObjectLockConfiguration', delete: 's3:PutBucketObjectLockConfiguration' },
  // OSS's bucket retention policy is its Object Lock.
  worm: { get: 's3:GetBucketObjectLockConfiguration', put: 's3:PutBucketObjectLockConfiguration', delete: 's3:PutBucketObjectLockConfiguration' },
  policy: { get: 's3:GetBucketPolicy', put: 's3:PutBucketPolicy', delete: 's3:DeleteBucketPolicy' },
  'public-access-block': { get: 's3:GetBucketPublicAccessBlock', put: 's3:PutBucketPublicAccessBlock', delete: 's3:PutBucketPublicAccessBlock' },
  ownership: { get: 's3:GetBucketOwnershipControls', put: 's3:PutBucketOwnershipControls', delete: 's3:PutBucketOwnershipControls' },
  acl: { get: 's3:GetBucketAcl', put: 's3:PutBucketAcl', delete: 's3:PutBucketAcl' },
  encryption: { get: 's3:GetEncryptionConfiguration', put: 's3:PutEncryptionConfiguration', delete: 's3:PutEncryptionConfiguration' },
};
