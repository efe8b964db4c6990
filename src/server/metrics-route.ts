import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { ServiceError } from '../core/errors.js';
import type { Dialect, RequestContext } from './dialect.js';
import type { Metrics } from './metrics.js';

export const METRICS_PATH = '/-/metrics';

/**
 * `GET /-/metrics`: the Prometheus text format. Open, as `/-/health` is, unless the operator set a
 * token (TESSERA_METRICS_TOKEN or `metricsToken`); then only `Authorization: Bearer <token>` is
 * answered, anything else 401 with `WWW-Authenticate: Bearer` (RFC 6750). Asked before the
 * dialects: no bucket name starts with `-`.
 */
export class MetricsRoute implements Dialect {
  readonly name = 'metrics';
  /** SHA-256 of the token: compared in constant time whatever the presented token's length. */
  private readonly tokenDigest?: Buffer;

  constructor(
    private readonly metrics: Metrics,
    token: string | undefined,
    /** Virtual-host style domain: on `<bucket>.<domain>`, `/-/metrics` is a key of that bucket. */
    private readonly domain: string | undefined,
  ) {
    if (token !== undefined) this.tokenDigest = digest(token);
  }

  matches(req: IncomingMessage, rawPath: string): boolean {
    if (rawPath !== METRICS_PATH) return false;
    const hostname = (req.headers.host ?? '').replace(/:\d+$/, '').toLowerCase();
    return !(this.domain && hostname.endsWith('.' + this.domain.toLowerCase()));
  }

  async handle(ctx: RequestContext): Promise<void> {
    const { req, res } = ctx;
    ctx.log.operation = 'Metrics';
    const plain = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answer(ctx, 405, { ...plain, allow: 'GET, HEAD' }, 'Method not allowed: GET or HEAD.\n');
      return;
    }
    if (this.tokenDigest) {
      const presented = bearerToken(req.headers.authorization);
      if (presented === undefined) {
        answer(ctx, 401, { ...plain, 'www-authenticate': 'Bearer realm="tessera-metrics"' }, 'A bearer token is required.\n');
        return;
      }
      if (!timingSafeEqual(digest(presented), this.tokenDigest)) {
        answer(ctx, 401, { ...plain, 'www-authenticate': 'Bearer realm="tessera-metrics", error="invalid_token"' }, 'The bearer token is not valid.\n');
        return;
      }
    }
    const text = await this.metrics.text();
    answer(ctx, 200, { 'content-type': this.metrics.contentType, 'cache-control': 'no-store' }, text);
  }

  sendError(ctx: RequestContext, error: ServiceError): void {
    answer(ctx, error.status, { 'content-type': 'text/plain; charset=utf-8' }, `${error.code}: ${error.message}\n`);
  }
}

function answer(ctx: RequestContext, status: number, headers: Record<string, string>, body: string): void {
  ctx.res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) }).end(ctx.req.method === 'HEAD' ? undefined : body);
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The token of `Authorization: Bearer <token>` (the scheme in any case), or undefined. */
function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '');
  return match?.[1];
}
