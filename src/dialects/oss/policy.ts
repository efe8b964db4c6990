import { ServiceError } from '../../core/errors.js';
import { MAX_POLICY_BYTES, parsePolicy } from '../../core/policy.js';
import { sendEmpty } from '../s3/render.js';
import { readCheckedBody, type OssCall } from './request.js';

/**
 * OSS bucket policies (`?policy`), in OSS's syntax: `Version` "1", `Principal` a list of user ids
 * (or `*`), `Action` `oss:…`, `Resource` `acs:oss:*:*:bucket[/key]`, conditions on `acs:SourceIp`,
 * `acs:SecureTransport`, `acs:Referer`, `acs:UserAgent`, `oss:Prefix`, `oss:Delimiter`. A document
 * is read into the AWS policy language the engine evaluates (core/policy.ts), word for word where
 * the two name the same thing, and stored in that form: one policy per bucket, whichever dialect
 * put it, decided by the one authorisation function. GetBucketPolicy answers it in OSS's syntax
 * again (awsPolicyToOss), whichever dialect put it.
 */

/** OSS actions whose S3 name differs (the rest are the same name under `s3:`). */
const RENAMED_ACTIONS: Record<string, string> = {
  listobjects: 's3:ListBucket',
  listobjectversions: 's3:ListBucketVersions',
  listparts: 's3:ListMultipartUploadParts',
  listmultipartuploads: 's3:ListBucketMultipartUploads',
  getbucketinfo: 's3:GetBucketLocation',
  getbucketlocation: 's3:GetBucketLocation',
  getbucketpolicy: 's3:GetBucketPolicy',
  putbucketpolicy: 's3:PutBucketPolicy',
  deletebucketpolicy: 's3:DeleteBucketPolicy',
  getbucketcors: 's3:GetBucketCORS',
  putbucketcors: 's3:PutBucketCORS',
  getbucketlifecycle: 's3:GetLifecycleConfiguration',
  putbucketlifecycle: 's3:PutLifecycleConfiguration',
  getbuckettagging: 's3:GetBucketTagging',
  putbuckettagging: 's3:PutBucketTagging',
  getbucketworm: 's3:GetBucketObjectLockConfiguration',
  getbucketencryption: 's3:GetEncryptionConfiguration',
  putbucketencryption: 's3:PutEncryptionConfiguration',
};

const CONDITION_KEYS: Record<string, string> = {
  'acs:sourceip': 'aws:SourceIp',
  'acs:securetransport': 'aws:SecureTransport',
  'acs:referer': 'aws:Referer',
  'acs:useragent': 'aws:UserAgent',
  'oss:prefix': 's3:prefix',
  'oss:delimiter': 's3:delimiter',
};

const RESOURCE = /^acs:oss:[^:]*:[^:]*:(.+)$/;

export function invalidPolicy(message: string): ServiceError {
  return new ServiceError('InvalidPolicyDocument', message, 400);
}

const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : [value]);

function strings(value: unknown, field: string): string[] {
  const all = list(value);
  if (value === undefined || all.length === 0 || all.some((item) => typeof item !== 'string')) throw invalidPolicy(`${field} must be a string or a list of strings`);
  return all as string[];
}

function action(name: string): string {
  if (!/^oss:/i.test(name)) throw invalidPolicy(`invalid action ${name}`);
  const rest = name.slice(4);
  return RENAMED_ACTIONS[rest.toLowerCase()] ?? `s3:${rest}`;
}

function resource(name: string): string {
  if (name === '*') return '*';
  const path = RESOURCE.exec(name)?.[1];
  if (path === undefined) throw invalidPolicy(`invalid resource ${name}: expected acs:oss:*:*:bucket or acs:oss:*:*:bucket/object`);
  return `arn:aws:s3:::${path}`;
}

function principal(value: unknown): unknown {
  const ids = strings(value, 'Principal');
  if (ids.includes('*')) return '*';
  return { AWS: ids.map((id) => `arn:aws:iam::tessera:user/${id}`) };
}

function condition(value: unknown): Record<string, Record<string, unknown>> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidPolicy('Condition must be an object');
  const out: Record<string, Record<string, unknown>> = {};
  for (const [operator, pairs] of Object.entries(value)) {
    if (typeof pairs !== 'object' || pairs === null || Array.isArray(pairs)) throw invalidPolicy(`Condition ${operator} must be an object`);
    out[operator] = {};
    for (const [key, values] of Object.entries(pairs)) {
      const mapped = CONDITION_KEYS[key.toLowerCase()];
      if (mapped === undefined) throw invalidPolicy(`unsupported condition key ${key}`);
      out[operator]![mapped] = values;
    }
  }
  return out;
}

/** An OSS policy document as the AWS policy it says (JSON text); InvalidPolicyDocument when it is not one. */
export function ossPolicyToAws(text: string): string {
  if (Buffer.byteLength(text) > MAX_POLICY_BYTES) throw invalidPolicy('Policies must be less than 20 KB');
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw invalidPolicy('The policy is not valid JSON');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) throw invalidPolicy('The policy must be a JSON object');
  const { Version, Statement, ...unknown } = document as Record<string, unknown>;
  if (Object.keys(unknown).length > 0) throw invalidPolicy(`unknown field ${Object.keys(unknown)[0]}`);
  if (Version !== '1') throw invalidPolicy('Version must be "1"');
  const statements = list(Statement);
  if (Statement === undefined || statements.length === 0) throw invalidPolicy('Statement is required');
  const translated = statements.map((statement) => {
    if (typeof statement !== 'object' || statement === null || Array.isArray(statement)) throw invalidPolicy('each Statement must be an object');
    const { Effect, Principal, Action, Resource, Condition, ...rest } = statement as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw invalidPolicy(`unknown field ${Object.keys(rest)[0]} in a Statement`);
    return {
      Effect,
      Principal: principal(Principal),
      Action: strings(Action, 'Action').map(action),
      Resource: strings(Resource, 'Resource').map(resource),
      ...(Condition === undefined ? {} : { Condition: condition(Condition) }),
    };
  });
  return JSON.stringify({ Version: '2012-10-17', Statement: translated });
}

/** S3 actions whose OSS name differs, back to that name (the rest are the same name under `oss:`). */
const OSS_ACTIONS: Record<string, string> = {
  's3:listbucket': 'oss:ListObjects',
  's3:listbucketversions': 'oss:ListObjectVersions',
  's3:listmultipartuploadparts': 'oss:ListParts',
  's3:listbucketmultipartuploads': 'oss:ListMultipartUploads',
  's3:getbucketcors': 'oss:GetBucketCors',
  's3:putbucketcors': 'oss:PutBucketCors',
  's3:getlifecycleconfiguration': 'oss:GetBucketLifecycle',
  's3:putlifecycleconfiguration': 'oss:PutBucketLifecycle',
  's3:getbucketobjectlockconfiguration': 'oss:GetBucketWorm',
  's3:getencryptionconfiguration': 'oss:GetBucketEncryption',
  's3:putencryptionconfiguration': 'oss:PutBucketEncryption',
};

/** CONDITION_KEYS the other way, spelled as OSS's documentation spells them. */
const OSS_CONDITION_KEYS: Record<string, string> = {
  'aws:sourceip': 'acs:SourceIp',
  'aws:securetransport': 'acs:SecureTransport',
  'aws:referer': 'acs:Referer',
  'aws:useragent': 'acs:UserAgent',
  's3:prefix': 'oss:Prefix',
  's3:delimiter': 'oss:Delimiter',
};

function ossAction(name: string): string {
  if (!/^s3:/i.test(name)) return name;
  return OSS_ACTIONS[name.toLowerCase()] ?? `oss:${name.slice(3)}`;
}

function ossResource(name: string): string {
  return name.startsWith('arn:aws:s3:::') ? `acs:oss:*:*:${name.slice('arn:aws:s3:::'.length)}` : name;
}

function ossPrincipal(value: unknown): unknown {
  if (value === '*' || (typeof value === 'object' && value !== null && (value as { AWS?: unknown }).AWS === '*')) return ['*'];
  const arns = list((value as { AWS?: unknown } | undefined)?.AWS ?? value);
  return arns.map((arn) => (typeof arn === 'string' ? (/^arn:aws:iam::[^:]*:user\/(.+)$/.exec(arn)?.[1] ?? arn) : arn));
}

/**
 * The stored (AWS) policy in OSS's syntax: what GetBucketPolicy answers. For a document put through
 * OSS this gives back what was put, in canonical form (lists for every field); a policy put through
 * S3 reads the same way, with anything OSS has no word for left as S3 says it.
 */
export function awsPolicyToOss(text: string): string {
  const document = JSON.parse(text) as { Statement?: unknown };
  const statements = list(document.Statement).map((raw) => {
    const { Effect, Principal, Action, Resource, Condition, ...rest } = raw as Record<string, unknown>;
    const out: Record<string, unknown> = { ...rest, Effect };
    if (Principal !== undefined) out.Principal = ossPrincipal(Principal);
    if (Action !== undefined) out.Action = list(Action).map((a) => (typeof a === 'string' ? ossAction(a) : a));
    if (Resource !== undefined) out.Resource = list(Resource).map((r) => (typeof r === 'string' ? ossResource(r) : r));
    if (Condition !== undefined && typeof Condition === 'object' && Condition !== null) {
      out.Condition = Object.fromEntries(
        Object.entries(Condition).map(([operator, pairs]) => [
          operator,
          Object.fromEntries(Object.entries(pairs as Record<string, unknown>).map(([key, values]) => [OSS_CONDITION_KEYS[key.toLowerCase()] ?? key, values])),
        ]),
      );
    }
    return out;
  });
  return JSON.stringify({ Version: '1', Statement: statements });
}

export async function putBucketPolicy(call: OssCall): Promise<void> {
  const text = await readCheckedBody(call.ctx, 64 * 1024);
  await call.storage.settings.putPolicy(call.actor, call.bucket, () => {
    try {
      return parsePolicy(ossPolicyToAws(text), { bucket: call.bucket, userExists: (id) => call.users.exists(id) });
    } catch (err) {
      // The engine's parser words its refusals as S3's MalformedPolicy: OSS calls that InvalidPolicyDocument.
      if (err instanceof ServiceError && err.code === 'MalformedPolicy') throw invalidPolicy(err.message);
      throw err;
    }
  });
  sendEmpty(call.ctx.res, 200);
}

export async function getBucketPolicy(call: OssCall): Promise<void> {
  const stored = await call.storage.settings.getConfig(call.actor, call.bucket, 'policy');
  if (stored === undefined) throw new ServiceError('NoSuchBucketPolicy', 'The bucket policy does not exist.', 404, { BucketName: call.bucket });
  const text = awsPolicyToOss(stored);
  call.ctx.res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  call.ctx.res.end(text);
}

export async function deleteBucketPolicy(call: OssCall): Promise<void> {
  await call.storage.settings.deleteConfig(call.actor, call.bucket, 'policy');
  sendEmpty(call.ctx.res, 204);
}
