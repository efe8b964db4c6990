import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  CreateBucketCommand,
  DeleteBucketOwnershipControlsCommand,
  DeleteBucketPolicyCommand,
  DeletePublicAccessBlockCommand,
  GetBucketOwnershipControlsCommand,
  GetBucketPolicyCommand,
  GetBucketPolicyStatusCommand,
  GetObjectCommand,
  GetPublicAccessBlockCommand,
  ListObjectsV2Command,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { expectError, assertS3Error } from '../helpers/assertions.js';
import { rawRequest } from '../helpers/raw.js';
import { useS3Server } from '../helpers/s3.js';
import type { TestServer } from '../helpers/server.js';

const ALICE = { accessKey: 'AKPOLICYALICE0000001', secretKey: 'alice-policy-secret-0123456789abcdef', id: 'alice' };
const BOB = { accessKey: 'AKPOLICYBOB000000002', secretKey: 'bob-policy-secret-0123456789abcdef', id: 'bob' };
const CAROL = { accessKey: 'AKPOLICYCAROL0000003', secretKey: 'carol-policy-secret-0123456789abcdef', id: 'carol' };

const BUCKET = 'policy-bucket';

type Statement = Record<string, unknown>;
const policyOf = (...statements: Statement[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const publicRead = (bucket = BUCKET, extra: Statement = {}) =>
  policyOf({ Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*`, ...extra });
const OPEN = { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };

describe('S3 bucket policies, Block Public Access and Object Ownership', () => {
  let server: TestServer;
  let root: S3Client;
  let alice: S3Client;
  let bob: S3Client;
  let carol: S3Client;

  useS3Server({ users: [ALICE, BOB, CAROL] }, async (env) => {
    ({ server, s3: root } = env);
    [alice, bob, carol] = env.users as [S3Client, S3Client, S3Client];
    await alice.send(new CreateBucketCommand({ Bucket: BUCKET }));
    for (const key of ['public/a.txt', 'public/b.txt', 'secret/plans.txt']) {
      await alice.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `body of ${key}` }));
    }
  });

  const anonymous = (path: string, options: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
    rawRequest(server.url, { method: options.method ?? 'GET', path, headers: options.headers, body: options.body });
  const putPolicy = (client: S3Client, policy: string, bucket = BUCKET) => client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy }));

  it('a new bucket blocks public access and enforces bucket ownership, and has no policy', async () => {
    const block = (await alice.send(new GetPublicAccessBlockCommand({ Bucket: BUCKET }))).PublicAccessBlockConfiguration;
    assert.deepEqual(block, { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    const ownership = await alice.send(new GetBucketOwnershipControlsCommand({ Bucket: BUCKET }));
    assert.deepEqual(ownership.OwnershipControls?.Rules, [{ ObjectOwnership: 'BucketOwnerEnforced' }]);
    await expectError(alice.send(new GetBucketPolicyCommand({ Bucket: BUCKET })), 404, 'NoSuchBucketPolicy');
    await expectError(alice.send(new GetBucketPolicyStatusCommand({ Bucket: BUCKET })), 404, 'NoSuchBucketPolicy');
    assertS3Error(await anonymous(`/${BUCKET}/public/a.txt`), 403, 'AccessDenied');
  });

  it('Block Public Access refuses a public policy; turned off, the classic public-read policy opens GET to anyone', async () => {
    await expectError(putPolicy(alice, publicRead()), 403, 'AccessDenied');
    await expectError(alice.send(new GetBucketPolicyCommand({ Bucket: BUCKET })), 404, 'NoSuchBucketPolicy');

    await alice.send(new DeletePublicAccessBlockCommand({ Bucket: BUCKET }));
    await expectError(alice.send(new GetPublicAccessBlockCommand({ Bucket: BUCKET })), 404, 'NoSuchPublicAccessBlockConfiguration');
    await putPolicy(alice, publicRead());
    assert.equal((await alice.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))).Policy, publicRead());
    assert.equal((await alice.send(new GetBucketPolicyStatusCommand({ Bucket: BUCKET }))).PolicyStatus?.IsPublic, true);

    const got = await anonymous(`/${BUCKET}/public/a.txt`);
    assert.equal(got.status, 200);
    assert.equal(got.body, 'body of public/a.txt');
    assert.equal((await anonymous(`/${BUCKET}/public/a.txt`, { method: 'HEAD' })).status, 200);
    // Only GetObject was granted: no listing, no writes, no deletes, and a missing key is 403 (no s3:ListBucket).
    assertS3Error(await anonymous(`/${BUCKET}`), 403, 'AccessDenied');
    assertS3Error(await anonymous(`/${BUCKET}/public/new.txt`, { method: 'PUT', body: 'x', headers: { 'content-length': '1' } }), 403, 'AccessDenied');
    assertS3Error(await anonymous(`/${BUCKET}/public/a.txt`, { method: 'DELETE' }), 403, 'AccessDenied');
    assertS3Error(await anonymous(`/${BUCKET}/public/missing.txt`), 403, 'AccessDenied');
    assertS3Error(await anonymous('/'), 403, 'AccessDenied');
    // A bucket that does not exist is NoSuchBucket, whoever asks.
    assertS3Error(await anonymous('/no-such-policy-bucket/x'), 404, 'NoSuchBucket');
    // Signed-in users are "anyone" too.
    assert.equal(await (await carol.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/b.txt' }))).Body!.transformToString(), 'body of public/b.txt');
    await expectError(carol.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'public/c.txt', Body: 'no' })), 403, 'AccessDenied');
  });

  it('RestrictPublicBuckets takes a public policy from anonymous callers, and gives it back when turned off', async () => {
    await alice.send(new PutPublicAccessBlockCommand({ Bucket: BUCKET, PublicAccessBlockConfiguration: { ...OPEN, RestrictPublicBuckets: true } }));
    assertS3Error(await anonymous(`/${BUCKET}/public/a.txt`), 403, 'AccessDenied');
    // Signed-in users of this Tessera keep what the policy gives everyone.
    await carol.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/a.txt' }));
    // BlockPublicPolicy refuses a new public policy but leaves the one in place.
    await alice.send(new PutPublicAccessBlockCommand({ Bucket: BUCKET, PublicAccessBlockConfiguration: { ...OPEN, BlockPublicPolicy: true } }));
    assert.equal((await anonymous(`/${BUCKET}/public/a.txt`)).status, 200);
    await expectError(putPolicy(alice, publicRead(BUCKET, { Sid: 'Again' })), 403, 'AccessDenied');
    // A policy pinned to an address range is not public: BlockPublicPolicy lets it through.
    await putPolicy(alice, publicRead(BUCKET, { Condition: { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } } }));
    assert.equal((await alice.send(new GetBucketPolicyStatusCommand({ Bucket: BUCKET }))).PolicyStatus?.IsPublic, false);
    assert.equal((await anonymous(`/${BUCKET}/public/a.txt`)).status, 200);
    await alice.send(new PutPublicAccessBlockCommand({ Bucket: BUCKET, PublicAccessBlockConfiguration: OPEN }));
  });

  it('conditions: aws:SourceIp, aws:Referer and aws:SecureTransport each allow and deny', async () => {
    await putPolicy(alice, publicRead(BUCKET, { Condition: { IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] } } }));
    assertS3Error(await anonymous(`/${BUCKET}/public/a.txt`), 403, 'AccessDenied');
    await putPolicy(alice, publicRead(BUCKET, { Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }));
    assert.equal((await anonymous(`/${BUCKET}/public/a.txt`)).status, 200);

    await putPolicy(alice, publicRead(BUCKET, { Condition: { StringLike: { 'aws:Referer': ['https://www.example.com/*'] } } }));
    assertS3Error(await anonymous(`/${BUCKET}/public/a.txt`), 403, 'AccessDenied');
    assertS3Error(await anonymous(`/${BUCKET}/public/a.txt`, { headers: { referer: 'https://evil.example.net/page' } }), 403, 'AccessDenied');
    assert.equal((await anonymous(`/${BUCKET}/public/a.txt`, { headers: { referer: 'https://www.example.com/gallery' } })).status, 200);

    // The usual "TLS only" policy: over plain HTTP even the owner is refused; root is not bound by policies.
    await putPolicy(
      alice,
      policyOf(
        { Sid: 'Read', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` },
        { Sid: 'TlsOnly', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } } },
      ),
    );
    assertS3Error(await anonymous(`/${BUCKET}/public/a.txt`), 403, 'AccessDenied');
    await expectError(alice.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/a.txt' })), 403, 'AccessDenied');
    await root.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/a.txt' }));
    // The owner keeps the policy itself, so it cannot lock them out.
    assert.match((await alice.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))).Policy ?? '', /TlsOnly/);
    await putPolicy(alice, policyOf({ Sid: 'TlsOnly', Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*`, Condition: { Bool: { 'aws:SecureTransport': 'true' } } }));
    await alice.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/a.txt' }));
    await alice.send(new DeleteBucketPolicyCommand({ Bucket: BUCKET }));
    assertS3Error(await anonymous(`/${BUCKET}/public/a.txt`), 403, 'AccessDenied');
  });

  it('a policy naming a user shares the bucket with them: s3:prefix bounds their listing, an explicit Deny wins', async () => {
    await expectError(bob.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/a.txt' })), 403, 'AccessDenied');
    await putPolicy(
      alice,
      policyOf(
        { Sid: 'BobReads', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: ['s3:GetObject'], Resource: `arn:aws:s3:::${BUCKET}/*` },
        { Sid: 'BobListsPublic', Effect: 'Allow', Principal: { AWS: ['arn:aws:iam::123456789012:user/bob'] }, Action: 's3:ListBucket', Resource: `arn:aws:s3:::${BUCKET}`, Condition: { StringLike: { 's3:prefix': 'public/*' } } },
        { Sid: 'NotTheSecrets', Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/secret/*` },
      ),
    );
    assert.equal(await (await bob.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/a.txt' }))).Body!.transformToString(), 'body of public/a.txt');
    await expectError(bob.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'secret/plans.txt' })), 403, 'AccessDenied');
    await expectError(bob.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'public/bob.txt', Body: 'no' })), 403, 'AccessDenied');
    const listed = await bob.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'public/' }));
    assert.deepEqual(listed.Contents?.map((o) => o.Key), ['public/a.txt', 'public/b.txt']);
    await expectError(bob.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'secret/' })), 403, 'AccessDenied');
    await expectError(bob.send(new ListObjectsV2Command({ Bucket: BUCKET })), 403, 'AccessDenied');
    // s3:ListBucket with an s3:prefix condition does not cover a GET: a missing key is still 403 to bob.
    await expectError(bob.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/missing.txt' })), 403, 'AccessDenied');
    await expectError(carol.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/a.txt' })), 403, 'AccessDenied');
    // Only the owner (or root) manages the policy.
    await expectError(putPolicy(bob, publicRead()), 403, 'AccessDenied');
    await expectError(bob.send(new DeleteBucketPolicyCommand({ Bucket: BUCKET })), 403, 'AccessDenied');
    await alice.send(new DeleteBucketPolicyCommand({ Bucket: BUCKET }));
    await expectError(bob.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'public/a.txt' })), 403, 'AccessDenied');
  });

  it('a Deny applies to the next write at once, on every node, however recently writes were allowed', async () => {
    // Behind the cluster's round-robin proxy, six PUTs reach every node, each then holding the bucket as it read it.
    for (let i = 0; i < 6; i++) await alice.send(new PutObjectCommand({ Bucket: BUCKET, Key: `locked/${i}.txt`, Body: 'allowed' }));
    await putPolicy(alice, policyOf({ Sid: 'NoMore', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `arn:aws:s3:::${BUCKET}/locked/*` }));
    for (let i = 0; i < 6; i++) {
      await expectError(alice.send(new PutObjectCommand({ Bucket: BUCKET, Key: `locked/${i}.txt`, Body: 'refused' })), 403, 'AccessDenied');
    }
    const kept = await alice.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'locked/0.txt' }));
    assert.equal(await kept.Body!.transformToString(), 'allowed');
    await alice.send(new DeleteBucketPolicyCommand({ Bucket: BUCKET }));
    await alice.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'locked/0.txt', Body: 'allowed again' }));
  });

  it('a bad policy is refused with MalformedPolicy and changes nothing', async () => {
    const kept = publicRead(BUCKET, { Sid: 'Kept' });
    await putPolicy(alice, kept);
    const cases: Array<[string, RegExp]> = [
      ['{"Version": "2012-10-17", "Statement": [', /invalid Json/],
      [publicRead(BUCKET, { Action: 's3:GetObjekt' }), /invalid action/],
      [publicRead('another-bucket'), /invalid resource/],
      [publicRead(BUCKET, { Principal: { AWS: 'arn:aws:iam::tessera:user/nobody-here' } }), /Invalid principal/],
      [publicRead(BUCKET, { Effect: 'Perhaps' }), /Invalid effect/],
      [publicRead(BUCKET, { Condition: { StringEquals: { 'aws:NoSuchKey': 'x' } } }), /invalid condition key/],
      [publicRead(BUCKET, { Sid: 'x'.repeat(21 * 1024) }), /less than 20 KB/],
    ];
    for (const [policy, message] of cases) {
      const res = await rawRequest(server.url, { method: 'PUT', path: `/${BUCKET}?policy`, body: policy });
      // Unsigned, so refused before the document is read; the signed request gets the policy's own error.
      assertS3Error(res, 403, 'AccessDenied');
      const error = await putPolicy(alice, policy).then(
        () => assert.fail('accepted'),
        (err: { name: string; message: string; $metadata?: { httpStatusCode?: number } }) => err,
      );
      assert.equal(error.name, 'MalformedPolicy');
      assert.equal(error.$metadata?.httpStatusCode, 400);
      assert.match(error.message, message);
    }
    await expectError(putPolicy(alice, publicRead(BUCKET, { Condition: { StringEquals: { 's3:ExistingObjectTag/team': 'x' } } })), 501, 'NotImplemented');
    assert.equal((await alice.send(new GetBucketPolicyCommand({ Bucket: BUCKET }))).Policy, kept);
    await alice.send(new DeleteBucketPolicyCommand({ Bucket: BUCKET }));
  });

  it('Object Ownership: put, get, delete, and a value S3 does not have is MalformedXML', async () => {
    await alice.send(new PutBucketOwnershipControlsCommand({ Bucket: BUCKET, OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerPreferred' }] } }));
    assert.deepEqual((await alice.send(new GetBucketOwnershipControlsCommand({ Bucket: BUCKET }))).OwnershipControls?.Rules, [{ ObjectOwnership: 'BucketOwnerPreferred' }]);
    await expectError(
      alice.send(new PutBucketOwnershipControlsCommand({ Bucket: BUCKET, OwnershipControls: { Rules: [{ ObjectOwnership: 'Everyone' as never }] } })),
      400,
      'MalformedXML',
    );
    await expectError(bob.send(new GetBucketOwnershipControlsCommand({ Bucket: BUCKET })), 403, 'AccessDenied');
    await alice.send(new DeleteBucketOwnershipControlsCommand({ Bucket: BUCKET }));
    await expectError(alice.send(new GetBucketOwnershipControlsCommand({ Bucket: BUCKET })), 404, 'OwnershipControlsNotFoundError');
    await alice.send(new PutBucketOwnershipControlsCommand({ Bucket: BUCKET, OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] } }));
  });

  it('the AWS CLI puts and reads a bucket policy, and curl fetches the public object without credentials', async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_ACCESS_KEY_ID: ALICE.accessKey, AWS_SECRET_ACCESS_KEY: ALICE.secretKey };
    Object.assign(env, { AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '', AWS_EC2_METADATA_DISABLED: 'true' });
    const aws = async (...args: string[]) =>
      JSON.parse((await promisify(execFile)('aws', ['--endpoint-url', server.url, '--output', 'json', ...args], { env })).stdout || '{}') as Record<string, unknown>;
    await aws('s3api', 'put-public-access-block', '--bucket', BUCKET, '--public-access-block-configuration', 'BlockPublicPolicy=false,RestrictPublicBuckets=false');
    await aws('s3api', 'put-bucket-policy', '--bucket', BUCKET, '--policy', publicRead(BUCKET, { Sid: 'Cli' }));
    assert.match(String((await aws('s3api', 'get-bucket-policy', '--bucket', BUCKET)).Policy), /"Sid":"Cli"/);
    assert.deepEqual((await aws('s3api', 'get-bucket-policy-status', '--bucket', BUCKET)).PolicyStatus, { IsPublic: true });
    // curl, with no credentials at all: the body, then the status.
    const curl = async (path: string) => (await promisify(execFile)('curl', ['-s', '-w', '\n%{http_code}', `${server.url}${path}`])).stdout;
    assert.equal(await curl(`/${BUCKET}/public/b.txt`), 'body of public/b.txt\n200');
    assert.match(await curl(`/${BUCKET}`), /<Code>AccessDenied<\/Code>[\s\S]*\n403$/);
    await aws('s3api', 'delete-bucket-policy', '--bucket', BUCKET);
    assert.match(await curl(`/${BUCKET}/public/b.txt`), /\n403$/);
    assertS3Error(await anonymous(`/${BUCKET}/public/b.txt`), 403, 'AccessDenied');
  });
});
