import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  type ChecksumAlgorithm as SdkAlgorithm,
} from '@aws-sdk/client-s3';
import { useS3Server } from '../helpers/s3.js';
import { assertS3Error } from '../helpers/assertions.js';
import { signedRequest } from '../helpers/raw.js';
import { ALGORITHMS, checksumOf, type Algorithm } from '../helpers/checksums.js';

const BUCKET = 'sums';
const upper = (algorithm: Algorithm) => algorithm.toUpperCase() as SdkAlgorithm;
const member = (algorithm: Algorithm) => `Checksum${algorithm.toUpperCase()}` as 'ChecksumCRC32';

/** The headers of the last request `client` sent, as they went on the wire (after the SDK added its checksum). */
function recordRequests(client: S3Client): () => Record<string, string> {
  let last: Record<string, string> = {};
  client.middlewareStack.add(
    (next) => async (args) => {
      last = { ...(args.request as { headers: Record<string, string> }).headers };
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordRequestHeaders' },
  );
  return () => last;
}

async function bodyOf(output: { Body?: unknown }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of output.Body as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('flexible checksums: single PUT, GET and HEAD', () => {
  let s3: S3Client;
  let url: string;
  let sent: () => Record<string, string>;
  useS3Server({ bucket: BUCKET }, (env) => {
    s3 = env.s3;
    url = env.server.url;
    sent = recordRequests(s3);
  });

  it('the SDK at its defaults: CRC32 stored, echoed by PUT, returned and validated on GET', async () => {
    const body = randomBytes(70_000);
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'default', Body: body }));
    assert.equal(sent()['x-amz-sdk-checksum-algorithm'], 'CRC32', 'the SDK sends CRC32 by default');
    assert.equal(put.ChecksumCRC32, checksumOf('crc32', body));
    assert.equal(put.ChecksumType, 'FULL_OBJECT');

    // The SDK asks for the checksum (x-amz-checksum-mode: ENABLED) and checks the body against it.
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'default' }));
    assert.equal(sent()['x-amz-checksum-mode'], 'ENABLED');
    assert.equal(got.ChecksumCRC32, checksumOf('crc32', body));
    assert.equal(got.ChecksumType, 'FULL_OBJECT');
    assert.deepEqual(await bodyOf(got), body);
  });

  for (const algorithm of ALGORITHMS) {
    it(`${algorithm}: as a header and as an aws-chunked trailer, stored and returned with the object`, async () => {
      const body = randomBytes(100_000);
      const expected = checksumOf(algorithm, body);

      const headerPut = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${algorithm}-header`, Body: body, ChecksumAlgorithm: upper(algorithm) }));
      assert.equal(sent()[`x-amz-checksum-${algorithm}`], expected, 'sent as a header');
      assert.equal(headerPut[member(algorithm)], expected);
      assert.equal(headerPut.ChecksumType, 'FULL_OBJECT');

      const trailerPut = await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: `${algorithm}-trailer`,
          Body: Readable.from([body.subarray(0, 30_000), body.subarray(30_000)]),
          ContentLength: body.length,
          ChecksumAlgorithm: upper(algorithm),
        }),
      );
      assert.equal(sent()['x-amz-trailer'], `x-amz-checksum-${algorithm}`, 'sent as a trailer');
      assert.equal(trailerPut[member(algorithm)], expected);

      for (const key of [`${algorithm}-header`, `${algorithm}-trailer`]) {
        const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key, ChecksumMode: 'ENABLED' }));
        assert.equal(head[member(algorithm)], expected, `HEAD ${key}`);
        assert.equal(head.ChecksumType, 'FULL_OBJECT');
        const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, ChecksumMode: 'ENABLED' }));
        assert.equal(got[member(algorithm)], expected, `GET ${key}`);
        assert.deepEqual(await bodyOf(got), body);
      }
    });
  }

  it('without x-amz-checksum-mode, on a partial range, on 304 and for an object stored without one no checksum is returned; on a whole range and partNumber=1 it is', async () => {
    const body = randomBytes(1000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'modes', Body: body, ChecksumAlgorithm: 'SHA256' }));
    const path = `/${BUCKET}/modes`;
    const plain = await signedRequest(url, 'HEAD', path);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['x-amz-checksum-sha256'], undefined);
    assert.equal(plain.headers['x-amz-checksum-type'], undefined);

    const enabled = { 'x-amz-checksum-mode': 'ENABLED' };
    const partial = await signedRequest(url, 'GET', path, { headers: { ...enabled, range: 'bytes=1-999' } });
    assert.equal(partial.status, 206);
    assert.equal(partial.headers['x-amz-checksum-sha256'], undefined);
    const whole = await signedRequest(url, 'GET', path, { headers: { ...enabled, range: 'bytes=0-999' } });
    assert.equal(whole.status, 206);
    assert.equal(whole.headers['x-amz-checksum-sha256'], checksumOf('sha256', body));
    assert.equal(whole.headers['x-amz-checksum-type'], 'FULL_OBJECT');
    const part = await signedRequest(url, 'HEAD', `${path}?partNumber=1`, { headers: enabled });
    assert.equal(part.headers['x-amz-checksum-sha256'], checksumOf('sha256', body));

    const etag = String(plain.headers.etag);
    const notModified = await signedRequest(url, 'GET', path, { headers: { ...enabled, 'if-none-match': etag } });
    assert.equal(notModified.status, 304);
    assert.equal(notModified.headers['x-amz-checksum-sha256'], undefined);
    assert.equal(notModified.headers['x-amz-checksum-type'], undefined);

    // An object stored without a checksum has none to return, even when asked.
    const unsummed = `/${BUCKET}/unsummed`;
    const put = await signedRequest(url, 'PUT', unsummed, { body: 'no checksum here' });
    assert.equal(put.status, 200);
    assert.equal(put.headers['x-amz-checksum-type'], undefined);
    const head = await signedRequest(url, 'HEAD', unsummed, { headers: enabled });
    assert.equal(head.status, 200);
    assert.deepEqual(Object.keys(head.headers).filter((name) => name.startsWith('x-amz-checksum')), []);
  });

  it('a wrong, malformed, doubled or unknown checksum is refused as S3 refuses it, and nothing is stored', async () => {
    const body = Buffer.from('123456789');
    const put = (key: string, headers: Record<string, string>) => signedRequest(url, 'PUT', `/${BUCKET}/${key}`, { body, headers });
    const wrong = await put('wrong', { 'x-amz-checksum-crc32': 'z/Q5Jg==' });
    assert.equal(assertS3Error(wrong, 400, 'BadDigest').Message, 'The CRC32 you specified did not match the calculated checksum.');
    const malformed = await put('malformed', { 'x-amz-checksum-crc32': 'shrt' });
    assert.equal(assertS3Error(malformed, 400, 'InvalidRequest').Message, 'Value for x-amz-checksum-crc32 header is invalid.');
    const tooLong = await put('too-long', { 'x-amz-checksum-crc32': 'toolong=' });
    assert.equal(assertS3Error(tooLong, 400, 'InvalidRequest').Message, 'Value for x-amz-checksum-crc32 header is invalid.');
    const doubled = await put('doubled', { 'x-amz-checksum-crc32': 'y/Q5Jg==', 'x-amz-checksum-sha1': '98O8HYCOBHMq32eZZczDTKeuNEE=' });
    assert.equal(assertS3Error(doubled, 400, 'InvalidRequest').Message, 'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.');
    const unknown = await put('unknown', { 'x-amz-checksum-md4': 'y/Q5Jg==' });
    assert.equal(assertS3Error(unknown, 400, 'InvalidRequest').Message, 'The algorithm type you specified in x-amz-checksum- header is invalid.');
    const sdkMismatch = await put('sdk-mismatch', { 'x-amz-sdk-checksum-algorithm': 'SHA1', 'x-amz-checksum-crc32': 'y/Q5Jg==' });
    assert.equal(assertS3Error(sdkMismatch, 400, 'InvalidRequest').Message, 'Value for x-amz-sdk-checksum-algorithm header is invalid.');
    const sdkAlone = await put('sdk-alone', { 'x-amz-sdk-checksum-algorithm': 'CRC32' });
    assertS3Error(sdkAlone, 400, 'InvalidRequest');
    for (const key of ['wrong', 'malformed', 'too-long', 'doubled', 'unknown', 'sdk-mismatch', 'sdk-alone']) {
      assert.equal((await signedRequest(url, 'HEAD', `/${BUCKET}/${key}`)).status, 404, `${key} was not stored`);
    }
    const right = await put('right', { 'x-amz-checksum-crc32': 'y/Q5Jg==', 'x-amz-sdk-checksum-algorithm': 'crc32' });
    assert.equal(right.status, 200, right.body);
    assert.equal(right.headers['x-amz-checksum-crc32'], 'y/Q5Jg==');
  });
});
