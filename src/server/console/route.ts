import type { IncomingMessage } from 'node:http';
import type { ServiceError } from '../../core/errors.js';
import type { Dialect, RequestContext } from '../dialect.js';
import { handleApi, sendJson, type ConsoleApiDeps } from './api.js';
import type { BundleFile, ConsoleBundle } from './assets.js';

export const CONSOLE_PATH = '/-/console';
const API_PREFIX = 'api/';

/**
 * Only the bundle itself, the same origin's API (S3 and the console API) and nothing inline:
 * a page that cannot load or send anything elsewhere, and cannot be framed.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Pages show presigned links: they must not leak to other sites as a Referer.
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/**
 * The web console at `/-/console/`: its bundle (index.html for every client-side route) and its
 * API under `/-/console/api/`. Bucket names cannot start with `-`, so no path-style S3 path is
 * taken from the dialects (it is asked first); a virtual-hosted bucket's `/-/console/…` keys stay S3's.
 */
export class ConsoleRoute implements Dialect {
  readonly name = 'console';

  constructor(
    private readonly bundle: ConsoleBundle,
    private readonly api: ConsoleApiDeps,
    /** Virtual-host style domain: on `<bucket>.<domain>`, `/-/console/…` is a key of that bucket. */
    private readonly domain?: string,
  ) {}

  matches(req: IncomingMessage, rawPath: string): boolean {
    if (rawPath !== CONSOLE_PATH && !rawPath.startsWith(CONSOLE_PATH + '/')) return false;
    const hostname = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    return !(this.domain && hostname.endsWith('.' + this.domain.toLowerCase()));
  }

  async handle(ctx: RequestContext): Promise<void> {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) ctx.res.setHeader(name, value);
    ctx.res.setHeader('x-request-id', ctx.requestId);
    if (ctx.rawPath === CONSOLE_PATH) {
      ctx.log.operation = 'ConsoleRedirect';
      const query = ctx.req.url?.includes('?') ? ctx.req.url.slice(ctx.req.url.indexOf('?')) : '';
      ctx.res.writeHead(301, { location: `${CONSOLE_PATH}/${query}`, 'content-length': 0 }).end();
      return;
    }
    const rest = ctx.rawPath.slice(CONSOLE_PATH.length + 1);
    if (rest.startsWith(API_PREFIX)) {
      await handleApi(ctx, this.api, rest.slice(API_PREFIX.length));
      return;
    }
    ctx.log.operation = 'ConsolePage';
    this.serveBundle(ctx, rest);
  }

  sendError(ctx: RequestContext, error: ServiceError): void {
    if (error.detail.RetryAfter) ctx.res.setHeader('retry-after', error.detail.RetryAfter);
    if (error.detail.Allow) ctx.res.setHeader('allow', error.detail.Allow);
    sendJson(ctx, error.status, { code: error.code, message: error.message, requestId: ctx.requestId });
  }

  private serveBundle(ctx: RequestContext, rest: string): void {
    const { req, res } = ctx;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      // Whatever body came with it is not read: the connection cannot carry another request.
      res.setHeader('connection', 'close');
      sendText(ctx, 405, 'Method not allowed.');
      return;
    }
    if (!this.bundle.built) {
      sendText(ctx, 503, 'The console is not built: run `npm run build`.');
      return;
    }
    const path = bundlePath(rest);
    const file = path === undefined ? undefined : path === '' ? this.bundle.index : (this.bundle.get(path) ?? (isClientRoute(path) ? this.bundle.index : undefined));
    if (!file) {
      sendText(ctx, 404, 'Not found.');
      return;
    }
    sendFile(ctx, file);
  }
}

/**
 * The bundle path a request names: each segment percent-decoded once. Anything that could
 * mean a different place once a filesystem or a URL parser read it (an empty, `.` or `..`
 * segment, an encoded slash, a backslash, NUL or another control character) names nothing.
 */
export function bundlePath(rawRest: string): string | undefined {
  if (rawRest === '') return '';
  const segments: string[] = [];
  for (const raw of rawRest.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return undefined;
    }
    if (segment === '' || segment === '.' || segment === '..' || /[/\\\u0000-\u001f\u007f]/.test(segment)) return undefined;
    segments.push(segment);
  }
  return segments.join('/');
}

/**
 * Paths the console's client router owns get index.html: any path whose last segment names no
 * file (no `.`) and that is not under the hashed assets. A file name the bundle lacks is a 404.
 * Client routes keep dots out of their last segment (`buckets/my.bucket/objects`).
 */
function isClientRoute(path: string): boolean {
  if (path.startsWith('assets/')) return false;
  const last = path.slice(path.lastIndexOf('/') + 1);
  return !last.includes('.');
}

function sendFile(ctx: RequestContext, file: BundleFile): void {
  const { req, res } = ctx;
  const gzip = file.gzipped !== undefined && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
  const body = gzip ? file.gzipped! : file.body;
  const cacheControl = file.immutable ? 'public, max-age=31536000, immutable' : 'no-store';
  const headers: Record<string, string | number> = {
    'content-type': file.contentType,
    'content-length': body.length,
    'cache-control': cacheControl,
    vary: 'Accept-Encoding',
  };
  if (gzip) headers['content-encoding'] = 'gzip';
  if (file.immutable) {
    headers.etag = file.etag;
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, { etag: file.etag, 'cache-control': cacheControl, vary: 'Accept-Encoding' }).end();
      return;
    }
  }
  res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : body);
}

function sendText(ctx: RequestContext, status: number, text: string): void {
  ctx.res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : text);
}
