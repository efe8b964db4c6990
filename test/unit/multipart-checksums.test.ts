import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { describe, it } from 'node:test';
import { REFLECTED_POLYNOMIALS } from '../../src/core/checksums.js';
import { CrcCombiner } from '../../src/core/crc-combine.js';
import { combinesToFullObject, compositeChecksum, fullObjectChecksum } from '../../src/core/multipart-checksums.js';
import { checksumOf, digest, type Algorithm } from '../helpers/checksums.js';

const CRCS: Algorithm[] = ['crc32', 'crc32c', 'crc64nvme'];

describe('multipart checksums from part checksums', () => {
  it('the reference CRCs give the catalogued check values of "123456789" (what S3 answers for it)', () => {
    const check = Buffer.from('123456789');
    assert.equal(checksumOf('crc32', check), 'y/Q5Jg==');
    assert.equal(checksumOf('crc32c', check), '4waSgw==');
    assert.equal(digest('crc64nvme', check).toString('hex'), 'ae8b14860a799888');
  });

  it('combine CRC32, CRC32C and CRC-64/NVME of parts into the CRC of the whole, without the bytes', () => {
    for (const algorithm of CRCS) {
      const [hi, lo] = REFLECTED_POLYNOMIALS[algorithm as 'crc32'];
      const combiner = new CrcCombiner(hi, lo);
      for (let round = 0; round < 20; round++) {
        const a = randomBytes(randomInt(5000));
        const b = randomBytes(round < 3 ? 0 : randomInt(70_000));
        const halves = (bytes: Buffer) => (bytes.length === 8 ? { hi: bytes.readUInt32BE(0), lo: bytes.readUInt32BE(4) } : { hi: 0, lo: bytes.readUInt32BE(0) });
        const out = { hi: 0, lo: 0 };
        combiner.combine(halves(digest(algorithm, a)), halves(digest(algorithm, b)), b.length, out);
        assert.deepEqual(out, halves(digest(algorithm, Buffer.concat([a, b]))), `${algorithm} |A|=${a.length} |B|=${b.length}`);
      }
    }
  });

  it('FULL_OBJECT: the parts listed, in order, equal the CRC of their bytes end to end (sizes repeat, as parts do)', () => {
    for (const algorithm of CRCS) {
      assert.equal(combinesToFullObject(algorithm), true);
      const parts = [...Array.from({ length: 9 }, () => randomBytes(3000)), randomBytes(17)];
      const hex = parts.map((part) => digest(algorithm, part).toString('hex'));
      const sizes = parts.map((part) => part.length);
      const all = parts.map((_, i) => i);
      assert.equal(fullObjectChecksum(algorithm, hex, sizes, all).toString('base64'), checksumOf(algorithm, Buffer.concat(parts)));
      // Only the listed parts count (here 0, 2 and the last).
      const listed = [0, 2, 9];
      const expected = checksumOf(algorithm, Buffer.concat(listed.map((i) => parts[i]!)));
      assert.equal(fullObjectChecksum(algorithm, hex, sizes, listed).toString('base64'), expected);
    }
    assert.equal(combinesToFullObject('sha256'), false);
    assert.throws(() => fullObjectChecksum('sha1', [], [], []));
  });

  it('COMPOSITE: the digest of the parts digests, matching what S3 answered for the same parts', () => {
    // One part "123456789": the part checksum and the composite S3 returned (OpenStack Swift's s3api
    // tests assert these against AWS).
    const one = (algorithm: Algorithm, partBase64: string) =>
      compositeChecksum(algorithm, [Buffer.from(partBase64, 'base64').toString('hex')], [0]).toString('base64');
    assert.equal(one('crc32', 'y/Q5Jg=='), '7kxlUA==');
    assert.equal(one('crc32c', '4waSgw=='), 'pzJFoA==');
    assert.equal(one('sha1', '98O8HYCOBHMq32eZZczDTKeuNEE='), 'zGcEPHvP9e6lVmvZsfPHT9mlz10=');
    assert.equal(one('sha256', 'FeKw08M4keuw8e9gnsQZQgwg4yDOlMZfvIwzEkSOsiU='), 'KSsNAHVmgy25S/rmic1w0at3KBH9RLn0nYVQ7p6mpJQ=');
    // Three SHA-256 parts S3 answered UploadPart with, and its Complete (captured against eu-west-1 by Floci's tests).
    const parts = [
      'lcKa6Boe7a167tUCN5C4OaFygGSYD8MBnBARTrdL+1w=',
      'gHjhbUT4oo2tSCtSZJdlKi+jeNXJT+VImqdPXsXvkOc=',
      '4l9PQ3zOPZ0oGFvknFX+J4zZwE4WMzO+l3r8XrbWOeM=',
    ].map((value) => Buffer.from(value, 'base64').toString('hex'));
    assert.equal(compositeChecksum('sha256', parts, [0, 1, 2]).toString('base64'), 'rVWtNbadtsaKXJAcgWPWjifHzJaXde/iV4jaJAOdivc=');
  });
});
