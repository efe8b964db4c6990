import { BlockList, isIP } from 'node:net';
import { ServiceError } from './errors.js';

/**
 * The AWS access-policy language, the subset people write for buckets and users: Effect,
 * Principal (`*` or Tessera users' ARNs), Action and NotAction (with wildcards), Resource and
 * NotResource (bucket and object ARNs with wildcards), and Condition with the string, IP address
 * and Bool operators (each with `…IfExists`) over the keys in CONDITION_KEYS. Parsing checks a
 * document as PutBucketPolicy does and answers S3's MalformedPolicy messages; evaluation answers
 * whether the statements allow, deny or say nothing about one request. An explicit Deny wins.
 *
 * core/authorization.ts calls it for every request of every dialect, with the bucket's policy and
 * the user's policies.
 */

/** The largest policy document S3 takes: 20 KB. */
export const MAX_POLICY_BYTES = 20 * 1024;

const VERSIONS = new Set(['2012-10-17', '2008-10-17']);

/** S3 actions on a bucket: they apply to `arn:aws:s3:::bucket`. */
const BUCKET_ACTIONS = [
  'ListBucket', 'ListBucketVersions', 'ListBucketMultipartUploads', 'GetBucketLocation', 'DeleteBucket',
  'GetBucketVersioning', 'PutBucketVersioning', 'GetBucketPolicy', 'PutBucketPolicy', 'DeleteBucketPolicy',
  'GetBucketPolicyStatus', 'GetBucketAcl', 'PutBucketAcl', 'GetBucketCORS', 'PutBucketCORS',
  'GetLifecycleConfiguration', 'PutLifecycleConfiguration', 'GetBucketTagging', 'PutBucketTagging',
  'GetBucketObjectLockConfiguration', 'PutBucketObjectLockConfiguration', 'GetEncryptionConfiguration',
  'PutEncryptionConfiguration', 'GetBucketPublicAccessBlock', 'PutBucketPublicAccessBlock',
  'GetBucketOwnershipControls', 'PutBucketOwnershipControls',
];
/** S3 actions on objects: they apply to `arn:aws:s3:::bucket/key`. */
const OBJECT_ACTIONS = [
  'GetObject', 'GetObjectVersion', 'PutObject', 'DeleteObject', 'DeleteObjectVersion', 'AbortMultipartUpload',
  'ListMultipartUploadParts', 'GetObjectTagging', 'GetObjectVersionTagging', 'PutObjectTagging',
  'PutObjectVersionTagging', 'DeleteObjectTagging', 'DeleteObjectVersionTagging', 'GetObjectAcl',
  'GetObjectVersionAcl', 'PutObjectAcl', 'PutObjectVersionAcl', 'GetObjectAttributes', 'GetObjectVersionAttributes',
  'GetObjectRetention', 'PutObjectRetention', 'GetObjectLegalHold', 'PutObjectLegalHold', 'BypassGovernanceRetention',
  'RestoreObject',
];
const ACTION_SCOPE = new Map<string, 'bucket' | 'object'>([
  ...BUCKET_ACTIONS.map((a): [string, 'bucket'] => [`s3:${a.toLowerCase()}`, 'bucket']),
  ...OBJECT_ACTIONS.map((a): [string, 'object'] => [`s3:${a.toLowerCase()}`, 'object']),
]);
/** `s3:ListAllMyBuckets` applies to no bucket: it is only for user policies, on `*`. */
const SERVICE_ACTIONS = new Set(['s3:listallmybuckets', 's3:createbucket']);
const KNOWN_ACTIONS = [...ACTION_SCOPE.keys(), ...SERVICE_ACTIONS];

/** Condition keys a request can supply (case-insensitive, as AWS compares them). */
const CONDITION_KEYS = new Set([
  'aws:sourceip', 'aws:securetransport', 'aws:referer', 'aws:useragent', 'aws:username', 'aws:userid',
  'aws:principaltype', 's3:prefix', 's3:delimiter', 's3:max-keys', 's3:x-amz-acl', 's3:x-amz-server-side-encryption',
  's3:versionid', 's3:x-amz-content-sha256', 's3:signatureversion', 's3:authtype', 's3:object-lock-mode',
  's3:object-lock-legal-hold', 's3:x-amz-copy-source', 's3:x-amz-metadata-directive', 's3:x-amz-storage-class',
]);
/** Keys with a tag name after the slash: `s3:RequestObjectTag/<key>` (the request's x-amz-tagging). */
const TAG_KEY = /^s3:requestobjecttag\/.+$/;
/** `s3:ExistingObjectTag/<key>` would need each object's tags read before deciding: refused, not ignored. */
const EXISTING_TAG_KEY = /^s3:existingobjecttag\/.+$/;

type Operator = 'StringEquals' | 'StringNotEquals' | 'StringEqualsIgnoreCase' | 'StringNotEqualsIgnoreCase' | 'StringLike' | 'StringNotLike' | 'IpAddress' | 'NotIpAddress' | 'Bool' | 'Null';
const OPERATORS = new Set<Operator>(['StringEquals', 'StringNotEquals', 'StringEqualsIgnoreCase', 'StringNotEqualsIgnoreCase', 'StringLike', 'StringNotLike', 'IpAddress', 'NotIpAddress', 'Bool', 'Null']);

interface Condition {
  operator: Operator;
  ifExists: boolean;
  /** Lower-cased. */
  key: string;
  values: string[];
  /** IpAddress / NotIpAddress: the ranges. */
  ranges?: BlockList;
  /** StringLike / StringNotLike: the values as patterns, compiled once at parse. */
  patterns?: RegExp[];
}

/** Who a statement names: anyone (`*`), or users by id. */
type Principals = { anyone: true } | { anyone: false; users: Set<string> };

export interface Statement {
  sid?: string;
  effect: 'Allow' | 'Deny';
  principals?: Principals;
  actions: { patterns: RegExp[]; negated: boolean };
  resources: { patterns: RegExp[]; negated: boolean };
  conditions: Condition[];
}

export interface Policy {
  statements: Statement[];
  /** The document as it was given (GetBucketPolicy answers it unchanged). */
  text: string;
}

export function malformedPolicy(message: string): ServiceError {
  return new ServiceError('MalformedPolicy', message, 400);
}

/** `*` and `?` of a policy pattern, the rest literal; case-insensitive for actions. */
function wildcard(pattern: string, ignoreCase: boolean): RegExp {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's');
}

function listOf(value: unknown, what: string): string[] {
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0 || !items.every((item) => typeof item === 'string' && item !== '')) throw malformedPolicy(`Policy has invalid ${what}`);
  return items as string[];
}

export interface PolicyScope {
  /** A bucket policy: its resources must lie in this bucket, and it must name principals. */
  bucket?: string;
  /** Whether a Tessera user id exists (principals naming anyone else are invalid). */
  userExists: (id: string) => boolean;
}

/**
 * A user's ARN, as Tessera writes it: `arn:aws:iam::<account>:user/<id>`. Tessera has no
 * accounts, so any account part names the same user (`tessera` in what Tessera writes).
 */
const USER_ARN = /^arn:aws:iam::[^:]*:user\/(.+)$/;

export function userArn(userId: string): string {
  return `arn:aws:iam::tessera:user/${userId}`;
}

function parsePrincipal(value: unknown, scope: PolicyScope): Principals {
  if (value === '*') return { anyone: true };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformedPolicy('Invalid principal in policy');
  const entries = Object.entries(value);
  if (entries.length !== 1 || entries[0]![0] !== 'AWS') throw malformedPolicy('Invalid principal in policy');
  const names = listOf(entries[0]![1], 'principal');
  if (names.includes('*')) return { anyone: true };
  const users = new Set<string>();
  for (const name of names) {
    const id = USER_ARN.exec(name)?.[1];
    if (id === undefined || !scope.userExists(id)) throw malformedPolicy('Invalid principal in policy');
    users.add(id);
  }
  return { anyone: false, users };
}

function parseActions(value: unknown): RegExp[] {
  return listOf(value, 'action').map((action) => {
    if (action === '*') return /^.*$/s;
    const pattern = wildcard(action, true);
    if (!action.toLowerCase().startsWith('s3:') || !KNOWN_ACTIONS.some((name) => pattern.test(name))) throw malformedPolicy('Policy has invalid action');
    return pattern;
  });
}

function parseResources(value: unknown, scope: PolicyScope): { patterns: RegExp[]; texts: string[] } {
  const texts = listOf(value, 'resource');
  for (const text of texts) {
    if (text === '*') {
      if (scope.bucket !== undefined) throw malformedPolicy('Policy has invalid resource');
      continue;
    }
    if (!text.startsWith('arn:aws:s3:::') || text.length === 'arn:aws:s3:::'.length) throw malformedPolicy('Policy has invalid resource');
    // A bucket policy speaks of its own bucket only.
    if (scope.bucket !== undefined) {
      const bucketPart = text.slice('arn:aws:s3:::'.length).split('/')[0]!;
      if (bucketPart !== scope.bucket) throw malformedPolicy('Policy has invalid resource');
    }
  }
  return { texts, patterns: texts.map((text) => wildcard(text, false)) };
}

/**
 * What a Resource can name: `*` anything; an ARN with a `/` objects; one without, buckets, and
 * objects too when a wildcard in it (`*`, `?`) can stand for the `/` (`arn:aws:s3:::*`, `arn:aws:s3:::logs-*`).
 */
function resourceKinds(resource: string): Array<'any' | 'bucket' | 'object'> {
  if (resource === '*') return ['any'];
  const path = resource.slice('arn:aws:s3:::'.length);
  if (path.includes('/')) return ['object'];
  return /[*?]/.test(path) ? ['bucket', 'object'] : ['bucket'];
}

function parseConditions(value: unknown): Condition[] {
  if (value === undefined) return [];
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw malformedPolicy('Policy has an invalid condition');
  const conditions: Condition[] = [];
  for (const [name, block] of Object.entries(value)) {
    const ifExists = name.endsWith('IfExists');
    const operator = (ifExists ? name.slice(0, -'IfExists'.length) : name) as Operator;
    if (!OPERATORS.has(operator)) throw malformedPolicy(`Invalid Condition type : ${name}`);
    if (typeof block !== 'object' || block === null || Array.isArray(block)) throw malformedPolicy('Policy has an invalid condition');
    for (const [rawKey, rawValues] of Object.entries(block)) {
      const key = rawKey.toLowerCase();
      if (EXISTING_TAG_KEY.test(key)) throw new ServiceError('NotImplemented', 'Tessera does not evaluate the condition key s3:ExistingObjectTag.', 501);
      if (!CONDITION_KEYS.has(key) && !TAG_KEY.test(key)) throw malformedPolicy('Policy has an invalid condition key');
      const values = (Array.isArray(rawValues) ? rawValues : [rawValues]).map((v) => (typeof v === 'boolean' || typeof v === 'number' ? String(v) : v));
      if (values.length === 0 || !values.every((v) => typeof v === 'string')) throw malformedPolicy('Policy has an invalid condition');
      const condition: Condition = { operator, ifExists, key, values: values as string[] };
      if (operator === 'IpAddress' || operator === 'NotIpAddress') condition.ranges = ipRanges(condition.values);
      if (operator === 'StringLike' || operator === 'StringNotLike') condition.patterns = condition.values.map((v) => wildcard(v, false));
      if ((operator === 'Bool' || operator === 'Null') && !condition.values.every((v) => v === 'true' || v === 'false')) {
        throw malformedPolicy('Policy has an invalid condition');
      }
      conditions.push(condition);
    }
  }
  return conditions;
}

/** `192.0.2.0/24`, `2001:db8::/32` or a bare address. */
function ipRanges(values: string[]): BlockList {
  const ranges = new BlockList();
  for (const value of values) {
    const [address, bits, extra] = value.split('/');
    const family = isIP(address ?? '');
    const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
    if (family === 0 || extra !== undefined || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
      throw malformedPolicy('Policy has an invalid condition');
    }
    ranges.addSubnet(address!, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return ranges;
}

/** Which resource types an action pattern can apply to. */
function scopesOf(pattern: RegExp): Set<'bucket' | 'object' | 'service'> {
  const scopes = new Set<'bucket' | 'object' | 'service'>();
  for (const [action, scope] of ACTION_SCOPE) if (pattern.test(action)) scopes.add(scope);
  for (const action of SERVICE_ACTIONS) if (pattern.test(action)) scopes.add('service');
  return scopes;
}

/** Parses and checks a policy document; throws MalformedPolicy with S3's message for what is wrong. */
export function parsePolicy(text: string, scope: PolicyScope): Policy {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw malformedPolicy('Policies must be less than 20 KB');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw malformedPolicy('This policy contains invalid Json');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw malformedPolicy('This policy contains invalid Json');
  const { Version, Statement: statementValue, Id, ...unknown } = document as Record<string, unknown>;
  if (Object.keys(unknown).length > 0) throw malformedPolicy(`Unknown field ${Object.keys(unknown)[0]}`);
  if (Version !== undefined && (typeof Version !== 'string' || !VERSIONS.has(Version))) throw malformedPolicy('The policy must contain a valid version string');
  if (Id !== undefined && typeof Id !== 'string') throw malformedPolicy('Policy has an invalid Id');
  if (statementValue === undefined) throw malformedPolicy('Missing required field Statement');
  const items = Array.isArray(statementValue) ? statementValue : [statementValue];
  if (items.length === 0) throw malformedPolicy('Could not parse the policy: Statement is empty!');
  const sids = new Set<string>();
  const statements = items.map((item): Statement => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw malformedPolicy('This policy contains invalid Json');
    const { Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource, Condition, ...rest } = item as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw malformedPolicy(`Unknown field ${Object.keys(rest)[0]}`);
    if (NotPrincipal !== undefined) throw new ServiceError('NotImplemented', 'Tessera does not implement NotPrincipal in policies.', 501);
    if (Sid !== undefined) {
      if (typeof Sid !== 'string') throw malformedPolicy('Statement IDs (SID) must be strings');
      if (sids.has(Sid) && Sid !== '') throw malformedPolicy('Statement IDs (SID) in a single policy must be unique');
      sids.add(Sid);
    }
    if (Effect !== 'Allow' && Effect !== 'Deny') throw malformedPolicy('Invalid effect: ' + String(Effect));
    if ((Action === undefined) === (NotAction === undefined)) throw malformedPolicy('Missing required field Action');
    if ((Resource === undefined) === (NotResource === undefined)) throw malformedPolicy('Missing required field Resource');
    if (scope.bucket !== undefined && Principal === undefined) throw malformedPolicy('Missing required field Principal');
    const actions = parseActions(Action ?? NotAction);
    const resources = parseResources(Resource ?? NotResource, scope);
    // Every action must fit some resource the statement names (S3 checks this for Action, not NotAction).
    if (Action !== undefined && Resource !== undefined) {
      const named = new Set(resources.texts.flatMap(resourceKinds));
      for (const pattern of actions) {
        const scopes = scopesOf(pattern);
        const fits = named.has('any') || [...scopes].some((s) => s !== 'service' && named.has(s));
        if (!fits) throw malformedPolicy('Action does not apply to any resource(s) in statement');
      }
    }
    return {
      sid: Sid as string | undefined,
      effect: Effect,
      principals: Principal === undefined ? undefined : parsePrincipal(Principal, scope),
      actions: { patterns: actions, negated: NotAction !== undefined },
      resources: { patterns: resources.patterns, negated: NotResource !== undefined },
      conditions: parseConditions(Condition),
    };
  });
  return { statements, text };
}

/** One request, as a policy sees it. */
export interface PolicyRequest {
  /** The signed-in user's id; undefined for an anonymous request. */
  userId?: string;
  /** `s3:GetObject`, … */
  action: string;
  /** `arn:aws:s3:::bucket` or `arn:aws:s3:::bucket/key`. */
  resource: string;
  /** Condition values by lower-cased key; a key the request does not have is left out. */
  context: Record<string, string | string[] | undefined>;
}

export type PolicyDecision = 'allow' | 'deny' | 'none';

/** What the policies say of the request: any matching Deny denies; else any matching Allow allows. */
export function evaluatePolicies(policies: readonly Policy[], request: PolicyRequest): PolicyDecision {
  let allowed = false;
  for (const policy of policies) {
    for (const statement of policy.statements) {
      if (!applies(statement, request)) continue;
      if (statement.effect === 'Deny') return 'deny';
      allowed = true;
    }
  }
  return allowed ? 'allow' : 'none';
}

function applies(statement: Statement, request: PolicyRequest): boolean {
  const principals = statement.principals;
  // A user policy's statements have no Principal: they speak for the user they are attached to.
  if (principals && !principals.anyone && (request.userId === undefined || !principals.users.has(request.userId))) return false;
  const action = request.action.toLowerCase();
  if (statement.actions.patterns.some((p) => p.test(action)) === statement.actions.negated) return false;
  if (statement.resources.patterns.some((p) => p.test(request.resource)) === statement.resources.negated) return false;
  return statement.conditions.every((condition) => holds(condition, request.context[condition.key]));
}

function holds(condition: Condition, present: string | string[] | undefined): boolean {
  if (condition.operator === 'Null') return condition.values.includes(present === undefined ? 'true' : 'false');
  if (present === undefined) return condition.ifExists || condition.operator.startsWith('StringNot') || condition.operator === 'NotIpAddress';
  const actual = Array.isArray(present) ? present : [present];
  const any = (test: (value: string) => boolean) => actual.some(test);
  switch (condition.operator) {
    case 'StringEquals':
      return any((v) => condition.values.includes(v));
    case 'StringNotEquals':
      return !any((v) => condition.values.includes(v));
    case 'StringEqualsIgnoreCase':
      return any((v) => condition.values.some((c) => c.toLowerCase() === v.toLowerCase()));
    case 'StringNotEqualsIgnoreCase':
      return !any((v) => condition.values.some((c) => c.toLowerCase() === v.toLowerCase()));
    case 'StringLike':
      return any((v) => condition.patterns!.some((p) => p.test(v)));
    case 'StringNotLike':
      return !any((v) => condition.patterns!.some((p) => p.test(v)));
    case 'IpAddress':
    case 'NotIpAddress': {
      const inside = any((v) => {
        // A socket on a dual-stack listener reports an IPv4 client as ::ffff:a.b.c.d.
        const address = v.startsWith('::ffff:') && isIP(v.slice(7)) === 4 ? v.slice(7) : v;
        const family = isIP(address);
        return family !== 0 && condition.ranges!.check(address, family === 6 ? 'ipv6' : 'ipv4');
      });
      return condition.operator === 'IpAddress' ? inside : !inside;
    }
    case 'Bool':
      return any((v) => condition.values.includes(v.toLowerCase()));
  }
}

/**
 * Whether a policy is public, as Block Public Access judges one: some Allow speaks to anyone (`*`)
 * without a condition that pins who or where. A statement is pinned by an IpAddress condition on
 * aws:SourceIp whose ranges are all no wider than /8 (IPv4) or /32 (IPv6), or a StringEquals on
 * aws:userid or aws:username (AWS's "fixed values"; its list has keys Tessera has no use for).
 */
export function policyIsPublic(policy: Policy): boolean {
  return policy.statements.some((statement) => statement.effect === 'Allow' && statement.principals?.anyone === true && !pinned(statement));
}

function pinned(statement: Statement): boolean {
  return statement.conditions.some((condition) => {
    if (condition.ifExists) return false;
    if (condition.operator === 'IpAddress' && condition.key === 'aws:sourceip') {
      return condition.values.every((value) => {
        const [address, bits] = value.split('/');
        const v6 = isIP(address ?? '') === 6;
        return bits === undefined || Number(bits) >= (v6 ? 32 : 8);
      });
    }
    return condition.operator === 'StringEquals' && (condition.key === 'aws:userid' || condition.key === 'aws:username');
  });
}
