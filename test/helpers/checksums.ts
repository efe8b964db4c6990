/**
 * Flexible checksums computed independently of the server's code, so tests can catch it
 * being wrong: SHA-1/SHA-256 from node:crypto, CRC32 from zlib, CRC32C from @aws-crypto/crc32c,
 * CRC-64/NVME from a byte table built here from the catalogued polynomial.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { Crc32c } from '@aws-crypto/crc32c';

export type Algorithm = 'crc32' | 'crc32c' | 'crc64nvme' | 'sha1' | 'sha256';
export const ALGORITHMS: Algorithm[] = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'];

/** CRC-64/NVME: reflected polynomial 0x9a6c9329ac4bc9b5, init and xorout all ones (BigInt table, test speed is fine). */
const NVME_TABLE = (() => {
  const poly = 0x9a6c9329ac4bc9b5n;
  const table: bigint[] = [];
  for (let n = 0n; n < 256n; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    table.push(c);
  }
  return table;
})();

function crc64nvme(data: Uint8Array): bigint {
  let crc = 0xffffffffffffffffn;
  for (const byte of data) crc = NVME_TABLE[Number((crc ^ BigInt(byte)) & 0xffn)]! ^ (crc >> 8n);
  return crc ^ 0xffffffffffffffffn;
}

/** The algorithm's digest bytes (big-endian for the CRCs). */
export function digest(algorithm: Algorithm, data: Uint8Array): Buffer {
  switch (algorithm) {
    case 'sha1':
    case 'sha256':
      return createHash(algorithm).update(data).digest();
    case 'crc32': {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(crc32(data) >>> 0);
      return out;
    }
    case 'crc32c': {
      const out = Buffer.alloc(4);
      out.writeUInt32BE(new Crc32c().update(data).digest() >>> 0);
      return out;
    }
    case 'crc64nvme': {
      const out = Buffer.alloc(8);
      out.writeBigUInt64BE(crc64nvme(data));
      return out;
    }
  }
}

/** Base64 of the digest, as x-amz-checksum-* carries it. */
export function checksumOf(algorithm: Algorithm, data: Uint8Array): string {
  return digest(algorithm, data).toString('base64');
}

/** The COMPOSITE checksum S3 gives a multipart object: the digest of the parts' digests, then `-N`. */
export function compositeOf(algorithm: Algorithm, parts: Uint8Array[]): string {
  const joined = Buffer.concat(parts.map((part) => digest(algorithm, part)));
  return `${checksumOf(algorithm, joined)}-${parts.length}`;
}
