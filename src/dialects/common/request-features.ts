import type { IncomingHttpHeaders } from 'node:http';
import { ServiceError } from '../../core/errors.js';

/**
 * What a dialect does with a request header or query parameter: `implemented` (honoured),
 * `informational` (ignoring it is harmless; the rule's `why` says why) or `refused` (501
 * NotImplemented before the handler runs, so no byte of the body is read or stored). A
 * client that asks for something Tessera does not do is never answered as if it were done.
 */
export type Verdict = 'implemented' | 'informational' | 'refused';

export interface FeatureRule {
  /** A lower-case header name or a query parameter name (as spelled); a trailing `*` makes it a prefix. */
  name: string;
  verdict: Verdict;
  /** What honours it, why ignoring it is harmless, or what is missing. */
  why: string;
  /** Honoured only in these operations (the dialect's names); refused in any other. */
  operations?: readonly string[];
  /** Honoured only with one of these values (compared case-insensitively, trimmed); refused with any other. */
  values?: readonly string[];
  /** A further look at an honoured value: `refused`, or the error to answer (a malformed value, say). */
  check?: (value: string, operation: string) => ServiceError | 'refused' | undefined;
}

export interface FeatureTable {
  /** Header prefixes the table governs: a header under one of them that no rule names is refused. */
  headerPrefixes: readonly string[];
  /** Rules for headers: those under `headerPrefixes`, and plain HTTP ones whose meaning depends on the operation. */
  headers: readonly FeatureRule[];
  /** Rules for query parameters; a parameter no rule names is refused. */
  query: readonly FeatureRule[];
  /**
   * Query parameters that stand for headers (S3 reads a presigned URL's `x-amz-*` parameters as
   * headers): their name is lower-cased, looked up in `query` (auth parameters), then judged by the header rules.
   */
  queryAsHeader?: (name: string) => boolean;
}

export type FeatureKind = 'header' | 'query parameter';

/** S3's NotImplemented, naming what was refused (in the message and a `Header` element for headers). */
export function featureNotImplemented(kind: FeatureKind, name: string): ServiceError {
  return new ServiceError(
    'NotImplemented',
    `A ${kind} you provided implies functionality that is not implemented: ${name}.`,
    501,
    kind === 'header' ? { Header: name } : {},
  );
}

/** The rule for `name`: an exact one, else the longest prefix rule that covers it. */
export function ruleFor(rules: readonly FeatureRule[], name: string): FeatureRule | undefined {
  let best: FeatureRule | undefined;
  for (const rule of rules) {
    if (rule.name === name) return rule;
    if (rule.name.endsWith('*') && name.startsWith(rule.name.slice(0, -1)) && rule.name.length > (best?.name.length ?? 0)) best = rule;
  }
  return best;
}

/** Whether `rule` lets this value through in this operation, and if not, the error to answer. */
function judge(rule: FeatureRule | undefined, kind: FeatureKind, name: string, value: string, operation: string): ServiceError | undefined {
  const refused = () => featureNotImplemented(kind, name);
  if (!rule || rule.verdict === 'refused') return refused();
  if (rule.operations && !rule.operations.includes(operation)) return refused();
  const trimmed = value.trim().toLowerCase();
  if (rule.values && !rule.values.some((allowed) => allowed.toLowerCase() === trimmed)) return refused();
  const checked = rule.check?.(value, operation);
  return checked === 'refused' ? refused() : checked;
}

function governs(table: FeatureTable, name: string): boolean {
  return table.headerPrefixes.some((prefix) => name.startsWith(prefix)) || table.headers.some((rule) => rule.name === name);
}

/**
 * Refuses a query parameter that is refused whatever the operation (an S3 or OSS sub-resource
 * Tessera does not have): checked before routing, so `POST ?restore` is 501, not 405.
 */
export function refuseUnsupportedSubresources(table: FeatureTable, query: URLSearchParams): void {
  for (const name of new Set(query.keys())) {
    const rule = ruleFor(table.query, name);
    if (rule?.verdict === 'refused' && !rule.operations) throw featureNotImplemented('query parameter', name);
  }
}

/**
 * Applies the table to a routed request, before its handler runs: every governed header and
 * every query parameter is honoured, harmlessly ignored, or refused here with the first error.
 */
export function checkRequestFeatures(table: FeatureTable, operation: string, headers: IncomingHttpHeaders, query: URLSearchParams): void {
  for (const name of new Set(query.keys())) {
    const value = query.get(name) ?? '';
    const asHeader = table.queryAsHeader?.(name) ?? false;
    const rule = ruleFor(table.query, asHeader ? name.toLowerCase() : name);
    if (!rule && asHeader) {
      const headerName = name.toLowerCase();
      const error = judge(ruleFor(table.headers, headerName), 'header', headerName, value, operation);
      if (error) throw error;
      continue;
    }
    const error = judge(rule, 'query parameter', name, value, operation);
    if (error) throw error;
  }
  for (const [name, raw] of Object.entries(headers)) {
    if (raw === undefined || !governs(table, name)) continue;
    const value = Array.isArray(raw) ? raw.join(',') : raw;
    const error = judge(ruleFor(table.headers, name), 'header', name, value, operation);
    if (error) throw error;
  }
}

/**
 * docs/s3.md's list of what a set of rules refuses, as Markdown items: the refused names (those
 * with the same reason together), then the names honoured only for some values, with those values.
 * docs/s3.md carries this text between markers, and a test checks it against the rules.
 */
export function refusalList(rules: readonly FeatureRule[]): string[] {
  const byReason = new Map<string, string[]>();
  for (const rule of rules.filter((r) => r.verdict === 'refused')) {
    byReason.set(rule.why, [...(byReason.get(rule.why) ?? []), rule.name]);
  }
  const quoted = (names: readonly string[], joiner: string) => names.map((name) => `\`${name}\``).join(joiner);
  const refused = [...byReason].map(([why, names]) => `- ${quoted(names, ', ')}: ${why}`);
  const someValues = rules
    .filter((rule) => rule.verdict !== 'refused' && rule.values)
    .map((rule) => `- \`${rule.name}\` other than ${quoted(rule.values!, ' or ')}`);
  return [...refused, ...someValues];
}
