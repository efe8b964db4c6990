/**
 * The one error type every layer throws. `code` uses the S3 error vocabulary
 * (NoSuchBucket, InvalidPart, …) because S3, OSS and most peers share it; each
 * dialect renders it in its own wire format and may rename a code.
 */
export class ServiceError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number = 400,
    /** Extra fields a dialect may render into its error body (e.g. UploadId, ArgumentName). */
    readonly detail: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ServiceError';
  }

  /** Facts the answer carries besides the error (a delete marker's version id, …), as each dialect names them. */
  facts: { versionId?: string; deleteMarker?: boolean; lastModified?: Date } = {};

  with(facts: ServiceError['facts']): this {
    this.facts = { ...this.facts, ...facts };
    return this;
  }
}

export const errors = {
  noSuchBucket: (bucket: string) =>
    new ServiceError('NoSuchBucket', 'The specified bucket does not exist.', 404, { BucketName: bucket }),
  noSuchKey: (key: string) => new ServiceError('NoSuchKey', 'The specified key does not exist.', 404, { Key: key }),
  noSuchUpload: (uploadId: string) =>
    new ServiceError(
      'NoSuchUpload',
      'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
      404,
      { UploadId: uploadId },
    ),
  invalidArgument: (message: string, name?: string, value?: string) =>
    new ServiceError(
      'InvalidArgument',
      message,
      400,
      name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' },
    ),
  invalidPart: (uploadId: string, partNumber: number, etag: string) =>
    new ServiceError(
      'InvalidPart',
      "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.",
      400,
      { UploadId: uploadId, PartNumber: String(partNumber), ETag: etag },
    ),
  accessDenied: () => new ServiceError('AccessDenied', 'Access Denied.', 403),
  /** A bucket's Block Public Access refuses a public policy or ACL: AWS answers 403 AccessDenied. */
  publicAccessBlocked: (what: 'policy' | 'ACL') =>
    new ServiceError('AccessDenied', `Access Denied: the bucket's Block Public Access settings refuse a public ${what}.`, 403),
  malformedXML: () =>
    new ServiceError(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema.',
      400,
    ),
  badDigest: (what = 'Content-MD5') =>
    new ServiceError('BadDigest', `The ${what} you specified did not match what we received.`, 400),
  incompleteBody: () =>
    new ServiceError('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.', 400),
  /** More connections from one address than the server admits (maxConnectionsPerAddress). */
  tooManyConnections: () => new ServiceError('SlowDown', 'Please reduce your request rate.', 503),
  /** The disk (or the database's) is full: a server condition, but no internal fault (MinIO answers 507 too). */
  insufficientStorage: () =>
    new ServiceError('InsufficientStorage', 'The server has no space left to store this request; try again once space is freed.', 507),
  requestTimeout: () =>
    new ServiceError('RequestTimeout', 'Your socket connection to the server was not read from or written to within the timeout period.', 400),
  internal: () => new ServiceError('InternalError', 'We encountered an internal error. Please try again.', 500),
  /** The metadata database cannot be reached (or stays too contended): the client should retry later. */
  // S3's message for it; the metadata database is unreachable (a client's retry may land after it is back).
  serviceUnavailable: () => new ServiceError('ServiceUnavailable', 'Service is unable to handle request.', 503),
};

/** System and database error codes that mean "no space left": the file system's, SQLite's and PostgreSQL's (53100 disk_full). */
const STORAGE_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']);

/** InsufficientStorage when `err` is a full disk or database, whichever layer threw it; otherwise undefined. */
export function storageFullError(err: unknown): ServiceError | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && STORAGE_FULL_CODES.has(code) ? errors.insufficientStorage() : undefined;
}
