import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
  type ChecksumAlgorithm as SdkAlgorithm,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { s3Client, useS3Server } from '../helpers/s3.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';
import { assertS3Error, expectError } from '../helpers/assertions.js';
import { signedRequest } from '../helpers/raw.js';
import { ALGORITHMS, checksumOf, compositeOf, type Algorithm } from '../helpers/checksums.js';

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

/** The SDK's error for a failed call: its code (error name), status and, when given, S3's message exactly. */
async function rejectsWith(promise: Promise<unknown>, code: string, message?: string | RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    assert.equal(e.name, code, String(e.message));
    assert.equal(e.$metadata?.httpStatusCode, 400);
    if (typeof message === 'string') assert.equal(e.message, message);
    else if (message) assert.match(e.message ?? '', message);
    return true;
  });
}

describe('flexible checksums: multipart uploads', () => {
  let server: TestServer;
  let s3: S3Client;
  /** The same client but sending a checksum only when told to (requestChecksumCalculation WHEN_REQUIRED). */
  let bare: S3Client;
  let sent: () => Record<string, string>;
  let sentBare: () => Record<string, string>;
  const MiB = 1024 * 1024;

  before(async () => {
    // Parts of any size, so each case stays small; lib-storage still cuts 5 MiB parts.
    server = await startServer({ config: { minPartSize: 1 } });
    s3 = s3Client(server);
    bare = s3Client(server, undefined, { requestChecksumCalculation: 'WHEN_REQUIRED' });
    sent = recordRequests(s3);
    sentBare = recordRequests(bare);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3?.destroy();
    bare?.destroy();
    await server?.cleanup();
  });

  const head = (key: string, extra: Partial<{ PartNumber: number }> = {}) =>
    s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key, ChecksumMode: 'ENABLED', ...extra }));

  it('lib-storage Upload at its defaults: a CRC32 COMPOSITE upload whose parts, object and part reads carry their checksums', async () => {
    const data = randomBytes(5 * MiB + 4321);
    const parts = [data.subarray(0, 5 * MiB), data.subarray(5 * MiB)];
    const done = await new Upload({ client: s3, params: { Bucket: BUCKET, Key: 'lib-default', Body: data }, partSize: 5 * MiB }).done();
    const composite = compositeOf('crc32', parts);
    assert.equal(done.ChecksumCRC32, composite);
    assert.equal(done.ChecksumType, 'COMPOSITE');

    // A composite checksum is not the body's: the SDK does not check it, the test compares it.
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'lib-default' }));
    assert.equal(got.ChecksumCRC32, composite);
    assert.equal(got.ChecksumType, 'COMPOSITE');
    assert.deepEqual(await bodyOf(got), data);
    // A part read carries that part's checksum, which the SDK checks against the part's bytes.
    const part = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'lib-default', PartNumber: 2, ChecksumMode: 'ENABLED' }));
    assert.equal(part.ChecksumCRC32, checksumOf('crc32', parts[1]!));
    assert.equal(part.ChecksumType, 'COMPOSITE');
    assert.deepEqual(await bodyOf(part), parts[1]);
  });

  it('lib-storage Upload with CRC64NVME and with CRC32C FULL_OBJECT: the object gets the CRC of its whole content, checked by the SDK on GET', async () => {
    for (const [algorithm, type] of [['crc64nvme', undefined], ['crc32c', 'FULL_OBJECT']] as const) {
      const data = randomBytes(5 * MiB + 999);
      const key = `lib-${algorithm}`;
      const upload = new Upload({
        client: s3,
        params: { Bucket: BUCKET, Key: key, Body: data, ChecksumAlgorithm: upper(algorithm), ChecksumType: type },
        partSize: 5 * MiB,
      });
      const done = await upload.done();
      assert.equal(done[member(algorithm)], checksumOf(algorithm, data), algorithm);
      assert.equal(done.ChecksumType, 'FULL_OBJECT');
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      assert.equal(got[member(algorithm)], checksumOf(algorithm, data));
      assert.deepEqual(await bodyOf(got), data);
    }
  });

  const cases: Array<[Algorithm, 'COMPOSITE' | 'FULL_OBJECT' | undefined]> = [
    ['crc32', undefined],
    ['crc32', 'FULL_OBJECT'],
    ['crc32c', 'COMPOSITE'],
    ['crc32c', 'FULL_OBJECT'],
    ['crc64nvme', undefined],
    ['sha1', undefined],
    ['sha256', 'COMPOSITE'],
  ];
  for (const [algorithm, type] of cases) {
    const resolved = type ?? (algorithm === 'crc64nvme' ? 'FULL_OBJECT' : 'COMPOSITE');
    it(`${algorithm} ${type ?? '(default type)'}: Create echoes it, parts (header and trailer) and ListParts carry theirs, Complete and reads the object's`, async () => {
      const key = `mp-${algorithm}-${resolved}`;
      const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, ChecksumAlgorithm: upper(algorithm), ChecksumType: type }));
      assert.equal(created.ChecksumAlgorithm, upper(algorithm));
      assert.equal(created.ChecksumType, resolved);
      const parts = [randomBytes(3000), randomBytes(3000), randomBytes(555)];
      const listed = [];
      for (const [i, part] of parts.entries()) {
        // The middle part goes as a stream: an aws-chunked body with the checksum as a trailer.
        const body = i === 1 ? Readable.from([part]) : part;
        const out = await s3.send(
          new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: created.UploadId, PartNumber: i + 1, Body: body, ContentLength: part.length, ChecksumAlgorithm: upper(algorithm) }),
        );
        if (i === 1) assert.equal(sent()['x-amz-trailer'], `x-amz-checksum-${algorithm}`);
        assert.equal(out[member(algorithm)], checksumOf(algorithm, part), `part ${i + 1}`);
        listed.push({ PartNumber: i + 1, ETag: out.ETag, [member(algorithm)]: out[member(algorithm)] });
      }
      const listing = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: created.UploadId }));
      assert.equal(listing.ChecksumAlgorithm, upper(algorithm));
      assert.equal(listing.ChecksumType, resolved);
      // ListMultipartUploads names the upload's algorithm too (read with the listing's own columns).
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: key }));
      assert.deepEqual(uploads.Uploads?.map((upload) => [upload.UploadId, upload.ChecksumAlgorithm]), [[created.UploadId, upper(algorithm)]]);
      assert.deepEqual(listing.Parts?.map((part) => part[member(algorithm)]), parts.map((part) => checksumOf(algorithm, part)));

      const expected = resolved === 'COMPOSITE' ? compositeOf(algorithm, parts) : checksumOf(algorithm, Buffer.concat(parts));
      const complete = await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: key,
          UploadId: created.UploadId,
          MultipartUpload: { Parts: listed },
          ChecksumType: resolved,
          [member(algorithm)]: expected,
        }),
      );
      assert.equal(complete[member(algorithm)], expected);
      assert.equal(complete.ChecksumType, resolved);
      const object = await head(key);
      assert.equal(object[member(algorithm)], expected);
      assert.equal(object.ChecksumType, resolved);
      // A part read: the part's checksum for a composite object; none for a part of a FULL_OBJECT one.
      const part = await head(key, { PartNumber: 2 });
      assert.equal(part[member(algorithm)], resolved === 'COMPOSITE' ? checksumOf(algorithm, parts[1]!) : undefined);
      // At its defaults the SDK checks a FULL_OBJECT checksum against the body it reads.
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      assert.deepEqual(await bodyOf(got), Buffer.concat(parts));
    });
  }

  it('CreateMultipartUpload refuses types an algorithm cannot have, a type alone, and unknown names', async () => {
    const create = (input: { ChecksumAlgorithm?: string; ChecksumType?: string }) =>
      s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'refused', ...(input as object) }));
    await rejectsWith(create({ ChecksumAlgorithm: 'SHA1', ChecksumType: 'FULL_OBJECT' }), 'InvalidRequest', 'The FULL_OBJECT checksum type cannot be used with the sha1 checksum algorithm.');
    await rejectsWith(create({ ChecksumAlgorithm: 'SHA256', ChecksumType: 'FULL_OBJECT' }), 'InvalidRequest', 'The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm.');
    await rejectsWith(create({ ChecksumAlgorithm: 'CRC64NVME', ChecksumType: 'COMPOSITE' }), 'InvalidRequest', 'The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm.');
    await rejectsWith(create({ ChecksumType: 'COMPOSITE' }), 'InvalidRequest', 'The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.');
    await rejectsWith(create({ ChecksumAlgorithm: 'CRC32', ChecksumType: 'TEST' }), 'InvalidRequest', 'Value for x-amz-checksum-type header is invalid.');
    await rejectsWith(create({ ChecksumAlgorithm: 'nope' }), 'InvalidRequest', /^Checksum algorithm provided is unsupported/);
    const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: 'refused' }));
    assert.equal(uploads.Uploads?.length ?? 0, 0);
  });

  it('UploadPart without the announced checksum, or with another, is refused; FULL_OBJECT parts may leave it to the server', async () => {
    const composite = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'strict', ChecksumAlgorithm: 'SHA256' }));
    const part = randomBytes(100);
    const upload = (client: S3Client, extra: object) =>
      client.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'strict', UploadId: composite.UploadId, PartNumber: 1, Body: part, ...extra }));
    await rejectsWith(upload(bare, {}), 'InvalidRequest', 'Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum Type: null');
    await rejectsWith(upload(s3, { ChecksumAlgorithm: 'CRC32' }), 'InvalidRequest', 'Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum Type: crc32');
    await rejectsWith(upload(s3, { ChecksumSHA256: checksumOf('sha256', randomBytes(100)) }), 'BadDigest', 'The SHA256 you specified did not match the calculated checksum.');
    const listing = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'strict', UploadId: composite.UploadId }));
    assert.equal(listing.Parts?.length ?? 0, 0, 'no refused part was stored');

    const full = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'lenient', ChecksumAlgorithm: 'CRC32C', ChecksumType: 'FULL_OBJECT' }));
    const out = await bare.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'lenient', UploadId: full.UploadId, PartNumber: 1, Body: part }));
    assert.deepEqual(Object.keys(sentBare()).filter((name) => name.startsWith('x-amz-checksum') || name === 'x-amz-trailer'), []);
    assert.equal(out.ChecksumCRC32C, checksumOf('crc32c', part), 'the server computed the part checksum');
  });

  it('Complete with a wrong, missing or malformed part checksum, a wrong object checksum or type fails and stores nothing; a retry answers the same checksum', async () => {
    const key = 'complete-checks';
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, ChecksumAlgorithm: 'CRC32C' }));
    const parts = [randomBytes(2000), randomBytes(700)];
    const listed = [];
    for (const [i, part] of parts.entries()) {
      const out = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: created.UploadId, PartNumber: i + 1, Body: part, ChecksumAlgorithm: 'CRC32C' }));
      listed.push({ PartNumber: i + 1, ETag: out.ETag!, ChecksumCRC32C: out.ChecksumCRC32C });
    }
    const complete = (list: object[], extra: object = {}) =>
      s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: created.UploadId, MultipartUpload: { Parts: list }, ...extra }));
    const wrongPart = listed.map((part, i) => (i === 1 ? { ...part, ChecksumCRC32C: checksumOf('crc32c', parts[0]!) } : part));
    await rejectsWith(complete(wrongPart), 'InvalidPart');
    const missing = listed.map(({ ChecksumCRC32C: _omit, ...part }) => part);
    await rejectsWith(complete(missing), 'InvalidRequest', 'The upload was created using a crc32c checksum. The complete request must include the checksum for each part. It was missing for part 1 in the request.');
    const malformed = listed.map((part, i) => (i === 0 ? { ...part, ChecksumCRC32C: 'not base64!' } : part));
    await rejectsWith(complete(malformed), 'InvalidArgument', 'Invalid Base64 or multiple checksums present in request');
    const composite = compositeOf('crc32c', parts);
    await rejectsWith(complete(listed, { ChecksumCRC32C: compositeOf('crc32c', [parts[1]!, parts[0]!]) }), 'BadDigest', 'The crc32c you specified did not match the calculated checksum.');
    await rejectsWith(complete(listed, { ChecksumCRC32C: composite.replace(/-2$/, '-3') }), 'BadDigest');
    await rejectsWith(complete(listed, { ChecksumType: 'FULL_OBJECT' }), 'InvalidRequest', 'The upload was created using the COMPOSITE checksum mode. The complete request must use the same checksum mode.');
    await expectError(head(key), 404);

    const done = await complete(listed, { ChecksumCRC32C: composite.replace(/-2$/, ''), ChecksumType: 'COMPOSITE' });
    assert.equal(done.ChecksumCRC32C, composite);
    const again = await complete(listed);
    assert.equal(again.ChecksumCRC32C, composite);
    assert.equal(again.ChecksumType, 'COMPOSITE');
    assert.equal((await head(key)).ChecksumCRC32C, composite);
  });

  it('an upload that announced no algorithm: parts may carry a checksum, the list may not name one, the object has none', async () => {
    const key = 'unannounced';
    const created = await bare.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const part = randomBytes(1000);
    const out = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: created.UploadId, PartNumber: 1, Body: part }));
    assert.equal(out.ChecksumCRC32, checksumOf('crc32', part), 'the SDK default CRC32 is checked and answered');
    const complete = (list: object[]) => s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId: created.UploadId, MultipartUpload: { Parts: list } }));
    await rejectsWith(complete([{ PartNumber: 1, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32 }]), 'InvalidPart');
    const done = await complete([{ PartNumber: 1, ETag: out.ETag }]);
    assert.equal(done.ChecksumCRC32, undefined);
    assert.equal(done.ChecksumType, undefined);
    assert.equal((await head(key)).ChecksumCRC32, undefined);
  });

  it('CopyObject keeps a full-object checksum, computes a composite source\'s again over the bytes, and computes the one asked for', async () => {
    const data = randomBytes(50_000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'copy-source', Body: data, ChecksumAlgorithm: 'CRC32C' }));
    const copy = (key: string, extra: object = {}) =>
      s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: key, CopySource: `${BUCKET}/copy-source`, ...extra }));
    const kept = await copy('copy-kept');
    assert.equal(kept.CopyObjectResult?.ChecksumCRC32C, checksumOf('crc32c', data));
    assert.equal(kept.CopyObjectResult?.ChecksumType, 'FULL_OBJECT');
    assert.equal((await head('copy-kept')).ChecksumCRC32C, checksumOf('crc32c', data));

    const sha = await copy('copy-sha256', { ChecksumAlgorithm: 'SHA256' });
    assert.equal(sha.CopyObjectResult?.ChecksumSHA256, checksumOf('sha256', data));
    assert.equal(sha.CopyObjectResult?.ChecksumCRC32C, undefined);
    // The SDK checks the body it reads against the SHA-256 it is given.
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'copy-sha256' }));
    assert.equal(got.ChecksumSHA256, checksumOf('sha256', data));
    assert.deepEqual(await bodyOf(got), data);
    await rejectsWith(copy('copy-refused', { ChecksumAlgorithm: 'MD4' }), 'InvalidRequest', /^Checksum algorithm provided is unsupported/);

    // A COMPOSITE source: the copy is one piece, so it gets the full-object SHA-1 of its bytes.
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'composite-source', ChecksumAlgorithm: 'SHA1' }));
    const parts = [randomBytes(4000), randomBytes(1000)];
    const listed = [];
    for (const [i, part] of parts.entries()) {
      const out = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'composite-source', UploadId: created.UploadId, PartNumber: i + 1, Body: part, ChecksumAlgorithm: 'SHA1' }));
      listed.push({ PartNumber: i + 1, ETag: out.ETag, ChecksumSHA1: out.ChecksumSHA1 });
    }
    await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'composite-source', UploadId: created.UploadId, MultipartUpload: { Parts: listed } }));
    const fromComposite = await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'composite-copy', CopySource: `${BUCKET}/composite-source` }));
    assert.equal(fromComposite.CopyObjectResult?.ChecksumSHA1, checksumOf('sha1', Buffer.concat(parts)));
    assert.equal(fromComposite.CopyObjectResult?.ChecksumType, 'FULL_OBJECT');
    assert.equal((await head('composite-copy')).ChecksumSHA1, checksumOf('sha1', Buffer.concat(parts)));
    assert.equal((await head('composite-source')).ChecksumSHA1, compositeOf('sha1', parts), 'the source keeps its own');
  });

  it('UploadPartCopy gives the part the checksum its upload announced, computed over the copied range', async () => {
    const data = randomBytes(30_000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'range-source', Body: data }));
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'part-copies', ChecksumAlgorithm: 'CRC32' }));
    const ranges: Array<[number, number]> = [[0, 9999], [10_000, 29_999]];
    const listed = [];
    for (const [i, [start, end]] of ranges.entries()) {
      const out = await s3.send(
        new UploadPartCopyCommand({
          Bucket: BUCKET,
          Key: 'part-copies',
          UploadId: created.UploadId,
          PartNumber: i + 1,
          CopySource: `${BUCKET}/range-source`,
          CopySourceRange: `bytes=${start}-${end}`,
        }),
      );
      assert.equal(out.CopyPartResult?.ChecksumCRC32, checksumOf('crc32', data.subarray(start, end + 1)));
      listed.push({ PartNumber: i + 1, ETag: out.CopyPartResult?.ETag, ChecksumCRC32: out.CopyPartResult?.ChecksumCRC32 });
    }
    const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'part-copies', UploadId: created.UploadId, MultipartUpload: { Parts: listed } }));
    assert.equal(done.ChecksumCRC32, compositeOf('crc32', [data.subarray(0, 10_000), data.subarray(10_000)]));

    const plain = await bare.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'plain-copies' }));
    const out = await s3.send(
      new UploadPartCopyCommand({ Bucket: BUCKET, Key: 'plain-copies', UploadId: plain.UploadId, PartNumber: 1, CopySource: `${BUCKET}/range-source` }),
    );
    assert.equal(out.CopyPartResult?.ChecksumCRC32, undefined, 'an upload that announced none gets none');
  });
});

/**
 * boto3 at its defaults (CRC32 when supported; over http botocore sends checksums as headers, so
 * a handler moves them to an aws-chunked trailer where the test wants one, as botocore does over
 * https). Its CRC32C/CRC64NVME need awscrt, not installed here: CRC32, SHA1 and SHA256 are used.
 * One script run does every step and prints what boto3 got; the test checks it against values it
 * computed itself.
 */
const BOTO3_CHECKSUMS = `
import json, sys
import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint, access_key, secret_key, bucket, data_path, full_crc32 = sys.argv[1:7]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id=access_key,
                  aws_secret_access_key=secret_key, config=Config(s3={"addressing_style": "path"}))
sent = {}
def record(request, **kwargs):
    sent[kwargs["event_name"].split(".")[-1]] = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
s3.meta.events.register("before-send.s3.*", record)
def trailer(params, **kwargs):
    algorithm = params.get("context", {}).get("checksum", {}).get("request_algorithm")
    if algorithm:
        algorithm["in"] = "trailer"
def checksums(response):
    return {k: v for k, v in response.items() if k.startswith("Checksum")}

data = open(data_path, "rb").read()
out = {}
s3.create_bucket(Bucket=bucket)
out["put_default"] = checksums(s3.put_object(Bucket=bucket, Key="default", Body=data[:1000]))
out["put_default_sent"] = sent["PutObject"].get("x-amz-checksum-crc32")
s3.meta.events.register("before-call.s3.PutObject", trailer)
out["put_trailer"] = checksums(s3.put_object(Bucket=bucket, Key="trailer", Body=data[:5000], ChecksumAlgorithm="SHA256"))
out["put_trailer_sent"] = sent["PutObject"].get("x-amz-trailer")
s3.meta.events.unregister("before-call.s3.PutObject", trailer)
got = s3.get_object(Bucket=bucket, Key="trailer")
out["get_trailer"] = checksums(got)
out["get_trailer_ok"] = got["Body"].read() == data[:5000]
out["head_default"] = checksums(s3.head_object(Bucket=bucket, Key="default", ChecksumMode="ENABLED"))

# Multipart, COMPOSITE: upload_file (8 MiB parts) announces CRC32 by default; SHA1 when asked; parts sent as trailers.
s3.meta.events.register("before-call.s3.UploadPart", trailer)
s3.upload_file(data_path, bucket, "mp-crc32")
out["mp_crc32_sent"] = sent["UploadPart"].get("x-amz-trailer")
s3.upload_file(data_path, bucket, "mp-sha1", ExtraArgs={"ChecksumAlgorithm": "SHA1"})
out["mp_crc32"] = checksums(s3.head_object(Bucket=bucket, Key="mp-crc32", ChecksumMode="ENABLED"))
out["mp_sha1"] = checksums(s3.head_object(Bucket=bucket, Key="mp-sha1", ChecksumMode="ENABLED"))
out["mp_sha1_part2"] = checksums(s3.head_object(Bucket=bucket, Key="mp-sha1", PartNumber=2, ChecksumMode="ENABLED"))
# Multipart, FULL_OBJECT: a whole-file CRC32 given to upload_file makes s3transfer announce FULL_OBJECT and send it on Complete.
s3.upload_file(data_path, bucket, "mp-full", ExtraArgs={"ChecksumCRC32": full_crc32})
out["mp_full_create"] = {k: v for k, v in sent["CreateMultipartUpload"].items() if k.startswith("x-amz-checksum")}
out["mp_full"] = checksums(s3.head_object(Bucket=bucket, Key="mp-full", ChecksumMode="ENABLED"))
got = s3.get_object(Bucket=bucket, Key="mp-full")
out["mp_full_ok"] = got["Body"].read() == data
try:
    s3.upload_file(data_path, bucket, "mp-wrong", ExtraArgs={"ChecksumCRC32": "AAAAAA=="})
    out["mp_wrong"] = "stored"
except Exception as e:
    out["mp_wrong"] = getattr(e, "response", {}).get("Error", {}).get("Code", repr(e))
try:
    s3.head_object(Bucket=bucket, Key="mp-wrong")
    out["mp_wrong_head"] = 200
except ClientError as e:
    out["mp_wrong_head"] = e.response["ResponseMetadata"]["HTTPStatusCode"]
print(json.dumps(out))
`;

describe('flexible checksums: boto3', () => {
  let url: string;
  let scratch: string;
  useS3Server({ scratch: 'tessera-boto3-sums-' }, (env) => {
    url = env.server.url;
    scratch = env.scratch;
  });

  it('single PUTs (header and trailer), multipart COMPOSITE and FULL_OBJECT, each verified by boto3 and by the test', { timeout: 180_000 }, async (t) => {
    const probe = spawnSync('python3', ['-c', 'import boto3'], { encoding: 'utf8' });
    if (probe.status !== 0) return t.skip('python3 with boto3 not installed');
    const MiB = 1024 * 1024;
    const data = randomBytes(12 * MiB + 777);
    const dataPath = join(scratch, 'data.bin');
    await writeFile(dataPath, data);
    const parts = [data.subarray(0, 8 * MiB), data.subarray(8 * MiB)];
    const run = spawnSync(
      'python3',
      ['-c', BOTO3_CHECKSUMS, url, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, 'boto3-sums', dataPath, checksumOf('crc32', data)],
      { encoding: 'utf8', env: { ...process.env, AWS_CONFIG_FILE: join(scratch, 'none'), AWS_SHARED_CREDENTIALS_FILE: join(scratch, 'none') }, timeout: 170_000 },
    );
    assert.equal(run.status, 0, run.stderr);
    const out = JSON.parse(run.stdout) as Record<string, Record<string, string> | string | boolean | number>;

    assert.equal(out.put_default_sent, checksumOf('crc32', data.subarray(0, 1000)), 'boto3 sends CRC32 by default');
    assert.deepEqual(out.put_default, { ChecksumCRC32: checksumOf('crc32', data.subarray(0, 1000)), ChecksumType: 'FULL_OBJECT' });
    assert.deepEqual(out.head_default, { ChecksumCRC32: checksumOf('crc32', data.subarray(0, 1000)), ChecksumType: 'FULL_OBJECT' });
    assert.equal(out.put_trailer_sent, 'x-amz-checksum-sha256');
    assert.deepEqual(out.put_trailer, { ChecksumSHA256: checksumOf('sha256', data.subarray(0, 5000)), ChecksumType: 'FULL_OBJECT' });
    assert.deepEqual(out.get_trailer, { ChecksumSHA256: checksumOf('sha256', data.subarray(0, 5000)), ChecksumType: 'FULL_OBJECT' });
    assert.equal(out.get_trailer_ok, true);

    assert.equal(out.mp_crc32_sent, 'x-amz-checksum-crc32');
    assert.deepEqual(out.mp_crc32, { ChecksumCRC32: compositeOf('crc32', parts), ChecksumType: 'COMPOSITE' });
    assert.deepEqual(out.mp_sha1, { ChecksumSHA1: compositeOf('sha1', parts), ChecksumType: 'COMPOSITE' });
    assert.deepEqual(out.mp_sha1_part2, { ChecksumSHA1: checksumOf('sha1', parts[1]!), ChecksumType: 'COMPOSITE' });
    assert.deepEqual(out.mp_full_create, { 'x-amz-checksum-algorithm': 'CRC32', 'x-amz-checksum-type': 'FULL_OBJECT' });
    assert.deepEqual(out.mp_full, { ChecksumCRC32: checksumOf('crc32', data), ChecksumType: 'FULL_OBJECT' });
    assert.equal(out.mp_full_ok, true);
    // s3transfer wraps the Complete's error (after botocore's retries) in its own.
    assert.match(String(out.mp_wrong), /\(BadDigest\).*The crc32 you specified did not match the calculated checksum\./);
    assert.equal(out.mp_wrong_head, 404);
  });
});
