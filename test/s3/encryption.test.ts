import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketEncryptionCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { admin } from '../helpers/admin.js';
import { expectError } from '../helpers/assertions.js';
import { signedRequest, unsignedPayloadHeaders } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import { filesUnder, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';

// Server-side encryption through S3: SSE-S3 (x-amz-server-side-encryption: AES256 and the
// bucket's default), SSE-C (the customer's key on every write and read), copies between them,
// what is on disk, and every malformed request S3 refuses.

const BUCKET = 'sealed';
const MiB = 1024 * 1024;
const KEY = randomBytes(32);
const OTHER_KEY = randomBytes(32);
const md5b64 = (bytes: Buffer) => createHash('md5').update(bytes).digest('base64');
const md5hex = (bytes: Buffer) => createHash('md5').update(bytes).digest('hex');
const sseC = (key: Buffer) => ({ SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.toString('base64'), SSECustomerKeyMD5: md5b64(key) });
const sseCHeaders = (key: Buffer, prefix = 'x-amz-server-side-encryption-customer-') => ({
  [`${prefix}algorithm`]: 'AES256',
  [`${prefix}key`]: key.toString('base64'),
  [`${prefix}key-md5`]: md5b64(key),
});

async function bytesOf(client: S3Client, input: ConstructorParameters<typeof GetObjectCommand>[0]): Promise<Buffer> {
  const out = await client.send(new GetObjectCommand(input));
  return Buffer.from(await out.Body!.transformToByteArray());
}

describe('S3 server-side encryption', () => {
  let server: TestServer;
  let s3: S3Client;
  const blobsBefore = new Set<string>();

  before(async () => {
    server = await startServer({ config: { allowInsecureSseC: true } });
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3?.destroy();
    await server?.cleanup();
  });

  /** The blob files written since the last call. */
  async function newBlobs(): Promise<string[]> {
    const all = await filesUnder(join(server.dataDir, 'blobs'));
    const fresh = all.filter((path) => !blobsBefore.has(path));
    for (const path of fresh) blobsBefore.add(path);
    return fresh;
  }

  it('SSE-S3: stored encrypted, answered with its header, read back whole and in ranges', async () => {
    await newBlobs();
    const body = randomBytes(3 * MiB + 77);
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 's3.bin', Body: body, ServerSideEncryption: 'AES256' }));
    assert.equal(put.ServerSideEncryption, 'AES256');
    assert.equal(put.ETag, `"${md5hex(body)}"`, "an SSE-S3 object's ETag is its content's MD5");
    const [blob, ...others] = await newBlobs();
    assert.ok(blob !== undefined && others.length === 0);
    const onDisk = await readFile(blob);
    assert.equal(onDisk.includes(body.subarray(1000, 1064)), false, 'the plaintext is not on disk');

    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 's3.bin' }));
    assert.equal(got.ServerSideEncryption, 'AES256');
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
    assert.ok((await bytesOf(s3, { Bucket: BUCKET, Key: 's3.bin', Range: 'bytes=65530-2097160' })).equals(body.subarray(65530, 2097161)));
    assert.ok((await bytesOf(s3, { Bucket: BUCKET, Key: 's3.bin', Range: 'bytes=-5' })).equals(body.subarray(body.length - 5)));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 's3.bin' }))).ServerSideEncryption, 'AES256');

    // A plain object says nothing of encryption.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'plain.txt', Body: 'in the clear' }));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'plain.txt' }))).ServerSideEncryption, undefined);
    assert.ok((await readFile((await newBlobs())[0]!)).equals(Buffer.from('in the clear')));
  });

  it("the bucket's default encryption seals what is written without asking; deleted, new objects are plain again", async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'defaulted' }));
    await expectError(s3.send(new GetBucketEncryptionCommand({ Bucket: 'defaulted' })), 404, 'ServerSideEncryptionConfigurationNotFoundError');
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket: 'defaulted',
        ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      }),
    );
    const config = await s3.send(new GetBucketEncryptionCommand({ Bucket: 'defaulted' }));
    assert.equal(config.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, 'AES256');
    const put = await s3.send(new PutObjectCommand({ Bucket: 'defaulted', Key: 'a.txt', Body: 'sealed by default' }));
    assert.equal(put.ServerSideEncryption, 'AES256');
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'defaulted', Key: 'multi.bin' }));
    assert.equal(upload.ServerSideEncryption, 'AES256');
    const part = randomBytes(5 * MiB);
    const etag = (await s3.send(new UploadPartCommand({ Bucket: 'defaulted', Key: 'multi.bin', UploadId: upload.UploadId, PartNumber: 1, Body: part }))).ETag;
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: 'defaulted', Key: 'multi.bin', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag }] } }),
    );
    assert.equal(done.ServerSideEncryption, 'AES256');
    assert.ok((await bytesOf(s3, { Bucket: 'defaulted', Key: 'multi.bin' })).equals(part));

    // Dual-layer SSE-KMS is not a default Tessera can apply.
    await expectError(
      s3.send(new PutBucketEncryptionCommand({ Bucket: 'defaulted', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms:dsse' } }] } })),
      501,
      'NotImplemented',
    );
    const malformed = await signedRequest(server.url, 'PUT', '/defaulted?encryption', {
      body: '<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>DES</SSEAlgorithm></ApplyServerSideEncryptionByDefault></Rule></ServerSideEncryptionConfiguration>',
    });
    assert.equal(malformed.status, 400);
    assert.match(malformed.body, /<Code>MalformedXML<\/Code>/);

    await s3.send(new DeleteBucketEncryptionCommand({ Bucket: 'defaulted' }));
    await expectError(s3.send(new GetBucketEncryptionCommand({ Bucket: 'defaulted' })), 404, 'ServerSideEncryptionConfigurationNotFoundError');
    assert.equal((await s3.send(new PutObjectCommand({ Bucket: 'defaulted', Key: 'b.txt', Body: 'plain' }))).ServerSideEncryption, undefined);
    // What was sealed stays sealed and readable.
    assert.equal((await bytesOf(s3, { Bucket: 'defaulted', Key: 'a.txt' })).toString(), 'sealed by default');
  });

  it('SSE-C: the key is needed for every read, a wrong or missing one is refused, a key for a plain object too', async () => {
    const body = randomBytes(200_000);
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'c.bin', Body: body, ...sseC(KEY) }));
    assert.equal(put.SSECustomerAlgorithm, 'AES256');
    assert.equal(put.SSECustomerKeyMD5, md5b64(KEY));
    assert.notEqual(put.ETag, `"${md5hex(body)}"`, "an SSE-C object's ETag does not give its content's MD5 away");

    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'c.bin', ...sseC(KEY) }));
    assert.equal(got.SSECustomerKeyMD5, md5b64(KEY));
    assert.equal(got.ETag, put.ETag);
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
    assert.ok((await bytesOf(s3, { Bucket: BUCKET, Key: 'c.bin', Range: 'bytes=70000-70009', ...sseC(KEY) })).equals(body.subarray(70000, 70010)));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'c.bin', ...sseC(KEY) }))).ContentLength, body.length);

    await expectError(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'c.bin' })), 400, 'InvalidRequest');
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'c.bin' })), 400);
    await expectError(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'c.bin', ...sseC(OTHER_KEY) })), 403, 'AccessDenied');
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'c.bin', ...sseC(OTHER_KEY) })), 403);
    await expectError(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'plain.txt', ...sseC(KEY) })), 400, 'InvalidRequest');
    // A read may leave out the key's MD5; a key of the wrong length reads as a wrong key.
    const noMd5 = await signedRequest(server.url, 'GET', `/${BUCKET}/c.bin`, {
      headers: { 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': KEY.toString('base64') },
    });
    assert.equal(noMd5.status, 200);
    const short = await signedRequest(server.url, 'GET', `/${BUCKET}/c.bin`, { headers: sseCHeaders(randomBytes(10)) });
    assert.equal(short.status, 403);
    // Listed, its ETag is the one PUT answered.
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'c.bin' }));
    assert.equal(listed.Contents?.[0]?.ETag, put.ETag);
  });

  it('SSE-C multipart: every part needs the upload\'s key; lib-storage uploads and reads back', async () => {
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'cm.bin', ...sseC(KEY) }));
    assert.equal(upload.SSECustomerKeyMD5, md5b64(KEY));
    const parts = [randomBytes(5 * MiB), randomBytes(1234)];
    const part = (n: number, extra: object, body = parts[n - 1]) =>
      s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'cm.bin', UploadId: upload.UploadId, PartNumber: n, Body: body, ...extra }));
    // Refused from the headers (small bodies: a large one refused unread closes the connection).
    await expectError(part(1, {}, Buffer.from('small')), 400, 'InvalidRequest');
    await expectError(part(1, sseC(OTHER_KEY), Buffer.from('small')), 400, 'InvalidArgument');
    const etags = [(await part(1, sseC(KEY))).ETag, (await part(2, sseC(KEY))).ETag];
    await s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'cm.bin',
        UploadId: upload.UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ PartNumber: i + 1, ETag })) },
      }),
    );
    assert.ok((await bytesOf(s3, { Bucket: BUCKET, Key: 'cm.bin', ...sseC(KEY) })).equals(Buffer.concat(parts)));
    assert.ok((await bytesOf(s3, { Bucket: BUCKET, Key: 'cm.bin', PartNumber: 2, ...sseC(KEY) })).equals(parts[1]!));
    await expectError(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'cm.bin' })), 400, 'InvalidRequest');

    const big = randomBytes(12 * MiB + 5);
    await new Upload({ client: s3, params: { Bucket: BUCKET, Key: 'lib.bin', Body: big, ...sseC(KEY) }, partSize: 5 * MiB }).done();
    assert.ok((await bytesOf(s3, { Bucket: BUCKET, Key: 'lib.bin', ...sseC(KEY) })).equals(big));
  });

  it('copies: from SSE-C with the source key, to SSE-S3, SSE-C or plain; onto itself to change the key; part copies', async () => {
    const body = randomBytes(300_000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'src.bin', Body: body, ...sseC(KEY) }));
    const source = { CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: KEY.toString('base64'), CopySourceSSECustomerKeyMD5: md5b64(KEY) };
    await expectError(s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy.bin', CopySource: `${BUCKET}/src.bin` })), 400, 'InvalidRequest');
    await expectError(
      s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy.bin', CopySource: `${BUCKET}/src.bin`, CopySourceSSECustomerAlgorithm: 'AES256', CopySourceSSECustomerKey: OTHER_KEY.toString('base64'), CopySourceSSECustomerKeyMD5: md5b64(OTHER_KEY) })),
      403,
      'AccessDenied',
    );
    const toS3 = await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy-s3.bin', CopySource: `${BUCKET}/src.bin`, ServerSideEncryption: 'AES256', ...source }));
    assert.equal(toS3.ServerSideEncryption, 'AES256');
    assert.equal(toS3.CopyObjectResult?.ETag, `"${md5hex(body)}"`);
    assert.ok((await bytesOf(s3, { Bucket: BUCKET, Key: 'copy-s3.bin' })).equals(body));
    await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy-plain.bin', CopySource: `${BUCKET}/src.bin`, ...source }));
    const plain = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'copy-plain.bin' }));
    assert.equal(plain.ServerSideEncryption, undefined);
    assert.ok(Buffer.from(await plain.Body!.transformToByteArray()).equals(body));

    // Onto itself with a new key: the old key no longer reads it.
    await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'src.bin', CopySource: `${BUCKET}/src.bin`, ...source, ...sseC(OTHER_KEY) }));
    assert.ok((await bytesOf(s3, { Bucket: BUCKET, Key: 'src.bin', ...sseC(OTHER_KEY) })).equals(body));
    await expectError(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'src.bin', ...sseC(KEY) })), 403, 'AccessDenied');

    // A plain source into an SSE-C upload, by a part copy.
    const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'pc.bin', ...sseC(KEY) }));
    const copied = await s3.send(
      new UploadPartCopyCommand({ Bucket: BUCKET, Key: 'pc.bin', UploadId: upload.UploadId, PartNumber: 1, CopySource: `${BUCKET}/copy-plain.bin`, CopySourceRange: 'bytes=10-99999', ...sseC(KEY) }),
    );
    await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'pc.bin', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: copied.CopyPartResult?.ETag }] } }),
    );
    assert.ok((await bytesOf(s3, { Bucket: BUCKET, Key: 'pc.bin', ...sseC(KEY) })).equals(body.subarray(10, 100000)));
  });

  it('SSE-KMS with the local key store: a key made through the admin API, the aws/s3 key, a disabled key, a bucket default', async () => {
    const made = await admin(server, 'POST', 'kms-keys', { description: 'for the tests' });
    assert.equal(made.status, 201);
    const { keyId, arn } = made.json as { keyId: string; arn: string };
    assert.match(arn, new RegExp(`^arn:aws:kms:[^:]*:[^:]*:key/${keyId}$`));
    assert.equal(JSON.stringify(made.json).includes('material'), false);

    const body = randomBytes(150_000);
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'kms.bin', Body: body, ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyId }));
    assert.equal(put.ServerSideEncryption, 'aws:kms');
    assert.equal(put.SSEKMSKeyId, arn);
    assert.notEqual(put.ETag, `"${md5hex(body)}"`, "an SSE-KMS object's ETag is not its content's MD5");
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'kms.bin' }));
    assert.deepEqual([got.ServerSideEncryption, got.SSEKMSKeyId], ['aws:kms', arn]);
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(body));
    // By ARN too; and with none, the aws/s3 key, made on first use.
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'kms-arn.bin', Body: 'by arn', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: arn, BucketKeyEnabled: true }));
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'kms-arn.bin' }))).BucketKeyEnabled, true);
    const byDefault = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'kms-default.bin', Body: 'default key', ServerSideEncryption: 'aws:kms' }));
    const keys = (await admin(server, 'GET', 'kms-keys')).json.keys as Array<{ keyId: string; alias?: string }>;
    const managed = keys.find((key) => key.alias === 'aws/s3');
    assert.ok(managed, 'the aws/s3 key exists once used');
    assert.equal(byDefault.SSEKMSKeyId, `arn:aws:kms:us-east-1:tessera:key/${managed.keyId}`);
    await expectError(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'kms-none.bin', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: 'no-such-key' })), 400, 'KMS.NotFoundException');
    await expectError(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'kms-none.bin', Body: 'x', SSEKMSKeyId: keyId })), 400, 'InvalidArgument');

    // Disabled: nothing new is sealed with it, and what it sealed cannot be read; enabled again, it can.
    assert.equal((await admin(server, 'PATCH', `kms-keys/${keyId}`, { enabled: false })).json.enabled, false);
    await expectError(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'kms-off.bin', Body: 'x', ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyId })), 400, 'KMS.DisabledException');
    // On every node within the key store's cache time: three in a row (a cluster's three nodes, round robin).
    await eventually(async () => {
      for (let i = 0; i < 3; i++) {
        const read = s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'kms.bin' })).then((out) => out.Body!.transformToByteArray());
        await expectError(read, 403, 'KMS.DisabledException');
      }
    });
    await admin(server, 'PATCH', `kms-keys/${keyId}`, { enabled: true });
    await eventually(async () => assert.ok((await bytesOf(s3, { Bucket: BUCKET, Key: 'kms.bin' })).equals(body)));

    // A bucket whose default is SSE-KMS under that key, for PUTs and multipart uploads.
    await s3.send(new CreateBucketCommand({ Bucket: 'kms-default' }));
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket: 'kms-default',
        ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyId } }] },
      }),
    );
    const rule = (await s3.send(new GetBucketEncryptionCommand({ Bucket: 'kms-default' }))).ServerSideEncryptionConfiguration?.Rules?.[0];
    assert.deepEqual([rule?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm, rule?.ApplyServerSideEncryptionByDefault?.KMSMasterKeyID], ['aws:kms', arn]);
    const big = randomBytes(6 * MiB);
    const upload = await new Upload({ client: s3, params: { Bucket: 'kms-default', Key: 'big.bin', Body: big }, partSize: 5 * MiB }).done();
    assert.equal((upload as { SSEKMSKeyId?: string }).SSEKMSKeyId, arn);
    assert.ok((await bytesOf(s3, { Bucket: 'kms-default', Key: 'big.bin' })).equals(big));
    await expectError(
      s3.send(new PutBucketEncryptionCommand({ Bucket: 'kms-default', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'no-such-key' } }] } })),
      400,
      'KMS.NotFoundException',
    );
    // A copy from SSE-KMS to SSE-S3 is sealed anew.
    const copied = await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'kms-copy.bin', CopySource: `${BUCKET}/kms.bin`, ServerSideEncryption: 'AES256' }));
    assert.equal(copied.ServerSideEncryption, 'AES256');
    assert.ok((await bytesOf(s3, { Bucket: BUCKET, Key: 'kms-copy.bin' })).equals(body));
  });

  it('malformed requests get S3\'s errors, and nothing is stored', async () => {
    const put = (headers: Record<string, string>, key = 'never.bin') => signedRequest(server.url, 'PUT', `/${BUCKET}/${key}`, { body: 'never stored', headers });
    const cases: Array<[Record<string, string>, number, string]> = [
      [{ 'x-amz-server-side-encryption': 'DES' }, 400, 'InvalidArgument'],
      [{ 'x-amz-server-side-encryption': 'aws:kms:dsse' }, 501, 'NotImplemented'],
      [{ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-context': 'e30=' }, 501, 'NotImplemented'],
      [{ 'x-amz-server-side-encryption-aws-kms-key-id': 'some-key' }, 400, 'InvalidArgument'],
      [{ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': 'no-such-key' }, 400, 'KMS.NotFoundException'],
      [{ 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-bucket-key-enabled': 'maybe' }, 501, 'NotImplemented'],
      [{ ...sseCHeaders(KEY), 'x-amz-server-side-encryption-customer-algorithm': 'AES128' }, 400, 'InvalidEncryptionAlgorithmError'],
      [{ ...sseCHeaders(randomBytes(16)) }, 400, 'InvalidArgument'],
      [{ ...sseCHeaders(KEY), 'x-amz-server-side-encryption-customer-key-md5': md5b64(OTHER_KEY) }, 400, 'InvalidArgument'],
      [{ 'x-amz-server-side-encryption-customer-algorithm': 'AES256', 'x-amz-server-side-encryption-customer-key': KEY.toString('base64') }, 400, 'InvalidRequest'],
      [{ 'x-amz-server-side-encryption-customer-key': KEY.toString('base64'), 'x-amz-server-side-encryption-customer-key-md5': md5b64(KEY) }, 400, 'InvalidRequest'],
      [{ ...sseCHeaders(KEY), 'x-amz-server-side-encryption': 'AES256' }, 400, 'InvalidArgument'],
    ];
    for (const [headers, status, code] of cases) {
      const res = await put(headers);
      assert.equal(res.status, status, `${JSON.stringify(headers)}: ${res.body}`);
      assert.match(res.body, new RegExp(`<Code>${code}</Code>`), JSON.stringify(headers));
    }
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'never.bin' })), 404);
  });

  it('a blob altered on disk is an error on read, never wrong bytes', async () => {
    await newBlobs();
    const body = randomBytes(100_000);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'tampered.bin', Body: body, ServerSideEncryption: 'AES256' }));
    const [blob] = await newBlobs();
    const file = await open(blob!, 'r+');
    const byte = Buffer.alloc(1);
    // On disk: a 64-byte header, then records of 64 KiB + a 16-byte tag; this is in the second record.
    const at = 64 + 65_536 + 16 + 1_000;
    await file.read(byte, 0, 1, at);
    byte[0]! ^= 0x80;
    await file.write(byte, 0, 1, at);
    await file.close();
    // The first record is intact: a range of it still reads.
    assert.ok((await bytesOf(s3, { Bucket: BUCKET, Key: 'tampered.bin', Range: 'bytes=0-99' })).equals(body.subarray(0, 100)));
    // The whole object: its status went out with the first record, so the body is cut short, never completed with wrong bytes.
    const whole = await wholeBody(server.url, `/${BUCKET}/tampered.bin`);
    assert.equal(whole.status, 200);
    assert.equal(whole.complete, false);
    assert.ok(whole.received < body.length, `${whole.received} bytes received`);
    // A read that fails before its first byte is an error answer, not a cut-short body.
    const raw = await signedRequest(server.url, 'GET', `/${BUCKET}/tampered.bin`, { headers: { range: 'bytes=66000-66999' } });
    assert.equal(raw.status, 500);
    assert.match(raw.body, /integrity check/);
  });

  it('the AWS CLI copies a file up and down with --sse AES256 and with --sse-c', async () => {
    const home = await mkdtemp(join(tmpdir(), 'tessera-sse-cli-'));
    try {
      const file = join(home, 'up.bin');
      const body = randomBytes(9 * MiB + 3);
      await writeFile(file, body);
      const keyFile = join(home, 'key.bin');
      await writeFile(keyFile, KEY);
      const env = { ...process.env, HOME: home, AWS_ACCESS_KEY_ID: ROOT_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: ROOT_SECRET_KEY, AWS_DEFAULT_REGION: 'us-east-1' };
      const aws = (...args: string[]) => runTool('aws', ['--endpoint-url', server.url, ...args], env);
      await aws('s3', 'cp', file, `s3://${BUCKET}/cli-s3.bin`, '--sse', 'AES256');
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'cli-s3.bin' }))).ServerSideEncryption, 'AES256');
      await aws('s3', 'cp', file, `s3://${BUCKET}/cli-c.bin`, '--sse-c', 'AES256', '--sse-c-key', `fileb://${keyFile}`);
      await aws('s3', 'cp', `s3://${BUCKET}/cli-c.bin`, join(home, 'down.bin'), '--sse-c', 'AES256', '--sse-c-key', `fileb://${keyFile}`);
      assert.ok((await readFile(join(home, 'down.bin'))).equals(body));
      const without = await runTool('aws', ['--endpoint-url', server.url, 's3', 'cp', `s3://${BUCKET}/cli-c.bin`, join(home, 'nope.bin')], env, false);
      assert.notEqual(without.code, 0, 'without its key the object does not download');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});

describe('SSE-C over plain HTTP', () => {
  let server: TestServer;
  let s3: S3Client;
  before(async () => {
    server = await startServer();
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3?.destroy();
    await server?.cleanup();
  });

  it('is refused, as AWS refuses it, unless the operator allows it (allowInsecureSseC)', async () => {
    await expectError(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'k.bin', Body: 'x', ...sseC(KEY) })), 400, 'InvalidRequest');
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'k.bin' })), 404);
    // SSE-S3 needs no key on the wire: fine over HTTP.
    assert.equal((await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 's.bin', Body: 'x', ServerSideEncryption: 'AES256' }))).ServerSideEncryption, 'AES256');
  });
});

/** A root-signed GET read to whatever end it has: whether the body arrived whole, and how much did. */
function wholeBody(baseUrl: string, path: string): Promise<{ status: number; received: number; complete: boolean }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, baseUrl);
    const req = httpRequest(
      { host: url.hostname, port: url.port, path, headers: unsignedPayloadHeaders(baseUrl, 'GET', path), agent: false },
      (res) => {
        let received = 0;
        let settled = false;
        const done = (complete: boolean) => {
          if (!settled) resolve({ status: res.statusCode ?? 0, received, complete });
          settled = true;
        };
        res.on('data', (chunk: Buffer) => (received += chunk.length));
        res.on('end', () => done(res.complete));
        res.on('error', () => done(false));
        res.on('close', () => done(false));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** Retries `check` for a few seconds: a key's state reaches every node within the key store's cache time (5 s). */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await check();
    } catch (err) {
      if (attempt >= 70) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

function runTool(command: string, args: string[], env: NodeJS.ProcessEnv, mustSucceed = true): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
    let stderr = '';
    child.stdout.resume();
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      if (mustSucceed && code !== 0) reject(new Error(`${command} ${args.join(' ')} exited with ${code}\n${stderr}`));
      else resolve({ code, stderr });
    });
  });
}
