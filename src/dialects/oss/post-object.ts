/**
 * OSS PostObject: a browser form upload to `POST /<bucket>`, authenticated by a post policy signed
 * with V1 (`OSSAccessKeyId`, `Signature`) or V4 (`x-oss-signature-version`, `x-oss-credential`,
 * `x-oss-date`, `x-oss-signature`). The policy is checked by the shared engine (core/post-policy)
 * with OSS's operators, the fields that stand for PutObject's headers are judged by the same
 * feature table, and the file streams into the engine's object write like a PutObject body.
 */
import { taggingHeader } from './tagging.js';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ServiceError, errors } from '../../core/errors.js';
import { checkConditions, checkExpiration, checkMinimum, expandFilename, parsePolicy, withinMaximum, type PolicyRules } from '../../core/post-policy.js';
import type { Storage } from '../../core/storage.js';
import type { User, UserDirectory } from '../../core/users.js';
import { OSS_CONDITION_HEADERS, requestActor } from '../common/actor.js';
import type { FormUploads, RequestContext } from '../../server/dialect.js';
import { handleUpload, missingField, requireUpload, successRedirect, type FormHead } from '../common/form-upload.js';
import { checkRequestFeatures } from '../common/request-features.js';
import { toXml } from '../common/xml.js';
import { schemeOf } from '../common/transport.js';
import { sendEmpty } from '../s3/render.js';
import { objectAttributes } from '../s3/request.js';
import { OSS_FEATURES } from './features.js';
import { writeHeaders } from './objects.js';
import { objectAclFromHeaders } from './acl.js';
import { META_PREFIX, ossEtag } from './render.js';
import { parseV4Credential, signatureDoesNotMatch, uriEncode, v1Sign, v4Signature, v4SigningKey, V4_ALGORITHM } from './signing.js';

/**
 * OSS takes up to 8 MB of fields before the file; Tessera reads at most this much, so that a
 * hostile form cannot hold megabytes per connection (a real form's fields take a few KB).
 */
export const MAX_PRE_DATA_BYTES = 64 * 1024;

/** OSS's policy operators; OSS does not ask that every field be named by a condition. */
export const OSS_POLICY_RULES: PolicyRules = { operators: ['eq', 'starts-with', 'in', 'not-in'] };

/** Fields that authenticate the form; the rest that start with x-oss- are headers PutObject would take. */
const AUTH_FIELDS = new Set(['x-oss-signature-version', 'x-oss-credential', 'x-oss-date', 'x-oss-signature']);
const HEADER_FIELDS = new Set(['content-type', 'cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires']);

export const OSS_FORM_UPLOADS: FormUploads = {
  maxPreDataBytes: MAX_PRE_DATA_BYTES,
  // As a request with any x-oss-* header is OSS's, so is a form with any x-oss-* field.
  claims: (fields) => fields.has('ossaccesskeyid') || [...fields.keys()].some((name) => name.startsWith('x-oss-')),
};

export interface PostTarget {
  bucket: string;
  /** The Host named the bucket: the object's URL has no bucket in its path. */
  viaHost: boolean;
}

/** PostObject: checks the form, streams its file into the bucket, answers as the form asks. */
export async function postObject(ctx: RequestContext, form: FormHead, deps: { storage: Storage; users: UserDirectory }, target: PostTarget): Promise<void> {
  await handleUpload(form, () => storeForm(ctx, form, deps, target));
}

async function storeForm(ctx: RequestContext, form: FormHead, deps: { storage: Storage; users: UserDirectory }, target: PostTarget): Promise<void> {
  const { fields: sent, file } = requireUpload(form, MAX_PRE_DATA_BYTES);

  const user = await authenticatePolicy(sent, deps.users);
  ctx.log.user = user.id;
  const policy = parsePolicy(sent.get('policy')!, OSS_POLICY_RULES);
  checkExpiration(policy, new Date());
  const fields = new Map(sent);
  fields.set('key', expandFilename(sent.get('key')!, file.filename));
  checkConditions(policy, fields, new Map([['bucket', target.bucket]]), OSS_POLICY_RULES);

  // The fields that stand for headers are honoured or refused as PutObject's headers are.
  const headers = headersOf(fields);
  checkRequestFeatures(OSS_FEATURES, 'PostObject', headers, new URLSearchParams());
  checkRequestFeatures(OSS_FEATURES, 'PostObject', ctx.req.headers, ctx.query);
  const key = fields.get('key')!;
  const info = await deps.storage.putObject(
    requestActor(user, ctx.req, { authType: 'POST', signatureVersion: sent.has('x-oss-signature-version') ? 'OSS4-HMAC-SHA256' : 'OSS' }, OSS_CONDITION_HEADERS, headers),
    target.bucket,
    key,
    withinMaximum(file.body, policy.size),
    { ...objectAttributes(headers, META_PREFIX), tags: taggingHeader(headers), acl: objectAclFromHeaders(headers) },
    {
      digests: ['crc64'],
      verify: (digests) => checkMinimum(digests.size, policy.size),
      forbidOverwrite: headers['x-oss-forbid-overwrite']?.toString().trim().toLowerCase() === 'true',
    },
  );
  // Fields after the file are ignored, as OSS ignores them; the answer waits for the body's end.
  await form.rest();

  const host = ctx.req.headers.host ?? 'localhost';
  const location = `${schemeOf(ctx.req)}://${host}/${target.viaHost ? '' : `${target.bucket}/`}${uriEncode(key, true)}`;
  const answerHeaders = { ...writeHeaders(info), location };
  const redirect = successRedirect(fields.get('success_action_redirect'), { bucket: target.bucket, key, etag: ossEtag(info.etag) });
  if (redirect) {
    sendEmpty(ctx.res, 303, { ...answerHeaders, location: redirect.toString() });
    return;
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    const xml = toXml({ PostResponse: { Bucket: target.bucket, ETag: ossEtag(info.etag), Key: key, Location: location } });
    ctx.res.writeHead(201, { ...answerHeaders, 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
    ctx.res.end(xml);
    return;
  }
  sendEmpty(ctx.res, status === '200' ? 200 : 204, answerHeaders);
}

/**
 * The user whose key signed the policy. V1: `Signature` is base64 HMAC-SHA1 of the base64 policy
 * under the secret. V4: `x-oss-signature` is hex HMAC-SHA256 of the base64 policy under the
 * signing key `x-oss-credential` scopes.
 */
async function authenticatePolicy(fields: ReadonlyMap<string, string>, users: UserDirectory): Promise<User> {
  const v4 = fields.has('x-oss-signature-version') || fields.has('x-oss-credential');
  // No policy and no key: an anonymous post, which only a public-read-write bucket takes; none is.
  if (!fields.has('policy') && !fields.has('ossaccesskeyid') && !v4) {
    throw new ServiceError('AccessDenied', 'You have no right to access this object because of bucket acl.', 403);
  }
  const required = v4 ? ['policy', 'x-oss-signature-version', 'x-oss-credential', 'x-oss-date', 'x-oss-signature'] : ['ossaccesskeyid', 'policy', 'signature'];
  for (const name of required) if (!fields.has(name)) throw missingField(name === 'ossaccesskeyid' ? 'OSSAccessKeyId' : name === 'signature' ? 'Signature' : name);
  const policy = fields.get('policy')!;

  if (!v4) {
    const accessKeyId = fields.get('ossaccesskeyid')!;
    const user = await userOf(users, accessKeyId);
    const provided = fields.get('signature')!;
    if (!sameText(v1Sign(user.secretKey, policy), provided)) throw signatureDoesNotMatch(policy, provided, accessKeyId);
    return user;
  }
  const version = fields.get('x-oss-signature-version')!;
  if (version !== V4_ALGORITHM) throw errors.invalidArgument(`Unsupported signature version ${version}.`, 'x-oss-signature-version', version);
  const credential = parseV4Credential(fields.get('x-oss-credential')!, 'x-oss-credential');
  const date = fields.get('x-oss-date')!;
  if (!/^\d{8}T\d{6}Z$/.test(date) || date.slice(0, 8) !== credential.day) {
    throw errors.invalidArgument('The date in the credential does not match x-oss-date.', 'x-oss-date', date);
  }
  const user = await userOf(users, credential.accessKeyId);
  const provided = fields.get('x-oss-signature')!;
  const expected = v4Signature(v4SigningKey(user.secretKey, credential.day, credential.region), policy);
  if (!sameText(expected, provided.trim().toLowerCase())) throw signatureDoesNotMatch(policy, provided, credential.accessKeyId);
  return user;
}

async function userOf(users: UserDirectory, accessKeyId: string): Promise<User> {
  const user = await users.find(accessKeyId);
  if (!user) {
    throw new ServiceError('InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', 403, { OSSAccessKeyId: accessKeyId });
  }
  return user;
}

function sameText(expected: string, provided: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(provided);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The fields that stand for request headers, as the headers they stand for. */
function headersOf(fields: ReadonlyMap<string, string>): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of fields) {
    if (HEADER_FIELDS.has(name) || (name.startsWith('x-oss-') && !AUTH_FIELDS.has(name))) headers[name] = value;
  }
  return headers;
}
