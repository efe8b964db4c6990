import type { IncomingHttpHeaders } from 'node:http';
import { corsResponseHeaders, corsRulesOf, matchCorsRule, requestedHeaders, type CorsAsk } from '../../core/cors.js';
import { ServiceError } from '../../core/errors.js';
import type { Storage } from '../../core/storage.js';
import type { RequestContext } from '../../server/dialect.js';

/*
 * How S3 and OSS answer a browser's cross-origin requests, by the bucket's rules (core/cors.ts):
 * a preflight (OPTIONS, never signed) before any authentication, and the CORS headers of an
 * actual request set before authentication too, so that its answer carries them whatever it is
 * (an error, a 304, a streamed object).
 */

/** The methods a preflight may ask about, as S3 spells them (`put` or `FOO` is a bad request). */
const PREFLIGHT_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

const NOT_ALLOWED =
  'CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / ' +
  "Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** What the request asks; an actual request is judged by the Access-Control-Request-* headers it carries, as S3 judges it. */
function askOf(headers: IncomingHttpHeaders, origin: string, method: string): CorsAsk {
  return {
    origin,
    method: single(headers, 'access-control-request-method') ?? method,
    headers: requestedHeaders(single(headers, 'access-control-request-headers')),
  };
}

export interface PreflightOptions {
  /** OSS refuses a preflight without Access-Control-Request-Method (400); S3 judges it as asking about OPTIONS. */
  requireRequestMethod: boolean;
  /** Honour a bucket's ResponseVary (OSS): `Vary: Origin` on a refusal too. */
  responseVary: boolean;
}

/**
 * Answers a preflight (`OPTIONS`) from the rules of the bucket it names, unauthenticated, as S3
 * does: 200 with the matching rule's headers; without an Origin, or asking about a method that is
 * none, 400 BadRequest; otherwise 403 AccessForbidden: no such bucket, no rules, or no rule that
 * admits the origin, method and headers. The 403 names the method asked about (OPTIONS when none
 * was) and whether rules were judged for an object or the bucket.
 */
export async function answerPreflight(
  ctx: RequestContext,
  storage: Storage,
  target: { bucket?: string; key?: string },
  options: PreflightOptions,
): Promise<void> {
  const { headers } = ctx.req;
  const origin = single(headers, 'origin');
  if (!origin) throw new ServiceError('BadRequest', 'Insufficient information. Origin request header needed.', 400);
  const asked = single(headers, 'access-control-request-method');
  if (asked === undefined && options.requireRequestMethod) {
    throw new ServiceError('BadRequest', 'Insufficient information. Request Access-Control-Request-Method header needed.', 400);
  }
  if (asked !== undefined && !PREFLIGHT_METHODS.has(asked)) {
    throw new ServiceError('BadRequest', `Invalid Access-Control-Request-Method: ${asked}`, 400);
  }
  const forbidden = (message: string, resourceType: 'BUCKET' | 'OBJECT') =>
    new ServiceError('AccessForbidden', message, 403, { Method: asked ?? 'OPTIONS', ResourceType: resourceType });
  if (target.bucket === undefined) throw forbidden('CORSResponse: Bucket not found', 'BUCKET');
  const config = await corsRulesOf(storage, target.bucket);
  if (!config) {
    if (!(await storage.bucketExists(target.bucket))) throw forbidden('CORSResponse: Bucket not found', 'BUCKET');
    throw forbidden('CORSResponse: CORS is not enabled for this bucket.', 'BUCKET');
  }
  const ask = askOf(headers, origin, 'OPTIONS');
  const rule = matchCorsRule(config.rules, ask);
  if (!rule) {
    if (options.responseVary && config.responseVary) ctx.res.setHeader('vary', 'Origin');
    throw forbidden(NOT_ALLOWED, target.key === undefined ? 'BUCKET' : 'OBJECT');
  }
  ctx.res.writeHead(200, { ...corsResponseHeaders(rule, ask), 'content-length': 0 }).end();
}

/**
 * Sets the CORS headers of an actual request that carries an Origin (the caller checks that, so
 * a request without one costs nothing): the matching rule's, or none. Set before the request is
 * authenticated or handled, they go out with whatever answers it. `responseVary`: honour a
 * bucket's ResponseVary (OSS) when no rule matches.
 */
export async function addCorsHeaders(ctx: RequestContext, storage: Storage, bucket: string | undefined, responseVary: boolean): Promise<void> {
  const origin = single(ctx.req.headers, 'origin');
  if (origin === undefined || bucket === undefined) return;
  const config = await corsRulesOf(storage, bucket);
  if (!config) return;
  const ask = askOf(ctx.req.headers, origin, ctx.req.method ?? 'GET');
  const rule = matchCorsRule(config.rules, ask);
  if (rule) {
    for (const [name, value] of Object.entries(corsResponseHeaders(rule, ask))) ctx.res.setHeader(name, value);
  } else if (responseVary && config.responseVary) {
    ctx.res.setHeader('vary', 'Origin');
  }
}
