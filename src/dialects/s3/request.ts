import type { IncomingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream';
import { ServiceError, errors } from '../../core/errors.js';
import type { ChecksumAlgorithm, Digests, ExtraDigest, ObjectAttributes, ObjectHeaders } from '../../core/types.js';
import { invalidToken, type ResolvedSession, type TemporaryCredentials } from '../../core/temporary-credentials.js';
import type { User, UserDirectory } from '../../core/users.js';
import type { RequestContext } from '../../server/dialect.js';
import { digestsOf } from '../../core/digests.js';
import { ANONYMOUS_USER } from '../common/actor.js';
import { collectSmall } from '../common/body.js';
import { createAwsChunkedDecoder, malformedTrailer, type AwsChunkedDecoder } from './aws-chunked.js';
import { badDigestFor, checksumHeaderName, decodeChecksumValue, digestHeaders, invalidChecksumValue, parseChecksumAlgorithm } from './checksums.js';
import { extractAccessKeyId, isAnonymous, verifyRequest, type VerifiedRequest } from './sigv4.js';

export interface Target {
  bucket?: string;
  key?: string;
}

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * Percent-decodes one path piece; malformed escapes are the client's mistake, and so
 * is a NUL, which no key or bucket may hold (and no XML error document could echo).
 */
export function decodePath(raw: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    throw new ServiceError('InvalidURI', "Couldn't parse the specified URI.", 400);
  }
  if (decoded.includes('\u0000')) throw new ServiceError('InvalidURI', "Couldn't parse the specified URI.", 400);
  return decoded;
}

/**
 * Bucket and key from virtual-host style (`bucket.<domain>`) or path style
 * (`/bucket/key`). The key is taken from the raw path so `%2F` and `/` both
 * become `/`, and nothing is normalised: `a/../b` is a key like any other.
 */
export function resolveTarget(host: string | undefined, rawPath: string, domain: string | undefined): Target {
  const hostname = (host ?? '').replace(/:\d+$/, '').toLowerCase();
  if (domain && hostname.endsWith('.' + domain.toLowerCase())) {
    const bucket = hostname.slice(0, -(domain.length + 1));
    const key = decodePath(rawPath.replace(/^\//, ''));
    return { bucket, key: key === '' ? undefined : key };
  }
  const path = rawPath.replace(/^\//, '');
  if (path === '') return {};
  const slash = path.indexOf('/');
  if (slash < 0) return { bucket: decodePath(path) };
  const key = decodePath(path.slice(slash + 1));
  return { bucket: decodePath(path.slice(0, slash)), key: key === '' ? undefined : key };
}

export interface Authenticated {
  user: User;
  verified: VerifiedRequest;
  /** Set when the request was signed with temporary credentials (the console's session). */
  session?: ResolvedSession;
  /** An unsigned request: `user` is ANONYMOUS_USER and the engine allows only what bucket policies grant everyone. */
  anonymous?: boolean;
}

/** What an unsigned request's body is taken as: bytes nobody vouched for. */
const ANONYMOUS_REQUEST: VerifiedRequest = {
  accessKeyId: '',
  payloadHash: 'UNSIGNED-PAYLOAD',
  signingKey: Buffer.alloc(0),
  datetime: '',
  scope: '',
  signature: '',
  presigned: false,
};

/**
 * An S3 request is signed, or anonymous (what it may do, core/authorization.ts decides): SigV4 in the Authorization header or in a presigned query. Any
 * other signature (V2 in either place) goes to the verifier too, which says what is accepted.
 * A request carrying a session token (`x-amz-security-token`, presigned `X-Amz-Security-Token`)
 * is signed with temporary credentials: the token is checked first and names the user and the
 * secret the signature must be made with. A temporary access key without its token names no one.
 */
export async function identify(ctx: RequestContext, users: UserDirectory, temporary?: TemporaryCredentials, now = new Date()): Promise<Authenticated> {
  if (isAnonymous(ctx.req.headers, ctx.query)) return { user: ANONYMOUS_USER, verified: ANONYMOUS_REQUEST, anonymous: true };
  return authenticate(ctx, users, temporary, now);
}

/** identify, for what only a signed request may use (the console's and the admin API): an anonymous one is 403 AccessDenied. */
export async function authenticate(ctx: RequestContext, users: UserDirectory, temporary?: TemporaryCredentials, now = new Date()): Promise<Authenticated> {
  const { req } = ctx;
  if (isAnonymous(req.headers, ctx.query)) throw errors.accessDenied();
  const session = sessionOf(ctx, temporary, now);
  // A key made on another node a moment ago is learned before the (synchronous) signature check.
  const accessKeyId = session ? undefined : extractAccessKeyId(req.headers, ctx.query);
  if (accessKeyId !== undefined) await users.find(accessKeyId);
  const secretOf = session ? (accessKeyId: string) => (accessKeyId === session.accessKeyId ? session.secretAccessKey : undefined) : users.secretOf;
  const verified = verifyRequest({ method: req.method ?? 'GET', rawUrl: req.url ?? '/', headers: req.headers }, secretOf, now);
  const user = session ? session.user : users.byKey(verified.accessKeyId);
  if (!user) throw new ServiceError('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', 403);
  return { user, verified, session };
}

/** The session a request's token stands for; undefined when it carries none (or names no access key, which SigV4 refuses). */
function sessionOf(ctx: RequestContext, temporary: TemporaryCredentials | undefined, now: Date): ResolvedSession | undefined {
  const { headers } = ctx.req;
  const presigned = [...ctx.query.keys()].some((name) => name.toLowerCase() === 'x-amz-credential');
  const token = presigned
    ? [...ctx.query].find(([name]) => name.toLowerCase() === 'x-amz-security-token')?.[1]
    : header(headers, 'x-amz-security-token');
  if (token === undefined) return undefined;
  const accessKeyId = extractAccessKeyId(headers, ctx.query);
  if (accessKeyId === undefined) return undefined;
  // Without a token service every token is foreign; a long-term key with a token is refused too, as AWS does.
  if (!temporary) throw invalidToken();
  return temporary.resolve(accessKeyId, token, now);
}

export interface RequestBody {
  body: AsyncIterable<Buffer>;
  /** Bytes the client declared; a shorter body fails with IncompleteBody. */
  expectedSize?: number;
  digests: ExtraDigest[];
  verify: (digests: Digests) => void;
  /** The flexible checksum the body carries (header or trailer), verified by `verify`: the one to store. */
  checksum?: ChecksumAlgorithm;
}

const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * The payload of PUT Object / Upload Part as a stream of plain bytes, whatever
 * the client framed it as, with every integrity claim it made checked: a signed
 * SHA-256, aws-chunked chunk signatures, trailing checksums, Content-MD5 and
 * an x-amz-checksum-* header or trailer (one at most). Checks on the whole body run after it
 * is staged and before it is committed: the engine computes every digest while staging (on a
 * hash worker for large bodies), a trailer's included. `objectChecksum`: the request's
 * x-amz-checksum-* headers describe an object, not this body (CompleteMultipartUpload).
 */
export function requestBody(ctx: RequestContext, auth: Authenticated, options: { objectChecksum?: boolean } = {}): RequestBody {
  const { req } = ctx;
  const payloadHash = auth.verified.payloadHash;
  const checks: Array<(digests: Digests) => void> = [];
  const digests: ExtraDigest[] = [];
  let body: AsyncIterable<Buffer>;
  let expectedSize: number | undefined;
  let trailer: { algorithm: ChecksumAlgorithm; decoder: AwsChunkedDecoder } | undefined;

  if (payloadHash.startsWith('STREAMING-')) {
    const decoded = header(req.headers, 'x-amz-decoded-content-length');
    if (decoded === undefined || !/^\d+$/.test(decoded)) {
      throw new ServiceError('MissingContentLength', 'You must provide the Content-Length HTTP header.', 411);
    }
    expectedSize = Number(decoded);
    const signed = payloadHash.startsWith('STREAMING-AWS4-HMAC-SHA256-PAYLOAD');
    const withTrailer = payloadHash.endsWith('-TRAILER');
    const trailerName = header(req.headers, 'x-amz-trailer');
    const trailerChecksum = withTrailer && trailerName ? parseChecksumAlgorithm(trailerName) : undefined;
    if (withTrailer && !trailerChecksum) {
      throw new ServiceError('InvalidRequest', `Unsupported or missing x-amz-trailer: ${trailerName ?? ''}`, 400);
    }
    if (!signed && payloadHash !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER') {
      throw new ServiceError('InvalidArgument', `Unsupported x-amz-content-sha256 value: ${payloadHash}`, 400);
    }
    // The trailer's value is checked against the engine's digest (see below), not computed here too.
    const decoder = createAwsChunkedDecoder({
      signing: signed
        ? {
            signingKey: auth.verified.signingKey,
            datetime: auth.verified.datetime,
            scope: auth.verified.scope,
            seedSignature: auth.verified.signature,
          }
        : undefined,
      trailerSigned: signed && withTrailer,
      expectedDecodedLength: expectedSize,
    });
    if (trailerChecksum) trailer = { algorithm: trailerChecksum, decoder };
    body = pipeline(req, decoder, () => {});
  } else {
    const length = header(req.headers, 'content-length');
    if (length !== undefined) {
      if (!/^\d+$/.test(length)) throw errors.invalidArgument('Content-Length is not a number.', 'Content-Length', length);
      expectedSize = Number(length);
    } else if (!header(req.headers, 'transfer-encoding')) {
      throw new ServiceError('MissingContentLength', 'You must provide the Content-Length HTTP header.', 411);
    }
    body = req;
    if (SHA256_HEX.test(payloadHash)) {
      digests.push('sha256');
      checks.push((d) => {
        if (d.sha256?.toString('hex') !== payloadHash.toLowerCase()) {
          throw new ServiceError('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.", 400);
        }
      });
    } else if (payloadHash !== 'UNSIGNED-PAYLOAD') {
      throw new ServiceError('InvalidArgument', `x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-… or a SHA-256 hex digest.`, 400);
    }
  }

  const contentMd5 = header(req.headers, 'content-md5');
  if (contentMd5 !== undefined) {
    const expected = Buffer.from(contentMd5, 'base64');
    if (expected.length !== 16 || expected.toString('base64') !== contentMd5.trim()) {
      throw new ServiceError('InvalidDigest', 'The Content-MD5 you specified is not valid.', 400);
    }
    checks.push((d) => {
      if (!d.md5.equals(expected)) throw errors.badDigest();
    });
  }

  // A checksum covers the decoded bytes, sent as a header or (aws-chunked) as a trailer.
  let checksum: ChecksumAlgorithm | undefined;
  if (!options.objectChecksum) {
    const claim = digestHeaders(req.headers, { trailer: trailer?.algorithm });
    checksum = claim?.algorithm ?? trailer?.algorithm;
    checkSdkAlgorithm(header(req.headers, 'x-amz-sdk-checksum-algorithm'), checksum);
    if (claim) {
      checks.push((d) => {
        if (!d[claim.algorithm]!.equals(claim.value)) throw badDigestFor(claim.algorithm);
      });
    } else if (trailer) {
      const { algorithm, decoder } = trailer;
      checks.push((d) => {
        const name = checksumHeaderName(algorithm);
        const sent = decoder.trailers.get(name);
        if (sent === undefined) throw malformedTrailer();
        const value = decodeChecksumValue(algorithm, sent);
        if (!value) throw invalidChecksumValue(name, 'trailing header');
        if (!d[algorithm]!.equals(value)) throw badDigestFor(algorithm);
      });
    }
    if (checksum) digests.push(checksum);
  }

  return {
    body,
    expectedSize,
    digests,
    checksum,
    verify: (d) => {
      for (const check of checks) check(d);
    },
  };
}

/** x-amz-sdk-checksum-algorithm names the algorithm of the checksum the request carries; it must carry one. */
function checkSdkAlgorithm(named: string | undefined, carried: ChecksumAlgorithm | undefined): void {
  if (named === undefined) return;
  if (carried === undefined) {
    throw new ServiceError('InvalidRequest', 'x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.', 400);
  }
  if (parseChecksumAlgorithm(named) !== carried) {
    throw new ServiceError('InvalidRequest', 'Value for x-amz-sdk-checksum-algorithm header is invalid.', 400);
  }
}

/**
 * A small body the server reads whole (Complete, DeleteObjects XML), held to the
 * same integrity claims as an object's body: a signed SHA-256, Content-MD5 and
 * x-amz-checksum-* are verified before a byte of it is acted on. `integrityRequired`: the
 * operation is one AWS refuses without Content-MD5 or a flexible checksum (PutBucketCors).
 */
export async function readVerifiedBody(
  ctx: RequestContext,
  auth: Authenticated,
  limit: number,
  options: { objectChecksum?: boolean; integrityRequired?: boolean } = {},
): Promise<Buffer> {
  const claimed = requestBody(ctx, auth, options);
  if (options.integrityRequired && claimed.checksum === undefined && header(ctx.req.headers, 'content-md5') === undefined) {
    throw new ServiceError('InvalidRequest', 'Missing required header for this request: Content-MD5 OR x-amz-checksum-*', 400);
  }
  const body = await collectSmall(claimed.body, limit, claimed.expectedSize);
  if (claimed.expectedSize !== undefined && body.length !== claimed.expectedSize) throw errors.incompleteBody();
  claimed.verify(digestsOf(body, claimed.digests));
  return body;
}

const STORED_HEADERS: Array<[keyof ObjectHeaders, string]> = [
  ['contentType', 'content-type'],
  ['contentEncoding', 'content-encoding'],
  ['contentDisposition', 'content-disposition'],
  ['contentLanguage', 'content-language'],
  ['cacheControl', 'cache-control'],
  ['expires', 'expires'],
];

const MAX_USER_METADATA_BYTES = 2048;

/** Standard headers and user metadata (`<prefix>*`) to store with an object or upload. */
export function objectAttributes(headers: IncomingHttpHeaders, metaPrefix: string): ObjectAttributes {
  const stored: ObjectHeaders = {};
  for (const [field, name] of STORED_HEADERS) {
    let value = header(headers, name);
    // aws-chunked is transport framing, not how the object is encoded.
    if (name === 'content-encoding' && value) {
      value = value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '' && v !== 'aws-chunked')
        .join(',');
    }
    if (value) stored[field] = value;
  }
  const userMeta: Record<string, string> = {};
  let metaBytes = 0;
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(metaPrefix) || value === undefined) continue;
    const field = name.slice(metaPrefix.length);
    const text = Array.isArray(value) ? value.join(',') : value;
    // Kept as received: one character per byte, written back as the same bytes; so counted too.
    userMeta[field] = text;
    metaBytes += Buffer.byteLength(field, 'latin1') + Buffer.byteLength(text, 'latin1');
  }
  if (metaBytes > MAX_USER_METADATA_BYTES) {
    throw new ServiceError('MetadataTooLarge', `Your metadata headers exceed the maximum allowed metadata size (${MAX_USER_METADATA_BYTES} bytes).`, 400);
  }
  return { headers: stored, userMeta };
}

export { STORED_HEADERS };
