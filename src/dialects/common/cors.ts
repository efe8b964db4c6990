import type { IncomingHttpHeaders } from 'node:http';
import { ServiceError } from '../../core/errors.js';

/** The methods a preflight may ask about, as S3 spells them (`put` or `FOO` is a bad request). */
const PREFLIGHT_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']);

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * The answer to a CORS preflight (`OPTIONS`) while no bucket has a CORS configuration, which
 * Tessera does not keep yet: without an `Origin` a bad request; asking about a method that is none
 * the same; otherwise 403, CORS not enabled for the bucket (or, at the service root, no bucket).
 * A browser never signs a preflight, so it is answered before authentication, as S3 answers it
 * (S3 and OSS both document 403 for a bucket without CORS rules).
 */
export function preflightRefusal(headers: IncomingHttpHeaders, bucket: string | undefined): ServiceError {
  if (!single(headers, 'origin')) {
    return new ServiceError('BadRequest', 'Insufficient information. Origin request header needed.', 400);
  }
  const asked = single(headers, 'access-control-request-method');
  if (asked !== undefined && !PREFLIGHT_METHODS.has(asked)) {
    return new ServiceError('BadRequest', `Invalid Access-Control-Request-Method: ${asked}`, 400);
  }
  const message = bucket === undefined ? 'CORSResponse: Bucket not found' : 'CORSResponse: CORS is not enabled for this bucket.';
  return new ServiceError('AccessForbidden', message, 403, { Method: asked ?? 'OPTIONS', ResourceType: 'BUCKET' });
}
