import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Crc32c } from '@aws-crypto/crc32c';

import { ServiceError } from '../../src/core/errors.js';
import {
  awsChunkedEncodedLength,
  createAwsChunkedDecoder,
  createAwsChunkedEncoder,
  decoderOptionsForRequest,
  type AwsChunkedDecoderOptions,
  type AwsChunkedEncoderOptions,
} from '../../src/dialects/s3/aws-chunked.js';
import {
  CHECKSUM_ALGORITHMS,
  checksumHeaderName,
  createChecksum,
  parseChecksumAlgorithm,
  type ChecksumAlgorithm,
} from '../../src/dialects/s3/checksums.js';
import { deriveSigningKey, EMPTY_SHA256, verifyRequest, type ChunkSigningContext } from '../../src/dialects/s3/sigv4.js';

const EXAMPLE_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const EXAMPLE_SCOPE = '20130524/us-east-1/s3/aws4_request';
const EXAMPLE_NOW = new Date('2013-05-24T00:00:00Z');

function exampleSigning(seedSignature: string): ChunkSigningContext {
  return {
    signingKey: deriveSigningKey(EXAMPLE_SECRET, '20130524', 'us-east-1', 's3'),
    datetime: '20130524T000000Z',
    scope: EXAMPLE_SCOPE,
    seedSignature,
  };
}

async function collect(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

async function encode(data: Buffer, options: AwsChunkedEncoderOptions): Promise<Buffer> {
  return collect(Readable.from(splitRandomly(data, 70_000)).pipe(createAwsChunkedEncoder(options)));
}

/** Feeds `encoded` to a decoder in random-sized pieces (the state machine must not care) and returns the output. */
async function decode(encoded: Buffer, options: AwsChunkedDecoderOptions, maxPiece = 5000): Promise<{ data: Buffer; trailers: Map<string, string> }> {
  const decoder = createAwsChunkedDecoder(options);
  const parts: Buffer[] = [];
  await pipeline(
    Readable.from(splitRandomly(encoded, maxPiece)),
    decoder,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        parts.push(chunk);
        callback();
      },
    }),
  );
  return { data: Buffer.concat(parts), trailers: new Map(decoder.trailers) };
}

function splitRandomly(data: Buffer, maxPiece: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let offset = 0; offset < data.length; ) {
    const size = 1 + Math.floor(Math.random() * maxPiece);
    pieces.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return pieces;
}

async function assertRejectsWith(promise: Promise<unknown>, code: string, status: number, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ServiceError, `expected ServiceError ${code}, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status);
    if (message !== undefined) assert.match(err.message, message);
    return true;
  });
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

describe('aws-chunked: AWS documentation vectors', () => {
  const body = Buffer.alloc(66560, 'a');

  it('PUT Object chunked (STREAMING-AWS4-HMAC-SHA256-PAYLOAD): chunk signatures and length', async () => {
    const signing = exampleSigning('4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9');
    const encoded = await encode(body, { chunkSize: 65536, signing });
    assert.equal(encoded.length, 66824);
    assert.equal(awsChunkedEncodedLength(66560, { chunkSize: 65536, signed: true }), 66824);
    const text = encoded.toString('latin1');
    assert.ok(text.startsWith('10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n'));
    assert.ok(text.includes('\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n'));
    assert.ok(text.endsWith('\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n'));

    const { data } = await decode(encoded, { signing, expectedDecodedLength: 66560 });
    assert.ok(data.equals(body));
  });

  it('PUT Object with signed trailer (…-PAYLOAD-TRAILER, crc32c): chunk and trailer signatures', async () => {
    const signing = exampleSigning('106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e');
    const encoded = await encode(body, { chunkSize: 65536, signing, trailerChecksum: 'crc32c' });
    const text = encoded.toString('latin1');
    assert.ok(text.startsWith('10000;chunk-signature=b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2\r\n'));
    assert.ok(text.includes('\r\n400;chunk-signature=1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7\r\n'));
    assert.ok(
      text.endsWith(
        '\r\n0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n' +
          'x-amz-checksum-crc32c:sOO8/Q==\r\n' +
          'x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n',
      ),
    );
    assert.equal(encoded.length, awsChunkedEncodedLength(66560, { chunkSize: 65536, signed: true, trailerChecksum: 'crc32c' }));

    const { data, trailers } = await decode(encoded, {
      signing,
      trailerChecksum: 'crc32c',
      trailerSigned: true,
      expectedDecodedLength: 66560,
    });
    assert.ok(data.equals(body));
    assert.equal(trailers.get('x-amz-checksum-crc32c'), 'sOO8/Q==');
  });

  it('the seed comes from verifyRequest, and decoderOptionsForRequest wires it up', async () => {
    const headers = {
      'content-encoding': 'aws-chunked',
      'content-length': '66824',
      host: 's3.amazonaws.com',
      'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
      'x-amz-date': '20130524T000000Z',
      'x-amz-decoded-content-length': '66560',
      'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    };
    const authorization =
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,' +
      `SignedHeaders=${Object.keys(headers).join(';')},` +
      'Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';
    const verified = verifyRequest(
      { method: 'PUT', rawUrl: '/examplebucket/chunkObject.txt', headers: { ...headers, authorization } },
      () => EXAMPLE_SECRET,
      EXAMPLE_NOW,
    );
    const options = decoderOptionsForRequest(verified, headers);
    assert.equal(options.expectedDecodedLength, 66560);
    assert.equal(options.trailerSigned, false);
    assert.equal(options.trailerChecksum, undefined);
    const encoded = await encode(body, { chunkSize: 65536, signing: exampleSigning(verified.signature) });
    const { data } = await decode(encoded, options);
    assert.equal(data.length, 66560);
  });
});

describe('aws-chunked: encoder → decoder round trips', () => {
  const signing: ChunkSigningContext = {
    signingKey: deriveSigningKey('round-trip-secret', '20240601', 'us-east-1', 's3'),
    datetime: '20240601T120000Z',
    scope: '20240601/us-east-1/s3/aws4_request',
    seedSignature: 'a'.repeat(64),
  };

  for (const size of [0, 1, 8191, 8192, 100_003]) {
    it(`signed, no trailer, ${size} bytes`, async () => {
      const data = randomBytes(size);
      const encoded = await encode(data, { chunkSize: 8192, signing });
      assert.equal(encoded.length, awsChunkedEncodedLength(size, { chunkSize: 8192, signed: true }));
      const decoded = await decode(encoded, { signing, expectedDecodedLength: size });
      assert.ok(decoded.data.equals(data));
    });
  }

  for (const algorithm of CHECKSUM_ALGORITHMS) {
    it(`unsigned payload with ${algorithm} trailer`, async () => {
      const data = randomBytes(50_000);
      const encoded = await encode(data, { chunkSize: 16_384, trailerChecksum: algorithm });
      assert.equal(encoded.length, awsChunkedEncodedLength(data.length, { chunkSize: 16_384, trailerChecksum: algorithm }));
      const { data: out, trailers } = await decode(encoded, { trailerChecksum: algorithm, expectedDecodedLength: data.length });
      assert.ok(out.equals(data));
      const expected = createChecksum(algorithm);
      expected.update(data);
      assert.equal(trailers.get(checksumHeaderName(algorithm)), expected.digestBase64());
    });

    it(`signed payload with signed ${algorithm} trailer`, async () => {
      const data = randomBytes(40_000);
      const encoded = await encode(data, { chunkSize: 10_000, signing, trailerChecksum: algorithm });
      assert.equal(encoded.length, awsChunkedEncodedLength(data.length, { chunkSize: 10_000, signed: true, trailerChecksum: algorithm }));
      const { data: out } = await decode(encoded, { signing, trailerChecksum: algorithm, trailerSigned: true, expectedDecodedLength: data.length });
      assert.ok(out.equals(data));
    });
  }

  it('survives one-byte input pieces', async () => {
    const data = randomBytes(3000);
    const encoded = await encode(data, { chunkSize: 1000, signing, trailerChecksum: 'crc32' });
    const { data: out } = await decode(encoded, { signing, trailerChecksum: 'crc32', trailerSigned: true }, 1);
    assert.ok(out.equals(data));
  });

  it('streams: decoded bytes come out before the body has ended', async () => {
    const decoder = createAwsChunkedDecoder({});
    const firstOutput = new Promise<Buffer>((resolve) => decoder.once('data', resolve));
    decoder.write(Buffer.from('100000\r\nhello'));
    assert.equal((await firstOutput).toString(), 'hello');
    decoder.destroy();
  });
});

describe('aws-chunked: rejections', () => {
  const signing: ChunkSigningContext = {
    signingKey: deriveSigningKey('reject-secret', '20240601', 'us-east-1', 's3'),
    datetime: '20240601T120000Z',
    scope: '20240601/us-east-1/s3/aws4_request',
    seedSignature: 'b'.repeat(64),
  };
  const data = Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(500));

  it('tampered chunk data → SignatureDoesNotMatch', async () => {
    const encoded = await encode(data, { chunkSize: 4096, signing });
    const headerEnd = encoded.indexOf('\r\n') + 2;
    encoded[headerEnd + 100] ^= 0x01;
    await assertRejectsWith(decode(encoded, { signing }), 'SignatureDoesNotMatch', 403);
  });

  it('tampered or missing chunk signature, or wrong seed → SignatureDoesNotMatch', async () => {
    const encoded = await encode(data, { chunkSize: 4096, signing });
    const text = encoded.toString('latin1');
    const flipped = Buffer.from(text.replace(/chunk-signature=([0-9a-f])/, (_m, c: string) => `chunk-signature=${c === '0' ? '1' : '0'}`), 'latin1');
    await assertRejectsWith(decode(flipped, { signing }), 'SignatureDoesNotMatch', 403);
    const stripped = Buffer.from(text.replace(/;chunk-signature=[0-9a-f]{64}/g, ''), 'latin1');
    await assertRejectsWith(decode(stripped, { signing }), 'SignatureDoesNotMatch', 403);
    await assertRejectsWith(decode(encoded, { signing: { ...signing, seedSignature: 'c'.repeat(64) } }), 'SignatureDoesNotMatch', 403);
  });

  it('reordered chunks → SignatureDoesNotMatch (signatures chain)', async () => {
    const a = await encode(Buffer.alloc(10, 'a'), { chunkSize: 10, signing });
    const firstChunkEnd = a.indexOf('\r\n', a.indexOf('\r\n') + 2) + 2;
    const doubled = Buffer.concat([a.subarray(0, firstChunkEnd), a]);
    await assertRejectsWith(decode(doubled, { signing }), 'SignatureDoesNotMatch', 403);
  });

  it('tampered or missing trailer signature → SignatureDoesNotMatch', async () => {
    const encoded = await encode(data, { chunkSize: 4096, signing, trailerChecksum: 'sha256' });
    const text = encoded.toString('latin1');
    const tampered = Buffer.from(text.replace(/x-amz-trailer-signature:([0-9a-f])/, (_m, c: string) => `x-amz-trailer-signature:${c === '0' ? '1' : '0'}`), 'latin1');
    await assertRejectsWith(decode(tampered, { signing, trailerChecksum: 'sha256', trailerSigned: true }), 'SignatureDoesNotMatch', 403);
    const unsignedTrailer = Buffer.from(text.replace(/x-amz-trailer-signature:[0-9a-f]{64}\r\n/, ''), 'latin1');
    await assertRejectsWith(decode(unsignedTrailer, { signing, trailerChecksum: 'sha256', trailerSigned: true }), 'SignatureDoesNotMatch', 403);
  });

  for (const algorithm of CHECKSUM_ALGORITHMS) {
    it(`wrong ${algorithm} trailer → BadDigest naming the algorithm`, async () => {
      const encoded = await encode(data, { chunkSize: 4096, trailerChecksum: algorithm });
      const other = createChecksum(algorithm);
      other.update(Buffer.from('something else'));
      const text = encoded.toString('latin1');
      const wrong = Buffer.from(text.replace(/(x-amz-checksum-[a-z0-9]+:)[^\r]+/, `$1${other.digestBase64()}`), 'latin1');
      await assertRejectsWith(
        decode(wrong, { trailerChecksum: algorithm }),
        'BadDigest',
        400,
        new RegExp(`^The ${algorithm.toUpperCase()} you specified did not match the calculated checksum\\.$`),
      );
    });
  }

  it('missing checksum trailer → MalformedTrailerError', async () => {
    const encoded = await encode(data, { chunkSize: 4096 });
    await assertRejectsWith(decode(encoded, { trailerChecksum: 'crc32' }), 'MalformedTrailerError', 400);
    const garbage = Buffer.from('3\r\nabc\r\n0\r\nnot a trailer\r\n\r\n');
    await assertRejectsWith(decode(garbage, {}), 'MalformedTrailerError', 400);
  });

  it('truncated body → IncompleteBody, wherever it is cut', async () => {
    const encoded = await encode(data, { chunkSize: 4096, signing });
    const finalChunk = encoded.lastIndexOf('0;chunk-signature=');
    for (const cut of [0, 3, 90, 4200, encoded.length - 200, finalChunk + 10]) {
      await assertRejectsWith(decode(encoded.subarray(0, cut), { signing }), 'IncompleteBody', 400);
    }
  });

  it('decoded length ≠ x-amz-decoded-content-length → IncompleteBody', async () => {
    const encoded = await encode(data, { chunkSize: 4096 });
    await assertRejectsWith(decode(encoded, { expectedDecodedLength: data.length + 1 }), 'IncompleteBody', 400);
    await assertRejectsWith(decode(encoded, { expectedDecodedLength: data.length - 1 }), 'IncompleteBody', 400);
  });

  it('malformed framing → IncompleteBody', async () => {
    for (const body of ['zz\r\nabc\r\n0\r\n\r\n', '3\r\nabcd\r\n0\r\n\r\n', '3\r\nabc\r\n0\r\n\r\ntrailing junk', `${'1'.repeat(5000)}\r\n`]) {
      await assertRejectsWith(decode(Buffer.from(body), {}), 'IncompleteBody', 400);
    }
  });
});

describe('aws-chunked: liberal parsing', () => {
  function crc32Of(text: string): string {
    const checksum = createChecksum('crc32');
    checksum.update(Buffer.from(text));
    return checksum.digestBase64();
  }

  it('accepts the unsigned-trailer framing the AWS SDK sends', async () => {
    const body = Buffer.from(`5\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:${crc32Of('hello world')}\r\n\r\n`);
    const { data } = await decode(body, { trailerChecksum: 'crc32', expectedDecodedLength: 11 });
    assert.equal(data.toString(), 'hello world');
  });

  it('tolerates a missing final CRLF, upper-case trailer names, and no trailers at all', async () => {
    const checksum = crc32Of('hello');
    for (const body of [
      `5\r\nhello\r\n0\r\nx-amz-checksum-crc32:${checksum}\r\n`,
      `5\r\nhello\r\n0\r\nx-amz-checksum-crc32:${checksum}`,
      `5\r\nhello\r\n0\r\nX-Amz-Checksum-CRC32: ${checksum}\r\n\r\n`,
      `5\r\nhello\r\n0\r\nx-amz-checksum-crc32:${checksum}\r\n\r\n\r\n`,
    ]) {
      const { data } = await decode(Buffer.from(body), { trailerChecksum: 'crc32' });
      assert.equal(data.toString(), 'hello');
    }
    for (const body of ['5\r\nhello\r\n0\r\n\r\n', '5\r\nhello\r\n0\r\n', '5;ext=1\r\nhello\r\n00\r\n\r\n']) {
      const { data } = await decode(Buffer.from(body), {});
      assert.equal(data.toString(), 'hello');
    }
  });

  it('decoderOptionsForRequest: unsigned trailer, unknown trailer', () => {
    const auth = { payloadHash: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', signingKey: Buffer.alloc(32), datetime: 'd', scope: 's', signature: 'x' };
    assert.deepEqual(
      decoderOptionsForRequest(auth, { 'x-amz-trailer': 'x-amz-checksum-crc64nvme', 'x-amz-decoded-content-length': '5' }),
      { trailerChecksum: 'crc64nvme', expectedDecodedLength: 5 },
    );
    assert.throws(() => decoderOptionsForRequest(auth, { 'x-amz-trailer': 'x-amz-checksum-md5' }), ServiceError);
  });
});

describe('checksums', () => {
  const check = Buffer.from('123456789');
  // CRC catalogue check values, and the digests of "123456789".
  const expectedHex: Record<ChecksumAlgorithm, string> = {
    crc32: 'cbf43926',
    crc32c: 'e3069283',
    crc64nvme: 'ae8b14860a799888',
    sha1: 'f7c3bc1d808e04732adf679965ccc34ca7ae3441',
    sha256: '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225',
  };

  for (const algorithm of CHECKSUM_ALGORITHMS) {
    it(`${algorithm}: check value, and incremental equals one-shot`, () => {
      const oneShot = createChecksum(algorithm);
      oneShot.update(check);
      assert.equal(Buffer.from(oneShot.digestBase64(), 'base64').toString('hex'), expectedHex[algorithm]);
      assert.equal(oneShot.digestBase64(), oneShot.digestBase64());

      const data = randomBytes(100_001);
      const whole = createChecksum(algorithm);
      whole.update(data);
      const pieces = createChecksum(algorithm);
      for (const piece of splitRandomly(data, 777)) pieces.update(piece);
      assert.equal(pieces.digestBase64(), whole.digestBase64());
    });
  }

  it('empty input', () => {
    const empty: Record<ChecksumAlgorithm, string> = {
      crc32: 'AAAAAA==',
      crc32c: 'AAAAAA==',
      crc64nvme: 'AAAAAAAAAAA=',
      sha1: '2jmj7l5rSw0yVb/vlWAYkK/YBwk=',
      sha256: Buffer.from(EMPTY_SHA256, 'hex').toString('base64'),
    };
    for (const algorithm of CHECKSUM_ALGORITHMS) assert.equal(createChecksum(algorithm).digestBase64(), empty[algorithm]);
  });

  it('crc32c agrees with @aws-crypto/crc32c on unaligned random data', () => {
    for (const size of [1, 7, 8, 9, 1000, 65_537]) {
      const data = randomBytes(size + 3).subarray(3);
      const ours = createChecksum('crc32c');
      ours.update(data);
      const reference = Buffer.alloc(4);
      reference.writeUInt32BE(new Crc32c().update(data).digest());
      assert.equal(ours.digestBase64(), reference.toString('base64'));
    }
  });

  it('parseChecksumAlgorithm accepts SDK names and header names', () => {
    assert.equal(parseChecksumAlgorithm('CRC32'), 'crc32');
    assert.equal(parseChecksumAlgorithm('x-amz-checksum-crc64nvme'), 'crc64nvme');
    assert.equal(parseChecksumAlgorithm(' X-Amz-Checksum-SHA256 '), 'sha256');
    assert.equal(parseChecksumAlgorithm('md5'), undefined);
  });

  it('sha256 of a body equals createChecksum("sha256")', () => {
    const data = randomBytes(1000);
    const ours = createChecksum('sha256');
    ours.update(data);
    assert.equal(Buffer.from(ours.digestBase64(), 'base64').toString('hex'), sha256(data));
  });
});
