import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AbortMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { TestServer } from '../helpers/server.js';
import { s3Client, useS3Server } from '../helpers/s3.js';
import { expectError } from '../helpers/assertions.js';

const ALICE = { accessKey: 'AKALICE0000000000001', secretKey: 'alice/secret+key=0123456789abcdef', displayName: 'Alice A.', id: 'user-alice' };
const BOB = { accessKey: 'AKBOB000000000000002', secretKey: 'bob-secret-key-0123456789abcdef', displayName: 'Bob B.', id: 'user-bob' };

describe('S3 users and access (config-file users)', () => {
  let server: TestServer;
  let root: S3Client;
  let alice: S3Client;
  let bob: S3Client;
  let aliceUploadId: string;

  useS3Server({ users: [ALICE, BOB] }, async (env) => {
    ({ server, s3: root } = env);
    [alice, bob] = env.users;
    await alice.send(new CreateBucketCommand({ Bucket: 'alice-bucket' }));
    await alice.send(new PutObjectCommand({ Bucket: 'alice-bucket', Key: 'secret.txt', Body: 'alice only' }));
    aliceUploadId = (await alice.send(new CreateMultipartUploadCommand({ Bucket: 'alice-bucket', Key: 'in-progress' }))).UploadId!;
    await bob.send(new CreateBucketCommand({ Bucket: 'bob-bucket' }));
  });

  it('the owner works in their bucket and sees it in ListBuckets', async () => {
    const listing = await alice.send(new ListBucketsCommand({}));
    assert.deepEqual((listing.Buckets ?? []).map((b) => b.Name), ['alice-bucket']);
    assert.equal(listing.Owner?.ID, ALICE.id);
    assert.equal(listing.Owner?.DisplayName, ALICE.displayName);
    const objects = await alice.send(new ListObjectsCommand({ Bucket: 'alice-bucket' }));
    assert.deepEqual((objects.Contents ?? []).map((o) => [o.Key, o.Owner?.ID]), [['secret.txt', ALICE.id]]);
    const got = await alice.send(new GetObjectCommand({ Bucket: 'alice-bucket', Key: 'secret.txt' }));
    assert.equal(await got.Body!.transformToString(), 'alice only');
    const uploads = await alice.send(new ListMultipartUploadsCommand({ Bucket: 'alice-bucket' }));
    assert.deepEqual((uploads.Uploads ?? []).map((u) => [u.UploadId, u.Initiator?.ID, u.Owner?.DisplayName]), [
      [aliceUploadId, ALICE.id, ALICE.displayName],
    ]);
  });

  it('another user does not see the bucket in ListBuckets and gets AccessDenied on every operation in it', async () => {
    const listing = await bob.send(new ListBucketsCommand({}));
    assert.deepEqual((listing.Buckets ?? []).map((b) => b.Name), ['bob-bucket']);

    const bucket = 'alice-bucket';
    await expectError(bob.send(new ListObjectsV2Command({ Bucket: bucket })), 403, 'AccessDenied');
    await expectError(bob.send(new ListObjectsCommand({ Bucket: bucket })), 403, 'AccessDenied');
    await expectError(bob.send(new GetObjectCommand({ Bucket: bucket, Key: 'secret.txt' })), 403, 'AccessDenied');
    await expectError(bob.send(new GetObjectCommand({ Bucket: bucket, Key: 'no-such-key' })), 403, 'AccessDenied');
    await expectError(bob.send(new HeadObjectCommand({ Bucket: bucket, Key: 'secret.txt' })), 403);
    await expectError(bob.send(new HeadBucketCommand({ Bucket: bucket })), 403);
    await expectError(bob.send(new PutObjectCommand({ Bucket: bucket, Key: 'from-bob', Body: 'intrusion' })), 403, 'AccessDenied');
    await expectError(bob.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'secret.txt' })), 403, 'AccessDenied');
    await expectError(bob.send(new DeleteBucketCommand({ Bucket: bucket })), 403, 'AccessDenied');
    await expectError(bob.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'from-bob' })), 403, 'AccessDenied');
    await expectError(bob.send(new ListMultipartUploadsCommand({ Bucket: bucket })), 403, 'AccessDenied');
    await expectError(
      bob.send(new ListPartsCommand({ Bucket: bucket, Key: 'in-progress', UploadId: aliceUploadId })),
      403,
      'AccessDenied',
    );
    await expectError(
      bob.send(new UploadPartCommand({ Bucket: bucket, Key: 'in-progress', UploadId: aliceUploadId, PartNumber: 1, Body: 'bob' })),
      403,
      'AccessDenied',
    );
    await expectError(
      bob.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'in-progress', UploadId: aliceUploadId })),
      403,
      'AccessDenied',
    );
    // Copies in either direction cross the same line.
    await expectError(
      bob.send(new CopyObjectCommand({ Bucket: 'bob-bucket', Key: 'stolen', CopySource: `${bucket}/secret.txt` })),
      403,
      'AccessDenied',
    );
    await bob.send(new PutObjectCommand({ Bucket: 'bob-bucket', Key: 'planted', Body: 'planted' }));
    await expectError(
      bob.send(new CopyObjectCommand({ Bucket: bucket, Key: 'planted', CopySource: 'bob-bucket/planted' })),
      403,
      'AccessDenied',
    );
    const bobUpload = (await bob.send(new CreateMultipartUploadCommand({ Bucket: 'bob-bucket', Key: 'stolen-part' }))).UploadId!;
    await expectError(
      bob.send(
        new UploadPartCopyCommand({
          Bucket: 'bob-bucket',
          Key: 'stolen-part',
          UploadId: bobUpload,
          PartNumber: 1,
          CopySource: `${bucket}/secret.txt`,
        }),
      ),
      403,
      'AccessDenied',
    );
    const deleted = await bob
      .send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'secret.txt' }] } }))
      .then(
        (result) => (result.Deleted ?? []).map((d) => d.Key),
        (err: { name?: string }) => (err.name === 'AccessDenied' ? [] : Promise.reject(err)),
      );
    assert.deepEqual(deleted, [], 'DeleteObjects must not report a deletion it was not allowed to do');

    // Nothing Bob tried changed anything.
    const objects = await alice.send(new ListObjectsV2Command({ Bucket: bucket }));
    assert.deepEqual((objects.Contents ?? []).map((o) => o.Key), ['secret.txt']);
    const parts = await alice.send(new ListPartsCommand({ Bucket: bucket, Key: 'in-progress', UploadId: aliceUploadId }));
    assert.deepEqual(parts.Parts ?? [], []);
    await expectError(bob.send(new HeadObjectCommand({ Bucket: 'bob-bucket', Key: 'stolen' })), 404);
    await bob.send(new AbortMultipartUploadCommand({ Bucket: 'bob-bucket', Key: 'stolen-part', UploadId: bobUpload }));
  });

  it('a presigned URL acts as its signer: Bob\'s URL cannot read Alice\'s object, Alice\'s can', async () => {
    const bobsUrl = await getSignedUrl(bob, new GetObjectCommand({ Bucket: 'alice-bucket', Key: 'secret.txt' }), { expiresIn: 300 });
    const denied = await fetch(bobsUrl);
    assert.equal(denied.status, 403);
    assert.match(await denied.text(), /<Code>AccessDenied<\/Code>/);
    const alicesUrl = await getSignedUrl(alice, new GetObjectCommand({ Bucket: 'alice-bucket', Key: 'secret.txt' }), {
      expiresIn: 300,
    });
    const allowed = await fetch(alicesUrl);
    assert.equal(allowed.status, 200);
    assert.equal(await allowed.text(), 'alice only');
  });

  it('root sees every bucket and reaches everything in them', async () => {
    const listing = await root.send(new ListBucketsCommand({}));
    const names = (listing.Buckets ?? []).map((b) => b.Name);
    assert.ok(names.includes('alice-bucket') && names.includes('bob-bucket'), names.join(','));
    await root.send(new HeadBucketCommand({ Bucket: 'alice-bucket' }));
    const got = await root.send(new GetObjectCommand({ Bucket: 'alice-bucket', Key: 'secret.txt' }));
    assert.equal(await got.Body!.transformToString(), 'alice only');
    await root.send(new PutObjectCommand({ Bucket: 'alice-bucket', Key: 'from-root', Body: 'root was here' }));
    const objects = await alice.send(new ListObjectsV2Command({ Bucket: 'alice-bucket' }));
    assert.deepEqual((objects.Contents ?? []).map((o) => o.Key), ['from-root', 'secret.txt']);
    const uploads = await root.send(new ListMultipartUploadsCommand({ Bucket: 'alice-bucket' }));
    assert.deepEqual((uploads.Uploads ?? []).map((u) => u.UploadId), [aliceUploadId]);
    await root.send(new CopyObjectCommand({ Bucket: 'bob-bucket', Key: 'copied-by-root', CopySource: 'alice-bucket/secret.txt' }));
    const copied = await bob.send(new GetObjectCommand({ Bucket: 'bob-bucket', Key: 'copied-by-root' }));
    assert.equal(await copied.Body!.transformToString(), 'alice only');
    await root.send(new DeleteObjectCommand({ Bucket: 'alice-bucket', Key: 'from-root' }));
    // A bucket root creates is root's: the users do not see it.
    await root.send(new CreateBucketCommand({ Bucket: 'root-bucket' }));
    const aliceNames = ((await alice.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name);
    assert.ok(!aliceNames.includes('root-bucket'));
    await expectError(alice.send(new ListObjectsV2Command({ Bucket: 'root-bucket' })), 403, 'AccessDenied');
  });

  it('a wrong secret is SignatureDoesNotMatch; an unknown access key is InvalidAccessKeyId', async () => {
    const wrongSecret = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: 'not-alices-secret-key' });
    const unknownKey = s3Client(server, { accessKeyId: 'AKNOBODY000000000000', secretAccessKey: ALICE.secretKey });
    const bobsSecretForAlice = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: BOB.secretKey });
    try {
      for (const client of [wrongSecret, bobsSecretForAlice]) {
        await expectError(client.send(new ListBucketsCommand({})), 403, 'SignatureDoesNotMatch');
        await expectError(client.send(new GetObjectCommand({ Bucket: 'alice-bucket', Key: 'secret.txt' })), 403, 'SignatureDoesNotMatch');
        await expectError(
          client.send(new PutObjectCommand({ Bucket: 'alice-bucket', Key: 'forged', Body: 'forged' })),
          403,
          'SignatureDoesNotMatch',
        );
      }
      await expectError(unknownKey.send(new ListBucketsCommand({})), 403, 'InvalidAccessKeyId');
      await expectError(unknownKey.send(new GetObjectCommand({ Bucket: 'alice-bucket', Key: 'secret.txt' })), 403, 'InvalidAccessKeyId');
      await expectError(unknownKey.send(new CreateBucketCommand({ Bucket: 'by-nobody' })), 403, 'InvalidAccessKeyId');
      await expectError(root.send(new HeadObjectCommand({ Bucket: 'alice-bucket', Key: 'forged' })), 404);
      await expectError(root.send(new HeadBucketCommand({ Bucket: 'by-nobody' })), 404);
    } finally {
      wrongSecret.destroy();
      unknownKey.destroy();
      bobsSecretForAlice.destroy();
    }
  });

  it('an unsigned (anonymous) request is AccessDenied', async () => {
    const listing = await fetch(`${server.url}/alice-bucket`);
    assert.equal(listing.status, 403);
    assert.match(await listing.text(), /<Code>AccessDenied<\/Code>/);
    const object = await fetch(`${server.url}/alice-bucket/secret.txt`);
    assert.equal(object.status, 403);
    const put = await fetch(`${server.url}/alice-bucket/anonymous`, { method: 'PUT', body: 'anon' });
    assert.equal(put.status, 403);
    await expectError(root.send(new HeadObjectCommand({ Bucket: 'alice-bucket', Key: 'anonymous' })), 404);
  });
});
