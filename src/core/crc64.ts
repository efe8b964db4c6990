/**
 * CRC-64/ECMA-182 as OSS sends it in `x-oss-hash-crc64ecma`: Go's `crc64.ECMA` table with
 * `crc64.Update`'s pre/post inversion, i.e. the CRC-64/XZ parameters (reflected polynomial
 * 0xC96C5795D7870F42, init ~0, xorout ~0). Check value of "123456789": 0x995DC9BBDF1939FA.
 *
 * The server runs this over every uploaded byte, so the hot loop avoids BigInt entirely: the
 * 64-bit register lives in two 32-bit numbers and the data is consumed 8 bytes at a time
 * (slicing-by-8). BigInt only appears at the API edge.
 */

import { endianness } from 'node:os';
import { CrcCombiner } from './crc-combine.js';

const POLY_HI = 0xc96c5795;
const POLY_LO = 0xd7870f42;
const SLICES = 8;

/** The 64-bit CRC register, as two unsigned 32-bit halves. */
export type { Crc64Halves } from './crc-combine.js';
import type { Crc64Halves } from './crc-combine.js';

/**
 * Slice tables, interleaved so the low and high halves of an entry share a cache line:
 * entry (slice s, byte b) is at TABLE[2 * (s * 256 + b)] (low) and the next index (high).
 * Slice s holds the CRC register effect of byte b followed by s zero bytes.
 */
const TABLE = buildSliceTables(POLY_HI, POLY_LO);

function buildSliceTables(polyHi: number, polyLo: number): Int32Array {
  const table = new Int32Array(2 * 256 * SLICES);
  for (let b = 0; b < 256; b++) {
    let lo = b;
    let hi = 0;
    for (let bit = 0; bit < 8; bit++) {
      const carry = lo & 1;
      lo = (lo >>> 1) | (hi << 31);
      hi = hi >>> 1;
      if (carry) {
        lo ^= polyLo;
        hi ^= polyHi;
      }
    }
    table[2 * b] = lo;
    table[2 * b + 1] = hi;
  }
  for (let s = 1; s < SLICES; s++) {
    for (let b = 0; b < 256; b++) {
      const prev = 2 * ((s - 1) * 256 + b);
      const prevLo = table[prev]!;
      const prevHi = table[prev + 1]!;
      const t = 2 * (prevLo & 0xff);
      const at = 2 * (s * 256 + b);
      table[at] = ((prevLo >>> 8) | (prevHi << 24)) ^ table[t]!;
      table[at + 1] = (prevHi >>> 8) ^ table[t + 1]!;
    }
  }
  return table;
}

// Reading the data as little-endian 32-bit words is only right on little-endian hosts.
const CAN_READ_WORDS = endianness() === 'LE';
// Below this size creating a word view costs more than it saves.
const WORD_PATH_MIN_BYTES = 64;

/**
 * The update of any reflected CRC-64 whose init and xorout are all ones (CRC-64/XZ, which
 * is OSS's ECMA, and CRC-64/NVME, one of S3's checksums): only the polynomial differs.
 * The function advances a finalized CRC `state` over `data` in place (as Go's crc64.Update
 * does), allocating nothing per call.
 */
export function reflectedCrc64(reflectedPolyHi: number, reflectedPolyLo: number): (state: Crc64Halves, data: Uint8Array) => void {
  const table = reflectedPolyHi === POLY_HI && reflectedPolyLo === POLY_LO ? TABLE : buildSliceTables(reflectedPolyHi, reflectedPolyLo);
  return (state, data) => updateHalves(table, state.hi, state.lo, data, state);
}

function updateHalves(T: Int32Array, crcHi: number, crcLo: number, data: Uint8Array, out: Crc64Halves): void {
  let hi = ~crcHi;
  let lo = ~crcLo;
  let i = 0;
  const n = data.length;

  if (CAN_READ_WORDS && n >= WORD_PATH_MIN_BYTES) {
    // Bytewise up to a 4-byte boundary so an Int32Array view can cover the middle.
    while (((data.byteOffset + i) & 3) !== 0) {
      const x = 2 * ((lo ^ data[i++]!) & 0xff);
      lo = ((lo >>> 8) | (hi << 24)) ^ T[x]!;
      hi = (hi >>> 8) ^ T[x + 1]!;
    }
    const blocks = (n - i) >>> 3;
    const words = new Int32Array(data.buffer, data.byteOffset + i, blocks * 2);
    for (let w = 0; w < words.length; w += 2) {
      lo ^= words[w]!;
      hi ^= words[w + 1]!;
      // Byte j of the block goes through slice 7 - j; indices are pre-doubled (<< 1).
      const a = 3584 + ((lo & 0xff) << 1);
      const b = 3072 + ((lo >>> 7) & 0x1fe);
      const c = 2560 + ((lo >>> 15) & 0x1fe);
      const d = 2048 + ((lo >>> 23) & 0x1fe);
      const e = 1536 + ((hi & 0xff) << 1);
      const f = 1024 + ((hi >>> 7) & 0x1fe);
      const g = 512 + ((hi >>> 15) & 0x1fe);
      const h = (hi >>> 23) & 0x1fe;
      lo = T[a]! ^ T[b]! ^ T[c]! ^ T[d]! ^ T[e]! ^ T[f]! ^ T[g]! ^ T[h]!;
      hi = T[a + 1]! ^ T[b + 1]! ^ T[c + 1]! ^ T[d + 1]! ^ T[e + 1]! ^ T[f + 1]! ^ T[g + 1]! ^ T[h + 1]!;
    }
    i += blocks * 8;
  }

  for (; i < n; i++) {
    const x = 2 * ((lo ^ data[i]!) & 0xff);
    lo = ((lo >>> 8) | (hi << 24)) ^ T[x]!;
    hi = (hi >>> 8) ^ T[x + 1]!;
  }
  out.hi = ~hi >>> 0;
  out.lo = ~lo >>> 0;
}

const MASK64 = (1n << 64n) - 1n;

function toHalves(value: bigint): { hi: number; lo: number } {
  const v = BigInt.asUintN(64, value);
  return { hi: Number(v >> 32n), lo: Number(v & 0xffffffffn) };
}

function fromHalves(hi: number, lo: number): bigint {
  return ((BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)) & MASK64;
}

/** Incremental hasher. Start from a previous CRC to continue it (e.g. an appendable object). */
export class Crc64 {
  private state: { hi: number; lo: number };

  constructor(initial: bigint = 0n) {
    this.state = toHalves(initial);
  }

  update(buf: Uint8Array): this {
    updateHalves(TABLE, this.state.hi, this.state.lo, buf, this.state);
    return this;
  }

  digest(): bigint {
    return fromHalves(this.state.hi, this.state.lo);
  }

  /** The form the `x-oss-hash-crc64ecma` header carries: unsigned decimal. */
  toDecimal(): string {
    return this.digest().toString(10);
  }
}

/** One-shot CRC of a buffer. */
export function crc64(buf: Uint8Array): bigint {
  return new Crc64().update(buf).digest();
}

/**
 * CRC of the concatenation A || B given crcA = crc64(A), crcB = crc64(B) and lengthB = |B|,
 * without the bytes: how a multipart object's CRC is derived from its parts' CRCs.
 */
export function crc64Combine(crcA: bigint, crcB: bigint, lengthB: number | bigint): bigint {
  if (lengthB < 0) throw new RangeError('crc64Combine: lengthB must not be negative');
  const acc = toHalves(crcA);
  ECMA_COMBINER.combine(acc, toHalves(crcB), Number(lengthB), acc);
  return fromHalves(acc.hi, acc.lo);
}

const ECMA_COMBINER = new CrcCombiner(POLY_HI, POLY_LO);
