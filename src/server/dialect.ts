import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServiceError } from '../core/errors.js';

/** What one request carries through the layers, and what its access-log line says. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  requestId: string;
  /** The path as sent on the wire, still percent-encoded. */
  rawPath: string;
  /** The query as sent, in order, decoded. */
  query: URLSearchParams;
  log: { user?: string; dialect?: string; operation?: string; errorCode?: string };
}

/** A wire protocol served over the shared engine. */
export interface Dialect {
  readonly name: string;
  /** Whether this request speaks this dialect (asked in order; the last dialect takes the rest). */
  matches(req: IncomingMessage, rawPath: string, query: URLSearchParams): boolean;
  handle(ctx: RequestContext): Promise<void>;
  /** Writes `error` in the dialect's own error format. Headers are not sent yet. */
  sendError(ctx: RequestContext, error: ServiceError): void;
}
