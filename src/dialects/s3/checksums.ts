/**
 * S3's flexible checksums on the wire: x-amz-checksum-crc32 / -crc32c / -crc64nvme / -sha1 /
 * -sha256 carry base64 of the big-endian digest; x-amz-checksum-algorithm / -type name an
 * algorithm (CRC32 …) and a type (COMPOSITE, FULL_OBJECT). The digests and what is stored are
 * the engine's; this module reads the claims a request makes and writes the answers' headers,
 * with S3's error codes and messages.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RunningChecksum } from '../../core/checksums.js';
import { runningChecksum } from '../../core/digests.js';
import { ServiceError } from '../../core/errors.js';
import { wireType } from '../../core/multipart-checksums.js';
import type { Checksum, ChecksumAlgorithm, ChecksumType, ObjectChecksum } from '../../core/types.js';

export type { ChecksumAlgorithm } from '../../core/types.js';
export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];

/** Digest length in bytes, which a claimed value must decode to. */
const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = { crc32: 4, crc32c: 4, crc64nvme: 8, sha1: 20, sha256: 32 };

/** x-amz-checksum-* headers that are not a digest. */
const NON_DIGEST_HEADERS = new Set(['x-amz-checksum-algorithm', 'x-amz-checksum-type', 'x-amz-checksum-mode']);

export interface RunningBase64Checksum {
  update(data: Uint8Array): void;
  /** Base64 of the big-endian digest. Call once, after the last update. */
  digestBase64(): string;
}

export function createChecksum(algorithm: ChecksumAlgorithm): RunningBase64Checksum {
  return fromRunning(runningChecksum(algorithm));
}

/** 'CRC32', 'CRC64NVME', 'SHA256' … as S3 spells them in messages and x-amz-checksum-algorithm. */
export function checksumDisplayName(algorithm: ChecksumAlgorithm): string {
  return algorithm.toUpperCase();
}

/** The header (and trailer) carrying this algorithm's value, e.g. 'x-amz-checksum-crc32'. */
export function checksumHeaderName(algorithm: ChecksumAlgorithm): string {
  return `x-amz-checksum-${algorithm}`;
}

/**
 * Accepts what clients send to name an algorithm: 'CRC32' (x-amz-sdk-checksum-algorithm),
 * 'crc32c', or a header name such as 'x-amz-checksum-sha256' (x-amz-trailer).
 */
export function parseChecksumAlgorithm(name: string): ChecksumAlgorithm | undefined {
  const normalized = name.trim().toLowerCase().replace(/^x-amz-checksum-/, '');
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(normalized) ? (normalized as ChecksumAlgorithm) : undefined;
}

/** The digest a base64 value claims, or undefined when it is not valid base64 of the algorithm's length. */
export function decodeChecksumValue(algorithm: ChecksumAlgorithm, text: string): Buffer | undefined {
  const value = text.trim();
  const bytes = Buffer.from(value, 'base64');
  // Node's decoder skips what is not base64: re-encoding shows whether every character was.
  return bytes.length === DIGEST_BYTES[algorithm] && bytes.toString('base64') === value ? bytes : undefined;
}

export function badDigestFor(algorithm: ChecksumAlgorithm): ServiceError {
  return new ServiceError('BadDigest', `The ${checksumDisplayName(algorithm)} you specified did not match the calculated checksum.`, 400);
}

export function invalidChecksumValue(headerName: string, where: 'header' | 'trailing header' = 'header'): ServiceError {
  return new ServiceError('InvalidRequest', `Value for ${headerName} ${where} is invalid.`, 400);
}

/** What the request's x-amz-checksum-<algorithm> headers claim: at most one, well formed. */
export interface HeaderClaim {
  algorithm: ChecksumAlgorithm;
  value: Buffer;
  /** The value as sent (a composite one on Complete may end in -N). */
  text: string;
}

/**
 * The digest headers of a request, checked as S3 checks them: a name that is no algorithm, or
 * two digests, are refused. `withPartCount` accepts a trailing `-N` (Complete's composite value).
 */
export function digestHeaders(
  headers: IncomingHttpHeaders,
  options: { trailer?: ChecksumAlgorithm; withPartCount?: boolean } = {},
): (HeaderClaim & { partCount?: number }) | undefined {
  const found: Array<[ChecksumAlgorithm, string]> = [];
  for (const [name, raw] of Object.entries(headers)) {
    if (!name.startsWith('x-amz-checksum-') || NON_DIGEST_HEADERS.has(name) || raw === undefined) continue;
    const algorithm = parseChecksumAlgorithm(name);
    if (!algorithm) throw new ServiceError('InvalidRequest', 'The algorithm type you specified in x-amz-checksum- header is invalid.', 400);
    found.push([algorithm, Array.isArray(raw) ? raw.join(',') : raw]);
  }
  if (found.length + (options.trailer ? 1 : 0) > 1) {
    throw new ServiceError('InvalidRequest', 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.', 400);
  }
  if (found.length === 0) return undefined;
  const [algorithm, text] = found[0]!;
  const withCount = options.withPartCount ? /^(.*)-(\d+)$/.exec(text.trim()) : null;
  const value = decodeChecksumValue(algorithm, withCount ? withCount[1]! : text);
  if (!value || (withCount && !/^[1-9]\d{0,4}$/.test(withCount[2]!))) throw invalidChecksumValue(checksumHeaderName(algorithm));
  return { algorithm, value, text, partCount: withCount ? Number(withCount[2]) : undefined };
}

/** x-amz-checksum-algorithm (CreateMultipartUpload, CopyObject): one of the algorithms, or InvalidRequest. */
export function requestedAlgorithm(value: string | undefined): ChecksumAlgorithm | undefined {
  if (value === undefined) return undefined;
  if (value.includes(',')) throw new ServiceError('InvalidRequest', 'Invalid types are specified in x-amz-checksum-algorithm header.', 400);
  const algorithm = parseChecksumAlgorithm(value);
  if (!algorithm) {
    throw new ServiceError(
      'InvalidRequest',
      'Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]',
      400,
    );
  }
  return algorithm;
}

/** x-amz-checksum-type: COMPOSITE or FULL_OBJECT, or InvalidRequest. */
export function requestedType(value: string | undefined): ChecksumType | undefined {
  if (value === undefined) return undefined;
  switch (value.trim().toUpperCase()) {
    case 'COMPOSITE':
      return 'composite';
    case 'FULL_OBJECT':
      return 'full-object';
    default:
      throw new ServiceError('InvalidRequest', 'Value for x-amz-checksum-type header is invalid.', 400);
  }
}

export { wireType };

/** x-amz-checksum-<algorithm> with base64 of `checksum`; a composite one ends in `-<partsCount>`. */
export function checksumHeader(checksum: Checksum | ObjectChecksum, partsCount?: number): Record<string, string> {
  const composite = 'type' in checksum && checksum.type === 'composite';
  const value = checksum.value.toString('base64') + (composite ? `-${partsCount ?? 1}` : '');
  return { [checksumHeaderName(checksum.algorithm)]: value };
}

/** An object's checksum as response headers: the value and x-amz-checksum-type. */
export function objectChecksumHeaders(checksum: ObjectChecksum | undefined, partsCount: number | undefined): Record<string, string> {
  if (!checksum) return {};
  return { ...checksumHeader(checksum, partsCount), 'x-amz-checksum-type': wireType(checksum.type) };
}

/** An object's checksum as the XML elements of Complete, CopyObject and ListObjects answers. */
export function checksumElements(checksum: ObjectChecksum | undefined, partsCount?: number): Record<string, string> {
  if (!checksum) return {};
  const value = Object.values(checksumHeader(checksum, partsCount))[0]!;
  return { [`Checksum${checksumDisplayName(checksum.algorithm)}`]: value, ChecksumType: wireType(checksum.type) };
}

/** A part's checksum as the Checksum<ALGORITHM> element of ListParts and CopyPartResult. */
export function partChecksumElement(checksum: Checksum | undefined): Record<string, string> {
  return checksum ? { [`Checksum${checksumDisplayName(checksum.algorithm)}`]: checksum.value.toString('base64') } : {};
}

function fromRunning(running: RunningChecksum): RunningBase64Checksum {
  let digest: string | undefined;
  return {
    update: (data) => running.update(data),
    // node's Hash can only be finalized once; callers may ask twice.
    digestBase64: () => (digest ??= running.digest().toString('base64')),
  };
}
