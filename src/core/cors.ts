import { ServiceError } from './errors.js';
import type { Storage } from './storage.js';
import type { Actor } from './types.js';

/**
 * Cross-origin resource sharing, protocol-free: a bucket's CORS rules, what makes them valid, and
 * how a browser's request is judged by them. S3 and OSS evaluate alike: the first rule whose
 * origins, methods and allowed headers all admit the request decides, and earns the response its
 * Access-Control-* headers. The dialects only parse and render the rules in their XML and map a
 * violation to their own error. The rules are one document per bucket in the metadata store (read
 * at each cross-origin request, so every node of a cluster applies a change at once); S3 and OSS
 * serve the same buckets, so a rule set through one dialect holds in the other.
 */

/** The methods a rule may allow, as both S3 and OSS spell them. */
export const CORS_METHODS: readonly string[] = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'];

export interface CorsRule {
  /** S3's optional name for the rule; OSS has none. */
  id?: string;
  /** Origins, each with at most one `*` (standing for any run of characters, none included). */
  allowedOrigins: string[];
  /** Of CORS_METHODS. */
  allowedMethods: string[];
  /** Header names a preflight may announce, compared without case, each with at most one `*`. */
  allowedHeaders: string[];
  /** Response headers the page's script may read. */
  exposeHeaders: string[];
  /** How long a browser may keep a preflight's answer. */
  maxAgeSeconds?: number;
}

export interface CorsConfiguration {
  rules: CorsRule[];
  /** OSS's ResponseVary: cross-origin answers carry `Vary: Origin` even when no rule matches. */
  responseVary: boolean;
}

/** What a dialect allows beyond the shared rules. */
export interface CorsLimits {
  /** The most rules a configuration may hold (S3 100, OSS 10). */
  maxRules: number;
  /** Whether an ExposeHeader may hold `*` (OSS refuses it). */
  wildcardExposeHeaders: boolean;
}

export const MAX_CORS_ID_LENGTH = 255;
/** Max-Age is a count of seconds; S3's schema types MaxAgeSeconds as a 32-bit integer. */
const MAX_AGE_LIMIT = 2 ** 31 - 1;

/** The first thing wrong with a configuration, for the dialect to word as its service does. */
export type CorsViolation =
  | { kind: 'no-rules' }
  | { kind: 'too-many-rules'; limit: number }
  | { kind: 'no-origin' }
  | { kind: 'no-method' }
  | { kind: 'unsupported-method'; value: string }
  | { kind: 'origin-wildcards'; value: string }
  | { kind: 'header-wildcards'; value: string }
  | { kind: 'expose-wildcard'; value: string }
  | { kind: 'id-too-long'; value: string }
  | { kind: 'max-age'; value: number };

const wildcards = (value: string) => value.split('*').length - 1;

export function findCorsViolation(config: CorsConfiguration, limits: CorsLimits): CorsViolation | undefined {
  if (config.rules.length === 0) return { kind: 'no-rules' };
  if (config.rules.length > limits.maxRules) return { kind: 'too-many-rules', limit: limits.maxRules };
  for (const rule of config.rules) {
    if (rule.allowedOrigins.length === 0) return { kind: 'no-origin' };
    if (rule.allowedMethods.length === 0) return { kind: 'no-method' };
    const method = rule.allowedMethods.find((m) => !CORS_METHODS.includes(m));
    if (method !== undefined) return { kind: 'unsupported-method', value: method };
    const origin = rule.allowedOrigins.find((o) => wildcards(o) > 1);
    if (origin !== undefined) return { kind: 'origin-wildcards', value: origin };
    const header = rule.allowedHeaders.find((h) => wildcards(h) > 1);
    if (header !== undefined) return { kind: 'header-wildcards', value: header };
    const exposed = limits.wildcardExposeHeaders ? undefined : rule.exposeHeaders.find((h) => h.includes('*'));
    if (exposed !== undefined) return { kind: 'expose-wildcard', value: exposed };
    if (rule.id !== undefined && rule.id.length > MAX_CORS_ID_LENGTH) return { kind: 'id-too-long', value: rule.id };
    const age = rule.maxAgeSeconds;
    if (age !== undefined && (!Number.isInteger(age) || age < 0 || age > MAX_AGE_LIMIT)) return { kind: 'max-age', value: age };
  }
  return undefined;
}

/** What a cross-origin request asks: its origin, method and the headers it will send. */
export interface CorsAsk {
  origin: string;
  /** A preflight's Access-Control-Request-Method; on an actual request that header too if sent (S3 judges by it), else the method. */
  method: string;
  /** Lower-cased names from Access-Control-Request-Headers (none when not sent). */
  headers: string[];
}

/** The names an Access-Control-Request-Headers value lists (`X-A, x-b,,x-c` → x-a, x-b, x-c). */
export function requestedHeaders(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '');
}

/** `pattern` (at most one `*`) matched against all of `value`, without regard to case. */
function wildcardMatch(pattern: string, value: string): boolean {
  const p = pattern.toLowerCase();
  const v = value.toLowerCase();
  const star = p.indexOf('*');
  if (star < 0) return p === v;
  const prefix = p.slice(0, star);
  const suffix = p.slice(star + 1);
  return v.length >= prefix.length + suffix.length && v.startsWith(prefix) && v.endsWith(suffix);
}

/** The first of the rule's origins that admits `origin`. */
function matchingOrigin(rule: CorsRule, origin: string): string | undefined {
  return rule.allowedOrigins.find((allowed) => wildcardMatch(allowed, origin));
}

/** The first rule that admits the request: its origin, its method, and every header it announces. */
export function matchCorsRule(rules: readonly CorsRule[], ask: CorsAsk): CorsRule | undefined {
  return rules.find(
    (rule) =>
      matchingOrigin(rule, ask.origin) !== undefined &&
      rule.allowedMethods.includes(ask.method) &&
      ask.headers.every((name) => rule.allowedHeaders.some((allowed) => wildcardMatch(allowed, name))),
  );
}

/** The request headers a CORS answer depends on: a cache must keep answers to different ones apart. */
export const CORS_VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';

/**
 * The headers a matched request is answered with (a preflight and an actual request alike, as S3
 * answers both): the origin echoed, or `*` when the rule admits it by a lone `*` (then without
 * credentials, which a browser refuses beside `*`); the rule's methods; the announced headers;
 * what the page may read; how long to keep the answer; and Vary.
 */
export function corsResponseHeaders(rule: CorsRule, ask: CorsAsk): Record<string, string> {
  const anyOrigin = matchingOrigin(rule, ask.origin) === '*';
  const headers: Record<string, string> = {
    'access-control-allow-origin': anyOrigin ? '*' : ask.origin,
    'access-control-allow-methods': rule.allowedMethods.join(', '),
  };
  if (ask.headers.length > 0) headers['access-control-allow-headers'] = ask.headers.join(', ');
  if (rule.exposeHeaders.length > 0) headers['access-control-expose-headers'] = rule.exposeHeaders.join(', ');
  if (rule.maxAgeSeconds !== undefined) headers['access-control-max-age'] = String(rule.maxAgeSeconds);
  if (!anyOrigin) headers['access-control-allow-credentials'] = 'true';
  headers.vary = CORS_VARY;
  return headers;
}

// The rules in the store: one document of kind 'cors' per bucket (Storage's bucket configurations)

const KIND = 'cors';
/** What any dialect's rules satisfy; the engine refuses to store rules that do not. */
const ENGINE_LIMITS: CorsLimits = { maxRules: 100, wildcardExposeHeaders: true };

export function noSuchCorsConfiguration(bucket: string): ServiceError {
  return new ServiceError('NoSuchCORSConfiguration', 'The CORS configuration does not exist', 404, { BucketName: bucket });
}

function parseDocument(document: string): CorsConfiguration {
  return JSON.parse(document) as CorsConfiguration;
}

/** Replaces the bucket's rules (the bucket's owner only). The dialect has checked them against its own limits. */
export async function putBucketCors(storage: Storage, actor: Actor, bucket: string, config: CorsConfiguration): Promise<void> {
  const violation = findCorsViolation(config, ENGINE_LIMITS);
  if (violation) throw new Error(`CORS rules reached the engine unchecked: ${violation.kind}`);
  const stored: CorsConfiguration = {
    rules: config.rules.map((rule) => ({
      id: rule.id,
      allowedOrigins: rule.allowedOrigins,
      allowedMethods: rule.allowedMethods,
      allowedHeaders: rule.allowedHeaders,
      exposeHeaders: rule.exposeHeaders,
      maxAgeSeconds: rule.maxAgeSeconds,
    })),
    responseVary: config.responseVary,
  };
  await storage.settings.putConfig(actor, bucket, KIND, JSON.stringify(stored));
}

/** The bucket's rules (the bucket's owner only); NoSuchCORSConfiguration when it has none. */
export async function getBucketCors(storage: Storage, actor: Actor, bucket: string): Promise<CorsConfiguration> {
  const document = await storage.settings.getConfig(actor, bucket, KIND);
  if (document === undefined) throw noSuchCorsConfiguration(bucket);
  return parseDocument(document);
}

/** Removes the bucket's rules, if it has any (the bucket's owner only). */
export function deleteBucketCors(storage: Storage, actor: Actor, bucket: string): Promise<void> {
  return storage.settings.deleteConfig(actor, bucket, KIND);
}

/**
 * The rules a cross-origin request to `bucket` is judged by, read before the request is
 * authenticated (a browser's preflight is never signed, and an actual request's answer carries
 * the CORS headers whether or not it succeeds). Undefined when the bucket has none, or is not there.
 */
export async function corsRulesOf(storage: Storage, bucket: string): Promise<CorsConfiguration | undefined> {
  const document = await storage.settings.configOf(bucket, KIND);
  return document === undefined ? undefined : parseDocument(document);
}
