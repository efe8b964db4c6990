import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeleteBucketPolicyCommand, PutBucketPolicyCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/s3.js';
import type { TestServer } from '../helpers/server.js';
import { ALICE, ALICE_BUCKET, login, md5, ok, panCall } from './helpers.js';
import { startPanServer } from './helpers.js';

// The 123pan dialect goes through the same authorisation as S3: a bucket policy on the drive's
// bucket binds the app's user, conditions on the request included.

describe('pan drive under a bucket policy', () => {
  let server: TestServer;
  let token: string;
  let alice: S3Client;
  const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
  const denyAlice = (action: string, resource: string, condition?: object) => ({
    Effect: 'Deny',
    Principal: { AWS: 'arn:aws:iam::tessera:user/alice' },
    Action: action,
    Resource: resource,
    ...(condition ? { Condition: condition } : {}),
  });

  before(async () => {
    server = await startPanServer();
    token = await login(server.url);
    alice = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
    // The first call makes the drive's bucket.
    await ok(server.url, 'GET', '/api/v2/file/list', { token, query: { parentFileId: 0, limit: 1 } });
    await alice.send(new PutObjectCommand({ Bucket: ALICE_BUCKET, Key: 'kept.txt', Body: 'kept' }));
  });
  after(async () => {
    alice?.destroy();
    await server?.cleanup();
  });

  it('a Deny on renames and on listing from this address refuses the app, with the reason; removing it lets the app in again', async () => {
    const listing = () => panCall(server.url, 'GET', '/api/v2/file/list', { token, query: { parentFileId: 0, limit: 100 } });
    const fileId = ((await ok(server.url, 'GET', '/api/v2/file/list', { token, query: { parentFileId: 0, limit: 100 } })).fileList as Array<{ filename: string; fileId: number }>)
      .find((file) => file.filename === 'kept.txt')!.fileId;

    await alice.send(new PutBucketPolicyCommand({ Bucket: ALICE_BUCKET, Policy: policy(denyAlice('s3:DeleteObject', `arn:aws:s3:::${ALICE_BUCKET}/kept.txt`)) }));
    const renamed = await panCall(server.url, 'PUT', '/api/v1/file/name', { token, json: { fileId, fileName: 'moved.txt' } });
    assert.equal(renamed.body.code, 401);
    assert.match(renamed.body.message, /access denied/);
    // A new file elsewhere is still fine.
    const created = await ok(server.url, 'POST', '/upload/v2/file/create', { token, json: { parentFileID: 0, filename: 'new.bin', etag: md5(Buffer.from('kept')), size: 4 } });
    assert.equal(created.reuse, true);

    // The request's own address is a condition too.
    await alice.send(new PutBucketPolicyCommand({ Bucket: ALICE_BUCKET, Policy: policy(denyAlice('s3:ListBucket', `arn:aws:s3:::${ALICE_BUCKET}`, { IpAddress: { 'aws:SourceIp': ['127.0.0.0/8', '::1/128'] } })) }));
    assert.equal((await listing()).body.code, 401);
    await alice.send(new PutBucketPolicyCommand({ Bucket: ALICE_BUCKET, Policy: policy(denyAlice('s3:ListBucket', `arn:aws:s3:::${ALICE_BUCKET}`, { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } })) }));
    assert.equal((await listing()).body.code, 0);

    await alice.send(new DeleteBucketPolicyCommand({ Bucket: ALICE_BUCKET }));
    assert.equal((await panCall(server.url, 'PUT', '/api/v1/file/name', { token, json: { fileId, fileName: 'moved.txt' } })).body.code, 0);
  });
});
