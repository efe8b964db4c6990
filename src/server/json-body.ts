import type { IncomingMessage } from 'node:http';
import { ServiceError } from '../core/errors.js';

/**
 * The JSON bodies of Tessera's own APIs (the console's and the admin API). JSON only: a
 * cross-site HTML form cannot send it without a CORS preflight, which is refused.
 */
export function requireJson(req: IncomingMessage): void {
  if (!/^application\/json\s*(;|$)/i.test(req.headers['content-type'] ?? '')) {
    throw new ServiceError('UnsupportedMediaType', 'The request body must be JSON (Content-Type: application/json).', 415);
  }
}

/** A body that must hold one JSON object: MalformedJSON otherwise. */
export function parseJsonObject(body: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ServiceError('MalformedJSON', 'The request body is not valid JSON.', 400);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ServiceError('MalformedJSON', 'The request body must be a JSON object.', 400);
  }
  return parsed as Record<string, unknown>;
}
