/**
 * OSS request signing, V1 (`OSS ak:sig`, HMAC-SHA1) and V4 (`OSS4-HMAC-SHA256`), header and
 * presigned-URL forms. One canonicalisation serves both sides: our client signs with it and our
 * server verifies with it, so the two cannot drift apart.
 *
 * Canonical forms were checked against ali-oss 6.23.0 and the Go SDKs (v1 and v2); where the
 * clients disagree (V4 query ordering and empty values) the verifier accepts each client's form.
 */

import { isUtf8 } from 'node:buffer';
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

import { ServiceError } from '../../core/errors.js';

// ---------------------------------------------------------------------------------------------
// Shared vocabulary
// ---------------------------------------------------------------------------------------------

/**
 * Query parameters, decoded. As a list, order and duplicates are kept; a value of `undefined`
 * (or '') is a bare key such as `?uploads`. As a record, `undefined`/`null` are bare keys.
 */
export type QueryParams =
  | ReadonlyArray<readonly [string, string | undefined]>
  | Readonly<Record<string, string | number | null | undefined>>;

type QueryPair = readonly [name: string, value: string];

function queryPairs(query: QueryParams | undefined): QueryPair[] {
  if (query === undefined) return [];
  if (Array.isArray(query)) {
    return (query as ReadonlyArray<readonly [string, string | undefined]>).map(([k, v]) => [k, v ?? ''] as const);
  }
  return Object.entries(query as Record<string, string | number | null | undefined>).map(
    ([k, v]) => [k, v === null || v === undefined ? '' : String(v)] as const,
  );
}

/** Header names lower-cased; only the first spelling of a name counts. */
function lowerCaseHeaders(headers: Readonly<Record<string, string | undefined>> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (value !== undefined && !(lower in out)) out[lower] = value;
  }
  return out;
}

const OSS_HEADER_PREFIX = 'x-oss-';

/** Default in/out ordering for canonical lists: plain code-unit order (all names here are ASCII). */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * RFC 3986 percent-encoding: only A-Z a-z 0-9 - . _ ~ stay as they are (what Go's escaping and
 * ali-oss's encodeString both produce). `keepSlash` leaves '/' alone, for paths.
 */
export function uriEncode(text: string, keepSlash = false): string {
  const encoded = encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? encoded.replace(/%2F/g, '/') : encoded;
}

function hmac(algorithm: 'sha1' | 'sha256', key: string | Buffer, data: string): Buffer {
  return createHmac(algorithm, key).update(data, 'utf8').digest();
}

/** Constant-time string equality (time depends only on the lengths). */
function safeEqual(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(provided, 'utf8');
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

// ---------------------------------------------------------------------------------------------
// V1: StringToSign = VERB\nContent-MD5\nContent-Type\nDate\nCanonicalizedOSSHeaders + Resource
// ---------------------------------------------------------------------------------------------

/**
 * Query names that belong to the V1 canonical resource (the OSS whitelist, as the Go SDK v1
 * keeps it). Anything else (prefix, max-parts, encoding-type, …) is not signed in V1.
 */
export const V1_SIGNED_SUB_RESOURCES: ReadonlySet<string> = new Set([
  'acl', 'uploads', 'location', 'cors', 'logging', 'website', 'referer', 'lifecycle', 'delete', 'append',
  'tagging', 'objectMeta', 'uploadId', 'partNumber', 'security-token', 'position', 'img', 'style',
  'styleName', 'replication', 'replicationProgress', 'replicationLocation', 'cname', 'bucketInfo', 'comp',
  'qos', 'live', 'status', 'vod', 'startTime', 'endTime', 'symlink', 'x-oss-process', 'response-content-type',
  'x-oss-traffic-limit', 'response-content-language', 'response-expires', 'response-cache-control',
  'response-content-disposition', 'response-content-encoding', 'udf', 'udfName', 'udfImage', 'udfId',
  'udfImageDesc', 'udfApplication', 'udfApplicationLog', 'restore', 'callback', 'callback-var', 'qosInfo',
  'policy', 'stat', 'encryption', 'versions', 'versioning', 'versionId', 'requestPayment',
  'x-oss-request-payer', 'sequential', 'inventory', 'inventoryId', 'continuation-token', 'asyncFetch',
  'worm', 'wormId', 'wormExtend', 'withHashContext', 'x-oss-enable-md5', 'x-oss-enable-sha1',
  'x-oss-enable-sha256', 'x-oss-hash-ctx', 'x-oss-md5-ctx', 'transferAcceleration', 'regionList',
  'cloudboxes', 'x-oss-ac-source-ip', 'x-oss-ac-subnet-mask', 'x-oss-ac-vpc-id', 'x-oss-ac-forward-allow',
  'metaQuery', 'resourceGroup', 'rtc', 'x-oss-async-process', 'responseHeader',
]);

export function isV1SubResource(name: string): boolean {
  return V1_SIGNED_SUB_RESOURCES.has(name);
}

/** The Go SDK v2 also signs every `x-oss-*` query parameter; the verifier tries this too. */
function isV1SubResourceOrOssParam(name: string): boolean {
  return V1_SIGNED_SUB_RESOURCES.has(name) || name.startsWith(OSS_HEADER_PREFIX);
}

/** `x-oss-*` headers, lower-cased, values trimmed, sorted, one `name:value\n` each. */
export function v1CanonicalizedOssHeaders(headers: Readonly<Record<string, string>> | undefined): string {
  const oss = Object.entries(lowerCaseHeaders(headers)).filter(([name]) => name.startsWith(OSS_HEADER_PREFIX));
  oss.sort(([a], [b]) => byCodeUnits(a, b));
  return oss.map(([name, value]) => `${name}:${value.trim()}\n`).join('');
}

/**
 * `/bucket/key` with the key as is (not percent-encoded), `/bucket/` for bucket-level and `/`
 * for service-level requests, then the sub-resources `?a&b=v` sorted, values not encoded.
 */
export function v1CanonicalizedResource(
  bucket: string | undefined,
  key: string | undefined,
  subResources?: QueryParams,
  isSubResource: (name: string) => boolean = isV1SubResource,
): string {
  let resource = '/';
  if (bucket) resource += `${bucket}/${key ?? ''}`;
  // A name seen twice is signed once, with its first value (Go's url.Values.Get).
  const signed = new Map<string, string>();
  for (const [name, value] of queryPairs(subResources)) {
    if (isSubResource(name) && !signed.has(name)) signed.set(name, value);
  }
  const names = [...signed.keys()].sort(byCodeUnits);
  if (names.length === 0) return resource;
  return `${resource}?${names.map((n) => (signed.get(n) ? `${n}=${signed.get(n)}` : n)).join('&')}`;
}

export interface V1StringToSignInput {
  method: string;
  contentMd5?: string;
  contentType?: string;
  /** The `Date` header, or `x-oss-date` when there is no Date (ali-oss), or `Expires` when presigned. */
  date: string;
  /** Request headers by lower-case name; only `x-oss-*` are used. */
  ossHeaders?: Readonly<Record<string, string>>;
  bucket?: string;
  /** Decoded object key, not percent-encoded. */
  key?: string;
  /** The request's query parameters; only the whitelisted sub-resources are signed. */
  subResources?: QueryParams;
  /** Override which query names count as sub-resources (default: the OSS whitelist). */
  isSubResource?: (name: string) => boolean;
}

export function v1StringToSign(input: V1StringToSignInput): string {
  return (
    `${input.method.toUpperCase()}\n${input.contentMd5 ?? ''}\n${input.contentType ?? ''}\n${input.date}\n` +
    v1CanonicalizedOssHeaders(input.ossHeaders) +
    v1CanonicalizedResource(input.bucket, input.key, input.subResources, input.isSubResource)
  );
}

/** base64(HMAC-SHA1(secret, stringToSign)). */
export function v1Sign(secret: string, stringToSign: string): string {
  return hmac('sha1', secret, stringToSign).toString('base64');
}

// ---------------------------------------------------------------------------------------------
// V4: OSS4-HMAC-SHA256
// ---------------------------------------------------------------------------------------------

export const V4_ALGORITHM = 'OSS4-HMAC-SHA256';
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const V4_TERMINATOR = 'aliyun_v4_request';
const V4_PRODUCT = 'oss';
/** Longest lifetime OSS allows a V4 presigned URL: 7 days. */
export const V4_MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/** Headers V4 always signs when present; others only when listed as additional headers. */
function isV4DefaultSignedHeader(lowerName: string): boolean {
  return lowerName === 'content-type' || lowerName === 'content-md5' || lowerName.startsWith(OSS_HEADER_PREFIX);
}

/**
 * The AdditionalHeaders list as clients send it: lower-cased, de-duplicated, without headers
 * that are signed anyway, sorted.
 */
export function v4NormalizeAdditionalHeaders(names: readonly string[] | undefined): string[] {
  const set = new Set((names ?? []).map((n) => n.trim().toLowerCase()).filter((n) => n && !isV4DefaultSignedHeader(n)));
  return [...set].sort(byCodeUnits);
}

/** `/bucket/key` percent-encoded keeping '/'; `/bucket/` for bucket-level, `/` for service-level. */
export function v4CanonicalUri(bucket: string | undefined, key: string | undefined): string {
  if (!bucket) return '/';
  return uriEncode(`/${bucket}/${key ?? ''}`, true);
}

export interface V4CanonicalQueryOptions {
  /**
   * How an empty value is written. 'bare' (`uploads`) is what OSS and the Go SDKs use, and what
   * ali-oss does for its sub-resources; ali-oss writes its ordinary empty query values as `k=`
   * ('equals-unless-sub-resource' guesses that split; 'equals' is every empty value, as
   * ali-oss signatureUrlV4 does with caller-given queries).
   */
  emptyValue?: 'bare' | 'equals' | 'equals-unless-sub-resource';
  /** 'code-units' sorts encoded names bytewise (Go, OSS); 'locale' mimics ali-oss's localeCompare. */
  order?: 'code-units' | 'locale';
}

/** All query parameters, names and values encoded, sorted by name (then value), joined by '&'. */
export function v4CanonicalQuery(query: QueryParams | undefined, options: V4CanonicalQueryOptions = {}): string {
  const pairs = queryPairs(query);
  if (options.order === 'locale') {
    pairs.sort(([a], [b]) => a.localeCompare(b));
  } else {
    pairs.sort(([a, x], [b, y]) => byCodeUnits(uriEncode(a), uriEncode(b)) || byCodeUnits(uriEncode(x), uriEncode(y)));
  }
  return pairs
    .map(([name, value]) => {
      if (value !== '') return `${uriEncode(name)}=${uriEncode(value)}`;
      const equals =
        options.emptyValue === 'equals' || (options.emptyValue === 'equals-unless-sub-resource' && !isV1SubResource(name));
      return equals ? `${uriEncode(name)}=` : uriEncode(name);
    })
    .join('&');
}

export interface V4CanonicalRequestInput {
  method: string;
  bucket?: string;
  key?: string;
  query?: QueryParams;
  /** Request headers (any case). content-type, content-md5, x-oss-* and the additional ones are signed. */
  headers: Readonly<Record<string, string>>;
  /** Extra headers to sign (already normalised, see v4NormalizeAdditionalHeaders). */
  additionalHeaders?: readonly string[];
  queryOptions?: V4CanonicalQueryOptions;
}

/** VERB \n URI \n query \n headers \n additional-headers \n payload-hash. */
export function v4CanonicalRequest(input: V4CanonicalRequestInput): string {
  const headers = lowerCaseHeaders(input.headers);
  const additional = input.additionalHeaders ?? [];
  const signedNames = new Set(Object.keys(headers).filter(isV4DefaultSignedHeader));
  for (const name of additional) signedNames.add(name);
  const canonicalHeaders = [...signedNames]
    .sort(byCodeUnits)
    .map((name) => `${name}:${(headers[name] ?? '').trim()}\n`)
    .join('');
  return [
    input.method.toUpperCase(),
    v4CanonicalUri(input.bucket, input.key),
    v4CanonicalQuery(input.query, input.queryOptions),
    canonicalHeaders,
    additional.join(';'),
    headers['x-oss-content-sha256'] || UNSIGNED_PAYLOAD,
  ].join('\n');
}

/** `yyyymmdd/region/oss/aliyun_v4_request`. */
export function v4Scope(yyyymmdd: string, region: string): string {
  return `${yyyymmdd}/${region}/${V4_PRODUCT}/${V4_TERMINATOR}`;
}

export function v4StringToSign(datetime: string, scope: string, canonicalRequest: string): string {
  const hashedRequest = createHash('sha256').update(canonicalRequest, 'utf8').digest('hex');
  return `${V4_ALGORITHM}\n${datetime}\n${scope}\n${hashedRequest}`;
}

/** HMAC chain: ("aliyun_v4" + secret) → date → region → "oss" → "aliyun_v4_request". */
export function v4SigningKey(secret: string, yyyymmdd: string, region: string): Buffer {
  const dateKey = hmac('sha256', `aliyun_v4${secret}`, yyyymmdd);
  const regionKey = hmac('sha256', dateKey, region);
  const productKey = hmac('sha256', regionKey, V4_PRODUCT);
  return hmac('sha256', productKey, V4_TERMINATOR);
}

/** Hex HMAC-SHA256 of the string to sign. */
export function v4Signature(signingKey: Buffer, stringToSign: string): string {
  return hmac('sha256', signingKey, stringToSign).toString('hex');
}

/** `20060102T150405Z` for a moment. */
export function v4DateTime(moment: Date): string {
  return moment.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

// ---------------------------------------------------------------------------------------------
// Client side: sign a request or build a presigned URL
// ---------------------------------------------------------------------------------------------

export interface SignRequestInput {
  method: string;
  bucket?: string;
  /** Decoded object key. */
  key?: string;
  /** Every query parameter the request will carry (V1 signs the whitelisted ones, V4 all). */
  query?: QueryParams;
  /** Same as `query`, under the name V1 documentation uses; `query` wins when both are given. */
  subResources?: QueryParams;
  /** Headers the request will carry (any case). */
  headers?: Readonly<Record<string, string>>;
  accessKeyId: string;
  secret: string;
  now?: Date;
}

/**
 * V1 header signing. Returns the headers to add (lower-case names): `authorization`, and
 * `date` when the request has neither Date nor x-oss-date.
 */
export function signV1(input: SignRequestInput): Record<string, string> {
  const headers = lowerCaseHeaders(input.headers);
  const added: Record<string, string> = {};
  let date = headers['date'] ?? headers['x-oss-date'];
  if (date === undefined) {
    date = (input.now ?? new Date()).toUTCString();
    added['date'] = date;
  }
  const stringToSign = v1StringToSign({
    method: input.method,
    contentMd5: headers['content-md5'],
    contentType: headers['content-type'],
    date,
    ossHeaders: headers,
    bucket: input.bucket,
    key: input.key,
    subResources: input.query ?? input.subResources,
  });
  added['authorization'] = `OSS ${input.accessKeyId}:${v1Sign(input.secret, stringToSign)}`;
  return added;
}

export interface SignV4Input extends SignRequestInput {
  /** Signing region as OSS names it without the `oss-` prefix, e.g. `cn-hangzhou`. */
  region: string;
  /** Extra headers to sign beyond content-type, content-md5 and x-oss-*. */
  additionalHeaders?: readonly string[];
}

/**
 * V4 header signing. Returns the headers to add (lower-case names): `x-oss-date`,
 * `x-oss-content-sha256` (UNSIGNED-PAYLOAD unless given) and `authorization`.
 */
export function signV4(input: SignV4Input): Record<string, string> {
  const datetime = v4DateTime(input.now ?? new Date());
  const added: Record<string, string> = { 'x-oss-date': datetime };
  const given = lowerCaseHeaders(input.headers);
  if (!given['x-oss-content-sha256']) added['x-oss-content-sha256'] = UNSIGNED_PAYLOAD;
  const headers = { ...given, ...added };
  const additional = v4NormalizeAdditionalHeaders(input.additionalHeaders).filter((n) => headers[n] !== undefined);
  const canonicalRequest = v4CanonicalRequest({
    method: input.method,
    bucket: input.bucket,
    key: input.key,
    query: input.query ?? input.subResources,
    headers,
    additionalHeaders: additional,
  });
  const day = datetime.slice(0, 8);
  const scope = v4Scope(day, input.region);
  const signature = v4Signature(
    v4SigningKey(input.secret, day, input.region),
    v4StringToSign(datetime, scope, canonicalRequest),
  );
  const additionalPart = additional.length > 0 ? `,AdditionalHeaders=${additional.join(';')}` : '';
  added['authorization'] = `${V4_ALGORITHM} Credential=${input.accessKeyId}/${scope}${additionalPart},Signature=${signature}`;
  return added;
}

export interface PresignTarget {
  method: string;
  /** e.g. `http://127.0.0.1:9000`. */
  endpointUrl: string;
  bucket: string;
  key: string;
  accessKeyId: string;
  secret: string;
  /** Query parameters the URL must carry besides the signature (e.g. response-content-type). */
  subResources?: QueryParams;
  /** Headers the eventual request will send that are signed (content-type, content-md5, x-oss-*). */
  headers?: Readonly<Record<string, string>>;
  /** 'path' (default): `/bucket/key`; 'virtual-hosted': `bucket.host/key`. */
  style?: 'path' | 'virtual-hosted';
}

function objectUrl(target: PresignTarget): URL {
  const url = new URL(target.endpointUrl);
  const basePath = url.pathname.replace(/\/+$/, '');
  const encodedKey = uriEncode(target.key, true);
  if (target.style === 'virtual-hosted') {
    url.hostname = `${target.bucket}.${url.hostname}`;
    url.pathname = `${basePath}/${encodedKey}`;
  } else {
    url.pathname = `${basePath}/${target.bucket}/${encodedKey}`;
  }
  return url;
}

function encodeQueryString(pairs: readonly QueryPair[]): string {
  return pairs.map(([k, v]) => (v === '' ? uriEncode(k) : `${uriEncode(k)}=${uriEncode(v)}`)).join('&');
}

/** V1 presigned URL: the query carries `OSSAccessKeyId`, `Expires` (unix seconds) and `Signature`. */
export function v1PresignUrl(target: PresignTarget & { expiresUnix: number }): string {
  const headers = lowerCaseHeaders(target.headers);
  const expires = String(Math.floor(target.expiresUnix));
  const stringToSign = v1StringToSign({
    method: target.method,
    contentMd5: headers['content-md5'],
    contentType: headers['content-type'],
    date: expires,
    ossHeaders: headers,
    bucket: target.bucket,
    key: target.key,
    subResources: target.subResources,
  });
  const url = objectUrl(target);
  url.search = encodeQueryString([
    ...queryPairs(target.subResources),
    ['OSSAccessKeyId', target.accessKeyId],
    ['Expires', expires],
    ['Signature', v1Sign(target.secret, stringToSign)],
  ]);
  return url.toString();
}

/** V4 presigned URL (x-oss-signature-version, -credential, -date, -expires[, -additional-headers], -signature). */
export function v4PresignUrl(
  target: PresignTarget & { region: string; expiresSeconds: number; now?: Date; additionalHeaders?: readonly string[] },
): string {
  const headers = lowerCaseHeaders(target.headers);
  const datetime = v4DateTime(target.now ?? new Date());
  const day = datetime.slice(0, 8);
  const scope = v4Scope(day, target.region);
  const additional = v4NormalizeAdditionalHeaders(target.additionalHeaders).filter((n) => headers[n] !== undefined);
  const query: QueryPair[] = [
    ...queryPairs(target.subResources),
    ['x-oss-signature-version', V4_ALGORITHM],
    ['x-oss-credential', `${target.accessKeyId}/${scope}`],
    ['x-oss-date', datetime],
    ['x-oss-expires', String(Math.floor(target.expiresSeconds))],
  ];
  if (additional.length > 0) query.push(['x-oss-additional-headers', additional.join(';')]);
  const canonicalRequest = v4CanonicalRequest({
    method: target.method,
    bucket: target.bucket,
    key: target.key,
    query,
    headers,
    additionalHeaders: additional,
  });
  const signature = v4Signature(
    v4SigningKey(target.secret, day, target.region),
    v4StringToSign(datetime, scope, canonicalRequest),
  );
  const url = objectUrl(target);
  url.search = encodeQueryString([...query, ['x-oss-signature', signature]]);
  return url.toString();
}

// ---------------------------------------------------------------------------------------------
// Server side: verify an incoming request
// ---------------------------------------------------------------------------------------------

/** OSS rejects header-signed requests whose time is further than this from the server's. */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

export interface OssRequestToVerify {
  method: string;
  /** The bucket the request addresses (from the path or the Host), if any. */
  bucket?: string;
  /** Decoded object key, if any. */
  key?: string;
  /** Decoded query parameters in request order. */
  query: QueryParams;
  headers: IncomingHttpHeaders;
  now?: Date | number;
}

export type SecretLookup = (accessKeyId: string) => string | undefined | null | Promise<string | undefined | null>;

export interface OssAuthResult {
  accessKeyId: string;
  version: 'v1' | 'v4';
  presigned: boolean;
}

/**
 * Checks an OSS request's signature. Returns who signed it, `null` for an anonymous request
 * (no Authorization and no signature in the query: the caller decides whether that is allowed),
 * and throws a ServiceError with OSS's code otherwise.
 */
export async function verifyOssRequest(request: OssRequestToVerify, lookupSecret: SecretLookup): Promise<OssAuthResult | null> {
  const headers = headersAsText(request.headers);
  const query = queryPairs(request.query);
  const now = request.now === undefined ? Date.now() : Number(request.now);
  const context: VerifyContext = { request, headers, query, now, lookupSecret };

  const authorization = headers['authorization'];
  if (authorization !== undefined && authorization !== '') {
    if (/^OSS4-HMAC-SHA256\s/.test(authorization)) return verifyV4Header(context, authorization);
    if (/^OSS\s/.test(authorization)) return verifyV1Header(context, authorization);
    throw invalidAuthorizationHeader(authorization);
  }
  const queryValue = (name: string) => query.find(([k]) => k === name)?.[1];
  const signatureVersion = queryValue('x-oss-signature-version');
  if (signatureVersion !== undefined) {
    if (signatureVersion === V4_ALGORITHM) return verifyV4Query(context, queryValue);
    throw invalidArgument(`Unsupported signature version ${signatureVersion}.`, 'x-oss-signature-version', signatureVersion);
  }
  if (queryValue('OSSAccessKeyId') !== undefined || queryValue('Signature') !== undefined) {
    return verifyV1Query(context, queryValue);
  }
  return null;
}

interface VerifyContext {
  request: OssRequestToVerify;
  headers: Record<string, string>;
  query: QueryPair[];
  now: number;
  lookupSecret: SecretLookup;
}

/**
 * Node hands header values over as latin1 text. Clients sign the UTF-8 bytes they sent, so a
 * value whose bytes form valid UTF-8 is read as UTF-8 again before it goes into a string to sign.
 * Repeated headers are joined with ',' as Go's signer does.
 */
function headersAsText(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    out[name.toLowerCase()] = latin1AsUtf8(value);
  }
  return out;
}

function latin1AsUtf8(value: string): string {
  if (!/[\u0080-\u00ff]/.test(value) || /[^\u0000-\u00ff]/.test(value)) return value;
  const bytes = Buffer.from(value, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : value;
}

async function secretFor(context: VerifyContext, accessKeyId: string): Promise<string> {
  const secret = accessKeyId === '' ? undefined : await context.lookupSecret(accessKeyId);
  if (secret === undefined || secret === null) {
    throw new ServiceError(
      'InvalidAccessKeyId',
      'The OSS Access Key Id you provided does not exist in our records.',
      403,
      { OSSAccessKeyId: accessKeyId },
    );
  }
  return secret;
}

// --- V1 --------------------------------------------------------------------------------------

async function verifyV1Header(context: VerifyContext, authorization: string): Promise<OssAuthResult> {
  const match = /^OSS\s+([^:\s]+):(\S+)$/.exec(authorization.trim());
  const accessKeyId = match?.[1];
  const provided = match?.[2];
  if (!accessKeyId || !provided) throw invalidAuthorizationHeader(authorization);
  const secret = await secretFor(context, accessKeyId);

  // Go SDKs send Date; ali-oss sends only x-oss-date and signs it in the Date slot.
  const { headers } = context;
  const dateCandidates = [headers['date'], headers['x-oss-date']].filter((d): d is string => d !== undefined && d !== '');
  const requestTime = dateCandidates.map((d) => ({ text: d, ms: Date.parse(d) })).find((d) => !Number.isNaN(d.ms));
  if (!requestTime) throw missingDate();
  checkSkew(requestTime.text, requestTime.ms, context.now);

  const stringsToSign = v1Candidates(context, [...new Set(dateCandidates)]);
  for (const candidate of stringsToSign) {
    if (safeEqual(v1Sign(secret, candidate), provided)) return { accessKeyId, version: 'v1', presigned: false };
  }
  throw signatureDoesNotMatch(stringsToSign[0]!, provided, accessKeyId);
}

async function verifyV1Query(
  context: VerifyContext,
  queryValue: (name: string) => string | undefined,
): Promise<OssAuthResult> {
  const accessKeyId = queryValue('OSSAccessKeyId');
  const expires = queryValue('Expires');
  const provided = queryValue('Signature');
  if (!accessKeyId || !expires || !provided) {
    throw new ServiceError(
      'AccessDenied',
      'The signed URL must carry OSSAccessKeyId, Expires and Signature.',
      403,
    );
  }
  if (!/^\d+$/.test(expires)) throw invalidArgument('Expires is not a valid unix time.', 'Expires', expires);
  const secret = await secretFor(context, accessKeyId);
  const expiresMs = Number(expires) * 1000;
  if (context.now > expiresMs) {
    throw new ServiceError('AccessDenied', 'Request has expired.', 403, {
      Expires: new Date(expiresMs).toISOString(),
      ServerTime: new Date(context.now).toISOString(),
    });
  }
  const stringsToSign = v1Candidates(context, [expires]);
  for (const candidate of stringsToSign) {
    if (safeEqual(v1Sign(secret, candidate), provided)) return { accessKeyId, version: 'v1', presigned: true };
  }
  throw signatureDoesNotMatch(stringsToSign[0]!, provided, accessKeyId);
}

/**
 * The strings a legitimate client may have signed: each Date-slot value, with the sub-resource
 * whitelist either widened to all `x-oss-*` query names (Go SDK v2) or not (Go SDK v1, ali-oss).
 * All carry the same request content; they differ only in client conventions.
 */
function v1Candidates(context: VerifyContext, dates: readonly string[]): string[] {
  const { request, headers, query } = context;
  const candidates = new Set<string>();
  for (const isSubResource of [isV1SubResourceOrOssParam, isV1SubResource]) {
    for (const date of dates) {
      candidates.add(
        v1StringToSign({
          method: request.method,
          contentMd5: headers['content-md5'],
          contentType: headers['content-type'],
          date,
          ossHeaders: headers,
          bucket: request.bucket,
          key: request.key,
          subResources: query,
          isSubResource,
        }),
      );
    }
  }
  return [...candidates];
}

// --- V4 --------------------------------------------------------------------------------------

interface V4Credential {
  accessKeyId: string;
  day: string;
  region: string;
}

export function parseV4Credential(credential: string, source: string): V4Credential {
  const parts = credential.split('/');
  const [accessKeyId, day, region, product, terminator] = parts;
  if (
    parts.length !== 5 ||
    !accessKeyId ||
    !/^\d{8}$/.test(day ?? '') ||
    !region ||
    product !== V4_PRODUCT ||
    terminator !== V4_TERMINATOR
  ) {
    throw invalidArgument(`Invalid credential in ${source}.`, source, credential);
  }
  return { accessKeyId, day: day!, region };
}

/** Parses `20060102T150405Z`; NaN when malformed. */
function parseV4DateTime(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

async function verifyV4Header(context: VerifyContext, authorization: string): Promise<OssAuthResult> {
  const fields = new Map<string, string>();
  for (const part of authorization.slice(V4_ALGORITHM.length).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credentialText = fields.get('Credential');
  const provided = fields.get('Signature');
  if (!credentialText || !provided) throw invalidAuthorizationHeader(authorization);
  const credential = parseV4Credential(credentialText, 'Authorization');
  const secret = await secretFor(context, credential.accessKeyId);

  const datetime = context.headers['x-oss-date'] ?? '';
  const requestMs = parseV4DateTime(datetime);
  if (Number.isNaN(requestMs)) throw missingDate();
  if (datetime.slice(0, 8) !== credential.day) {
    throw invalidArgument('The date in the credential does not match x-oss-date.', 'x-oss-date', datetime);
  }
  checkSkew(datetime, requestMs, context.now);

  const additional = (fields.get('AdditionalHeaders') ?? '').split(';').map((n) => n.trim().toLowerCase()).filter(Boolean);
  verifyV4Signature(context, { credential, secret, datetime, additional, query: context.query, provided });
  return { accessKeyId: credential.accessKeyId, version: 'v4', presigned: false };
}

async function verifyV4Query(
  context: VerifyContext,
  queryValue: (name: string) => string | undefined,
): Promise<OssAuthResult> {
  const credentialText = queryValue('x-oss-credential');
  const datetime = queryValue('x-oss-date');
  const expiresText = queryValue('x-oss-expires');
  const provided = queryValue('x-oss-signature');
  if (!credentialText || !datetime || !expiresText || !provided) {
    throw new ServiceError(
      'AccessDenied',
      'The signed URL must carry x-oss-credential, x-oss-date, x-oss-expires and x-oss-signature.',
      403,
    );
  }
  const credential = parseV4Credential(credentialText, 'x-oss-credential');
  const signedAt = parseV4DateTime(datetime);
  if (Number.isNaN(signedAt) || datetime.slice(0, 8) !== credential.day) {
    throw invalidArgument('x-oss-date is invalid.', 'x-oss-date', datetime);
  }
  if (!/^\d+$/.test(expiresText) || Number(expiresText) < 1 || Number(expiresText) > V4_MAX_PRESIGN_SECONDS) {
    throw invalidArgument('x-oss-expires is invalid.', 'x-oss-expires', expiresText);
  }
  const secret = await secretFor(context, credential.accessKeyId);
  // A URL signed "in the future" is as suspicious as a skewed header; a past one just ages.
  if (signedAt > context.now) checkSkew(datetime, signedAt, context.now);
  const expiresMs = signedAt + Number(expiresText) * 1000;
  if (context.now > expiresMs) {
    throw new ServiceError('AccessDenied', 'Request has expired.', 403, {
      Expires: new Date(expiresMs).toISOString(),
      ServerTime: new Date(context.now).toISOString(),
    });
  }
  const additional = (queryValue('x-oss-additional-headers') ?? '').split(';').map((n) => n.trim().toLowerCase()).filter(Boolean);
  // Everything in the query is signed except the signature itself.
  const query = context.query.filter(([k]) => k !== 'x-oss-signature');
  verifyV4Signature(context, { credential, secret, datetime, additional, query, provided });
  return { accessKeyId: credential.accessKeyId, version: 'v4', presigned: true };
}

/**
 * Tries the canonical forms clients produce (Go/OSS: bytewise order, bare empty values; ali-oss:
 * localeCompare order, `k=` for empty values it did not treat as sub-resources); throws
 * SignatureDoesNotMatch, showing the Go/OSS form, when none matches.
 */
function verifyV4Signature(
  context: VerifyContext,
  signed: { credential: V4Credential; secret: string; datetime: string; additional: string[]; query: QueryPair[]; provided: string },
): void {
  const { request, headers } = context;
  const { credential, datetime } = signed;
  const scope = v4Scope(credential.day, credential.region);
  const signingKey = v4SigningKey(signed.secret, credential.day, credential.region);
  const queryForms: V4CanonicalQueryOptions[] = [
    { order: 'code-units', emptyValue: 'bare' },
    { order: 'locale', emptyValue: 'bare' },
    { order: 'locale', emptyValue: 'equals-unless-sub-resource' },
    { order: 'locale', emptyValue: 'equals' },
  ];
  const provided = signed.provided.toLowerCase();
  const tried = new Set<string>();
  let primary: string | undefined;
  for (const queryOptions of queryForms) {
    const canonicalRequest = v4CanonicalRequest({
      method: request.method,
      bucket: request.bucket,
      key: request.key,
      query: signed.query,
      headers,
      additionalHeaders: signed.additional,
      queryOptions,
    });
    primary ??= canonicalRequest;
    if (tried.has(canonicalRequest)) continue;
    tried.add(canonicalRequest);
    if (safeEqual(v4Signature(signingKey, v4StringToSign(datetime, scope, canonicalRequest)), provided)) return;
  }
  throw signatureDoesNotMatch(v4StringToSign(datetime, scope, primary!), signed.provided, credential.accessKeyId, primary);
}

// --- Errors, as OSS words them ------------------------------------------------------------------

function checkSkew(requestTimeText: string, requestMs: number, now: number): void {
  if (Math.abs(requestMs - now) > MAX_CLOCK_SKEW_MS) {
    throw new ServiceError(
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
      403,
      { RequestTime: requestTimeText, ServerTime: new Date(now).toISOString() },
    );
  }
}

function missingDate(): ServiceError {
  return new ServiceError('AccessDenied', 'OSS authentication requires a valid Date.', 403);
}

function invalidArgument(message: string, name: string, value: string): ServiceError {
  return new ServiceError('InvalidArgument', message, 400, { ArgumentName: name, ArgumentValue: value });
}

function invalidAuthorizationHeader(value: string): ServiceError {
  return invalidArgument('Authorization header is invalid.', 'Authorization', value);
}

/** Bytes of the string as OSS shows them: lower-case hex pairs separated by spaces. */
export function stringToSignBytes(stringToSign: string): string {
  return [...Buffer.from(stringToSign, 'utf8')].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}

export function signatureDoesNotMatch(
  stringToSign: string,
  provided: string,
  accessKeyId: string,
  canonicalRequest?: string,
): ServiceError {
  const detail: Record<string, string> = {
    StringToSign: stringToSign,
    StringToSignBytes: stringToSignBytes(stringToSign),
    SignatureProvided: provided,
    OSSAccessKeyId: accessKeyId,
  };
  if (canonicalRequest !== undefined) detail['CanonicalRequest'] = canonicalRequest;
  return new ServiceError(
    'SignatureDoesNotMatch',
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    403,
    detail,
  );
}
