/**
 * What the client throws. A service answered with an error: `ServiceError` (code, message,
 * request id, HTTP status, the other fields of the error document). The request never got an
 * answer: the node error itself (ECONNREFUSED, ECONNRESET, …). Cancelled: `AbortError`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { parseDocument, text, type XmlNode } from './xml.js';

export class ServiceError extends Error {
  override readonly name = 'ServiceError';

  constructor(
    /** The service's error code (NoSuchUpload, SignatureDoesNotMatch, …); `HttpStatus<N>` when it sent none. */
    readonly code: string,
    message: string,
    readonly status: number,
    readonly requestId: string,
    /** Every other field of the error document (HostId, UploadId, StringToSign, …). */
    readonly detail: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  /** ossutil's wording: `oss: service returned error: StatusCode=…, ErrorCode=…, ErrorMessage="…", RequestId=…`. */
  describe(service: string): string {
    return `${service}: service returned error: StatusCode=${this.status}, ErrorCode=${this.code}, ErrorMessage="${this.message}", RequestId=${this.requestId}`;
  }
}

export class AbortError extends Error {
  override readonly name = 'AbortError';
  constructor(message = 'The operation was aborted') {
    super(message);
  }
}

/** The client checked what it sent against what the service stored, and they differ. */
export class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function requestIdOf(headers: IncomingHttpHeaders): string {
  return header(headers, 'x-oss-request-id') ?? header(headers, 'x-amz-request-id') ?? '';
}

const STATUS_CODES: Record<number, string> = {
  301: 'PermanentRedirect',
  400: 'BadRequest',
  403: 'AccessDenied',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  409: 'Conflict',
  412: 'PreconditionFailed',
  416: 'InvalidRange',
  500: 'InternalError',
  501: 'NotImplemented',
  503: 'ServiceUnavailable',
};

/** What a HEAD answer (no body) means, worded as the services word it in their error documents. */
const BODILESS_MESSAGES: Record<string, string> = {
  NoSuchKey: 'The specified key does not exist.',
  NoSuchBucket: 'The specified bucket does not exist.',
  NotFound: 'Not Found',
  AccessDenied: 'Access Denied.',
  PreconditionFailed: 'At least one of the pre-conditions you specified did not hold.',
};

/**
 * Builds the error from a failed answer: the S3 or OSS `<Error>` document when there is one,
 * OSS's base64 `x-oss-err` header when the body is empty (HEAD), S3's `x-amz-error-code` header,
 * else the status alone.
 */
export function serviceErrorFrom(status: number, headers: IncomingHttpHeaders, body: string): ServiceError {
  let document: XmlNode | undefined = parseDocument(body, 'Error');
  const ossErr = header(headers, 'x-oss-err');
  if (document === undefined && ossErr !== undefined) {
    document = parseDocument(Buffer.from(ossErr, 'base64').toString('utf8'), 'Error');
  }
  const requestId = requestIdOf(headers);
  if (document !== undefined) {
    const detail: Record<string, string> = {};
    for (const [name, value] of Object.entries(document)) {
      const fieldText = text(value);
      if (fieldText !== undefined && name !== 'Code' && name !== 'Message' && name !== 'RequestId') detail[name] = fieldText;
    }
    return new ServiceError(
      text(document.Code) || STATUS_CODES[status] || `HttpStatus${status}`,
      text(document.Message) ?? '',
      status,
      text(document.RequestId) || requestId,
      detail,
    );
  }
  const code = header(headers, 'x-amz-error-code') ?? STATUS_CODES[status] ?? `HttpStatus${status}`;
  return new ServiceError(code, body.trim().slice(0, 200) || BODILESS_MESSAGES[code] || `HTTP ${status}`, status, requestId);
}
