import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, DeleteBucketCommand, DeleteObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { s3Client } from '../helpers/s3.js';
import { assertBlobsMatchMetadata, s3Failure, skipWithoutPostgres, tempFiles } from './helpers.js';

// A node remembers for a few seconds which buckets a PUT found (Storage.bucketOwners, src/core/storage.ts), so a
// small PUT costs one PostgreSQL round trip. What another node did to the bucket in those seconds
// must still decide the answer: the statement that stores the object checks the bucket again.

const ALICE = { id: 'alice', displayName: 'Alice', accessKey: 'alice-access-key', secretKey: 'alice-secret-key-0123456789' };
const BOB = { id: 'bob', displayName: 'Bob', accessKey: 'bob-access-key', secretKey: 'bob-secret-key-0123456789' };

describe('buckets changed by another node', { skip: skipWithoutPostgres() }, () => {
  let cluster: TestCluster;
  const clients: S3Client[] = [];
  const client = (node: number, user: typeof ALICE) => {
    const made = s3Client(cluster.nodes[node]!, { accessKeyId: user.accessKey, secretAccessKey: user.secretKey }, { maxAttempts: 1 });
    clients.push(made);
    return made;
  };

  before(async () => {
    cluster = await startCluster({ config: { users: [ALICE, BOB] } });
  });
  after(async () => {
    for (const made of clients) made.destroy();
    await cluster?.cleanup();
  });

  it('a PUT right after another node deleted the bucket is NoSuchBucket, and stores nothing', async () => {
    const aliceOn0 = client(0, ALICE);
    await client(1, ALICE).send(new CreateBucketCommand({ Bucket: 'short-lived' }));
    await aliceOn0.send(new PutObjectCommand({ Bucket: 'short-lived', Key: 'first', Body: 'seen by node 0' }));
    await client(1, ALICE).send(new DeleteObjectCommand({ Bucket: 'short-lived', Key: 'first' }));
    await client(1, ALICE).send(new DeleteBucketCommand({ Bucket: 'short-lived' }));

    const refused = await s3Failure(aliceOn0.send(new PutObjectCommand({ Bucket: 'short-lived', Key: 'second', Body: 'x'.repeat(100_000) })));
    assert.deepEqual(refused, { code: 'NoSuchBucket', status: 404 });
    await assertBlobsMatchMetadata(cluster);
    assert.deepEqual(await tempFiles(cluster), []);
  });

  it('a bucket deleted and created again by another user on another node: its new owner may PUT through a node that knew the old one, its old owner may not', async () => {
    const aliceOn0 = client(0, ALICE);
    const bobOn0 = client(0, BOB);
    await client(1, ALICE).send(new CreateBucketCommand({ Bucket: 'changes-hands' }));
    await aliceOn0.send(new PutObjectCommand({ Bucket: 'changes-hands', Key: 'alice', Body: 'alice was here' }));
    await client(1, ALICE).send(new DeleteObjectCommand({ Bucket: 'changes-hands', Key: 'alice' }));
    await client(1, ALICE).send(new DeleteBucketCommand({ Bucket: 'changes-hands' }));
    await client(2, BOB).send(new CreateBucketCommand({ Bucket: 'changes-hands' }));

    await bobOn0.send(new PutObjectCommand({ Bucket: 'changes-hands', Key: 'bob', Body: 'bob owns it now' }));
    const refused = await s3Failure(aliceOn0.send(new PutObjectCommand({ Bucket: 'changes-hands', Key: 'alice-again', Body: 'not hers' })));
    assert.deepEqual(refused, { code: 'AccessDenied', status: 403 });

    const listed = await client(2, BOB).send(new ListObjectsV2Command({ Bucket: 'changes-hands' }));
    assert.deepEqual(
      (listed.Contents ?? []).map((object) => object.Key),
      ['bob'],
    );
    await assertBlobsMatchMetadata(cluster);
    assert.deepEqual(await tempFiles(cluster), []);
  });
});
