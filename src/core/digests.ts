import { createHash } from 'node:crypto';
import { Crc32, Crc32c, Crc64Nvme, type RunningChecksum } from './checksums.js';
import { Crc64 } from './crc64.js';
import type { ChecksumAlgorithm, Digests, ExtraDigest } from './types.js';

/** The digests whose value is bytes (all but OSS's CRC-64, a decimal): the flexible checksums. */
export type BinaryDigest = ChecksumAlgorithm;

export function runningChecksum(algorithm: BinaryDigest): RunningChecksum {
  switch (algorithm) {
    case 'crc32':
      return new Crc32();
    case 'crc32c':
      return new Crc32c();
    case 'crc64nvme':
      return new Crc64Nvme();
    case 'sha1':
    case 'sha256': {
      const hash = createHash(algorithm);
      return { update: (data) => void hash.update(data), digest: () => hash.digest() };
    }
  }
}

/**
 * MD5 (every object's ETag) plus the extra digests a dialect asked for, over one
 * stream of bytes. The same code runs inline and on the hash workers.
 */
export class DigestSet {
  private readonly md5 = createHash('md5');
  private readonly binary: Array<[BinaryDigest, RunningChecksum]> = [];
  private readonly crc64?: Crc64;
  private size = 0;

  constructor(extra: readonly ExtraDigest[]) {
    for (const algorithm of new Set(extra)) {
      if (algorithm === 'crc64') this.crc64 = new Crc64();
      else this.binary.push([algorithm, runningChecksum(algorithm)]);
    }
  }

  update(data: Uint8Array): void {
    this.size += data.length;
    this.md5.update(data);
    this.crc64?.update(data);
    for (const [, checksum] of this.binary) checksum.update(data);
  }

  /** Call once, after the last update. */
  digests(): Digests {
    const result: Digests = { size: this.size, md5: this.md5.digest(), crc64: this.crc64?.toDecimal() };
    for (const [algorithm, checksum] of this.binary) result[algorithm] = checksum.digest();
    return result;
  }
}

/** The digests of a body held whole. */
export function digestsOf(body: Uint8Array, extra: readonly ExtraDigest[] = []): Digests {
  const set = new DigestSet(extra);
  set.update(body);
  return set.digests();
}
