import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { admin } from '../helpers/admin.js';
import { s3Client } from '../helpers/s3.js';
import { filesUnder, startServer, type TestServer } from '../helpers/server.js';
import { assertOssError, expectOssError, ossClient, ossRequest, type AliOss } from './helpers.js';

// OSS's server-side encryption with ali-oss: x-oss-server-side-encryption AES256 on writes, the
// bucket's default (?encryption), the same objects as S3 sees them, and what OSS refuses.

const BUCKET = 'oss-sealed';
const KiB = 1024;

describe('OSS server-side encryption', () => {
  let server: TestServer;
  let client: AliOss;
  let s3: S3Client;
  const seen = new Set<string>();

  before(async () => {
    server = await startServer({ config: { allowInsecureSseC: true } });
    client = ossClient(server, 'v4', BUCKET);
    await client.putBucket(BUCKET);
    s3 = s3Client(server);
  });
  after(async () => {
    s3?.destroy();
    await server?.cleanup();
  });

  async function newBlobs(): Promise<string[]> {
    const fresh = (await filesUnder(join(server.dataDir, 'blobs'))).filter((path) => !seen.has(path));
    for (const path of fresh) seen.add(path);
    return fresh;
  }

  it('AES256 on PutObject: stored encrypted, said so on PUT, GET and HEAD, in both dialects', async () => {
    await newBlobs();
    const body = randomBytes(300 * KiB);
    const put = await client.put('a.bin', body, { headers: { 'x-oss-server-side-encryption': 'AES256' } });
    assert.equal(put.res.headers['x-oss-server-side-encryption'], 'AES256');
    assert.equal(put.res.headers.etag, `"${createHash('md5').update(body).digest('hex').toUpperCase()}"`);
    const [blob] = await newBlobs();
    assert.equal((await readFile(blob!)).includes(body.subarray(5000, 5064)), false, 'the plaintext is not on disk');
    const got = await client.get('a.bin');
    assert.ok(Buffer.from(got.content).equals(body));
    assert.equal(got.res.headers['x-oss-server-side-encryption'], 'AES256');
    assert.equal((await client.head('a.bin')).res.headers['x-oss-server-side-encryption'], 'AES256');
    const ranged = await client.get('a.bin', { headers: { Range: 'bytes=70000-70009' } });
    assert.ok(Buffer.from(ranged.content).equals(body.subarray(70000, 70010)));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'a.bin' }))).ServerSideEncryption, 'AES256');
  });

  it("the bucket's default encryption applies to PUTs and multipart uploads; deleted, objects are plain again", async () => {
    await expectOssError(client.getBucketEncryption(BUCKET), 404, 'NoSuchServerSideEncryptionRule');
    await client.putBucketEncryption(BUCKET, { SSEAlgorithm: 'AES256' });
    assert.equal((await client.getBucketEncryption(BUCKET)).encryption.SSEAlgorithm, 'AES256');
    const put = await client.put('default.txt', Buffer.from('sealed by default'));
    assert.equal(put.res.headers['x-oss-server-side-encryption'], 'AES256');
    const big = randomBytes(300 * KiB);
    await client.multipartUpload('multi.bin', big, { partSize: 100 * KiB });
    const head = await client.head('multi.bin');
    assert.equal(head.res.headers['x-oss-server-side-encryption'], 'AES256');
    assert.ok(Buffer.from((await client.get('multi.bin')).content).equals(big));
    await client.deleteBucketEncryption(BUCKET);
    await expectOssError(client.getBucketEncryption(BUCKET), 404, 'NoSuchServerSideEncryptionRule');
    assert.equal((await client.put('plain.txt', Buffer.from('plain'))).res.headers['x-oss-server-side-encryption'], undefined);
    assert.equal((await client.get('default.txt')).content.toString(), 'sealed by default');
  });

  it('KMS with a key of the local key store (or the default key), on objects and as the bucket default', async () => {
    const { keyId } = (await admin(server, 'POST', 'kms-keys', { description: 'oss' })).json as { keyId: string };
    const put = await client.put('kms.bin', Buffer.from('under kms'), {
      headers: { 'x-oss-server-side-encryption': 'KMS', 'x-oss-server-side-encryption-key-id': keyId },
    });
    assert.deepEqual([put.res.headers['x-oss-server-side-encryption'], put.res.headers['x-oss-server-side-encryption-key-id']], ['KMS', keyId]);
    const got = await client.get('kms.bin');
    assert.equal(got.content.toString(), 'under kms');
    assert.equal(got.res.headers['x-oss-server-side-encryption-key-id'], keyId);
    const byDefault = await client.put('kms-default.bin', Buffer.from('default key'), { headers: { 'x-oss-server-side-encryption': 'KMS' } });
    assert.equal(byDefault.res.headers['x-oss-server-side-encryption'], 'KMS');
    await expectOssError(
      client.put('kms-none.bin', Buffer.from('x'), { headers: { 'x-oss-server-side-encryption': 'KMS', 'x-oss-server-side-encryption-key-id': 'no-such-key' } }),
      400,
      'KMS.NotFoundException',
    );
    await client.putBucketEncryption(BUCKET, { SSEAlgorithm: 'KMS', KMSMasterKeyID: keyId });
    const rule = (await client.getBucketEncryption(BUCKET)).encryption;
    assert.deepEqual([rule.SSEAlgorithm, rule.KMSMasterKeyID], ['KMS', keyId]);
    assert.equal((await client.put('by-bucket.bin', Buffer.from('x'))).res.headers['x-oss-server-side-encryption-key-id'], keyId);
    await client.deleteBucketEncryption(BUCKET);
  });

  it('SM4 is refused with 501, an unknown algorithm with 400, and nothing is stored', async () => {
    await expectOssError(client.put('sm4.bin', Buffer.from('x'), { headers: { 'x-oss-server-side-encryption': 'SM4' } }), 501, 'NotImplemented');
    await expectOssError(client.put('sm4.bin', Buffer.from('x'), { headers: { 'x-oss-server-side-encryption': 'DES' } }), 400, 'InvalidEncryptionAlgorithmError');
    await expectOssError(client.putBucketEncryption(BUCKET, { SSEAlgorithm: 'SM4' }), 501, 'NotImplemented');
    await expectOssError(client.head('sm4.bin'), 404, 'NoSuchKey');
  });

  it("an object stored with an S3 customer key (SSE-C) is not read through OSS, which has no way to give the key", async () => {
    const key = randomBytes(32);
    await s3.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: 'customer.bin',
        Body: 'secret',
        SSECustomerAlgorithm: 'AES256',
        SSECustomerKey: key.toString('base64'),
        SSECustomerKeyMD5: createHash('md5').update(key).digest('base64'),
      }),
    );
    const res = await ossRequest(server, { bucket: BUCKET, key: 'customer.bin' });
    assertOssError(res, 400, 'InvalidRequest');
  });
});
