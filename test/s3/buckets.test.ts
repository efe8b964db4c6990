import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetBucketLocationCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { useS3Server } from '../helpers/s3.js';
import { expectError } from '../helpers/assertions.js';

const ALICE = { accessKey: 'alice-access-key', secretKey: 'alice-secret-key-0123456789', displayName: 'Alice', id: 'alice' };
const BOB = { accessKey: 'bob-access-key', secretKey: 'bob-secret-key-0123456789', displayName: 'Bob', id: 'bob' };

describe('S3 buckets (AWS SDK)', () => {
  let root: S3Client;
  let alice: S3Client;
  let bob: S3Client;

  useS3Server({ users: [ALICE, BOB] }, (env) => {
    root = env.s3;
    [alice, bob] = env.users;
  });

  it('CreateBucket then ListBuckets lists it with its owner and creation date', async () => {
    const before = Date.now();
    await root.send(new CreateBucketCommand({ Bucket: 'listed-one' }));
    await root.send(new CreateBucketCommand({ Bucket: 'listed-two' }));
    const listing = await root.send(new ListBucketsCommand({}));
    const names = (listing.Buckets ?? []).map((b) => b.Name);
    assert.ok(names.includes('listed-one') && names.includes('listed-two'), `got ${names.join(',')}`);
    assert.deepEqual(names, [...names].sort(), 'buckets are listed by name');
    assert.equal(listing.Owner?.ID, 'root');
    const one = listing.Buckets!.find((b) => b.Name === 'listed-one')!;
    assert.ok(one.CreationDate instanceof Date);
    // Whole seconds on the wire at worst; a wildly wrong clock or unit would fail this.
    assert.ok(Math.abs(one.CreationDate.getTime() - before) < 60_000, `creation date ${one.CreationDate.toISOString()}`);
  });

  it('rejects invalid bucket names with InvalidBucketName', async () => {
    const invalid = [
      'ab', // too short
      'a'.repeat(64), // too long
      'UpperCase',
      'under_score',
      '-leading-dash',
      'trailing-dash-',
      'double..dot',
      '192.168.10.20', // an IP address
      'xn--punycode-prefix',
      'name-s3alias',
    ];
    for (const name of invalid) {
      await expectError(root.send(new CreateBucketCommand({ Bucket: name })), 400, 'InvalidBucketName');
    }
    const listing = await root.send(new ListBucketsCommand({}));
    for (const name of invalid) assert.ok(!(listing.Buckets ?? []).some((b) => b.Name === name), `${name} was created`);
    // The edges of the valid range are accepted.
    await root.send(new CreateBucketCommand({ Bucket: 'a1b' }));
    await root.send(new CreateBucketCommand({ Bucket: 'b'.repeat(63) }));
    await root.send(new CreateBucketCommand({ Bucket: 'dotted.name-1' }));
  });

  it('creating an existing bucket: BucketAlreadyOwnedByYou for its owner, BucketAlreadyExists for anyone else', async () => {
    await alice.send(new CreateBucketCommand({ Bucket: 'alice-owned' }));
    await expectError(alice.send(new CreateBucketCommand({ Bucket: 'alice-owned' })), 409, 'BucketAlreadyOwnedByYou');
    await expectError(bob.send(new CreateBucketCommand({ Bucket: 'alice-owned' })), 409, 'BucketAlreadyExists');
    await expectError(root.send(new CreateBucketCommand({ Bucket: 'alice-owned' })), 409, 'BucketAlreadyExists');
    // Still Alice's: Bob cannot reach it, Alice can.
    await alice.send(new HeadBucketCommand({ Bucket: 'alice-owned' }));
    await expectError(bob.send(new HeadBucketCommand({ Bucket: 'alice-owned' })), 403);
  });

  it('HeadBucket: 200 for an existing bucket, 404 for a missing one', async () => {
    await root.send(new CreateBucketCommand({ Bucket: 'head-me' }));
    const head = await root.send(new HeadBucketCommand({ Bucket: 'head-me' }));
    assert.equal(head.$metadata.httpStatusCode, 200);
    assert.equal(head.BucketRegion, 'us-east-1');
    await expectError(root.send(new HeadBucketCommand({ Bucket: 'no-such-bucket-here' })), 404);
  });

  it('GetBucketLocation answers the empty constraint (us-east-1); NoSuchBucket when missing', async () => {
    await root.send(new CreateBucketCommand({ Bucket: 'located' }));
    const location = await root.send(new GetBucketLocationCommand({ Bucket: 'located' }));
    assert.equal(location.$metadata.httpStatusCode, 200);
    assert.equal(String(location.LocationConstraint ?? ''), '');
    await expectError(root.send(new GetBucketLocationCommand({ Bucket: 'no-such-located' })), 404, 'NoSuchBucket');
  });

  it('DeleteBucket refuses a bucket with an object (BucketNotEmpty), then deletes it once empty', async () => {
    await root.send(new CreateBucketCommand({ Bucket: 'not-empty' }));
    await root.send(new PutObjectCommand({ Bucket: 'not-empty', Key: 'dir/file.txt', Body: 'contents' }));
    await expectError(root.send(new DeleteBucketCommand({ Bucket: 'not-empty' })), 409, 'BucketNotEmpty');
    await root.send(new HeadBucketCommand({ Bucket: 'not-empty' }));
    await root.send(new DeleteObjectCommand({ Bucket: 'not-empty', Key: 'dir/file.txt' }));
    const deleted = await root.send(new DeleteBucketCommand({ Bucket: 'not-empty' }));
    assert.equal(deleted.$metadata.httpStatusCode, 204);
    await expectError(root.send(new HeadBucketCommand({ Bucket: 'not-empty' })), 404);
    const listing = await root.send(new ListBucketsCommand({}));
    assert.ok(!(listing.Buckets ?? []).some((b) => b.Name === 'not-empty'));
    await expectError(root.send(new DeleteBucketCommand({ Bucket: 'not-empty' })), 404, 'NoSuchBucket');
  });

  it('DeleteBucket with only incomplete uploads succeeds, and those uploads are gone', async () => {
    const bucket = 'only-uploads';
    await root.send(new CreateBucketCommand({ Bucket: bucket }));
    const created = await root.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big.bin' }));
    const uploadId = created.UploadId!;
    await root.send(
      new UploadPartCommand({ Bucket: bucket, Key: 'big.bin', UploadId: uploadId, PartNumber: 1, Body: Buffer.alloc(1024, 7) }),
    );
    await root.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'other.bin' }));

    await root.send(new DeleteBucketCommand({ Bucket: bucket }));
    await expectError(root.send(new HeadBucketCommand({ Bucket: bucket })), 404);

    // A new bucket of the same name does not inherit them.
    await root.send(new CreateBucketCommand({ Bucket: bucket }));
    const uploads = await root.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.deepEqual(uploads.Uploads ?? [], []);
    await expectError(root.send(new ListPartsCommand({ Bucket: bucket, Key: 'big.bin', UploadId: uploadId })), 404, 'NoSuchUpload');
    await expectError(
      root.send(new UploadPartCommand({ Bucket: bucket, Key: 'big.bin', UploadId: uploadId, PartNumber: 2, Body: 'x' })),
      404,
      'NoSuchUpload',
    );
    await expectError(
      root.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'big.bin', UploadId: uploadId })),
      404,
      'NoSuchUpload',
    );
  });

  it('a user lists only their own buckets; root lists everyone\'s', async () => {
    await alice.send(new CreateBucketCommand({ Bucket: 'alice-private' }));
    await bob.send(new CreateBucketCommand({ Bucket: 'bob-private' }));
    const names = async (client: S3Client) => ((await client.send(new ListBucketsCommand({}))).Buckets ?? []).map((b) => b.Name);
    const aliceSees = await names(alice);
    const bobSees = await names(bob);
    const rootSees = await names(root);
    assert.ok(aliceSees.includes('alice-private') && !aliceSees.includes('bob-private'));
    assert.ok(bobSees.includes('bob-private') && !bobSees.includes('alice-private'));
    assert.ok(!bobSees.includes('listed-one'), 'root\'s buckets are not listed to Bob');
    assert.ok(rootSees.includes('alice-private') && rootSees.includes('bob-private'));
    const aliceListing = await alice.send(new ListBucketsCommand({}));
    assert.equal(aliceListing.Owner?.ID, 'alice');
    assert.equal(aliceListing.Owner?.DisplayName, 'Alice');
  });
});
