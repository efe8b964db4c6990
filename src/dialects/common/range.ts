import { ServiceError } from '../../core/errors.js';

export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a single `bytes=a-b`, `bytes=a-` or `bytes=-n` range against `size`.
 * Returns undefined when the header is absent or not a single byte range (served
 * whole, as S3 does), and throws InvalidRange when it cannot be satisfied.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) throw invalidRange(size);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (match[2] !== '' && Number(match[2]) < start) return undefined;
  }
  if (start >= size || size === 0) throw invalidRange(size);
  return { start, end };
}

/** `bytes=a-b` for copy-source ranges: both ends required and inside the object. */
export function parseCopySourceRange(header: string, size: number, headerName = 'x-amz-copy-source-range'): ByteRange {
  const match = /^bytes=(\d+)-(\d+)$/.exec(header.trim());
  if (!match) {
    throw new ServiceError('InvalidArgument', `The ${headerName} value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy`, 400, {
      ArgumentName: headerName,
      ArgumentValue: header,
    });
  }
  const start = Number(match[1]);
  const end = Number(match[2]);
  if (start > end || end >= size) throw invalidRange(size);
  return { start, end };
}

export function invalidRange(size: number): ServiceError {
  return new ServiceError('InvalidRange', 'The requested range is not satisfiable', 416, { ActualObjectSize: String(size) });
}
