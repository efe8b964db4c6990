import { describe, it } from 'node:test';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import assert from 'node:assert/strict';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  PutBucketOwnershipControlsCommand,
  PutBucketPolicyCommand,
  PutBucketVersioningCommand,
  UploadPartCommand,
  DeletePublicAccessBlockCommand,
  GetBucketAclCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutBucketAclCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { assertS3Error, expectError } from '../helpers/assertions.js';
import { rawRequest, signedRequest } from '../helpers/raw.js';
import { s3Client, useS3Server } from '../helpers/s3.js';
import { admin, type Credentials } from '../helpers/admin.js';
import { multipartBody, postForm, s3PolicyFields } from '../helpers/form.js';
import type { TestServer } from '../helpers/server.js';

const ALICE = { accessKey: 'AKACLALICE0000000001', secretKey: 'alice-acl-secret-0123456789abcdef', id: 'alice', displayName: 'Alice' };
const ALICE_KEYS = { accessKeyId: 'AKACLALICE0000000001', secretAccessKey: 'alice-acl-secret-0123456789abcdef' };
const BOB = { accessKey: 'AKACLBOB000000000002', secretKey: 'bob-acl-secret-0123456789abcdef', id: 'bob', displayName: 'Bob' };

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
const AWS_CLI = spawnSync('aws', ['--version'], { encoding: 'utf8' }).status === 0;
const OPEN = { BlockPublicAcls: false, IgnorePublicAcls: false, BlockPublicPolicy: false, RestrictPublicBuckets: false };

describe('S3 bucket ACLs, with Object Ownership and Block Public Access', () => {
  let server: TestServer;
  let alice: S3Client;
  let bob: S3Client;

  useS3Server({ users: [ALICE, BOB] }, async (env) => {
    server = env.server;
    [alice, bob] = env.users as [S3Client, S3Client];
    await alice.send(new CreateBucketCommand({ Bucket: 'enforced' }));
    await alice.send(new CreateBucketCommand({ Bucket: 'acls', ObjectOwnership: 'ObjectWriter' }));
    await alice.send(new PutObjectCommand({ Bucket: 'acls', Key: 'doc.txt', Body: 'a document' }));
  });

  const anonymous = (method: string, path: string, body?: string) =>
    rawRequest(server.url, { method, path, body, headers: body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) } });
  const grantsOf = async (client: S3Client, bucket: string) =>
    ((await client.send(new GetBucketAclCommand({ Bucket: bucket }))).Grants ?? []).map((g) => [g.Grantee?.ID ?? g.Grantee?.URI, g.Permission]);

  it("a new bucket's ACL is its owner's FULL_CONTROL; with ACLs off nothing else may be set, at creation or after", async () => {
    const acl = await alice.send(new GetBucketAclCommand({ Bucket: 'enforced' }));
    assert.deepEqual(acl.Owner, { ID: 'alice', DisplayName: 'Alice' });
    assert.deepEqual(await grantsOf(alice, 'enforced'), [['alice', 'FULL_CONTROL']]);
    assert.equal(acl.Grants?.[0]?.Grantee?.Type, 'CanonicalUser');
    await expectError(alice.send(new PutBucketAclCommand({ Bucket: 'enforced', ACL: 'public-read' })), 400, 'AccessControlListNotSupported');
    await alice.send(new PutBucketAclCommand({ Bucket: 'enforced', ACL: 'private' }));
    await expectError(alice.send(new CreateBucketCommand({ Bucket: 'never-made', ACL: 'public-read' })), 400, 'InvalidBucketAclWithObjectOwnership');
    await expectError(
      alice.send(new CreateBucketCommand({ Bucket: 'never-made', ACL: 'public-read', ObjectOwnership: 'ObjectWriter' })),
      400,
      'InvalidBucketAclWithBlockPublicAccessError',
    );
    await expectError(bob.send(new GetBucketAclCommand({ Bucket: 'enforced' })), 403, 'AccessDenied');
  });

  it('public-read lets anyone list the bucket (not read its objects); IgnorePublicAcls and BlockPublicAcls take it back', async () => {
    await expectError(alice.send(new PutBucketAclCommand({ Bucket: 'acls', ACL: 'public-read' })), 403, 'AccessDenied');
    await alice.send(new DeletePublicAccessBlockCommand({ Bucket: 'acls' }));
    await alice.send(new PutBucketAclCommand({ Bucket: 'acls', ACL: 'public-read' }));
    assert.deepEqual(await grantsOf(alice, 'acls'), [['alice', 'FULL_CONTROL'], [ALL_USERS, 'READ']]);
    const listed = await anonymous('GET', '/acls?list-type=2');
    assert.equal(listed.status, 200);
    assert.match(listed.body, /<Key>doc.txt<\/Key>/);
    // READ on a bucket is listing; each object's read is its own ACL's (its owner's alone).
    assertS3Error(await anonymous('GET', '/acls/doc.txt'), 403, 'AccessDenied');
    assertS3Error(await anonymous('PUT', '/acls/new.txt', 'x'), 403, 'AccessDenied');

    await alice.send(new PutPublicAccessBlockCommand({ Bucket: 'acls', PublicAccessBlockConfiguration: { ...OPEN, IgnorePublicAcls: true } }));
    assertS3Error(await anonymous('GET', '/acls?list-type=2'), 403, 'AccessDenied');
    await alice.send(new PutPublicAccessBlockCommand({ Bucket: 'acls', PublicAccessBlockConfiguration: { ...OPEN, BlockPublicAcls: true } }));
    assert.equal((await anonymous('GET', '/acls?list-type=2')).status, 200);
    await expectError(alice.send(new PutBucketAclCommand({ Bucket: 'acls', ACL: 'public-read-write' })), 403, 'AccessDenied');
    await alice.send(new PutPublicAccessBlockCommand({ Bucket: 'acls', PublicAccessBlockConfiguration: OPEN }));
  });

  it('public-read-write lets anyone write objects into the bucket; private takes every grant back', async () => {
    await alice.send(new PutBucketAclCommand({ Bucket: 'acls', ACL: 'public-read-write' }));
    assert.equal((await anonymous('PUT', '/acls/from-anyone.txt', 'anonymous bytes')).status, 200);
    const got = await alice.send(new GetObjectCommand({ Bucket: 'acls', Key: 'from-anyone.txt' }));
    assert.equal(await got.Body!.transformToString(), 'anonymous bytes');
    await alice.send(new PutBucketAclCommand({ Bucket: 'acls', ACL: 'private' }));
    assertS3Error(await anonymous('PUT', '/acls/again.txt', 'x'), 403, 'AccessDenied');
    assertS3Error(await anonymous('GET', '/acls?list-type=2'), 403, 'AccessDenied');
  });

  it('explicit grants, by header and by document, name users; what cannot be honoured is refused', async () => {
    await expectError(bob.send(new ListObjectsV2Command({ Bucket: 'acls' })), 403, 'AccessDenied');
    await alice.send(new PutBucketAclCommand({ Bucket: 'acls', GrantRead: 'id="bob"', GrantWrite: 'id="bob"' }));
    assert.deepEqual(await grantsOf(alice, 'acls'), [['bob', 'READ'], ['bob', 'WRITE']]);
    assert.deepEqual((await bob.send(new ListObjectsV2Command({ Bucket: 'acls' }))).Contents?.map((o) => o.Key), ['doc.txt', 'from-anyone.txt']);
    await bob.send(new PutObjectCommand({ Bucket: 'acls', Key: 'from-bob.txt', Body: 'bob wrote this' }));
    await expectError(bob.send(new GetBucketAclCommand({ Bucket: 'acls' })), 403, 'AccessDenied');

    await alice.send(
      new PutBucketAclCommand({
        Bucket: 'acls',
        AccessControlPolicy: {
          Owner: { ID: 'alice' },
          Grants: [
            { Grantee: { Type: 'CanonicalUser', ID: 'alice' }, Permission: 'FULL_CONTROL' },
            { Grantee: { Type: 'CanonicalUser', ID: 'bob' }, Permission: 'READ_ACP' },
          ],
        },
      }),
    );
    assert.deepEqual(await grantsOf(bob, 'acls'), [['alice', 'FULL_CONTROL'], ['bob', 'READ_ACP']]);
    await expectError(bob.send(new ListObjectsV2Command({ Bucket: 'acls' })), 403, 'AccessDenied');

    const refusals: Array<[Record<string, string>, number, string]> = [
      [{ 'x-amz-grant-read': 'emailAddress="bob@example.com"' }, 400, 'UnresolvableGrantByEmailAddress'],
      [{ 'x-amz-grant-read': 'id="nobody-of-that-name"' }, 400, 'InvalidArgument'],
      [{ 'x-amz-grant-read': 'uri="http://acs.amazonaws.com/groups/s3/LogDelivery"' }, 400, 'InvalidArgument'],
      [{ 'x-amz-grant-read': 'id="bob' }, 400, 'InvalidArgument'],
      [{ 'x-amz-grant-read': 'bob' }, 400, 'InvalidArgument'],
      [{ 'x-amz-acl': 'private', 'x-amz-grant-read': 'id="bob"' }, 400, 'InvalidRequest'],
      [{ 'x-amz-acl': 'everyone-please' }, 400, 'InvalidArgument'],
    ];
    for (const [headers, status, code] of refusals) {
      assertS3Error(await signedRequest(server.url, 'PUT', '/acls?acl', { headers, credentials: ALICE_KEYS }), status, code);
    }
    // An ACL cannot hand the bucket to someone else.
    const foreignOwner = '<AccessControlPolicy><Owner><ID>bob</ID></Owner><AccessControlList></AccessControlList></AccessControlPolicy>';
    assertS3Error(await signedRequest(server.url, 'PUT', '/acls?acl', { body: foreignOwner, credentials: ALICE_KEYS }), 403, 'AccessDenied');
    assertS3Error(await signedRequest(server.url, 'PUT', '/acls?acl', { body: '<AccessControlPolicy><Owner>', credentials: ALICE_KEYS }), 400, 'MalformedXML');
    // Nothing changed.
    assert.deepEqual(await grantsOf(alice, 'acls'), [['alice', 'FULL_CONTROL'], ['bob', 'READ_ACP']]);
    await alice.send(new PutBucketAclCommand({ Bucket: 'acls', ACL: 'private' }));
  });

  it("an object's ACL is its bucket owner's until one is set; with ACLs off none but that may be", async () => {
    const acl = await alice.send(new GetObjectAclCommand({ Bucket: 'acls', Key: 'doc.txt' }));
    assert.deepEqual(acl.Grants?.map((g) => [g.Grantee?.ID, g.Permission]), [['alice', 'FULL_CONTROL']]);
    await alice.send(new PutObjectAclCommand({ Bucket: 'acls', Key: 'doc.txt', ACL: 'private' }));
    await expectError(alice.send(new PutObjectAclCommand({ Bucket: 'enforced', Key: 'doc.txt', ACL: 'public-read' })), 404, 'NoSuchKey');
    await alice.send(new PutObjectCommand({ Bucket: 'enforced', Key: 'doc.txt', Body: 'x' }));
    await expectError(alice.send(new PutObjectAclCommand({ Bucket: 'enforced', Key: 'doc.txt', ACL: 'public-read' })), 400, 'AccessControlListNotSupported');
    await expectError(bob.send(new GetObjectAclCommand({ Bucket: 'acls', Key: 'doc.txt' })), 403, 'AccessDenied');
  });
});

describe("S3 objects' own ACLs", () => {
  let server: TestServer;
  let alice: S3Client;
  let bob: S3Client;
  const BUCKET = 'objacl';

  useS3Server({ users: [ALICE, BOB] }, async (env) => {
    server = env.server;
    [alice, bob] = env.users as [S3Client, S3Client];
    await alice.send(new CreateBucketCommand({ Bucket: BUCKET, ObjectOwnership: 'ObjectWriter' }));
    await alice.send(new DeletePublicAccessBlockCommand({ Bucket: BUCKET }));
    await bob.send(new CreateBucketCommand({ Bucket: 'bobs' }));
  });

  const get = (path: string) => rawRequest(server.url, { path });
  const put = (key: string, body: string, more: Partial<ConstructorParameters<typeof PutObjectCommand>[0]> = {}) =>
    alice.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body, ...more }));
  const grantsOf = async (key: string, versionId?: string) =>
    ((await alice.send(new GetObjectAclCommand({ Bucket: BUCKET, Key: key, VersionId: versionId }))).Grants ?? []).map((g) => [g.Grantee?.ID ?? g.Grantee?.URI, g.Permission]);

  it('a public-read object in a private bucket is anyone\'s to read, and no longer once PutObjectAcl makes it private', async () => {
    await put('public.txt', 'for everyone', { ACL: 'public-read' });
    await put('private.txt', 'for alice');
    const read = await get(`/${BUCKET}/public.txt`);
    assert.equal(read.status, 200);
    assert.equal(read.body, 'for everyone');
    assert.equal((await rawRequest(server.url, { method: 'HEAD', path: `/${BUCKET}/public.txt` })).status, 200);
    // fetch, as a browser would, without credentials.
    const fetched = await fetch(`${server.url}/${BUCKET}/public.txt`);
    assert.equal(fetched.status, 200);
    assert.equal(await fetched.text(), 'for everyone');
    assert.deepEqual(await grantsOf('public.txt'), [['alice', 'FULL_CONTROL'], [ALL_USERS, 'READ']]);
    // Its neighbours stay private, a missing key is not told apart, and the bucket is not listed.
    assertS3Error(await get(`/${BUCKET}/private.txt`), 403, 'AccessDenied');
    assertS3Error(await get(`/${BUCKET}/missing.txt`), 403, 'AccessDenied');
    assertS3Error(await get(`/${BUCKET}?list-type=2`), 403, 'AccessDenied');
    // READ is not READ_ACP, nor WRITE.
    assertS3Error(await get(`/${BUCKET}/public.txt?acl`), 403, 'AccessDenied');
    assertS3Error(await rawRequest(server.url, { method: 'PUT', path: `/${BUCKET}/public.txt`, body: 'x', headers: { 'content-length': '1' } }), 403, 'AccessDenied');
    // An unsigned request no object ACL could grant is refused before anything else is looked at.
    const asking = { 'content-length': '1', 'x-amz-server-side-encryption': 'AES256' };
    assertS3Error(await rawRequest(server.url, { method: 'PUT', path: `/${BUCKET}/public.txt`, body: 'x', headers: asking }), 403, 'AccessDenied');

    await alice.send(new PutObjectAclCommand({ Bucket: BUCKET, Key: 'public.txt', ACL: 'private' }));
    assert.deepEqual(await grantsOf('public.txt'), [['alice', 'FULL_CONTROL']]);
    assertS3Error(await get(`/${BUCKET}/public.txt`), 403, 'AccessDenied');
    // Replacing an object replaces its ACL: a new object without one is private.
    await put('public.txt', 'again', { ACL: 'public-read' });
    assert.equal((await get(`/${BUCKET}/public.txt`)).status, 200);
    await put('public.txt', 'private now');
    assertS3Error(await get(`/${BUCKET}/public.txt`), 403, 'AccessDenied');
  });

  it('grants to users, by header and by document: READ reads, READ_ACP reads the ACL, WRITE_ACP replaces it; a Deny still wins', async () => {
    await put('shared.txt', 'for bob', { GrantRead: 'id="bob"' });
    assert.deepEqual(await grantsOf('shared.txt'), [['bob', 'READ']]);
    assert.equal(await (await bob.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'shared.txt' }))).Body!.transformToString(), 'for bob');
    assertS3Error(await get(`/${BUCKET}/shared.txt`), 403, 'AccessDenied');
    await expectError(bob.send(new GetObjectAclCommand({ Bucket: BUCKET, Key: 'shared.txt' })), 403, 'AccessDenied');
    await expectError(bob.send(new PutObjectAclCommand({ Bucket: BUCKET, Key: 'shared.txt', ACL: 'public-read' })), 403, 'AccessDenied');
    // READ on one object reads that one only.
    await expectError(bob.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'private.txt' })), 403, 'AccessDenied');

    await alice.send(
      new PutObjectAclCommand({
        Bucket: BUCKET,
        Key: 'shared.txt',
        AccessControlPolicy: {
          Owner: { ID: 'alice' },
          Grants: [
            { Grantee: { Type: 'CanonicalUser', ID: 'alice' }, Permission: 'FULL_CONTROL' },
            { Grantee: { Type: 'CanonicalUser', ID: 'bob' }, Permission: 'READ_ACP' },
            { Grantee: { Type: 'CanonicalUser', ID: 'bob' }, Permission: 'WRITE_ACP' },
          ],
        },
      }),
    );
    await expectError(bob.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'shared.txt' })), 403, 'AccessDenied');
    assert.deepEqual(
      ((await bob.send(new GetObjectAclCommand({ Bucket: BUCKET, Key: 'shared.txt' }))).Grants ?? []).map((g) => [g.Grantee?.ID, g.Permission]),
      [['alice', 'FULL_CONTROL'], ['bob', 'READ_ACP'], ['bob', 'WRITE_ACP']],
    );
    // With WRITE_ACP bob may give himself READ (and everyone else, as authenticated-read does).
    await bob.send(new PutObjectAclCommand({ Bucket: BUCKET, Key: 'shared.txt', ACL: 'authenticated-read' }));
    assert.deepEqual(await grantsOf('shared.txt'), [['alice', 'FULL_CONTROL'], ['http://acs.amazonaws.com/groups/global/AuthenticatedUsers', 'READ']]);
    assert.equal(await (await bob.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'shared.txt' }))).Body!.transformToString(), 'for bob');
    assertS3Error(await get(`/${BUCKET}/shared.txt`), 403, 'AccessDenied');

    // An explicit Deny in the bucket policy wins over any grant.
    const deny = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::000000000000:user/bob' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/shared.txt` }],
    };
    await alice.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: JSON.stringify(deny) }));
    await expectError(bob.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'shared.txt' })), 403, 'AccessDenied');
    await alice.send(new PutBucketPolicyCommand({ Bucket: BUCKET, Policy: JSON.stringify({ ...deny, Statement: [{ ...deny.Statement[0], Action: 's3:PutObject' }] }) }));
    assert.equal((await bob.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'shared.txt' }))).$metadata.httpStatusCode, 200);

    // WRITE means nothing on an object: a new object cannot be given it.
    assertS3Error(
      await signedRequest(server.url, 'PUT', `/${BUCKET}/w.txt`, { body: 'x', headers: { 'x-amz-grant-write': 'id="bob"' }, credentials: ALICE_KEYS }),
      400,
      'InvalidArgument',
    );
    assertS3Error(
      await signedRequest(server.url, 'PUT', `/${BUCKET}/w.txt`, { body: 'x', headers: { 'x-amz-acl': 'everyone-please' }, credentials: ALICE_KEYS }),
      400,
      'InvalidArgument',
    );
    await expectError(alice.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'w.txt' })), 404);
  });

  it('a grant may name a user made through the admin API, who reads with their own key', async () => {
    assert.equal((await admin(server, 'POST', 'users', { id: 'carol', displayName: 'Carol' })).status, 201);
    const key = (await admin(server, 'POST', 'users/carol/keys')).json as Credentials;
    const carol = s3Client(server, key, { maxAttempts: 1 });
    try {
      await put('for-carol.txt', 'hello carol', { GrantRead: 'id="carol"', GrantReadACP: 'id="carol"' });
      assert.equal(await (await carol.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'for-carol.txt' }))).Body!.transformToString(), 'hello carol');
      const acl = await carol.send(new GetObjectAclCommand({ Bucket: BUCKET, Key: 'for-carol.txt' }));
      assert.deepEqual(acl.Grants?.map((g) => [g.Grantee?.ID, g.Grantee?.DisplayName, g.Permission]), [['carol', 'Carol', 'READ'], ['carol', 'Carol', 'READ_ACP']]);
      await alice.send(new PutObjectAclCommand({ Bucket: BUCKET, Key: 'for-carol.txt', ACL: 'private' }));
      await expectError(carol.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'for-carol.txt' })), 403, 'AccessDenied');
    } finally {
      carol.destroy();
    }
  });

  it("a multipart upload's ACL is its object's; a copy takes the ACL its request names, never its source's", async () => {
    const { UploadId } = await alice.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'big.bin', ACL: 'public-read' }));
    const part = await alice.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'big.bin', UploadId, PartNumber: 1, Body: 'multipart bytes' }));
    // Until it is complete there is nothing to read.
    assertS3Error(await get(`/${BUCKET}/big.bin`), 403, 'AccessDenied');
    await alice.send(new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: 'big.bin', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
    assert.equal((await get(`/${BUCKET}/big.bin`)).body, 'multipart bytes');
    assert.deepEqual(await grantsOf('big.bin'), [['alice', 'FULL_CONTROL'], [ALL_USERS, 'READ']]);

    await alice.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy.bin', CopySource: `${BUCKET}/big.bin` }));
    assert.deepEqual(await grantsOf('copy.bin'), [['alice', 'FULL_CONTROL']]);
    assertS3Error(await get(`/${BUCKET}/copy.bin`), 403, 'AccessDenied');
    await alice.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy2.bin', CopySource: `${BUCKET}/private.txt`, ACL: 'public-read' }));
    assert.equal((await get(`/${BUCKET}/copy2.bin`)).body, 'for alice');
    await alice.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy3.bin', CopySource: `${BUCKET}/private.txt`, GrantRead: 'id="bob"' }));
    assert.deepEqual(await grantsOf('copy3.bin'), [['bob', 'READ']]);

    // A grant of READ on the source is what a copy out of someone else's bucket needs.
    await expectError(bob.send(new CopyObjectCommand({ Bucket: 'bobs', Key: 'mine.txt', CopySource: `${BUCKET}/private.txt` })), 403, 'AccessDenied');
    await bob.send(new CopyObjectCommand({ Bucket: 'bobs', Key: 'mine.txt', CopySource: `${BUCKET}/copy3.bin` }));
    assert.equal(await (await bob.send(new GetObjectCommand({ Bucket: 'bobs', Key: 'mine.txt' }))).Body!.transformToString(), 'for alice');
  });

  it('the aws CLI: cp --acl public-read, s3api put-object-acl and get-object-acl', { skip: !AWS_CLI && 'the aws CLI is not installed' }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-acl-cli-'));
    try {
      const env = {
        PATH: process.env.PATH,
        HOME: dir,
        AWS_ACCESS_KEY_ID: ALICE_KEYS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: ALICE_KEYS.secretAccessKey,
        AWS_DEFAULT_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
      };
      const aws = (...args: string[]) => promisify(execFile)('aws', ['--endpoint-url', server.url, ...args], { env });
      await writeFile(join(dir, 'cli.txt'), 'from the aws CLI');
      await aws('s3', 'cp', join(dir, 'cli.txt'), `s3://${BUCKET}/cli.txt`, '--acl', 'public-read');
      assert.equal((await get(`/${BUCKET}/cli.txt`)).body, 'from the aws CLI');
      await aws('s3api', 'put-object-acl', '--bucket', BUCKET, '--key', 'cli.txt', '--grant-read', 'id=bob');
      const { stdout } = await aws('s3api', 'get-object-acl', '--bucket', BUCKET, '--key', 'cli.txt', '--output', 'json');
      const grants = (JSON.parse(stdout) as { Grants: Array<{ Grantee: { ID?: string }; Permission: string }> }).Grants;
      assert.deepEqual(grants.map((g) => [g.Grantee.ID, g.Permission]), [['bob', 'READ']]);
      assertS3Error(await get(`/${BUCKET}/cli.txt`), 403, 'AccessDenied');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a form upload's acl field is its object's", async () => {
    const auth = s3PolicyFields({ conditions: [{ bucket: BUCKET }, ['starts-with', '$key', 'forms/'], { acl: 'public-read' }], credentials: ALICE_KEYS });
    const form = multipartBody([['key', 'forms/posted.txt'], ['acl', 'public-read'], ...auth.fields], { filename: 'posted.txt', content: 'posted' });
    assert.equal((await postForm(server, `/${BUCKET}`, form)).status, 204);
    assert.equal((await get(`/${BUCKET}/forms/posted.txt`)).body, 'posted');
    assert.deepEqual(await grantsOf('forms/posted.txt'), [['alice', 'FULL_CONTROL'], [ALL_USERS, 'READ']]);
  });

  it('Block Public Access: BlockPublicAcls refuses a public object ACL, IgnorePublicAcls leaves its public grants out', async () => {
    await put('open.txt', 'open', { ACL: 'public-read' });
    await alice.send(new PutPublicAccessBlockCommand({ Bucket: BUCKET, PublicAccessBlockConfiguration: { ...OPEN, BlockPublicAcls: true } }));
    await expectError(put('blocked.txt', 'x', { ACL: 'public-read' }), 403, 'AccessDenied');
    await expectError(put('blocked.txt', 'x', { GrantRead: `uri="${ALL_USERS}"` }), 403, 'AccessDenied');
    await expectError(alice.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'blocked.txt', ACL: 'public-read' })), 403, 'AccessDenied');
    await expectError(alice.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'blocked.txt', CopySource: `${BUCKET}/open.txt`, ACL: 'public-read' })), 403, 'AccessDenied');
    await expectError(alice.send(new PutObjectAclCommand({ Bucket: BUCKET, Key: 'private.txt', ACL: 'public-read' })), 403, 'AccessDenied');
    await expectError(alice.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'blocked.txt' })), 404);
    // Grants to users are not public; one already made stays (BlockPublicAcls only refuses new ones).
    await put('for-bob.txt', 'x', { GrantRead: 'id="bob"' });
    assert.equal((await get(`/${BUCKET}/open.txt`)).status, 200);

    await alice.send(new PutPublicAccessBlockCommand({ Bucket: BUCKET, PublicAccessBlockConfiguration: { ...OPEN, IgnorePublicAcls: true } }));
    assertS3Error(await get(`/${BUCKET}/open.txt`), 403, 'AccessDenied');
    assert.equal((await bob.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'for-bob.txt' }))).$metadata.httpStatusCode, 200);
    await alice.send(new PutPublicAccessBlockCommand({ Bucket: BUCKET, PublicAccessBlockConfiguration: OPEN }));
    assert.equal((await get(`/${BUCKET}/open.txt`)).status, 200);
  });

  it('BucketOwnerEnforced: no object ACL but the owner\'s may be asked for, and those kept count no more until ACLs are on again', async () => {
    await alice.send(new CreateBucketCommand({ Bucket: 'enforced-objects' }));
    const enforced = (key: string, more: Partial<ConstructorParameters<typeof PutObjectCommand>[0]>) =>
      alice.send(new PutObjectCommand({ Bucket: 'enforced-objects', Key: key, Body: 'x', ...more }));
    await enforced('a.txt', { ACL: 'bucket-owner-full-control' });
    await enforced('b.txt', { ACL: 'private' });
    await expectError(enforced('c.txt', { ACL: 'public-read' }), 400, 'AccessControlListNotSupported');
    await expectError(enforced('c.txt', { GrantRead: 'id="bob"' }), 400, 'AccessControlListNotSupported');
    await expectError(alice.send(new CreateMultipartUploadCommand({ Bucket: 'enforced-objects', Key: 'c.txt', ACL: 'authenticated-read' })), 400, 'AccessControlListNotSupported');
    await expectError(
      alice.send(new CopyObjectCommand({ Bucket: 'enforced-objects', Key: 'c.txt', CopySource: 'enforced-objects/a.txt', ACL: 'public-read' })),
      400,
      'AccessControlListNotSupported',
    );

    // A public object, then ACLs turned off: it is its owner's alone; on again, its ACL is back.
    await put('toggled.txt', 'toggled', { ACL: 'public-read' });
    const ownership = (ObjectOwnership: 'BucketOwnerEnforced' | 'ObjectWriter') =>
      alice.send(new PutBucketOwnershipControlsCommand({ Bucket: BUCKET, OwnershipControls: { Rules: [{ ObjectOwnership }] } }));
    await ownership('BucketOwnerEnforced');
    assertS3Error(await get(`/${BUCKET}/toggled.txt`), 403, 'AccessDenied');
    assert.deepEqual(await grantsOf('toggled.txt'), [['alice', 'FULL_CONTROL']]);
    await expectError(alice.send(new PutObjectAclCommand({ Bucket: BUCKET, Key: 'toggled.txt', ACL: 'public-read' })), 400, 'AccessControlListNotSupported');
    await ownership('ObjectWriter');
    assert.equal((await get(`/${BUCKET}/toggled.txt`)).body, 'toggled');
  });

  it('each version has its own ACL: PutObjectAcl and GetObjectAcl with a version id', async () => {
    await alice.send(new CreateBucketCommand({ Bucket: 'versioned-acl', ObjectOwnership: 'ObjectWriter' }));
    await alice.send(new DeletePublicAccessBlockCommand({ Bucket: 'versioned-acl' }));
    await alice.send(new PutBucketVersioningCommand({ Bucket: 'versioned-acl', VersioningConfiguration: { Status: 'Enabled' } }));
    const v1 = (await alice.send(new PutObjectCommand({ Bucket: 'versioned-acl', Key: 'doc.txt', Body: 'one', ACL: 'public-read' }))).VersionId!;
    const v2 = (await alice.send(new PutObjectCommand({ Bucket: 'versioned-acl', Key: 'doc.txt', Body: 'two' }))).VersionId!;
    assertS3Error(await get('/versioned-acl/doc.txt'), 403, 'AccessDenied');
    assert.equal((await get(`/versioned-acl/doc.txt?versionId=${v1}`)).body, 'one');
    assertS3Error(await get(`/versioned-acl/doc.txt?versionId=${v2}`), 403, 'AccessDenied');

    await alice.send(new PutObjectAclCommand({ Bucket: 'versioned-acl', Key: 'doc.txt', VersionId: v2, ACL: 'public-read' }));
    assert.equal((await get('/versioned-acl/doc.txt')).body, 'two');
    await alice.send(new PutObjectAclCommand({ Bucket: 'versioned-acl', Key: 'doc.txt', VersionId: v1, ACL: 'private' }));
    assertS3Error(await get(`/versioned-acl/doc.txt?versionId=${v1}`), 403, 'AccessDenied');
    const aclOf = async (versionId: string) =>
      ((await alice.send(new GetObjectAclCommand({ Bucket: 'versioned-acl', Key: 'doc.txt', VersionId: versionId }))).Grants ?? []).map((g) => g.Permission);
    assert.deepEqual(await aclOf(v1), ['FULL_CONTROL']);
    assert.deepEqual(await aclOf(v2), ['FULL_CONTROL', 'READ']);
    // A version that is not there is not told to anyone who may not list the bucket.
    assertS3Error(await get('/versioned-acl/doc.txt?versionId=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'), 403, 'AccessDenied');
  });
});
