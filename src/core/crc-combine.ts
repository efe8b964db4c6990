/**
 * CRC(A || B) from CRC(A), CRC(B) and |B|, without the bytes (zlib's crc32_combine idea), for any
 * reflected CRC whose init and xorout are all ones: CRC32, CRC32C, CRC-64/NVME (S3's full-object
 * multipart checksums) and CRC-64/ECMA (OSS's x-oss-hash-crc64ecma). Appending |B| zero bytes to A
 * is a linear map on the register, a matrix over GF(2); CRC(A || B) is that map applied to CRC(A),
 * xor CRC(B). A 32-bit CRC lives in the low half of the 64-bit register, its high half staying 0.
 */

/** A CRC register as two unsigned 32-bit halves (a 32-bit CRC: `hi` is 0). */
export interface Crc64Halves {
  hi: number;
  lo: number;
}

/** 64 columns, column c at [2c] (low half) and [2c + 1] (high half): the image of bit c. */
type Gf2Matrix = Int32Array;

function matrixTimesVector(m: Gf2Matrix, hi: number, lo: number, out: Crc64Halves): void {
  let rHi = 0;
  let rLo = 0;
  for (let c = 0; c < 32; c++) {
    if ((lo >>> c) & 1) {
      rLo ^= m[2 * c]!;
      rHi ^= m[2 * c + 1]!;
    }
    if ((hi >>> c) & 1) {
      rLo ^= m[2 * (c + 32)]!;
      rHi ^= m[2 * (c + 32) + 1]!;
    }
  }
  out.hi = rHi >>> 0;
  out.lo = rLo >>> 0;
}

/** The map "b, then a": column c is a applied to b's column c. */
function matrixProduct(a: Gf2Matrix, b: Gf2Matrix): Gf2Matrix {
  const product = new Int32Array(128);
  const column = { hi: 0, lo: 0 };
  for (let c = 0; c < 64; c++) {
    matrixTimesVector(a, b[2 * c + 1]!, b[2 * c]!, column);
    product[2 * c] = column.lo;
    product[2 * c + 1] = column.hi;
  }
  return product;
}

/** How many appended lengths each combiner remembers the map of (a Complete has one or two sizes). */
const LENGTH_CACHE_ENTRIES = 8;

export class CrcCombiner {
  /** zeroBytePowers[k] appends 2^k zero bytes. Grown lazily. */
  private readonly zeroBytePowers: Gf2Matrix[] = [];
  /** The map for a whole length, for the lengths seen last: a multipart Complete's parts mostly share one. */
  private readonly byLength = new Map<number, Gf2Matrix>();

  /** The reflected polynomial, split in halves (a 32-bit one: `polyHi` 0). */
  constructor(
    private readonly polyHi: number,
    private readonly polyLo: number,
  ) {}

  /** Writes CRC(A || B) to `out` (which may be `crcA`); lengths up to 2^53 - 1. */
  combine(crcA: Crc64Halves, crcB: Crc64Halves, lengthB: number, out: Crc64Halves): void {
    if (!Number.isSafeInteger(lengthB) || lengthB < 0) throw new RangeError('CRC combine: lengthB must be a non-negative integer');
    const bHi = crcB.hi;
    const bLo = crcB.lo;
    if (lengthB === 0) {
      out.hi = (crcA.hi ^ bHi) >>> 0;
      out.lo = (crcA.lo ^ bLo) >>> 0;
      return;
    }
    matrixTimesVector(this.zeroBytesOperator(lengthB), crcA.hi, crcA.lo, out);
    out.hi = (out.hi ^ bHi) >>> 0;
    out.lo = (out.lo ^ bLo) >>> 0;
  }

  /** The map appending `length` zero bytes: the product of the powers its bits select. */
  private zeroBytesOperator(length: number): Gf2Matrix {
    const cached = this.byLength.get(length);
    if (cached) return cached;
    let operator: Gf2Matrix | undefined;
    for (let k = 0, remaining = length; remaining > 0; k++, remaining = Math.floor(remaining / 2)) {
      if (remaining % 2 === 1) operator = operator ? matrixProduct(this.power(k), operator) : this.power(k);
    }
    if (this.byLength.size >= LENGTH_CACHE_ENTRIES) this.byLength.delete(this.byLength.keys().next().value!);
    this.byLength.set(length, operator!);
    return operator!;
  }

  private power(k: number): Gf2Matrix {
    const powers = this.zeroBytePowers;
    if (powers.length === 0) {
      let m = this.oneZeroBitOperator();
      for (let i = 0; i < 3; i++) m = matrixProduct(m, m); // 1 bit -> 8 bits
      powers.push(m);
    }
    while (powers.length <= k) powers.push(matrixProduct(powers[powers.length - 1]!, powers[powers.length - 1]!));
    return powers[k]!;
  }

  /** The map for one zero bit: shift right, folding the polynomial in when bit 0 falls out. */
  private oneZeroBitOperator(): Gf2Matrix {
    const m = new Int32Array(128);
    m[0] = this.polyLo;
    m[1] = this.polyHi;
    for (let c = 1; c < 64; c++) {
      const bit = c - 1; // bit c moves to bit c-1
      if (bit < 32) m[2 * c] = 1 << bit;
      else m[2 * c + 1] = 1 << (bit - 32);
    }
    return m;
  }
}
