import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import OSS from 'ali-oss';
import { PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { admin } from '../helpers/admin.js';
import { s3Client } from '../helpers/s3.js';
import { rawRequest } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { expectOssError, ossClient, ossRequest, type AliOss } from './helpers.js';

// OSS bucket policies with ali-oss, in OSS's own syntax (Version "1", oss:* actions, acs:oss:
// resources, user ids as principals): public read, a grant to one user, a condition both ways,
// explicit Deny, and malformed documents.

const BUCKET = 'oss-policy';

describe('OSS bucket policies', () => {
  let server: TestServer;
  let client: AliOss;
  let reader: AliOss;

  before(async () => {
    server = await startServer();
    client = ossClient(server, 'v4', BUCKET);
    await client.putBucket(BUCKET);
    await client.put('public/photo.jpg', Buffer.from('jpeg'));
    await client.put('private/notes.txt', Buffer.from('notes'));
    assert.equal((await admin(server, 'POST', 'users', { id: 'oss-reader' })).status, 201);
    const key = (await admin(server, 'POST', 'users/oss-reader/keys')).json as { accessKeyId: string; secretAccessKey: string };
    reader = new OSS({
      accessKeyId: key.accessKeyId,
      accessKeySecret: key.secretAccessKey,
      bucket: BUCKET,
      endpoint: server.url,
      authorizationV4: true,
      region: 'oss-cn-hangzhou',
    } as OSS.Options) as AliOss;
  });
  after(async () => {
    await server?.cleanup();
  });

  const anonymousGet = (key: string) => rawRequest(server.url, { path: `/${BUCKET}/${key}` });
  const policy = (...statements: object[]) => ({ Version: '1', Statement: statements });
  /** ali-oss answers a 404 of getBucketPolicy without throwing: the raw answer says NoSuchBucketPolicy. */
  const noPolicy = async () => {
    assert.equal((await client.getBucketPolicy(BUCKET)).policy, null);
    const res = await ossRequest(server, { bucket: BUCKET, query: [['policy', '']] });
    assert.equal(res.status, 404);
    assert.match(res.body, /<Code>NoSuchBucketPolicy<\/Code>/);
  };

  it('public read of a prefix: anonymous GET works there and nowhere else; deleted, it stops', async () => {
    assert.equal((await anonymousGet('public/photo.jpg')).status, 403);
    await client.putBucketPolicy(
      BUCKET,
      policy({ Effect: 'Allow', Action: ['oss:GetObject'], Principal: ['*'], Resource: [`acs:oss:*:*:${BUCKET}/public/*`] }),
    );
    const stored = await client.getBucketPolicy(BUCKET);
    assert.deepEqual(stored.policy, policy({ Effect: 'Allow', Principal: ['*'], Action: ['oss:GetObject'], Resource: [`acs:oss:*:*:${BUCKET}/public/*`] }), 'answered in OSS syntax as put');
    const got = await anonymousGet('public/photo.jpg');
    assert.deepEqual([got.status, got.body], [200, 'jpeg']);
    assert.equal((await anonymousGet('private/notes.txt')).status, 403);
    const viaOss = await ossRequest(server, { bucket: BUCKET, key: 'public/photo.jpg', signature: 'none', headers: { 'x-oss-date': new Date().toUTCString() } });
    assert.equal(viaOss.status, 200);
    await client.deleteBucketPolicy(BUCKET);
    assert.equal((await anonymousGet('public/photo.jpg')).status, 403);
    await noPolicy();
  });

  it('a grant to one user by id, with a condition that allows and one that denies, and an explicit Deny that wins', async () => {
    await expectOssError(reader.get('private/notes.txt'), 403, 'AccessDenied');
    await client.putBucketPolicy(
      BUCKET,
      policy(
        { Effect: 'Allow', Action: ['oss:GetObject', 'oss:ListObjects'], Principal: ['oss-reader'], Resource: [`acs:oss:*:*:${BUCKET}`, `acs:oss:*:*:${BUCKET}/*`], Condition: { IpAddress: { 'acs:SourceIp': ['127.0.0.0/8', '::1/128'] } } },
        { Effect: 'Deny', Action: ['oss:GetObject'], Principal: ['oss-reader'], Resource: [`acs:oss:*:*:${BUCKET}/private/*`] },
      ),
    );
    const stored = await client.getBucketPolicy(BUCKET);
    assert.deepEqual(stored.policy.Statement[0], {
      Effect: 'Allow',
      Action: ['oss:GetObject', 'oss:ListObjects'],
      Principal: ['oss-reader'],
      Resource: [`acs:oss:*:*:${BUCKET}`, `acs:oss:*:*:${BUCKET}/*`],
      Condition: { IpAddress: { 'acs:SourceIp': ['127.0.0.0/8', '::1/128'] } },
    });
    assert.equal((await reader.get('public/photo.jpg')).content.toString(), 'jpeg');
    assert.deepEqual(((await reader.list({ prefix: 'public/' })).objects ?? []).map((o: { name: string }) => o.name), ['public/photo.jpg']);
    await expectOssError(reader.get('private/notes.txt'), 403, 'AccessDenied');
    await expectOssError(reader.put('public/new.txt', Buffer.from('x')), 403, 'AccessDenied');
    // The same grant from an address the condition does not cover: refused.
    await client.putBucketPolicy(
      BUCKET,
      policy({ Effect: 'Allow', Action: ['oss:GetObject'], Principal: ['oss-reader'], Resource: [`acs:oss:*:*:${BUCKET}/*`], Condition: { IpAddress: { 'acs:SourceIp': ['10.0.0.0/8'] } } }),
    );
    await expectOssError(reader.get('public/photo.jpg'), 403, 'AccessDenied');
    await client.deleteBucketPolicy(BUCKET);
  });

  it('a policy put through S3 reads back in OSS syntax', async () => {
    const s3 = s3Client(server);
    try {
      const aws = {
        Version: '2012-10-17',
        Statement: [
          { Sid: 'uploads', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::tessera:user/oss-reader'] }, Action: ['s3:PutObject', 's3:ListMultipartUploadParts'], Resource: `arn:aws:s3:::${BUCKET}/up/*`, Condition: { StringLike: { 's3:prefix': 'up/*' } } },
        ],
      };
      await s3.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: JSON.stringify(aws) }));
      const stored = await client.getBucketPolicy(BUCKET);
      assert.deepEqual(stored.policy, {
        Version: '1',
        Statement: [
          { Sid: 'uploads', Effect: 'Allow', Principal: ['oss-reader'], Action: ['oss:PutObject', 'oss:ListParts'], Resource: [`acs:oss:*:*:${BUCKET}/up/*`], Condition: { StringLike: { 'oss:Prefix': 'up/*' } } },
        ],
      });
      await client.deleteBucketPolicy(BUCKET);
    } finally {
      s3.destroy();
    }
  });

  it('malformed documents are InvalidPolicyDocument and change nothing', async () => {
    const bad: unknown[] = [
      { Version: '2', Statement: [] },
      policy({ Effect: 'Allow', Action: ['s3:GetObject'], Principal: ['*'], Resource: [`acs:oss:*:*:${BUCKET}/*`] }),
      policy({ Effect: 'Allow', Action: ['oss:GetObject'], Principal: ['*'], Resource: ['arn:aws:s3:::elsewhere/*'] }),
      policy({ Effect: 'Allow', Action: ['oss:GetObject'], Principal: ['*'], Resource: ['acs:oss:*:*:another-bucket/*'] }),
      policy({ Effect: 'Allow', Action: ['oss:GetObject'], Principal: ['*'], Resource: [`acs:oss:*:*:${BUCKET}/*`], Condition: { StringEquals: { 'acs:CurrentTime': 'x' } } }),
      policy({ Effect: 'Maybe', Action: ['oss:GetObject'], Principal: ['*'], Resource: [`acs:oss:*:*:${BUCKET}/*`] }),
      policy({ Effect: 'Allow', Action: ['oss:GetObject'], Principal: ['*'], Resource: [`acs:oss:*:*:${BUCKET}/${'k'.repeat(21_000)}`] }),
    ];
    for (const document of bad) {
      const res = await ossRequest(server, { method: 'PUT', bucket: BUCKET, query: [['policy', '']], body: JSON.stringify(document) });
      assert.equal(res.status, 400, `${JSON.stringify(document).slice(0, 200)}: ${res.body}`);
      assert.match(res.body, /<Code>InvalidPolicyDocument<\/Code>/);
    }
    const notJson = await ossRequest(server, { method: 'PUT', bucket: BUCKET, query: [['policy', '']], body: '{not json' });
    assert.match(notJson.body, /<Code>InvalidPolicyDocument<\/Code>/);
    await noPolicy();
  });
});
