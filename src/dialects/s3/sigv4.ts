/**
 * AWS Signature Version 4 for S3: one implementation of the canonical forms,
 * used by our client to sign and by the server to verify, so the two cannot drift.
 * Pure functions only; HTTP plumbing lives in the server and client layers.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

import { errors, ServiceError } from '../../core/errors.js';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
export const STREAMING_SIGNED_PAYLOAD = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD';
export const STREAMING_SIGNED_PAYLOAD_TRAILER = 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';
export const STREAMING_UNSIGNED_PAYLOAD_TRAILER = 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
/** Hex SHA-256 of zero bytes: the payload hash of every bodiless request. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
export const MAX_PRESIGN_EXPIRES_SECONDS = 7 * 24 * 60 * 60;

const SCOPE_TERMINATOR = 'aws4_request';

/** Query parameters as decoded name/value pairs, in wire order. */
export type QueryPairs = ReadonlyArray<readonly [string, string]>;
/** A raw query string (leading '?' optional), URLSearchParams, or decoded pairs. */
export type QueryInput = string | URLSearchParams | QueryPairs;
/** Header map in either node shape (lower-case, string | string[]) or any-case Record. */
export type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** What the aws-chunked layer needs to sign or verify chunk signatures. */
export interface ChunkSigningContext {
  signingKey: Buffer;
  datetime: string;
  scope: string;
  seedSignature: string;
}

// ---------------------------------------------------------------------------
// Primitives

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

const SIGNING_KEY_CACHE_SIZE = 256;
const signingKeyCache = new Map<string, Buffer>();

/** kSigning = HMAC chain over date, region, service, 'aws4_request'; memoized (LRU) per key+scope. */
export function deriveSigningKey(secret: string, yyyymmdd: string, region: string, service: string): Buffer {
  const cacheKey = `${yyyymmdd}\n${region}\n${service}\n${secret}`;
  const cached = signingKeyCache.get(cacheKey);
  if (cached !== undefined) {
    // Re-insert so Map iteration order doubles as recency order.
    signingKeyCache.delete(cacheKey);
    signingKeyCache.set(cacheKey, cached);
    return cached;
  }
  const dateKey = hmac(`AWS4${secret}`, yyyymmdd);
  const regionKey = hmac(dateKey, region);
  const serviceKey = hmac(regionKey, service);
  const signingKey = hmac(serviceKey, SCOPE_TERMINATOR);
  signingKeyCache.set(cacheKey, signingKey);
  if (signingKeyCache.size > SIGNING_KEY_CACHE_SIZE) {
    const oldest = signingKeyCache.keys().next().value;
    if (oldest !== undefined) signingKeyCache.delete(oldest);
  }
  return signingKey;
}

export function credentialScope(yyyymmdd: string, region: string, service: string): string {
  return `${yyyymmdd}/${region}/${service}/${SCOPE_TERMINATOR}`;
}

export function stringToSign(datetime: string, scope: string, canonicalRequestHex: string): string {
  return `${SIGV4_ALGORITHM}\n${datetime}\n${scope}\n${canonicalRequestHex}`;
}

/** Lower-case hex HMAC-SHA256 of `toSign` under the derived signing key. */
export function signature(signingKey: Buffer, toSign: string): string {
  return createHmac('sha256', signingKey).update(toSign, 'utf8').digest('hex');
}

/** Constant-time comparison of two hex signatures. */
export function signaturesEqual(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(provided, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/** 20130524T000000Z */
export function formatAmzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}Z$/, 'Z');
}

/** Parses 'yyyyMMddTHHmmssZ'; undefined when malformed or not a real calendar date. */
export function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number);
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls 2013-02-30 over to March; reject instead.
  return formatAmzDate(date) === value ? date : undefined;
}

// ---------------------------------------------------------------------------
// Encoding and canonical forms

const UNRESERVED = /^[A-Za-z0-9\-._~]*$/;

/** RFC 3986 encoding as SigV4 requires: only A-Za-z0-9-._~ kept, hex upper-case. */
export function awsUriEncode(value: string): string {
  if (UNRESERVED.test(value)) return value;
  let encoded: string;
  try {
    encoded = encodeURIComponent(value);
  } catch {
    // Lone surrogates: encode the UTF-8 bytes node would send (U+FFFD).
    encoded = encodeURIComponent(Buffer.from(value, 'utf8').toString('utf8'));
  }
  // encodeURIComponent leaves these sub-delims alone; SigV4 does not.
  return encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * The SigV4 form of a path already percent-encoded on the wire: each segment decoded
 * once and re-encoded with awsUriEncode. No '..' or '//' normalization (S3 keeps
 * them as part of the key), and an encoded '%2F' stays inside its segment.
 */
export function canonicalUri(wirePath: string): string {
  if (wirePath === '') return '/';
  return wirePath
    .split('/')
    .map((segment) => {
      const decoded = safeDecode(segment);
      return decoded === undefined ? segment : awsUriEncode(decoded);
    })
    .join('/');
}

/** Splits a raw query string into decoded pairs; '+' means space, as form decoding has it. */
export function parseRawQuery(rawQuery: string): Array<[string, string]> {
  const query = rawQuery.startsWith('?') ? rawQuery.slice(1) : rawQuery;
  const pairs: Array<[string, string]> = [];
  if (query === '') return pairs;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    const rawValue = eq === -1 ? '' : part.slice(eq + 1);
    pairs.push([decodeQueryComponent(rawName), decodeQueryComponent(rawValue)]);
  }
  return pairs;
}

function decodeQueryComponent(raw: string): string {
  const spaced = raw.replace(/\+/g, ' ');
  return safeDecode(spaced) ?? spaced;
}

function toQueryPairs(query: QueryInput): QueryPairs {
  if (typeof query === 'string') return parseRawQuery(query);
  if (query instanceof URLSearchParams) return [...query.entries()];
  return query;
}

export function canonicalQueryString(query: QueryPairs): string {
  return query
    .map(([name, value]) => [awsUriEncode(name), awsUriEncode(value)] as const)
    .sort(([nameA, valueA], [nameB, valueB]) =>
      nameA < nameB ? -1 : nameA > nameB ? 1 : valueA < valueB ? -1 : valueA > valueB ? 1 : 0,
    )
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

/**
 * Trimall over bytes: only ASCII spaces and tabs are whitespace. A value is a byte string (see
 * hashCanonicalRequest), where a 0xA0 byte, as in UTF-8 `à`, must not read as a no-break space.
 */
function canonicalHeaderValue(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, '').replace(/[ \t]+/g, ' ');
}

/** Lower-cased name → values, merging names that differ only in case. */
function lowerCaseHeaders(headers: HeaderBag): Map<string, string[]> {
  const byName = new Map<string, string[]>();
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const key = name.toLowerCase();
    const values = byName.get(key) ?? [];
    if (typeof value === 'string') values.push(value);
    else values.push(...value);
    byName.set(key, values);
  }
  return byName;
}

function normalizeSignedHeaders(signedHeaders: readonly string[]): string[] {
  return signedHeaders.map((name) => name.toLowerCase()).sort();
}

export interface CanonicalRequestInput {
  method: string;
  /** Already percent-encoded SigV4 path (see canonicalUri); used verbatim. */
  path: string;
  /** Decoded pairs; encoded and sorted here. */
  query: QueryPairs;
  headers: HeaderBag;
  signedHeaders: readonly string[];
  payloadHash: string;
}

/**
 * SHA-256 (hex) of a canonical request over the bytes it stands for. Node reads and writes each
 * header byte as one latin1 character, so header values are byte strings and the client signed
 * exactly those bytes (boto3: the UTF-8 it sent; a Latin-1 byte as itself); path and query are
 * ASCII by now. A character above U+00FF cannot have come off the wire; such text is hashed as UTF-8.
 */
export function hashCanonicalRequest(canonical: string): string {
  return createHash('sha256').update(canonical, /[^\u0000-\u00ff]/.test(canonical) ? 'utf8' : 'latin1').digest('hex');
}

export function canonicalRequest(input: CanonicalRequestInput): string {
  const headers = lowerCaseHeaders(input.headers);
  const signed = normalizeSignedHeaders(input.signedHeaders);
  const headerLines = signed.map(
    (name) => `${name}:${(headers.get(name) ?? []).map(canonicalHeaderValue).join(',')}\n`,
  );
  return [
    input.method.toUpperCase(),
    input.path === '' ? '/' : input.path,
    canonicalQueryString(input.query),
    headerLines.join(''),
    signed.join(';'),
    input.payloadHash,
  ].join('\n');
}

// ---------------------------------------------------------------------------
// Client side

export interface SignRequestInput {
  method: string;
  url: URL;
  headers?: Readonly<Record<string, string>>;
  /** Hex SHA-256 of the body, UNSIGNED-PAYLOAD, or a STREAMING-* marker. */
  payloadHash: string;
  credentials: Credentials;
  region: string;
  service?: string;
  now?: Date;
  /** Further headers to sign when present (e.g. 'range'); host, x-amz-*, content-type and content-md5 always are. */
  extraSignedHeaders?: readonly string[];
}

export interface SignedRequest {
  /** Headers to add to the request; they override any of the caller's with the same name. */
  headers: Record<string, string>;
  /** Seed for aws-chunked chunk signatures when payloadHash is a STREAMING-AWS4-HMAC-SHA256-* marker. */
  signing: ChunkSigningContext;
}

const ALWAYS_SIGNED = new Set(['host', 'content-type', 'content-md5']);

export function signRequestWithContext(input: SignRequestInput): SignedRequest {
  const service = input.service ?? 's3';
  const datetime = formatAmzDate(input.now ?? new Date());
  const scope = credentialScope(datetime.slice(0, 8), input.region, service);
  const added: Record<string, string> = {
    'x-amz-date': datetime,
    'x-amz-content-sha256': input.payloadHash,
  };
  if (input.credentials.sessionToken !== undefined) {
    added['x-amz-security-token'] = input.credentials.sessionToken;
  }

  const merged = new Map<string, string>();
  for (const [name, value] of Object.entries(input.headers ?? {})) merged.set(name.toLowerCase(), value);
  for (const [name, value] of Object.entries(added)) merged.set(name, value);
  if (!merged.has('host')) merged.set('host', input.url.host);

  const extra = new Set((input.extraSignedHeaders ?? []).map((name) => name.toLowerCase()));
  const signedHeaders = [...merged.keys()].filter(
    (name) => ALWAYS_SIGNED.has(name) || name.startsWith('x-amz-') || extra.has(name),
  );
  const canonical = canonicalRequest({
    method: input.method,
    path: canonicalUri(input.url.pathname),
    query: [...input.url.searchParams.entries()],
    headers: Object.fromEntries(merged),
    signedHeaders,
    payloadHash: input.payloadHash,
  });
  const signingKey = deriveSigningKey(input.credentials.secretAccessKey, datetime.slice(0, 8), input.region, service);
  const seedSignature = signature(signingKey, stringToSign(datetime, scope, hashCanonicalRequest(canonical)));
  const authorization =
    `${SIGV4_ALGORITHM} Credential=${input.credentials.accessKeyId}/${scope}, ` +
    `SignedHeaders=${normalizeSignedHeaders(signedHeaders).join(';')}, Signature=${seedSignature}`;
  return {
    headers: { authorization, ...added },
    signing: { signingKey, datetime, scope, seedSignature },
  };
}

/** Returns the headers to add: authorization, x-amz-date, x-amz-content-sha256 (+ x-amz-security-token). */
export function signRequest(input: SignRequestInput): Record<string, string> {
  return signRequestWithContext(input).headers;
}

export interface PresignUrlInput {
  method: string;
  url: URL;
  credentials: Credentials;
  region: string;
  expiresSeconds: number;
  now?: Date;
  service?: string;
}

/** Query-string-signed URL (host the only signed header, UNSIGNED-PAYLOAD). */
export function presignUrl(input: PresignUrlInput): string {
  const { expiresSeconds } = input;
  if (!Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > MAX_PRESIGN_EXPIRES_SECONDS) {
    throw new RangeError(`expiresSeconds must be an integer in 1..${MAX_PRESIGN_EXPIRES_SECONDS}`);
  }
  const service = input.service ?? 's3';
  const datetime = formatAmzDate(input.now ?? new Date());
  const scope = credentialScope(datetime.slice(0, 8), input.region, service);
  const query: Array<[string, string]> = [
    ...input.url.searchParams.entries(),
    ['X-Amz-Algorithm', SIGV4_ALGORITHM],
    ['X-Amz-Credential', `${input.credentials.accessKeyId}/${scope}`],
    ['X-Amz-Date', datetime],
    ['X-Amz-Expires', String(expiresSeconds)],
    ['X-Amz-SignedHeaders', 'host'],
  ];
  if (input.credentials.sessionToken !== undefined) {
    query.push(['X-Amz-Security-Token', input.credentials.sessionToken]);
  }
  const path = canonicalUri(input.url.pathname);
  const canonical = canonicalRequest({
    method: input.method,
    path,
    query,
    headers: { host: input.url.host },
    signedHeaders: ['host'],
    payloadHash: UNSIGNED_PAYLOAD,
  });
  const signingKey = deriveSigningKey(input.credentials.secretAccessKey, datetime.slice(0, 8), input.region, service);
  const sig = signature(signingKey, stringToSign(datetime, scope, hashCanonicalRequest(canonical)));
  // The canonical query doubles as the wire query, so what we send is exactly what we signed.
  return `${input.url.protocol}//${input.url.host}${path}?${canonicalQueryString(query)}&X-Amz-Signature=${sig}`;
}

// ---------------------------------------------------------------------------
// Server side

export interface IncomingSignedRequest {
  method: string;
  /** Path and query exactly as received, e.g. '/bucket/a%20b?uploadId=x&partNumber=1'. */
  rawUrl: string;
  headers: IncomingHttpHeaders;
}

export type SecretLookup = (accessKeyId: string) => string | undefined;

export interface VerifyOptions {
  /** When set, credentials scoped to another region are rejected as S3 does. Default: any region. */
  region?: string;
  /** Expected service in the credential scope. Default 's3'. */
  service?: string;
}

export interface VerifiedRequest {
  accessKeyId: string;
  /** x-amz-content-sha256 as sent (hex, UNSIGNED-PAYLOAD or STREAMING-*); UNSIGNED-PAYLOAD for bare presigned URLs. */
  payloadHash: string;
  signingKey: Buffer;
  datetime: string;
  scope: string;
  /** The request's signature: the seed for aws-chunked chunk signatures. */
  signature: string;
  presigned: boolean;
}

const PRESIGN_PARAMS = {
  algorithm: 'x-amz-algorithm',
  credential: 'x-amz-credential',
  date: 'x-amz-date',
  expires: 'x-amz-expires',
  signedHeaders: 'x-amz-signedheaders',
  signature: 'x-amz-signature',
  contentSha256: 'x-amz-content-sha256',
} as const;

const VALID_PAYLOAD_MARKERS = new Set([
  UNSIGNED_PAYLOAD,
  STREAMING_SIGNED_PAYLOAD,
  STREAMING_SIGNED_PAYLOAD_TRAILER,
  STREAMING_UNSIGNED_PAYLOAD_TRAILER,
]);

export function verifyRequest(
  req: IncomingSignedRequest,
  lookupSecret: SecretLookup,
  now: Date = new Date(),
  options: VerifyOptions = {},
): VerifiedRequest {
  const { path, rawQuery } = splitRawUrl(req.rawUrl);
  const query = parseRawQuery(rawQuery);
  const authorization = headerValue(req.headers, 'authorization');
  const presignedAuth = hasPresignParams(query);

  if (authorization !== undefined && presignedAuth) {
    throw errors.invalidArgument(
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified',
      'Authorization',
      authorization,
    );
  }
  if (authorization !== undefined) {
    return verifyHeaderAuth(req, path, query, authorization, lookupSecret, now, options);
  }
  if (presignedAuth) {
    return verifyPresigned(req, path, query, lookupSecret, now, options);
  }
  if (queryValue(query, 'AWSAccessKeyId') !== undefined || queryValue(query, 'Signature') !== undefined) {
    throw unsupportedMechanism(PRESIGNED_V2_ADVICE);
  }
  throw errors.accessDenied();
}

export interface ParsedCredential {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  scope: string;
}

interface SignatureCheck {
  method: string;
  wirePath: string;
  query: QueryPairs;
  headers: IncomingHttpHeaders;
  signedHeaders: readonly string[];
  payloadHash: string;
  datetime: string;
  credential: ParsedCredential;
  providedSignature: string;
  signingKey: Buffer;
}

function verifyHeaderAuth(
  req: IncomingSignedRequest,
  wirePath: string,
  query: QueryPairs,
  authorization: string,
  lookupSecret: SecretLookup,
  now: Date,
  options: VerifyOptions,
): VerifiedRequest {
  const { credentialText, signedHeaders, providedSignature } = parseAuthorizationHeader(authorization);
  const credential = parseCredential(credentialText, headerMalformed, options);

  const payloadHash = headerValue(req.headers, 'x-amz-content-sha256');
  if (payloadHash === undefined) {
    throw new ServiceError('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256', 400);
  }
  assertValidPayloadHash(payloadHash);

  const { datetime, requestTime, rawDate } = requestDateFromHeaders(req.headers);
  if (credential.date !== datetime.slice(0, 8)) {
    throw headerMalformed('Invalid credential date. Date is not the same as X-Amz-Date.');
  }
  if (Math.abs(now.getTime() - requestTime.getTime()) > MAX_CLOCK_SKEW_MS) {
    throw new ServiceError(
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
      403,
      { RequestTime: rawDate, ServerTime: now.toISOString(), MaxAllowedSkewMilliseconds: String(MAX_CLOCK_SKEW_MS) },
    );
  }

  const signingKey = signingKeyFor(credential, lookupSecret);
  // x-amz-content-sha256 is covered anyway: it is the canonical request's last line.
  assertHeadersSigned(req.headers, signedHeaders, new Set(['x-amz-content-sha256']));
  const seed = checkSignature({
    method: req.method,
    wirePath,
    query,
    headers: req.headers,
    signedHeaders,
    payloadHash,
    datetime,
    credential,
    providedSignature,
    signingKey,
  });
  return {
    accessKeyId: credential.accessKeyId,
    payloadHash,
    signingKey,
    datetime,
    scope: credential.scope,
    signature: seed,
    presigned: false,
  };
}

function verifyPresigned(
  req: IncomingSignedRequest,
  wirePath: string,
  query: QueryPairs,
  lookupSecret: SecretLookup,
  now: Date,
  options: VerifyOptions,
): VerifiedRequest {
  const algorithm = queryValue(query, PRESIGN_PARAMS.algorithm);
  const credentialText = queryValue(query, PRESIGN_PARAMS.credential);
  const amzDate = queryValue(query, PRESIGN_PARAMS.date);
  const expiresText = queryValue(query, PRESIGN_PARAMS.expires);
  const signedHeadersText = queryValue(query, PRESIGN_PARAMS.signedHeaders);
  const providedSignature = queryValue(query, PRESIGN_PARAMS.signature);
  if (
    algorithm === undefined ||
    credentialText === undefined ||
    amzDate === undefined ||
    expiresText === undefined ||
    signedHeadersText === undefined ||
    providedSignature === undefined
  ) {
    throw queryParametersError(
      'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.',
    );
  }
  if (algorithm !== SIGV4_ALGORITHM) {
    throw queryParametersError(`X-Amz-Algorithm only supports "${SIGV4_ALGORITHM}"`);
  }
  const expiresSeconds = parseExpires(expiresText);
  const requestTime = parseAmzDate(amzDate);
  if (requestTime === undefined) {
    throw queryParametersError(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`);
  }
  const credential = parseCredential(credentialText, credentialQueryError, options);
  if (credential.date !== amzDate.slice(0, 8)) {
    throw queryParametersError(
      `Invalid credential date "${credential.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`,
    );
  }
  const signedHeaders = parseSignedHeaders(signedHeadersText, queryParametersError);

  if (requestTime.getTime() - now.getTime() > MAX_CLOCK_SKEW_MS) {
    throw new ServiceError('AccessDenied', 'Request is not valid yet', 403, {
      'X-Amz-Date': amzDate,
      ServerTime: now.toISOString(),
    });
  }
  const expiresAt = new Date(requestTime.getTime() + expiresSeconds * 1000);
  // A URL valid for 0 seconds is expired at once, as S3 answers it (not a malformed query).
  if (expiresSeconds === 0 || now.getTime() > expiresAt.getTime()) {
    throw new ServiceError('AccessDenied', 'Request has expired', 403, {
      'X-Amz-Expires': expiresText,
      Expires: expiresAt.toISOString(),
      ServerTime: now.toISOString(),
    });
  }

  // The SDK presigner hoists x-amz-content-sha256 into the query; a plain client may send the header.
  const payloadHash =
    queryValue(query, PRESIGN_PARAMS.contentSha256) ??
    headerValue(req.headers, 'x-amz-content-sha256') ??
    UNSIGNED_PAYLOAD;
  assertValidPayloadHash(payloadHash);

  const signingKey = signingKeyFor(credential, lookupSecret);
  // As with header auth, the payload hash is covered as the canonical request's last line.
  assertHeadersSigned(req.headers, signedHeaders, new Set(['x-amz-content-sha256']));
  const seed = checkSignature({
    method: req.method,
    wirePath,
    query: query.filter(([name]) => name.toLowerCase() !== PRESIGN_PARAMS.signature),
    headers: req.headers,
    signedHeaders,
    payloadHash,
    datetime: amzDate,
    credential,
    providedSignature,
    signingKey,
  });
  return {
    accessKeyId: credential.accessKeyId,
    payloadHash,
    signingKey,
    datetime: amzDate,
    scope: credential.scope,
    signature: seed,
    presigned: true,
  };
}

/** Returns the verified signature, or throws SignatureDoesNotMatch. */
function checkSignature(check: SignatureCheck): string {
  // Clients disagree on whether to sign the path as sent or its strict SigV4 re-encoding
  // (e.g. a raw '(' vs '%28'); both name the same object, so either form is accepted.
  const paths = [check.wirePath === '' ? '/' : check.wirePath];
  const reencoded = canonicalUri(check.wirePath);
  if (reencoded !== paths[0]) paths.push(reencoded);

  let firstAttempt: { canonical: string; toSign: string } | undefined;
  for (const path of paths) {
    const canonical = canonicalRequest({
      method: check.method,
      path,
      query: check.query,
      headers: check.headers,
      signedHeaders: check.signedHeaders,
      payloadHash: check.payloadHash,
    });
    const toSign = stringToSign(check.datetime, check.credential.scope, hashCanonicalRequest(canonical));
    const expected = signature(check.signingKey, toSign);
    if (signaturesEqual(expected, check.providedSignature)) return expected;
    firstAttempt ??= { canonical, toSign };
  }
  throw new ServiceError(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    403,
    {
      AWSAccessKeyId: check.credential.accessKeyId,
      StringToSign: firstAttempt?.toSign ?? '',
      SignatureProvided: check.providedSignature,
      CanonicalRequest: firstAttempt?.canonical ?? '',
    },
  );
}

function signingKeyFor(credential: ParsedCredential, lookupSecret: SecretLookup): Buffer {
  const secret = lookupSecret(credential.accessKeyId);
  if (secret === undefined) {
    throw new ServiceError(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
      403,
      { AWSAccessKeyId: credential.accessKeyId },
    );
  }
  return deriveSigningKey(secret, credential.date, credential.region, credential.service);
}

/** S3 refuses requests carrying x-amz-* headers (or host) that the signature does not cover. */
function assertHeadersSigned(headers: IncomingHttpHeaders, signedHeaders: readonly string[], exempt: Set<string>): void {
  const signed = new Set(signedHeaders);
  const unsigned = Object.keys(headers)
    .map((name) => name.toLowerCase())
    .filter((name) => (name === 'host' || name.startsWith('x-amz-')) && !signed.has(name) && !exempt.has(name));
  if (!signed.has('host') && !unsigned.includes('host')) unsigned.unshift('host');
  if (unsigned.length > 0) {
    throw new ServiceError('AccessDenied', 'There were headers present in the request which were not signed', 403, {
      HeadersNotSigned: unsigned.join(', '),
    });
  }
}

function parseAuthorizationHeader(authorization: string): {
  credentialText: string;
  signedHeaders: string[];
  providedSignature: string;
} {
  const trimmed = authorization.trim();
  const space = trimmed.search(/\s/);
  const scheme = space === -1 ? trimmed : trimmed.slice(0, space);
  if (scheme !== SIGV4_ALGORITHM) {
    if (scheme === 'AWS' || scheme === 'AWS4-ECDSA-P256-SHA256') throw unsupportedMechanism();
    throw errors.invalidArgument('Unsupported Authorization Type', 'Authorization', authorization);
  }
  const components = new Map<string, string>();
  const rest = space === -1 ? '' : trimmed.slice(space + 1);
  for (const component of rest.split(',')) {
    const part = component.trim();
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = eq === -1 ? '' : part.slice(0, eq).trim();
    if (name !== 'Credential' && name !== 'SignedHeaders' && name !== 'Signature') {
      throw headerMalformed(`the authorization component "${part}" is malformed.`);
    }
    components.set(name, part.slice(eq + 1).trim());
  }
  const credentialText = components.get('Credential');
  const signedHeadersText = components.get('SignedHeaders');
  const providedSignature = components.get('Signature');
  if (credentialText === undefined || signedHeadersText === undefined || providedSignature === undefined) {
    throw headerMalformed(
      'the authorization header requires three components: Credential, SignedHeaders, and Signature.',
    );
  }
  return {
    credentialText,
    signedHeaders: parseSignedHeaders(signedHeadersText, headerMalformed),
    providedSignature,
  };
}

function parseSignedHeaders(text: string, malformed: (message: string) => ServiceError): string[] {
  const names = text.split(';').map((name) => name.trim().toLowerCase());
  if (names.some((name) => name === '')) {
    throw malformed(`the SignedHeaders "${text}" is malformed.`);
  }
  return names;
}

export function parseCredential(
  text: string,
  malformed: (message: string, detail?: Record<string, string>) => ServiceError,
  options: VerifyOptions,
): ParsedCredential {
  const parts = text.split('/');
  if (parts.length !== 5 || parts.some((part) => part === '')) {
    throw malformed(
      'the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".',
    );
  }
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string];
  if (!/^\d{8}$/.test(date)) {
    throw malformed(`incorrect date format "${date}". This date in the credential must be in the format "yyyyMMdd".`);
  }
  const expectedService = options.service ?? 's3';
  if (service !== expectedService) {
    throw malformed(`Credential should be scoped to correct service: '${expectedService}'.`);
  }
  if (terminator !== SCOPE_TERMINATOR) {
    throw malformed(`Credential should be scoped with a valid terminator: '${SCOPE_TERMINATOR}', not '${terminator}'.`);
  }
  if (options.region !== undefined && region !== options.region) {
    throw malformed(`the region '${region}' is wrong; expecting '${options.region}'`, { Region: options.region });
  }
  return { accessKeyId, date, region, service, scope: credentialScope(date, region, service) };
}

function requestDateFromHeaders(headers: IncomingHttpHeaders): { datetime: string; requestTime: Date; rawDate: string } {
  const amzDate = headerValue(headers, 'x-amz-date');
  if (amzDate !== undefined) {
    const parsed = parseAmzDate(amzDate.trim());
    if (parsed !== undefined) return { datetime: amzDate.trim(), requestTime: parsed, rawDate: amzDate };
  } else {
    const httpDate = headerValue(headers, 'date');
    const millis = httpDate === undefined ? NaN : Date.parse(httpDate);
    if (httpDate !== undefined && !Number.isNaN(millis)) {
      const requestTime = new Date(millis);
      return { datetime: formatAmzDate(requestTime), requestTime, rawDate: httpDate };
    }
  }
  throw new ServiceError('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header', 403);
}

function parseExpires(text: string): number {
  if (!/^-?\d+$/.test(text)) throw queryParametersError('X-Amz-Expires should be a number');
  const seconds = Number(text);
  if (seconds < 0) throw queryParametersError('X-Amz-Expires must be non-negative');
  if (seconds > MAX_PRESIGN_EXPIRES_SECONDS) {
    throw queryParametersError(`X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGN_EXPIRES_SECONDS}`);
  }
  return seconds;
}

function assertValidPayloadHash(value: string): void {
  if (VALID_PAYLOAD_MARKERS.has(value) || /^[0-9a-fA-F]{64}$/.test(value)) return;
  throw errors.invalidArgument(
    `x-amz-content-sha256 must be ${[...VALID_PAYLOAD_MARKERS].join(', ')} or a valid sha256 value.`,
    'x-amz-content-sha256',
    value,
  );
}

function headerMalformed(message: string, detail: Record<string, string> = {}): ServiceError {
  return new ServiceError('AuthorizationHeaderMalformed', `The authorization header is malformed; ${message}`, 400, detail);
}

function queryParametersError(message: string, detail: Record<string, string> = {}): ServiceError {
  return new ServiceError('AuthorizationQueryParametersError', message, 400, detail);
}

function credentialQueryError(message: string, detail: Record<string, string> = {}): ServiceError {
  return queryParametersError(`Error parsing the X-Amz-Credential parameter; ${message}`, detail);
}

/** What S3 answers to Signature Version 2 in regions that only accept V4. */
/**
 * What a presigned URL signed with Signature V2 (AWS CLI v1's `s3 presign` at its defaults) is
 * told beyond AWS's sentence: a person reads it, in a browser or curl. Header-signed V2 requests
 * get AWS's sentence alone, which s3cmd matches word for word to switch to V4 by itself.
 */
const PRESIGNED_V2_ADVICE =
  ' This server accepts only Signature Version 4; for the AWS CLI v1, run `aws configure set default.s3.signature_version s3v4` and presign again.';

function unsupportedMechanism(advice = ''): ServiceError {
  return new ServiceError(
    'InvalidRequest',
    'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.' + advice,
    400,
  );
}

function splitRawUrl(rawUrl: string): { path: string; rawQuery: string } {
  // Absolute-form request targets (sent through proxies) carry scheme and authority.
  const withoutOrigin = rawUrl.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i, '');
  const question = withoutOrigin.indexOf('?');
  return question === -1
    ? { path: withoutOrigin, rawQuery: '' }
    : { path: withoutOrigin.slice(0, question), rawQuery: withoutOrigin.slice(question + 1) };
}

function headerValue(headers: HeaderBag, lowerCaseName: string): string | undefined {
  const value = headers[lowerCaseName];
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : value[0];
}

/** Presigned parameter names are matched case-insensitively, as the SDK does when excluding X-Amz-Signature. */
function queryValue(query: QueryPairs, name: string): string | undefined {
  const wanted = name.toLowerCase();
  return query.find(([candidate]) => candidate.toLowerCase() === wanted)?.[1];
}

function hasPresignParams(query: QueryPairs): boolean {
  return query.some(([name]) => {
    const lower = name.toLowerCase();
    return lower === PRESIGN_PARAMS.algorithm || lower === PRESIGN_PARAMS.credential || lower === PRESIGN_PARAMS.signature;
  });
}

// ---------------------------------------------------------------------------
// Request classification (logging, routing)

/** The access key a request claims (V4 header or query, or legacy V2), without verifying anything. */
export function extractAccessKeyId(headers: HeaderBag, query: QueryInput): string | undefined {
  const authorization = headerValue(lowerCaseView(headers), 'authorization');
  if (authorization !== undefined) {
    const v4 = /Credential\s*=\s*([^/,\s]+)\//.exec(authorization);
    if (v4 !== null) return v4[1];
    const v2 = /^\s*AWS\s+([^:\s]+):/.exec(authorization);
    if (v2 !== null) return v2[1];
  }
  const pairs = toQueryPairs(query);
  const credential = queryValue(pairs, PRESIGN_PARAMS.credential);
  if (credential !== undefined) {
    const accessKeyId = credential.split('/')[0];
    if (accessKeyId !== undefined && accessKeyId !== '') return accessKeyId;
  }
  return pairs.find(([name]) => name === 'AWSAccessKeyId')?.[1] || undefined;
}

/** True when the request carries no credentials at all (no Authorization header, no signature query). */
export function isAnonymous(headers: HeaderBag, query: QueryInput): boolean {
  if (headerValue(lowerCaseView(headers), 'authorization') !== undefined) return false;
  const pairs = toQueryPairs(query);
  if (hasPresignParams(pairs)) return false;
  return !pairs.some(([name]) => name === 'AWSAccessKeyId' || name === 'Signature');
}

function lowerCaseView(headers: HeaderBag): HeaderBag {
  return Object.keys(headers).every((name) => name === name.toLowerCase())
    ? headers
    : Object.fromEntries(lowerCaseHeaders(headers));
}
