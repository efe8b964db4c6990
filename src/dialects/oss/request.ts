import type { Storage } from '../../core/storage.js';
import type { ResolvedSession, TemporaryCredentials } from '../../core/temporary-credentials.js';
import { ServiceError, errors } from '../../core/errors.js';
import type { Actor, Digests, ExtraDigest } from '../../core/types.js';
import type { User, UserDirectory } from '../../core/users.js';
import type { RequestContext } from '../../server/dialect.js';
import { digestsOf } from '../../core/digests.js';
import { readSmallBody } from '../common/body.js';
import { header, resolveTarget, type Target } from '../s3/request.js';
import { verifyOssRequest } from './signing.js';

export interface OssSettings {
  region: string;
  domain?: string;
}

/** One authenticated OSS request, resolved to its bucket and key. */
export interface OssCall {
  ctx: RequestContext;
  storage: Storage;
  users: UserDirectory;
  settings: OssSettings;
  user: User;
  actor: Actor;
  bucket: string;
  key: string;
  /** The endpoint the client addressed, without a bucket label (for BucketInfo's endpoints). */
  endpoint: string;
}

const IP_OR_LOCALHOST = /^[a-z0-9][a-z0-9-]*\.((?:\d{1,3}\.){3}\d{1,3}|localhost)$/;
/** ali-oss against an IP endpoint sends `Host: <bucket>.oss-<region>.aliyuncs.com` (and a bare path). */
const ALIYUN_ENDPOINT = /^[a-z0-9][a-z0-9-]*\.(oss[a-z0-9-]*\.aliyuncs\.com)$/;

/** The part of a Host name after a bucket label, when the Host names a bucket. */
function hostSuffix(hostname: string, domain: string | undefined): string | undefined {
  if (domain && hostname.endsWith('.' + domain.toLowerCase()) && hostname.length > domain.length + 1) return domain.toLowerCase();
  return IP_OR_LOCALHOST.exec(hostname)?.[1] ?? ALIYUN_ENDPOINT.exec(hostname)?.[1];
}

function hostname(host: string | undefined): string {
  return (host ?? '').replace(/:\d+$/, '').toLowerCase();
}

/** A bucket and key, and whether the Host named the bucket. */
export interface OssTarget extends Target {
  viaHost: boolean;
}

/**
 * What the request may address, most likely first. Path style (`/bucket/key`) unless the Host
 * names a bucket (`bucket.<domain>`, `bucket.<IPv4>`, `bucket.localhost`, `bucket.oss-….aliyuncs.com`).
 * ali-oss with `sldEnable` puts the bucket in both the Host and the path, so when the path starts
 * with the Host's bucket both readings are candidates and the signature decides.
 */
export function resolveTargets(host: string | undefined, rawPath: string, domain: string | undefined): OssTarget[] {
  const pathStyle = { ...resolveTarget(undefined, rawPath, undefined), viaHost: false };
  const suffix = hostSuffix(hostname(host), domain);
  if (suffix === undefined) return [pathStyle];
  const hostStyle = { ...resolveTarget(host, rawPath, suffix), viaHost: true };
  return pathStyle.bucket === hostStyle.bucket ? [pathStyle, hostStyle] : [hostStyle];
}

/** The endpoint the client used, without the bucket label: what BucketInfo reports. */
export function endpointOf(host: string | undefined, target: OssTarget): string {
  const name = host ?? '';
  return target.viaHost && target.bucket !== undefined ? name.slice(target.bucket.length + 1) : name;
}

/**
 * Verifies the OSS signature (V1 or V4, header or presigned) against each candidate target and
 * returns the signer and the target it signed (no signer for an anonymous request). A request carrying
 * a security token (`x-oss-security-token`, presigned `security-token` or `x-oss-security-token`)
 * is signed with temporary credentials (the console's, from the same issuer as S3's): the token
 * names the user and the secret the signature must be made with, and a long-term key with a
 * token is refused, as S3 refuses one.
 */
export async function authenticate(
  ctx: RequestContext,
  users: UserDirectory,
  candidates: OssTarget[],
  temporary?: TemporaryCredentials,
): Promise<{ user?: User; target: OssTarget }> {
  const token = securityTokenOf(ctx);
  let session: ResolvedSession | undefined;
  const secretOf =
    token === undefined
      ? async (accessKeyId: string) => (await users.find(accessKeyId))?.secretKey
      : (accessKeyId: string) => {
          session = resolveSession(temporary, accessKeyId, token);
          return session.secretAccessKey;
        };
  let mismatch: ServiceError | undefined;
  for (const target of candidates) {
    try {
      const result = await verifyOssRequest(
        { method: ctx.req.method ?? 'GET', bucket: target.bucket, key: target.key, query: [...ctx.query], headers: ctx.req.headers },
        secretOf,
      );
      // Unsigned: nobody, who may do what bucket policies grant everyone (core/authorization.ts).
      if (result === null) return { target: candidates[candidates.length - 1]! };
      const user = session ? session.user : users.byKey(result.accessKeyId);
      if (!user) throw errors.accessDenied();
      return { user, target };
    } catch (err) {
      if (!(err instanceof ServiceError) || err.code !== 'SignatureDoesNotMatch') throw err;
      mismatch ??= err;
    }
  }
  throw mismatch ?? errors.accessDenied();
}

/** The security token a request carries, in its header or (presigned) its query; both at once is refused, as OSS does. */
function securityTokenOf(ctx: RequestContext): string | undefined {
  const inHeader = header(ctx.req.headers, 'x-oss-security-token');
  const inQuery = ctx.query.get('security-token') ?? ctx.query.get('x-oss-security-token') ?? undefined;
  if (inHeader !== undefined && inQuery !== undefined) {
    throw errors.invalidArgument('The security token may be sent in the header or in the URL, not both.', 'security-token', inQuery);
  }
  return inHeader ?? inQuery;
}

function resolveSession(temporary: TemporaryCredentials | undefined, accessKeyId: string, token: string): ResolvedSession {
  try {
    if (!temporary) throw invalidSecurityToken();
    return temporary.resolve(accessKeyId, token);
  } catch (err) {
    // OSS's names for the issuer's two refusals.
    if (err instanceof ServiceError && err.code === 'ExpiredToken') throw new ServiceError('SecurityTokenExpired', 'The security token you provided has expired.', 403);
    if (err instanceof ServiceError && err.code === 'InvalidToken') throw invalidSecurityToken();
    throw err;
  }
}

function invalidSecurityToken(): ServiceError {
  return new ServiceError('InvalidSecurityToken', 'The security token you provided is invalid.', 403);
}


function invalidDigest(): ServiceError {
  return new ServiceError('InvalidDigest', 'The Content-MD5 you specified was invalid.', 400);
}

/** The 16 bytes a Content-MD5 header claims, or undefined without one; InvalidDigest when malformed. */
function claimedMd5(ctx: RequestContext): Buffer | undefined {
  const value = header(ctx.req.headers, 'content-md5');
  if (value === undefined) return undefined;
  const bytes = Buffer.from(value.trim(), 'base64');
  if (bytes.length !== 16 || bytes.toString('base64') !== value.trim()) throw invalidDigest();
  return bytes;
}

export interface UploadBody {
  body: AsyncIterable<Buffer>;
  expectedSize?: number;
  digests: ExtraDigest[];
  verify: (digests: Digests) => void;
}

/**
 * The integrity claims a request makes about its body: Content-MD5 and a V4 `x-oss-content-sha256`
 * digest (when one was signed), checked by `verify` against what was received.
 */
function bodyClaims(ctx: RequestContext): Pick<UploadBody, 'digests' | 'verify'> {
  const md5 = claimedMd5(ctx);
  const sha256 = header(ctx.req.headers, 'x-oss-content-sha256');
  const signedSha256 = sha256 !== undefined && /^[0-9a-fA-F]{64}$/.test(sha256) ? sha256.toLowerCase() : undefined;
  return {
    digests: signedSha256 ? ['sha256'] : [],
    verify: (digests) => {
      if (md5 && !digests.md5.equals(md5)) throw invalidDigest();
      if (signedSha256 && digests.sha256?.toString('hex') !== signedSha256) {
        throw errors.invalidArgument('The x-oss-content-sha256 you specified did not match what we received.', 'x-oss-content-sha256', sha256!);
      }
    },
  };
}

/**
 * The body of PutObject / UploadPart, streamed, with its CRC-64 computed on the way and the
 * client's Content-MD5 (and a V4 `x-oss-content-sha256` digest, if one was signed) checked
 * before the bytes are committed.
 */
export function uploadBody(ctx: RequestContext): UploadBody {
  const { req } = ctx;
  const length = header(req.headers, 'content-length');
  let expectedSize: number | undefined;
  if (length !== undefined) {
    if (!/^\d+$/.test(length)) throw errors.invalidArgument('Content-Length is not a number.', 'Content-Length', length);
    expectedSize = Number(length);
  } else if (!header(req.headers, 'transfer-encoding')) {
    throw new ServiceError('MissingContentLength', 'You must provide the Content-Length HTTP header.', 411);
  }
  const { digests, verify } = bodyClaims(ctx);
  return { body: req, expectedSize, digests: ['crc64', ...digests], verify };
}

/** A small XML body (Complete, DeleteMultipleObjects, PutBucket), held to the same claims as an object's body. */
export async function readCheckedBody(ctx: RequestContext, limit: number): Promise<string> {
  const { digests, verify } = bodyClaims(ctx);
  const body = await readSmallBody(ctx.req, limit);
  verify(digestsOf(body, digests));
  return body.toString('utf8');
}

/** `x-oss-forbid-overwrite: true`. */
export function forbidOverwrite(ctx: RequestContext): boolean {
  return header(ctx.req.headers, 'x-oss-forbid-overwrite')?.trim().toLowerCase() === 'true';
}
