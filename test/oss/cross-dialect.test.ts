import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { crc64 } from '../../src/core/crc64.js';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { md5Hex, multipartEtag, ossClient, type AliOss } from './helpers.js';

const MiB = 1024 * 1024;
const BUCKET = 'cross';

let server: TestServer;
let s3: S3Client;
let oss: AliOss;

before(async () => {
  server = await startServer();
  s3 = s3Client(server);
  oss = ossClient(server, 'v1', BUCKET);
});

after(async () => {
  s3?.destroy();
  await server?.cleanup();
});

const header = (res: unknown, name: string): string | undefined =>
  (res as { headers: Record<string, string | undefined> }).headers[name];

async function s3Bytes(key: string): Promise<Buffer> {
  const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
  return Buffer.from(await got.Body!.transformToByteArray());
}

describe('one store, two dialects', () => {
  it('a bucket made through S3 is listed through OSS', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    const listed = await oss.listBuckets({});
    assert.ok(listed.buckets.some((b: { name: string }) => b.name === BUCKET));
  });

  it('S3 in, OSS out: bytes, metadata, upper-case ETag, no CRC header (S3 computed none)', async () => {
    const data = randomBytes(300 * 1024);
    const put = await s3.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: 's3 in/object+1.bin', Body: data, ContentType: 'application/x-test', Metadata: { origin: 's3' } }),
    );
    const got = await oss.get('s3 in/object+1.bin');
    assert.ok((got.content as Buffer).equals(data));
    assert.equal(header(got.res, 'etag'), put.ETag!.toUpperCase());
    assert.equal(header(got.res, 'content-type'), 'application/x-test');
    assert.equal(header(got.res, 'x-oss-meta-origin'), 's3');
    assert.equal(header(got.res, 'x-oss-object-type'), 'Normal');
    assert.equal(header(got.res, 'x-oss-hash-crc64ecma'), undefined);
    const listed = await oss.list({ prefix: 's3 in/' }, {});
    assert.deepEqual(
      listed.objects.map((o: { name: string; etag: string; size: number }) => [o.name, o.etag, o.size]),
      [['s3 in/object+1.bin', put.ETag!.toUpperCase(), data.length]],
    );
  });

  it('S3 multipart in, OSS out: a Multipart object, whole and ranged', async () => {
    const parts = [randomBytes(5 * MiB), randomBytes(1 * MiB + 17)];
    const key = 's3 in/multipart.bin';
    const created = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    const etags: string[] = [];
    for (const [index, body] of parts.entries()) {
      const res = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: created.UploadId, PartNumber: index + 1, Body: body }));
      etags.push(res.ETag!);
    }
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: created.UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
      }),
    );
    const whole = Buffer.concat(parts);
    const head = await oss.head(key);
    assert.equal(header(head.res, 'x-oss-object-type'), 'Multipart');
    assert.equal(header(head.res, 'etag'), multipartEtag(parts));
    assert.equal(header(head.res, 'x-oss-hash-crc64ecma'), undefined);
    // A listing shows the type too (it reads the part count, not the whole row).
    const listed = await oss.list({ prefix: key }, {});
    assert.deepEqual(
      listed.objects.map((o: { name: string; type: string; size: number }) => [o.name, o.type, o.size]),
      [[key, 'Multipart', whole.length]],
    );
    const got = await oss.get(key);
    assert.equal(md5Hex(got.content as Buffer), md5Hex(whole));
    const ranged = await oss.get(key, { headers: { Range: `bytes=${5 * MiB - 10}-${5 * MiB + 9}` } });
    assert.equal(ranged.res.status, 206);
    assert.ok((ranged.content as Buffer).equals(whole.subarray(5 * MiB - 10, 5 * MiB + 10)));
  });

  it('OSS in, S3 out: bytes, x-oss-meta-* as S3 metadata, the same ETag in lower case', async () => {
    const data = randomBytes(64 * 1024);
    const put = await oss.put('oss in/plain.bin', data, { meta: { origin: 'oss' }, mime: 'application/x-oss-test' });
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'oss in/plain.bin' }));
    assert.equal(head.ETag, header(put.res, 'etag')!.toLowerCase());
    assert.equal(head.ETag, `"${md5Hex(data)}"`);
    assert.deepEqual(head.Metadata, { origin: 'oss' });
    assert.equal(head.ContentType, 'application/x-oss-test');
    assert.ok((await s3Bytes('oss in/plain.bin')).equals(data));
  });

  it('OSS multipart in, S3 out: the object S3 serves is the one OSS assembled, CRC kept for OSS', async () => {
    const data = randomBytes(3 * 256 * 1024 + 1000);
    const key = 'oss in/multipart.bin';
    const result = await oss.multipartUpload(key, data, { partSize: 256 * 1024 });
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.equal(head.ETag, header(result.res, 'etag')!.toLowerCase());
    assert.match(head.ETag!, /-4"$/);
    assert.equal(head.ContentLength, data.length);
    assert.ok((await s3Bytes(key)).equals(data));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'oss in/' }));
    assert.deepEqual(
      listed.Contents?.map((o) => o.Key),
      ['oss in/multipart.bin', 'oss in/plain.bin'],
    );
    const again = await oss.head(key);
    assert.equal(header(again.res, 'x-oss-hash-crc64ecma'), crc64(data).toString());
  });

  it('a copy made through OSS of an S3 object is readable through S3', async () => {
    await oss.copy('oss copy/of-s3.bin', 's3 in/object+1.bin');
    const original = await s3Bytes('s3 in/object+1.bin');
    assert.ok((await s3Bytes('oss copy/of-s3.bin')).equals(original));
  });
});
