/**
 * Incremental checksums for the S3 "flexible checksum" algorithms
 * (x-amz-checksum-crc32 / -crc32c / -crc64nvme / -sha1 / -sha256).
 * Every digest is rendered the way S3 puts it on the wire: base64 of the
 * big-endian digest bytes.
 */
import type { RunningChecksum } from '../../core/checksums.js';
import { runningChecksum } from '../../core/digests.js';
import { ServiceError } from '../../core/errors.js';

export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export interface Checksum {
  update(data: Uint8Array): void;
  /** Base64 of the big-endian digest. Call once, after the last update. */
  digestBase64(): string;
}

export function createChecksum(algorithm: ChecksumAlgorithm): Checksum {
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
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(normalized)
    ? (normalized as ChecksumAlgorithm)
    : undefined;
}

export function badDigestFor(algorithm: ChecksumAlgorithm): ServiceError {
  return new ServiceError(
    'BadDigest',
    `The ${checksumDisplayName(algorithm)} you specified did not match the calculated checksum.`,
    400,
  );
}

function fromRunning(running: RunningChecksum): Checksum {
  let digest: string | undefined;
  return {
    update: (data) => running.update(data),
    // node's Hash can only be finalized once; callers may ask twice.
    digestBase64: () => (digest ??= running.digest().toString('base64')),
  };
}
