import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Crc32c as ReferenceCrc32c } from '@aws-crypto/crc32c';
import { Crc32, Crc32c, crcImplementation, portable } from '../../src/core/checksums.js';

function inPieces(checksum: { update(data: Uint8Array): void; digest(): Buffer }, data: Buffer): number {
  for (let offset = 0, step = 1; offset < data.length; offset += step, step = step * 3 + 1) checksum.update(data.subarray(offset, offset + step));
  return checksum.digest().readUInt32BE(0);
}

describe('CRC32 and CRC32C implementations', () => {
  it('use the native binding on this platform (it ships for linux-x64)', () => {
    if (process.platform === 'linux' && process.arch === 'x64') assert.equal(crcImplementation, 'native');
  });

  it('give the catalogued check values of "123456789", whichever implementation runs', () => {
    const check = Buffer.from('123456789');
    assert.equal(inPieces(new Crc32(), check), 0xcbf43926);
    assert.equal(inPieces(new Crc32c(), check), 0xe3069283);
    assert.equal(portable.crc32(0, check) >>> 0, 0xcbf43926);
    assert.equal(portable.crc32c(0, check) >>> 0, 0xe3069283);
  });

  it('native and portable agree with each other and with @aws-crypto/crc32c, on unaligned data and in pieces', () => {
    for (const size of [0, 1, 7, 8, 9, 63, 64, 65, 1000, 65_537, 1_048_579]) {
      const data = randomBytes(size + 3).subarray(3);
      const crc32 = inPieces(new Crc32(), data);
      assert.equal(crc32, portable.crc32(0, data) >>> 0, `crc32 of ${size} bytes`);
      const crc32c = inPieces(new Crc32c(), data);
      assert.equal(crc32c, portable.crc32c(0, data) >>> 0, `crc32c of ${size} bytes`);
      assert.equal(crc32c, new ReferenceCrc32c().update(data).digest() >>> 0, `crc32c of ${size} bytes, reference`);
    }
  });

  it('read shared memory as the hash workers hand it over', () => {
    const memory = new SharedArrayBuffer(70_000);
    const view = new Uint8Array(memory, 13, 65_000);
    view.set(randomBytes(view.length));
    const copy = Buffer.from(view);
    const crc32 = new Crc32();
    crc32.update(view);
    assert.equal(crc32.digest().readUInt32BE(0), portable.crc32(0, copy) >>> 0);
    const crc32c = new Crc32c();
    crc32c.update(view);
    assert.equal(crc32c.digest().readUInt32BE(0), portable.crc32c(0, copy) >>> 0);
  });
});
