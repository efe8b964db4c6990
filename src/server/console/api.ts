import { createHash, timingSafeEqual } from 'node:crypto';
import { ServiceError, errors } from '../../core/errors.js';
import { uploadAbortDate } from '../../core/lifecycle.js';
import type { Storage } from '../../core/storage.js';
import type { TemporaryCredentials } from '../../core/temporary-credentials.js';
import type { Actor } from '../../core/types.js';
import type { User, UserDirectory } from '../../core/users.js';
import { requestActor } from '../../dialects/common/actor.js';
import { readSmallBody } from '../../dialects/common/body.js';
import { authenticate, readVerifiedBody, type Authenticated } from '../../dialects/s3/request.js';
import { awsUriEncode, MAX_PRESIGN_EXPIRES_SECONDS, presignUrl } from '../../dialects/s3/sigv4.js';
import type { RequestContext } from '../dialect.js';
import { parseJsonObject, requireJson } from '../json-body.js';
import { allDrives, listDriveFolder, listDrives, type PanDrives } from './pan-drive.js';
import type { SignInLimiter } from './sign-in-limiter.js';
import { listUsers } from './users.js';

const MAX_JSON_BYTES = 16 * 1024;

export interface ConsoleApiDeps {
  storage: Storage;
  users: UserDirectory;
  temporary: TemporaryCredentials;
  limiter: SignInLimiter;
  region: string;
  /** The 123pan drives (the users 123pan apps act as). */
  pan: PanDrives;
}

/** One console API call, authenticated (except sign-in) by a SigV4 signature, as S3 requests are. */
/** The signed-in user, as the engine authorises them: their policies, and the request's conditions. */
function consoleActor(call: ApiCall): Actor {
  return requestActor(call.user, call.ctx.req, { authType: 'REST-HEADER', signatureVersion: 'AWS4-HMAC-SHA256' });
}

export interface ApiCall {
  ctx: RequestContext;
  deps: ConsoleApiDeps;
  /** The path after `/-/console/api/`, still percent-encoded. */
  path: string;
  match: RegExpExecArray;
  auth: Authenticated;
  user: User;
}

interface Endpoint {
  method: string;
  /** Matched against the path after `/-/console/api/`. */
  path: RegExp;
  operation: string;
  handle: (call: ApiCall) => Promise<unknown>;
}

/**
 * What the console needs and S3 cannot answer. Each endpoint is one entry: later pages add
 * theirs here (users, pan drive), and every one but sign-in is signed like an S3 request.
 */
const ENDPOINTS: Endpoint[] = [
  { method: 'GET', path: /^buckets$/, operation: 'ConsoleListBuckets', handle: listBuckets },
  { method: 'POST', path: /^share$/, operation: 'ConsoleShare', handle: share },
  { method: 'POST', path: /^buckets\/([^/]+)\/upload-totals$/, operation: 'ConsoleUploadTotals', handle: uploadTotals },
  { method: 'GET', path: /^users$/, operation: 'ConsoleListUsers', handle: listUsers },
  { method: 'GET', path: /^pan\/drives$/, operation: 'ConsoleListPanDrives', handle: listDrives },
  { method: 'GET', path: /^pan\/drive$/, operation: 'ConsoleListPanFolder', handle: listDriveFolder },
];

/** ListMultipartUploads answers at most 1,000 uploads a page: totals are asked for no more at once. */
const MAX_TOTALS_UPLOADS = 1000;
/** 1,000 uploads with their keys (up to 1,024 bytes each) and start times. */
const MAX_TOTALS_BODY_BYTES = 2 * 1024 * 1024;

export const consoleApiError = {
  wrongCredentials: () => new ServiceError('InvalidCredentials', 'wrong access key or secret key', 401),
  notFound: () => new ServiceError('NotFound', 'No such console API endpoint.', 404),
};

/** Routes one `/-/console/api/…` request and writes its JSON answer; errors are thrown for the route to render. */
export async function handleApi(ctx: RequestContext, deps: ConsoleApiDeps, path: string): Promise<void> {
  const method = ctx.req.method ?? 'GET';
  if (path === 'session') {
    ctx.log.operation = 'ConsoleSignIn';
    if (method !== 'POST') throw methodNotAllowed(['POST']);
    sendJson(ctx, 200, await signIn(ctx, deps));
    return;
  }
  const candidates = ENDPOINTS.filter((endpoint) => endpoint.path.test(path));
  if (candidates.length === 0) throw consoleApiError.notFound();
  const endpoint = candidates.find((candidate) => candidate.method === method);
  if (!endpoint) throw methodNotAllowed(candidates.map((candidate) => candidate.method));
  ctx.log.operation = endpoint.operation;
  const auth = await authenticate(ctx, deps.users, deps.temporary);
  ctx.log.user = auth.user.id;
  const call: ApiCall = { ctx, deps, path, match: endpoint.path.exec(path)!, auth, user: auth.user };
  sendJson(ctx, 200, await endpoint.handle(call));
}

export function sendJson(ctx: RequestContext, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  ctx.res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : text);
}

function methodNotAllowed(allowed: string[]): ServiceError {
  return new ServiceError('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405, { Allow: allowed.join(', ') });
}

/**
 * Sign-in: the long-term keys are checked (in constant time) and exchanged for temporary
 * credentials, the only ones the browser keeps. A wrong access key and a wrong secret are the
 * same answer.
 */
async function signIn(ctx: RequestContext, deps: ConsoleApiDeps): Promise<unknown> {
  requireJson(ctx.req);
  const { accessKey, secretKey } = parseJsonObject(await readSmallBody(ctx.req, MAX_JSON_BYTES));
  if (typeof accessKey !== 'string' || typeof secretKey !== 'string' || accessKey === '' || secretKey === '') {
    throw new ServiceError('InvalidRequest', 'accessKey and secretKey are required.', 400);
  }
  const address = ctx.req.socket.remoteAddress ?? 'unknown';
  deps.limiter.check(address, accessKey);
  const user = await deps.users.find(accessKey);
  // Compared as digests: equal lengths, and as much work for an unknown key as for a known one.
  const matches = timingSafeEqual(digest(secretKey), digest(user?.secretKey ?? '\u0000no user')) && user !== undefined;
  if (!matches) {
    deps.limiter.recordFailure(address, accessKey);
    throw consoleApiError.wrongCredentials();
  }
  ctx.log.user = user.id;
  const issued = deps.temporary.issue(user);
  return {
    accessKeyId: issued.accessKeyId,
    secretAccessKey: issued.secretAccessKey,
    sessionToken: issued.sessionToken,
    expiration: issued.expiration.toISOString(),
    region: deps.region,
    user: { id: user.id, displayName: user.displayName, root: user.root, panDrive: allDrives(deps.pan, deps.users).some((drive) => drive.user === user.id) },
  };
}

/** The caller's buckets (every bucket for root) with what S3 cannot list: object count and bytes. */
async function listBuckets(call: ApiCall): Promise<unknown> {
  const actor = consoleActor(call);
  const buckets = await call.deps.storage.listBuckets(actor);
  const rows = await Promise.all(
    buckets.map(async (bucket) => {
      const usage = await call.deps.storage.bucketUsage(actor, bucket.name).catch((err: unknown) => {
        // Deleted between the list and its count: left out rather than failing the page.
        if (err instanceof ServiceError && err.code === 'NoSuchBucket') return undefined;
        throw err;
      });
      return usage && { name: bucket.name, owner: bucket.owner, created: bucket.createdAt.toISOString(), objects: usage.objects, bytes: usage.bytes };
    }),
  );
  return { buckets: rows.filter((row) => row !== undefined) };
}

/**
 * Parts held so far and their bytes for a page of uploads in progress (ids from
 * ListMultipartUploads), and the bucket's totals over every upload in progress (ossutil's
 * getallpartsize): what ListMultipartUploads cannot say without a ListParts per upload.
 * An id of another bucket, or of an upload without parts, answers zero parts.
 */
async function uploadTotals(call: ApiCall): Promise<unknown> {
  requireJson(call.ctx.req);
  const bucket = decodeSegment(call.match[1]!);
  const { uploadIds, abortDatesFor } = parseJsonObject(await readVerifiedBody(call.ctx, call.auth, MAX_TOTALS_BODY_BYTES));
  if (!Array.isArray(uploadIds) || !uploadIds.every((id): id is string => typeof id === 'string' && id !== '')) {
    throw new ServiceError('InvalidRequest', 'uploadIds must be a list of upload ids.', 400);
  }
  if (uploadIds.length > MAX_TOTALS_UPLOADS) {
    throw errors.invalidArgument(`uploadIds may name at most ${MAX_TOTALS_UPLOADS} uploads.`, 'uploadIds', String(uploadIds.length));
  }
  const actor = consoleActor(call);
  const perUpload = await call.deps.storage.uploads.totals(actor, bucket, uploadIds);
  const totals = await call.deps.storage.uploads.bucketTotals(actor, bucket);
  return {
    uploads: Object.fromEntries(uploadIds.map((id) => [id, perUpload.get(id) ?? { parts: 0, bytes: 0 }])),
    bucket: totals,
    abortDates: await abortDates(call.deps.storage, bucket, abortDatesFor),
  };
}

/**
 * When each upload will be aborted: by the bucket's lifecycle rule that covers it (its ID), or
 * else by the server-wide expiry (no ruleId). Worked out from the key and start time the page
 * read from ListMultipartUploads: date arithmetic over the caller's own listing.
 */
async function abortDates(storage: Storage, bucket: string, uploads: unknown): Promise<Record<string, { date: string; ruleId?: string }>> {
  if (uploads === undefined) return {};
  const valid =
    Array.isArray(uploads) &&
    uploads.length <= MAX_TOTALS_UPLOADS &&
    uploads.every(
      (entry): entry is { uploadId: string; key: string; initiated: string } =>
        typeof entry === 'object' && entry !== null && typeof entry.uploadId === 'string' && typeof entry.key === 'string' && !Number.isNaN(Date.parse(entry.initiated)),
    );
  if (!valid) throw new ServiceError('InvalidRequest', 'abortDatesFor must be a list of { uploadId, key, initiated }.', 400);
  const dates: Record<string, { date: string; ruleId?: string }> = {};
  for (const upload of uploads) {
    const initiated = new Date(upload.initiated);
    const byRule = await uploadAbortDate(storage, bucket, upload.key, initiated);
    dates[upload.uploadId] = byRule
      ? { date: byRule.date.toISOString(), ruleId: byRule.ruleId }
      : { date: new Date(initiated.getTime() + storage.options.uploadExpiryMs).toISOString() };
  }
  return dates;
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ServiceError('InvalidURI', "Couldn't parse the specified URI.", 400);
  }
}

/**
 * A presigned GET link for an object, signed with the caller's long-term key so that it
 * outlives the console session (up to S3's 7 days). The caller must be able to read the object
 * now. The link is a path: the browser puts its own origin in front (the Host signed here is
 * the one it reached).
 */
async function share(call: ApiCall): Promise<unknown> {
  requireJson(call.ctx.req);
  const body = parseJsonObject(await readVerifiedBody(call.ctx, call.auth, MAX_JSON_BYTES));
  const { bucket, key, expiresSeconds } = body;
  if (typeof bucket !== 'string' || typeof key !== 'string' || bucket === '' || key === '') {
    throw new ServiceError('InvalidRequest', 'bucket and key are required.', 400);
  }
  if (typeof expiresSeconds !== 'number' || !Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > MAX_PRESIGN_EXPIRES_SECONDS) {
    throw errors.invalidArgument(`expiresSeconds must be a whole number of seconds from 1 to ${MAX_PRESIGN_EXPIRES_SECONDS}.`, 'expiresSeconds', String(expiresSeconds));
  }
  await call.deps.storage.headObject(consoleActor(call), bucket, key);
  const host = call.ctx.req.headers.host;
  if (!host) throw new ServiceError('InvalidRequest', 'A Host header is required to make a link.', 400);
  const now = new Date();
  const signed = new URL(
    presignUrl({
      method: 'GET',
      url: new URL(`http://${host}${objectPath(bucket, key)}`),
      credentials: { accessKeyId: call.user.accessKey, secretAccessKey: call.user.secretKey },
      region: call.deps.region,
      expiresSeconds,
      now,
    }),
  );
  return { path: signed.pathname + signed.search, expiration: new Date(now.getTime() + expiresSeconds * 1000).toISOString() };
}

/**
 * The path-style path of an object as a browser will send it. URLs resolve `.` and `..`
 * segments (encoded or not) before a request leaves the browser, so a key with such a segment
 * is sent with its slashes encoded (`a%2F..%2Fb`), one segment the server reads back as `a/../b`.
 */
export function objectPath(bucket: string, key: string): string {
  const segments = key.split('/');
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    if (segments.length === 1) throw new ServiceError('InvalidRequest', `A key that is only "${key}" cannot be put in a link: browsers drop it from URLs.`, 400);
    return `/${awsUriEncode(bucket)}/${awsUriEncode(key)}`;
  }
  return `/${awsUriEncode(bucket)}/${segments.map(awsUriEncode).join('/')}`;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
