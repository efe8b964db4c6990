import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand,
  DeletePublicAccessBlockCommand,
  GetBucketAclCommand,
  GetObjectAclCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutBucketAclCommand,
  PutObjectAclCommand,
  PutObjectCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { assertS3Error, expectError } from '../helpers/assertions.js';
import { rawRequest, signedRequest } from '../helpers/raw.js';
import { useS3Server } from '../helpers/s3.js';
import type { TestServer } from '../helpers/server.js';

const ALICE = { accessKey: 'AKACLALICE0000000001', secretKey: 'alice-acl-secret-0123456789abcdef', id: 'alice', displayName: 'Alice' };
const ALICE_KEYS = { accessKeyId: 'AKACLALICE0000000001', secretAccessKey: 'alice-acl-secret-0123456789abcdef' };
const BOB = { accessKey: 'AKACLBOB000000000002', secretKey: 'bob-acl-secret-0123456789abcdef', id: 'bob', displayName: 'Bob' };

const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
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
      [{ 'x-amz-grant-read': 'id=bob' }, 400, 'InvalidArgument'],
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

  it("an object's ACL is its bucket owner's; only that one may be set", async () => {
    const acl = await alice.send(new GetObjectAclCommand({ Bucket: 'acls', Key: 'doc.txt' }));
    assert.deepEqual(acl.Grants?.map((g) => [g.Grantee?.ID, g.Permission]), [['alice', 'FULL_CONTROL']]);
    await alice.send(new PutObjectAclCommand({ Bucket: 'acls', Key: 'doc.txt', ACL: 'private' }));
    await expectError(alice.send(new PutObjectAclCommand({ Bucket: 'acls', Key: 'doc.txt', ACL: 'public-read' })), 501, 'NotImplemented');
    await expectError(alice.send(new PutObjectAclCommand({ Bucket: 'enforced', Key: 'doc.txt', ACL: 'public-read' })), 404, 'NoSuchKey');
    await alice.send(new PutObjectCommand({ Bucket: 'enforced', Key: 'doc.txt', Body: 'x' }));
    await expectError(alice.send(new PutObjectAclCommand({ Bucket: 'enforced', Key: 'doc.txt', ACL: 'public-read' })), 400, 'AccessControlListNotSupported');
    await expectError(alice.send(new PutObjectCommand({ Bucket: 'acls', Key: 'public.txt', Body: 'x', ACL: 'public-read' })), 501, 'NotImplemented');
    await expectError(bob.send(new GetObjectAclCommand({ Bucket: 'acls', Key: 'doc.txt' })), 403, 'AccessDenied');
  });
});
