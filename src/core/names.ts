import { ServiceError } from './errors.js';

const MAX_KEY_BYTES = 1024;

/** S3's bucket naming rules (OSS's are a subset of the same shape). */
export function validateBucketName(name: string): void {
  const ok =
    name.length >= 3 &&
    name.length <= 63 &&
    /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith('xn--') &&
    !name.endsWith('-s3alias');
  if (!ok) throw new ServiceError('InvalidBucketName', 'The specified bucket is not valid.', 400, { BucketName: name });
}

/** Listing parameters (prefix, delimiter, markers): no key holds NUL, and PostgreSQL text cannot. */
export function refuseNul(values: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(values)) {
    if (value?.includes('\u0000')) throw new ServiceError('InvalidArgument', `${name} must not contain NUL.`, 400, { ArgumentName: name });
  }
}

export function validateObjectKey(key: string): void {
  if (key.length === 0) throw new ServiceError('InvalidArgument', 'Object key must not be empty.', 400);
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new ServiceError('KeyTooLongError', 'Your key is too long.', 400);
  }
  // NUL cannot be carried in an XML 1.0 listing; no real client sends it.
  if (key.includes('\u0000')) throw new ServiceError('InvalidArgument', 'Object key must not contain NUL.', 400);
}
