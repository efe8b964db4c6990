import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';

import { Crc64, crc64, crc64Combine } from '../../src/core/crc64.js';

/** Independent bit-at-a-time reference: reflected CRC-64/XZ, written straight from the definition. */
function slowCrc64(data: Uint8Array, previous = 0n): bigint {
  const poly = 0xc96c5795d7870f42n;
  const mask = (1n << 64n) - 1n;
  let crc = previous ^ mask;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc ^ mask;
}

function randomInt(maxExclusive: number): number {
  return Math.floor(Math.random() * maxExclusive);
}

describe('crc64 (ECMA-182, as OSS x-oss-hash-crc64ecma)', () => {
  it('matches the catalogue check value for "123456789"', () => {
    assert.equal(crc64(Buffer.from('123456789')), 0x995dc9bbdf1939fan);
    assert.equal(new Crc64().update(Buffer.from('123456789')).toDecimal(), '11051210869376104954');
  });

  it('is 0 for empty input', () => {
    assert.equal(crc64(Buffer.alloc(0)), 0n);
    assert.equal(new Crc64().digest(), 0n);
    assert.equal(new Crc64().update(Buffer.alloc(0)).toDecimal(), '0');
  });

  it('agrees with a slow bitwise reference on assorted sizes and alignments', () => {
    const backing = randomBytes(5000);
    for (const [offset, length] of [[0, 1], [1, 7], [3, 8], [2, 63], [1, 64], [5, 65], [7, 1000], [0, 4093], [3, 4997]] as const) {
      const view = backing.subarray(offset, offset + length);
      assert.equal(crc64(view), slowCrc64(view), `offset ${offset} length ${length}`);
    }
    assert.equal(crc64(Buffer.alloc(1024, 0xff)), slowCrc64(Buffer.alloc(1024, 0xff)));
  });

  it('incremental updates over random splits equal the one-shot CRC', () => {
    const data = randomBytes(70_000);
    const expected = crc64(data);
    for (let round = 0; round < 20; round++) {
      const hasher = new Crc64();
      let at = 0;
      while (at < data.length) {
        const step = Math.min(data.length - at, randomInt(round % 2 ? 200 : 9000) + (round % 3 === 0 ? 0 : 1));
        hasher.update(data.subarray(at, at + step));
        at += step;
      }
      assert.equal(hasher.digest(), expected);
    }
  });

  it('continues from a previous CRC like Go crc64.Update', () => {
    const a = randomBytes(333);
    const b = randomBytes(4444);
    assert.equal(new Crc64(crc64(a)).update(b).digest(), crc64(Buffer.concat([a, b])));
    assert.equal(new Crc64(crc64(a)).update(b).digest(), slowCrc64(b, slowCrc64(a)));
  });

  it('combine equals the CRC of the concatenation, including an empty B', () => {
    const sizes = [0, 1, 2, 7, 8, 9, 100, 255, 256, 1023, 4096, 65_537, 100 * 1024 + 3];
    for (let round = 0; round < 30; round++) {
      const a = randomBytes(sizes[randomInt(sizes.length)]!);
      const b = randomBytes(round < 5 ? 0 : sizes[randomInt(sizes.length)]!);
      const combined = crc64Combine(crc64(a), crc64(b), b.length);
      assert.equal(combined, crc64(Buffer.concat([a, b])), `|A|=${a.length} |B|=${b.length}`);
    }
    assert.equal(crc64Combine(0x1234n, 0n, 0), 0x1234n);
    assert.equal(crc64Combine(crc64(Buffer.from('1234')), crc64(Buffer.from('56789')), 5n), 0x995dc9bbdf1939fan);
  });

  it('combines many parts the way a multipart Complete does', () => {
    const parts = Array.from({ length: 12 }, () => randomBytes(randomInt(3000)));
    let whole = 0n;
    for (const part of parts) whole = crc64Combine(whole, crc64(part), part.length);
    assert.equal(whole, crc64(Buffer.concat(parts)));
    assert.equal(whole, slowCrc64(Buffer.concat(parts)));
  });

  it('handles long B lengths, and its zero-byte operators compose up to 2^41', () => {
    const a = randomBytes(100);
    const zeros = Buffer.alloc(1024 * 1024 + 12_345);
    assert.equal(crc64Combine(crc64(a), crc64(zeros), zeros.length), crc64(Buffer.concat([a, zeros])));
    // crcB = 0 isolates the "shift A over lengthB zero bytes" operator: 2^40 twice is 2^41.
    const x = 0x0123456789abcdefn;
    const twice = crc64Combine(crc64Combine(x, 0n, 2n ** 40n), 0n, 2n ** 40n);
    assert.equal(twice, crc64Combine(x, 0n, 2n ** 41n));
    assert.notEqual(twice, x);
  });

  it('rejects a negative length', () => {
    assert.throws(() => crc64Combine(1n, 2n, -1), RangeError);
  });
});
