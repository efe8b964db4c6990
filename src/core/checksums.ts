/**
 * The CRCs of S3's flexible checksums (CRC32, CRC32C, CRC-64/NVME), as running
 * checksums whose digest is the big-endian bytes the wire formats encode. They
 * live in the engine because staging computes them (possibly on a hash worker)
 * while a body streams to disk; the dialects only name and render them.
 */
import { createRequire } from 'node:module';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { reflectedCrc64 } from './crc64.js';

interface NativeCrc {
  crc32(input: Uint8Array, initial?: number): number;
  crc32c(input: Uint8Array, initial?: number): number;
}

/**
 * @node-rs/crc32: CRC32 with carry-less multiplication and CRC32C with the SSE4.2
 * instruction. On the benchmark machine, per GiB: CRC32 0.15 s (zlib's 0.33 s),
 * CRC32C 0.25 s (the slicing-by-8 below, 1.2 s). Where its prebuilt binary is
 * missing, zlib and the slicing-by-8 serve.
 */
const native: NativeCrc | undefined = (() => {
  try {
    return createRequire(import.meta.url)('@node-rs/crc32') as NativeCrc;
  } catch {
    return undefined;
  }
})();

/** The reflected polynomials, as [high, low] 32-bit halves (a 32-bit CRC's high half is 0). */
export const REFLECTED_POLYNOMIALS = {
  crc32: [0, 0xedb88320],
  crc32c: [0, 0x82f63b78],
  crc64nvme: [0x9a6c9329, 0xac4bc9b5],
} as const;

/** Which implementation computes CRC32 and CRC32C here. */
export const crcImplementation: 'native' | 'portable' = native ? 'native' : 'portable';

export interface RunningChecksum {
  update(data: Uint8Array): void;
  /** Big-endian digest bytes; call after the last update. */
  digest(): Buffer;
}

/** CRC32 (the zlib/IEEE one). */
export class Crc32 implements RunningChecksum {
  private crc = 0;
  update(data: Uint8Array): void {
    this.crc = native ? native.crc32(data, this.crc) >>> 0 : zlibCrc32(data, this.crc);
  }
  digest(): Buffer {
    return uint32Bytes(this.crc);
  }
}

/** The implementations used without the native binding (exported for the tests that compare them). */
export const portable = {
  crc32: (previous: number, data: Uint8Array): number => zlibCrc32(data, previous),
  crc32c: (previous: number, data: Uint8Array): number => crc32cUpdate(previous, data),
};

/*
 * Without the native binding, CRC32C is computed with slicing-by-8 rather than with @aws-crypto/crc32c:
 * that package walks bytes through an iterator and runs at ~55 MB/s, which would
 * make CRC32C uploads CPU-bound. Tests cross-check this against the package.
 */
const [C0, C1, C2, C3, C4, C5, C6, C7] = buildCrc32Tables(REFLECTED_POLYNOMIALS.crc32c[1]);

export class Crc32c implements RunningChecksum {
  private crc = 0;
  update(data: Uint8Array): void {
    this.crc = native ? native.crc32c(data, this.crc) >>> 0 : crc32cUpdate(this.crc, data);
  }
  digest(): Buffer {
    return uint32Bytes(this.crc);
  }
}

function crc32cUpdate(previous: number, data: Uint8Array): number {
  let crc = ~previous;
  const length = data.length;
  const blockEnd = length - (length & 7);
  let i = 0;
  for (; i < blockEnd; i += 8) {
    const low = (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)) ^ crc;
    crc =
      C7[low & 0xff] ^ C6[(low >>> 8) & 0xff] ^ C5[(low >>> 16) & 0xff] ^ C4[low >>> 24] ^
      C3[data[i + 4]] ^ C2[data[i + 5]] ^ C1[data[i + 6]] ^ C0[data[i + 7]];
  }
  for (; i < length; i++) crc = (crc >>> 8) ^ C0[(crc ^ data[i]) & 0xff];
  return ~crc >>> 0;
}

type SlicingTables = [Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array, Int32Array];

function buildCrc32Tables(reflectedPoly: number): SlicingTables {
  const base = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ reflectedPoly : c >>> 1;
    base[n] = c;
  }
  // Table k advances a byte through k further zero bytes, so 8 bytes fold in at once.
  const tables = [base];
  for (let k = 1; k < 8; k++) {
    const previous = tables[k - 1];
    const next = new Int32Array(256);
    for (let n = 0; n < 256; n++) next[n] = (previous[n] >>> 8) ^ base[previous[n] & 0xff];
    tables.push(next);
  }
  return tables as SlicingTables;
}

/** CRC-64/NVME: poly 0xad93d23594c93659 (reflected 0x9a6c9329ac4bc9b5), init and xorout all ones; crc64.ts's engine. */
const updateCrc64Nvme = reflectedCrc64(...REFLECTED_POLYNOMIALS.crc64nvme);

export class Crc64Nvme implements RunningChecksum {
  private readonly state = { hi: 0, lo: 0 };
  update(data: Uint8Array): void {
    updateCrc64Nvme(this.state, data);
  }
  digest(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE(this.state.hi, 0);
    out.writeUInt32BE(this.state.lo, 4);
    return out;
  }
}

function uint32Bytes(value: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0, 0);
  return out;
}
