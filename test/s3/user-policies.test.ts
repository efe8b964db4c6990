import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { admin } from '../helpers/admin.js';
import { expectError } from '../helpers/assertions.js';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

// Policies attached to users through the admin API: the AWS policy language without a Principal,
// confining a user to what their policies allow; an explicit Deny wins; a change is in force at
// once (on every node of a cluster as soon as its notification arrives: the checks retry briefly).

const MiB = 1024 * 1024;

describe('user policies', () => {
  let server: TestServer;
  let root: S3Client;
  const clients: S3Client[] = [];

  before(async () => {
    server = await startServer();
    root = s3Client(server);
    for (const bucket of ['shared', 'other']) {
      await root.send(new CreateBucketCommand({ Bucket: bucket }));
      await root.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc.txt', Body: `${bucket} doc` }));
    }
  });
  after(async () => {
    root?.destroy();
    for (const client of clients) client.destroy();
    await server?.cleanup();
  });

  async function userWithKey(id: string): Promise<S3Client> {
    assert.equal((await admin(server, 'POST', 'users', { id })).status, 201);
    const key = (await admin(server, 'POST', `users/${id}/keys`)).json as { accessKeyId: string; secretAccessKey: string };
    const client = s3Client(server, { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey });
    clients.push(client);
    return client;
  }
  const attach = async (user: string, name: string, ...statements: object[]) => {
    const res = await admin(server, 'PUT', `users/${user}/policies/${name}`, { Version: '2012-10-17', Statement: statements });
    assert.equal(res.status, 200, res.body);
  };
  const text = async (client: S3Client, bucket: string, key: string) =>
    (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();

  it('read-only on one bucket: GET and list there; no PUT, no other bucket, no new bucket', async () => {
    const reader = await userWithKey('reader');
    await expectError(reader.send(new GetObjectCommand({ Bucket: 'shared', Key: 'doc.txt' })), 403, 'AccessDenied');
    await attach('reader', 'read-shared', { Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::shared', 'arn:aws:s3:::shared/*'] });
    await eventually(async () => assert.equal(await text(reader, 'shared', 'doc.txt'), 'shared doc'));
    assert.deepEqual((await reader.send(new ListObjectsV2Command({ Bucket: 'shared' }))).Contents?.map((o) => o.Key), ['doc.txt']);
    await expectError(reader.send(new PutObjectCommand({ Bucket: 'shared', Key: 'new.txt', Body: 'x' })), 403, 'AccessDenied');
    await expectError(reader.send(new GetObjectCommand({ Bucket: 'other', Key: 'doc.txt' })), 403, 'AccessDenied');
    await expectError(reader.send(new CreateBucketCommand({ Bucket: 'reader-own' })), 403, 'AccessDenied');
    const listed = await admin(server, 'GET', 'users/reader/policies');
    assert.deepEqual(listed.json.policies.map((p: { name: string }) => p.name), ['read-shared']);
    assert.equal((await admin(server, 'GET', 'users/reader/policies/read-shared')).json.Statement[0].Effect, 'Allow');

    // Detached: the reader has their default access again (their own buckets), which does not reach root's.
    assert.equal((await admin(server, 'DELETE', 'users/reader/policies/read-shared')).status, 204);
    await eventually(() => expectError(reader.send(new GetObjectCommand({ Bucket: 'shared', Key: 'doc.txt' })), 403, 'AccessDenied'));
    await eventually(async () => void (await reader.send(new CreateBucketCommand({ Bucket: 'reader-own' }))));
  });

  it('write-only to one prefix, for an uploader app: PUT and multipart there, nothing else', async () => {
    const uploader = await userWithKey('uploader');
    await attach('uploader', 'incoming', { Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: 'arn:aws:s3:::shared/incoming/*' });
    await eventually(async () => void (await uploader.send(new PutObjectCommand({ Bucket: 'shared', Key: 'incoming/a.txt', Body: 'a' }))));
    const big = Buffer.alloc(11 * MiB, 7);
    await new Upload({ client: uploader, params: { Bucket: 'shared', Key: 'incoming/big.bin', Body: big }, partSize: 5 * MiB }).done();
    assert.equal((await root.send(new GetObjectCommand({ Bucket: 'shared', Key: 'incoming/big.bin' }))).ContentLength, big.length);
    await expectError(uploader.send(new PutObjectCommand({ Bucket: 'shared', Key: 'elsewhere.txt', Body: 'x' })), 403, 'AccessDenied');
    await expectError(uploader.send(new GetObjectCommand({ Bucket: 'shared', Key: 'incoming/a.txt' })), 403, 'AccessDenied');
    await expectError(uploader.send(new DeleteObjectCommand({ Bucket: 'shared', Key: 'incoming/a.txt' })), 403, 'AccessDenied');
  });

  it('an explicit Deny in a user policy wins over an Allow in it and over a bucket policy', async () => {
    const careful = await userWithKey('careful');
    await attach(
      'careful',
      'all-but-delete',
      { Effect: 'Allow', Action: 's3:*', Resource: ['arn:aws:s3:::other', 'arn:aws:s3:::other/*'] },
      { Effect: 'Deny', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::other/*' },
    );
    await eventually(async () => assert.equal(await text(careful, 'other', 'doc.txt'), 'other doc'));
    await careful.send(new PutObjectCommand({ Bucket: 'other', Key: 'careful.txt', Body: 'x' }));
    await expectError(careful.send(new DeleteObjectCommand({ Bucket: 'other', Key: 'careful.txt' })), 403, 'AccessDenied');
  });

  it('bad input is refused with IAM\'s codes, and nothing is attached', async () => {
    await userWithKey('victim');
    const put = (body: string, name = 'p', user = 'victim') => admin(server, 'PUT', `users/${user}/policies/${name}`, undefined, { rawBody: body });
    const statement = { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared/*' };
    const cases: Array<[Promise<{ status: number; json: any }>, number, string]> = [
      [put('{not json'), 400, 'MalformedPolicyDocument'],
      [put(JSON.stringify({ Version: '2012-10-17', Statement: [{ ...statement, Principal: '*' }] })), 400, 'MalformedPolicyDocument'],
      [put(JSON.stringify({ Version: '2012-10-17', Statement: [{ ...statement, Action: 's3:FlyToTheMoon' }] })), 400, 'MalformedPolicyDocument'],
      [put(JSON.stringify({ Version: '2012-10-17', Statement: [{ ...statement, Resource: 'arn:aws:ec2:::thing' }] })), 400, 'MalformedPolicyDocument'],
      [put(JSON.stringify({ Version: '2012-10-17', Statement: [{ ...statement, Resource: `arn:aws:s3:::shared/${'k'.repeat(21_000)}` }] })), 400, 'MalformedPolicyDocument'],
      [put(JSON.stringify({ Version: '2012-10-17', Statement: [statement] }), 'bad name!'), 400, 'InvalidArgument'],
      [put(JSON.stringify({ Version: '2012-10-17', Statement: [statement] }), 'p', 'nobody'), 404, 'NoSuchUser'],
      [put(JSON.stringify({ Version: '2012-10-17', Statement: [statement] }), 'p', 'root'), 409, 'ReadOnlyUser'],
    ];
    for (const [answer, status, code] of cases) {
      const res = await answer;
      assert.deepEqual([res.status, res.json?.code], [status, code], JSON.stringify(res.json));
    }
    assert.deepEqual((await admin(server, 'GET', 'users/victim/policies')).json.policies, []);
    assert.equal((await admin(server, 'GET', 'users/victim/policies/p')).json.code, 'NoSuchEntity');
  });
});

/** Retries `check` for up to 5 s: another node applies a change when its notification arrives. */
async function eventually(check: () => Promise<void>): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await check();
    } catch (err) {
      if (attempt >= 50) throw err;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
