import type { IncomingMessage } from 'node:http';
import { ServiceError } from '../core/errors.js';
import type { Identities } from '../core/identities.js';
import type { KeyStore } from '../core/kms.js';
import { authenticate, readVerifiedBody, type Authenticated } from '../dialects/s3/request.js';
import type { Dialect, RequestContext } from './dialect.js';
import { parseJsonObject, requireJson } from './json-body.js';

export const ADMIN_PATH = '/-/admin';
/** Every admin request body is a small JSON object. */
const MAX_BODY_BYTES = 16 * 1024;
/** A policy document: more than its limit (20 KB), so that a document over it is refused in the policy's words. */
const POLICY_BODY_BYTES = 64 * 1024;

interface AdminCall {
  ctx: RequestContext;
  identities: Identities;
  /** The local KMS key store (SSE-KMS). */
  kms: KeyStore;
  auth: Authenticated;
  /** The path's captures, percent-decoded: the user id, then the access key id or policy name; or a policy name. */
  params: string[];
}

interface Endpoint {
  method: string;
  path: RegExp;
  operation: string;
  handle: (call: AdminCall) => Promise<{ status: number; body?: unknown }>;
}

const ok = (body: unknown) => ({ status: 200, body });
const created = (body: unknown) => ({ status: 201, body });
const noContent = () => ({ status: 204 });

/**
 * Users, access keys, policies and KMS keys, as JSON under `/-/admin/` (see docs/admin.md). Every request is
 * SigV4-signed in its headers, as an S3 request is, by root or a user with the admin flag.
 */
const ENDPOINTS: Endpoint[] = [
  { method: 'GET', path: /^users$/, operation: 'AdminListUsers', handle: async (c) => ok({ users: await c.identities.listUsers() }) },
  {
    method: 'POST',
    path: /^users$/,
    operation: 'AdminCreateUser',
    handle: async (c) => {
      const body = await jsonBody(c);
      return created(await c.identities.createUser({ id: body.id, displayName: body.displayName, admin: body.admin }));
    },
  },
  { method: 'GET', path: /^users\/([^/]+)$/, operation: 'AdminGetUser', handle: async (c) => ok(await c.identities.getUser(c.params[0]!)) },
  {
    method: 'PATCH',
    path: /^users\/([^/]+)$/,
    operation: 'AdminUpdateUser',
    handle: async (c) => ok(await c.identities.setUserEnabled(c.params[0]!, enabledOf(await jsonBody(c)))),
  },
  {
    method: 'DELETE',
    path: /^users\/([^/]+)$/,
    operation: 'AdminRemoveUser',
    handle: async (c) => {
      await c.identities.removeUser(c.params[0]!);
      return noContent();
    },
  },
  {
    method: 'GET',
    path: /^users\/([^/]+)\/keys$/,
    operation: 'AdminListKeys',
    handle: async (c) => ok({ keys: await c.identities.listKeys(c.params[0]!) }),
  },
  {
    method: 'POST',
    path: /^users\/([^/]+)\/keys$/,
    operation: 'AdminCreateKey',
    handle: async (c) => created(await c.identities.createKey(c.params[0]!)),
  },
  {
    method: 'PATCH',
    path: /^users\/([^/]+)\/keys\/([^/]+)$/,
    operation: 'AdminUpdateKey',
    handle: async (c) => ok(await c.identities.setKeyEnabled(c.params[0]!, c.params[1]!, enabledOf(await jsonBody(c)))),
  },
  {
    method: 'DELETE',
    path: /^users\/([^/]+)\/keys\/([^/]+)$/,
    operation: 'AdminRemoveKey',
    handle: async (c) => {
      await c.identities.removeKey(c.params[0]!, c.params[1]!);
      return noContent();
    },
  },
  {
    method: 'GET',
    path: /^users\/([^/]+)\/policies$/,
    operation: 'AdminListUserPolicies',
    handle: async (c) => ok({ policies: await c.identities.listUserPolicies(c.params[0]!) }),
  },
  {
    method: 'PUT',
    path: /^users\/([^/]+)\/policies\/([^/]+)$/,
    operation: 'AdminPutUserPolicy',
    // The body is the policy document itself.
    handle: async (c) => ok(await c.identities.putUserPolicy(c.params[0]!, c.params[1]!, await policyDocument(c))),
  },
  {
    method: 'GET',
    path: /^users\/([^/]+)\/policies\/([^/]+)$/,
    operation: 'AdminGetUserPolicy',
    handle: async (c) => ok(JSON.parse(await c.identities.getUserPolicy(c.params[0]!, c.params[1]!))),
  },
  {
    method: 'DELETE',
    path: /^users\/([^/]+)\/policies\/([^/]+)$/,
    operation: 'AdminDeleteUserPolicy',
    handle: async (c) => {
      await c.identities.removeUserPolicy(c.params[0]!, c.params[1]!);
      return noContent();
    },
  },
  {
    method: 'GET',
    path: /^users\/([^/]+)\/attached-policies$/,
    operation: 'AdminListAttachedUserPolicies',
    handle: async (c) => ok({ policies: await c.identities.policies.attachedTo(c.params[0]!) }),
  },
  {
    method: 'PUT',
    path: /^users\/([^/]+)\/attached-policies\/([^/]+)$/,
    operation: 'AdminAttachUserPolicy',
    handle: async (c) => ok(await c.identities.policies.attach(c.params[0]!, c.params[1]!)),
  },
  {
    method: 'DELETE',
    path: /^users\/([^/]+)\/attached-policies\/([^/]+)$/,
    operation: 'AdminDetachUserPolicy',
    handle: async (c) => {
      await c.identities.policies.detach(c.params[0]!, c.params[1]!);
      return noContent();
    },
  },
  { method: 'GET', path: /^policies$/, operation: 'AdminListPolicies', handle: async (c) => ok({ policies: await c.identities.policies.list() }) },
  {
    method: 'PUT',
    path: /^policies\/([^/]+)$/,
    operation: 'AdminPutPolicy',
    // The body is the policy document itself, as for a user's inline policy.
    handle: async (c) => ok(await c.identities.policies.put(c.params[0]!, await policyDocument(c))),
  },
  {
    method: 'GET',
    path: /^policies\/([^/]+)$/,
    operation: 'AdminGetPolicy',
    handle: async (c) => ok(JSON.parse(await c.identities.policies.get(c.params[0]!))),
  },
  {
    method: 'DELETE',
    path: /^policies\/([^/]+)$/,
    operation: 'AdminDeletePolicy',
    handle: async (c) => {
      await c.identities.policies.remove(c.params[0]!);
      return noContent();
    },
  },
  { method: 'GET', path: /^kms-keys$/, operation: 'AdminListKmsKeys', handle: async (c) => ok({ keys: await c.kms.list() }) },
  {
    method: 'POST',
    path: /^kms-keys$/,
    operation: 'AdminCreateKmsKey',
    handle: async (c) => created(await c.kms.create((await jsonBody(c)).description ?? '')),
  },
  { method: 'GET', path: /^kms-keys\/([^/]+)$/, operation: 'AdminGetKmsKey', handle: async (c) => ok(await c.kms.get(c.params[0]!)) },
  {
    method: 'PATCH',
    path: /^kms-keys\/([^/]+)$/,
    operation: 'AdminUpdateKmsKey',
    handle: async (c) => ok(await c.kms.setEnabled(c.params[0]!, enabledOf(await jsonBody(c)))),
  },
];

export const adminErrors = {
  notFound: () => new ServiceError('NotFound', 'No such admin API endpoint.', 404),
  forbidden: () => new ServiceError('AccessDenied', 'Only root or a user with the admin flag may use the admin API.', 403),
  presigned: () => new ServiceError('AccessDenied', 'The admin API takes requests signed in their headers, not presigned URLs.', 403),
  methodNotAllowed: (allowed: string[]) =>
    new ServiceError('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405, { Allow: allowed.join(', ') }),
};

/** The admin API at `/-/admin/`: asked before the dialects, like the console (no bucket name starts with `-`). */
export class AdminRoute implements Dialect {
  readonly name = 'admin';

  constructor(
    private readonly identities: Identities,
    /** Virtual-host style domain: on `<bucket>.<domain>`, `/-/admin/…` is a key of that bucket. */
    private readonly domain: string | undefined,
    private readonly kms: KeyStore,
  ) {}

  matches(req: IncomingMessage, rawPath: string): boolean {
    if (rawPath !== ADMIN_PATH && !rawPath.startsWith(ADMIN_PATH + '/')) return false;
    const hostname = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    return !(this.domain && hostname.endsWith('.' + this.domain.toLowerCase()));
  }

  async handle(ctx: RequestContext): Promise<void> {
    ctx.res.setHeader('x-request-id', ctx.requestId);
    const path = ctx.rawPath.slice(ADMIN_PATH.length + 1);
    const method = ctx.req.method ?? 'GET';
    const candidates = ENDPOINTS.filter((endpoint) => endpoint.path.test(path));
    if (candidates.length === 0) throw adminErrors.notFound();
    const endpoint = candidates.find((candidate) => candidate.method === method);
    if (!endpoint) throw adminErrors.methodNotAllowed(candidates.map((candidate) => candidate.method));
    ctx.log.operation = endpoint.operation;
    if ([...ctx.query.keys()].some((name) => /^x-amz-(credential|signature)$/i.test(name))) throw adminErrors.presigned();
    // No temporary credentials: a session token is refused (InvalidToken) rather than honoured.
    const auth = await authenticate(ctx, this.identities.directory);
    ctx.log.user = auth.user.id;
    if (!auth.user.root && auth.user.admin !== true) throw adminErrors.forbidden();
    const params = endpoint.path.exec(path)!.slice(1).map(decodeParam);
    const answer = await endpoint.handle({ ctx, identities: this.identities, kms: this.kms, auth, params });
    sendJson(ctx, answer.status, answer.body);
  }

  sendError(ctx: RequestContext, error: ServiceError): void {
    if (error.detail.Allow) ctx.res.setHeader('allow', error.detail.Allow);
    sendJson(ctx, error.status, { code: error.code, message: error.message, requestId: ctx.requestId });
  }
}

function sendJson(ctx: RequestContext, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  const headers: Record<string, string | number> = { 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' };
  if (body !== undefined) headers['content-type'] = 'application/json; charset=utf-8';
  ctx.res.writeHead(status, headers).end(text === '' ? undefined : text);
}

function decodeParam(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw new ServiceError('InvalidArgument', 'The path is not valid percent-encoding.', 400);
  }
}

/** The request's JSON object, its integrity checked as S3 checks a small body (signed SHA-256, Content-MD5). */
async function jsonBody(call: AdminCall): Promise<Record<string, unknown>> {
  requireJson(call.ctx.req);
  return parseJsonObject(await readVerifiedBody(call.ctx, call.auth, MAX_BODY_BYTES));
}

/** A policy document as the body; read past its 20 KB so that a larger one gets the policy's own error. */
async function policyDocument(call: AdminCall): Promise<string> {
  return (await readVerifiedBody(call.ctx, call.auth, POLICY_BODY_BYTES)).toString('utf8');
}

function enabledOf(body: Record<string, unknown>): boolean {
  if (typeof body.enabled !== 'boolean') throw new ServiceError('InvalidArgument', 'The body must be {"enabled": true} or {"enabled": false}.', 400);
  return body.enabled;
}
