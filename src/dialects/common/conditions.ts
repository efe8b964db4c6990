import type { IncomingHttpHeaders } from 'node:http';
import { ServiceError } from '../../core/errors.js';
import type { ObjectInfo } from '../../core/types.js';

export type ConditionOutcome = 'proceed' | 'not-modified';

/** The four conditional headers, under a dialect's names (plain for GET, x-amz-copy-source-if-* for copies). */
export interface ConditionHeaders {
  ifMatch?: string;
  ifNoneMatch?: string;
  ifModifiedSince?: string;
  ifUnmodifiedSince?: string;
}

export function readConditions(headers: IncomingHttpHeaders, prefix = ''): ConditionHeaders {
  const get = (name: string) => {
    const value = headers[prefix + name];
    return Array.isArray(value) ? value.join(',') : value;
  };
  return {
    ifMatch: get('if-match'),
    ifNoneMatch: get('if-none-match'),
    ifModifiedSince: get('if-modified-since'),
    ifUnmodifiedSince: get('if-unmodified-since'),
  };
}

/**
 * RFC 7232 evaluation order, as S3 applies it: If-Match, else If-Unmodified-Since;
 * then If-None-Match, else If-Modified-Since. Failed preconditions throw 412;
 * "not modified" is returned for the caller to answer 304 (GET/HEAD) or 412 (copy).
 */
export function evaluateConditions(conditions: ConditionHeaders, object: ObjectInfo): ConditionOutcome {
  const etag = object.etag.toLowerCase();
  const modified = Math.floor(object.lastModified.getTime() / 1000) * 1000;
  if (conditions.ifMatch !== undefined) {
    if (!etagListMatches(conditions.ifMatch, etag)) throw preconditionFailed('If-Match');
  } else if (conditions.ifUnmodifiedSince !== undefined) {
    const since = Date.parse(conditions.ifUnmodifiedSince);
    if (!Number.isNaN(since) && modified > since) throw preconditionFailed('If-Unmodified-Since');
  }
  if (conditions.ifNoneMatch !== undefined) {
    if (etagListMatches(conditions.ifNoneMatch, etag)) return 'not-modified';
  } else if (conditions.ifModifiedSince !== undefined) {
    const since = Date.parse(conditions.ifModifiedSince);
    if (!Number.isNaN(since) && modified <= since) return 'not-modified';
  }
  return 'proceed';
}

function etagListMatches(header: string, etag: string): boolean {
  return header
    .split(',')
    .map((item) => item.trim().replace(/^W\//, '').replace(/"/g, '').toLowerCase())
    .some((item) => item === '*' || item === etag);
}

export function preconditionFailed(condition: string): ServiceError {
  return new ServiceError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', 412, {
    Condition: condition,
  });
}
