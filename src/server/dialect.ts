import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServiceError } from '../core/errors.js';
import type { FormFields } from '../core/post-policy.js';
import type { FormHead } from '../dialects/common/form-upload.js';

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
  /** A browser form upload (unsigned POST of multipart/form-data): its fields up to the file, read to pick the dialect. */
  form?: FormHead;
}

/** The browser form uploads a dialect takes (S3 POST Object, OSS PostObject). */
export interface FormUploads {
  /** Bytes of fields before the file the dialect accepts; the form is read that far to pick the dialect. */
  maxPreDataBytes: number;
  /** Whether a form with these fields (lower-case names) speaks this dialect. */
  claims(fields: FormFields): boolean;
}

/** A wire protocol served over the shared engine. */
export interface Dialect {
  readonly name: string;
  /** Whether this request speaks this dialect (asked in order; the last dialect takes the rest). */
  matches(req: IncomingMessage, rawPath: string, query: URLSearchParams): boolean;
  handle(ctx: RequestContext): Promise<void>;
  /** Browser form uploads, which name their dialect only in their fields; absent when the dialect takes none. */
  readonly formUploads?: FormUploads;
  /** Writes `error` in the dialect's own error format. Headers are not sent yet. */
  sendError(ctx: RequestContext, error: ServiceError): void;
}
