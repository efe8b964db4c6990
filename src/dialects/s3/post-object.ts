/**
 * S3 POST Object: a browser form upload to `POST /<bucket>`, authenticated by a SigV4-signed POST
 * policy in its fields. The policy is checked by the shared engine (core/post-policy), the fields
 * that stand for PUT's headers are judged by the same feature table, and the file streams into the
 * engine's object write like a PUT body.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { ServiceError, errors } from '../../core/errors.js';
import { checkConditions, checkExpiration, checkMinimum, expandFilename, parsePolicy, withinMaximum, type PolicyRules } from '../../core/post-policy.js';
import type { Storage } from '../../core/storage.js';
import type { ChecksumAlgorithm, Digests } from '../../core/types.js';
import { invalidToken, type ResolvedSession, type TemporaryCredentials } from '../../core/temporary-credentials.js';
import type { User, UserDirectory } from '../../core/users.js';
import { requestActor, S3_CONDITION_HEADERS } from '../common/actor.js';
import type { FormUploads, RequestContext } from '../../server/dialect.js';
import { handleUpload, missingField, requireUpload, successRedirect, type FormHead } from '../common/form-upload.js';
import { checkRequestFeatures } from '../common/request-features.js';
import { toXml } from '../common/xml.js';
import { schemeOf } from '../common/transport.js';
import { badDigestFor, digestHeaders, objectChecksumHeaders, requestedAlgorithm } from './checksums.js';
import { S3_FEATURES } from './features.js';
import { META_PREFIX } from './objects.js';
import { quoteEtag, sendEmpty } from './render.js';
import { versionHeaders } from './versioning.js';
import { objectAttributes } from './request.js';
import { taggingField } from './tagging.js';
import { objectAclFromHeaders } from './acl.js';
import { deriveSigningKey, parseCredential, signature, signaturesEqual, SIGV4_ALGORITHM } from './sigv4.js';

/** "The form data and boundaries (excluding the contents of the file) cannot exceed 20 KB." */
export const MAX_PRE_DATA_BYTES = 20 * 1024;

/** What S3's POST policies may say: exact and prefix matches, every field named but these. */
export const S3_POLICY_RULES: PolicyRules = {
  operators: ['eq', 'starts-with'],
  coverageExempt: (field) => field === 'x-amz-signature' || field === 'file' || field === 'policy' || field.startsWith('x-ignore-'),
  listFields: ['content-type'],
};

/** Fields that authenticate the form; the rest that start with x-amz- are headers PUT would take. */
const AUTH_FIELDS = new Set(['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature']);
/** Standard headers a form may set on the object (S3 lists these; Content-MD5 checks the file). */
const HEADER_FIELDS = new Set(['content-type', 'cache-control', 'content-disposition', 'content-encoding', 'content-language', 'expires', 'content-md5']);
/** Form fields named differently from the header they stand for. */
const RENAMED_FIELDS: Record<string, string> = { acl: 'x-amz-acl', tagging: 'x-amz-tagging' };

export const S3_FORM_UPLOADS: FormUploads = {
  maxPreDataBytes: MAX_PRE_DATA_BYTES,
  claims: (fields) => fields.has('x-amz-credential') || fields.has('awsaccesskeyid'),
};

export interface PostTarget {
  bucket: string;
  /** The bucket was named by the Host (virtual-host style): the object's URL has no bucket in its path. */
  viaHost: boolean;
}

/**
 * AWS's sentence for Signature V2, and what to do: boto3's generate_presigned_post signs with V2
 * unless its client is configured for s3v4, and a person reads this answer in a browser.
 */
function unsupportedMechanism(): ServiceError {
  return new ServiceError(
    'InvalidRequest',
    'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256. This server accepts only Signature Version 4 POST policies; with boto3, create the client with Config(signature_version="s3v4").',
    400,
  );
}

/** POST Object: checks the form, streams its file into the bucket, answers as the form asks. */
export async function postObject(
  ctx: RequestContext,
  form: FormHead,
  deps: { storage: Storage; users: UserDirectory; temporary?: TemporaryCredentials },
  target: PostTarget,
): Promise<void> {
  await handleUpload(form, () => storeForm(ctx, form, deps, target));
}

async function storeForm(
  ctx: RequestContext,
  form: FormHead,
  deps: { storage: Storage; users: UserDirectory; temporary?: TemporaryCredentials },
  target: PostTarget,
): Promise<void> {
  const { fields: sent, file } = requireUpload(form, MAX_PRE_DATA_BYTES);

  const user = await authenticatePolicy(sent, deps.users, deps.temporary);
  ctx.log.user = user.id;
  const policy = parsePolicy(sent.get('policy')!, S3_POLICY_RULES);
  checkExpiration(policy, new Date());
  // Every field may use ${filename}; the policy is checked against what they expand to.
  const fields = new Map([...sent].map(([name, value]) => [name, expandFilename(value, file.filename)]));
  checkConditions(policy, fields, new Map([['bucket', target.bucket]]), S3_POLICY_RULES);

  // The fields that stand for headers are honoured or refused as PutObject's headers are.
  const headers = headersOf(fields);
  checkRequestFeatures(S3_FEATURES, 'PostObject', headers, new URLSearchParams());
  checkRequestFeatures(S3_FEATURES, 'PostObject', ctx.req.headers, ctx.query);
  // `tagging` is a Tagging document here, not the header's URL query.
  const attributes = { ...objectAttributes(headers, META_PREFIX), tags: taggingField(fields.get('tagging')), acl: objectAclFromHeaders(headers, deps.users) };
  const integrity = integrityOf(headers);
  const key = fields.get('key')!;
  const actor = requestActor(user, ctx.req, { authType: 'POST', signatureVersion: 'AWS4-HMAC-SHA256' }, S3_CONDITION_HEADERS, headers);
  // x-amz-expected-bucket-owner, as a request header or a form field.
  const expectedOwner = ctx.req.headers['x-amz-expected-bucket-owner'] ?? headers['x-amz-expected-bucket-owner'];
  if (typeof expectedOwner === 'string' && (await deps.storage.headBucket(actor, target.bucket)).owner !== expectedOwner.trim()) {
    throw errors.accessDenied();
  }

  const info = await deps.storage.putObject(actor, target.bucket, key, withinMaximum(file.body, policy.size), attributes, {
    digests: integrity.digests,
    checksum: integrity.checksum,
    verify: (digests) => {
      checkMinimum(digests.size, policy.size);
      integrity.verify(digests);
    },
  });
  // Fields after the file are ignored, as S3 ignores them; the answer waits for the body's end.
  await form.rest();

  const location = objectUrl(ctx, target, key);
  const answerHeaders = { etag: quoteEtag(info.etag), location, ...objectChecksumHeaders(info.checksum, undefined), ...versionHeaders(info.versionId) };
  const redirect = successRedirect(fields.get('success_action_redirect') ?? fields.get('redirect'), { bucket: target.bucket, key, etag: quoteEtag(info.etag) });
  if (redirect) {
    sendEmpty(ctx.res, 303, { ...answerHeaders, location: redirect.toString() });
    return;
  }
  const status = fields.get('success_action_status');
  if (status === '201') {
    const xml = toXml({ PostResponse: { Location: location, Bucket: target.bucket, Key: key, ETag: quoteEtag(info.etag) } });
    ctx.res.writeHead(201, { ...answerHeaders, 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
    ctx.res.end(xml);
    return;
  }
  // Any other value (or none) is 204, as S3 answers it.
  sendEmpty(ctx.res, status === '200' ? 200 : 204, answerHeaders);
}

/**
 * The user whose SigV4 key signed the policy: x-amz-signature must be the hex HMAC-SHA256 of the
 * base64 policy under the signing key the credential scopes. Only SigV4: a Signature V2 form
 * (AWSAccessKeyId, signature) is refused as the request verifier refuses V2.
 */
async function authenticatePolicy(fields: ReadonlyMap<string, string>, users: UserDirectory, temporary: TemporaryCredentials | undefined): Promise<User> {
  if (fields.has('awsaccesskeyid') || fields.has('signature')) throw unsupportedMechanism();
  // No policy and no signature: an anonymous post, which only a public bucket takes; none is.
  if (!fields.has('policy') && !fields.has('x-amz-signature') && !fields.has('x-amz-credential')) throw errors.accessDenied();
  for (const name of ['policy', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-signature']) {
    if (!fields.has(name)) throw missingField(name);
  }
  if (fields.get('x-amz-algorithm') !== SIGV4_ALGORITHM) throw unsupportedMechanism();
  const credentialText = fields.get('x-amz-credential')!;
  const credential = parseCredential(
    credentialText,
    (message, detail) => new ServiceError('InvalidArgument', `Invalid argument: ${message}`, 400, { ArgumentName: 'x-amz-credential', ArgumentValue: credentialText, ...detail }),
    {},
  );
  // A policy signed with temporary credentials (the console's) carries their token as a field.
  const token = fields.get('x-amz-security-token');
  let session: ResolvedSession | undefined;
  if (token !== undefined) {
    if (!temporary) throw invalidToken();
    session = temporary.resolve(credential.accessKeyId, token, new Date());
  }
  const user = session ? session.user : await users.find(credential.accessKeyId);
  if (!user) {
    throw new ServiceError('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 403, {
      AWSAccessKeyId: credential.accessKeyId,
    });
  }
  const policy = fields.get('policy')!;
  const provided = fields.get('x-amz-signature')!;
  const secret = session ? session.secretAccessKey : user.secretKey;
  const expected = signature(deriveSigningKey(secret, credential.date, credential.region, credential.service), policy);
  if (!signaturesEqual(expected, provided.trim().toLowerCase())) {
    throw new ServiceError(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      403,
      { AWSAccessKeyId: credential.accessKeyId, StringToSign: policy, SignatureProvided: provided },
    );
  }
  return user;
}

/** The fields that stand for request headers, as the headers they stand for. */
function headersOf(fields: ReadonlyMap<string, string>): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of fields) {
    const renamed = RENAMED_FIELDS[name];
    if (renamed) headers[renamed] = value;
    else if (HEADER_FIELDS.has(name) || (name.startsWith('x-amz-') && !AUTH_FIELDS.has(name))) headers[name] = value;
  }
  return headers;
}

/**
 * What the form claims of the file: Content-MD5, an x-amz-checksum-<algorithm> value, and
 * x-amz-checksum-algorithm (the checksum to store; with a value, its algorithm). Checked after the
 * file is staged and before it is committed, as PUT's claims are.
 */
function integrityOf(headers: IncomingHttpHeaders): { digests: Array<ChecksumAlgorithm>; checksum?: ChecksumAlgorithm; verify: (d: Digests) => void } {
  const claim = digestHeaders(headers);
  const named = requestedAlgorithm(headers['x-amz-checksum-algorithm'] as string | undefined);
  if (claim && named && claim.algorithm !== named) {
    throw new ServiceError('InvalidRequest', 'Value for x-amz-checksum-algorithm header is invalid.', 400);
  }
  const md5Text = headers['content-md5'] as string | undefined;
  const md5 = md5Text === undefined ? undefined : Buffer.from(md5Text.trim(), 'base64');
  if (md5Text !== undefined && (md5!.length !== 16 || md5!.toString('base64') !== md5Text.trim())) {
    throw new ServiceError('InvalidDigest', 'The Content-MD5 you specified is not valid.', 400);
  }
  const checksum = claim?.algorithm ?? named;
  return {
    digests: checksum ? [checksum] : [],
    checksum,
    verify: (digests) => {
      if (md5 && !digests.md5.equals(md5)) throw errors.badDigest();
      if (claim && !digests[claim.algorithm]!.equals(claim.value)) throw badDigestFor(claim.algorithm);
    },
  };
}

/** The new object's URL, as the client addressed the bucket. */
function objectUrl(ctx: RequestContext, target: PostTarget, key: string): string {
  const host = ctx.req.headers.host ?? 'localhost';
  return `${schemeOf(ctx.req)}://${host}/${target.viaHost ? '' : `${encodeURIComponent(target.bucket)}/`}${encodeURIComponent(key)}`;
}
