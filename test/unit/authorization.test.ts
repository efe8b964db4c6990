import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decide, objectAction, type AccessRequest } from '../../src/core/authorization.js';
import { parsePolicy, policyIsPublic } from '../../src/core/policy.js';
import type { Actor, BucketInfo, PublicAccessBlock } from '../../src/core/types.js';

const everyone = () => true;
const bucketPolicy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const userPolicy = (...statements: object[]) => parsePolicy(JSON.stringify({ Version: '2012-10-17', Statement: statements }), { userExists: everyone });

const alice: Actor = { userId: 'alice', root: false };
const bob: Actor = { userId: 'bob', root: false };
const root: Actor = { userId: 'root', root: true };
const nobody: Actor = { userId: '', root: false, anonymous: true };

const OPEN: PublicAccessBlock = { blockPublicAcls: false, ignorePublicAcls: false, blockPublicPolicy: false, restrictPublicBuckets: false };

function bucket(policy?: string, publicAccessBlock?: PublicAccessBlock): BucketInfo {
  return { name: 'photos', owner: 'alice', createdAt: new Date(0), access: { policy, publicAccessBlock } };
}
const get = (info: BucketInfo, key = 'a.jpg'): AccessRequest => ({ action: 's3:GetObject', bucket: info, key });

describe('authorisation: the order of the decision', () => {
  it('root may do anything; an owner with no policy attached may do anything to their bucket, others nothing', () => {
    const plain = bucket();
    for (const action of ['s3:GetObject', 's3:PutObject', 's3:DeleteBucket', 's3:PutBucketPolicy']) {
      assert.equal(decide(root, { action, bucket: plain, key: 'k' }), 'allow');
      assert.equal(decide(alice, { action, bucket: plain, key: 'k' }), 'allow');
      assert.equal(decide(bob, { action, bucket: plain, key: 'k' }), 'implicit-deny');
      assert.equal(decide(nobody, { action, bucket: plain, key: 'k' }), 'implicit-deny');
    }
    assert.equal(decide(bob, { action: 's3:CreateBucket' }), 'allow');
    assert.equal(decide(bob, { action: 's3:ListAllMyBuckets' }), 'allow');
    assert.equal(decide(nobody, { action: 's3:CreateBucket' }), 'implicit-deny');
  });

  it('a bucket policy grants other users and anyone; an explicit Deny wins, even over the owner', () => {
    const shared = bucket(
      bucketPolicy(
        { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:*', Resource: 'arn:aws:s3:::photos/*' },
        { Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::photos/keep/*' },
      ),
      OPEN,
    );
    assert.equal(decide(bob, { action: 's3:PutObject', bucket: shared, key: 'x' }), 'allow');
    assert.equal(decide(bob, { action: 's3:DeleteObject', bucket: shared, key: 'keep/x' }), 'explicit-deny');
    assert.equal(decide(alice, { action: 's3:DeleteObject', bucket: shared, key: 'keep/x' }), 'explicit-deny');
    assert.equal(decide(alice, { action: 's3:DeleteObject', bucket: shared, key: 'other' }), 'allow');
    assert.equal(decide(root, { action: 's3:DeleteObject', bucket: shared, key: 'keep/x' }), 'allow');
    assert.equal(decide(nobody, get(shared)), 'implicit-deny');
  });

  it('the owner keeps the policy actions whatever the policy says', () => {
    const lockout = bucket(bucketPolicy({ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: ['arn:aws:s3:::photos', 'arn:aws:s3:::photos/*'] }), OPEN);
    assert.equal(decide(alice, { action: 's3:GetObject', bucket: lockout, key: 'a' }), 'explicit-deny');
    for (const action of ['s3:GetBucketPolicy', 's3:PutBucketPolicy', 's3:DeleteBucketPolicy']) {
      assert.equal(decide(alice, { action, bucket: lockout }), 'allow');
      assert.equal(decide(bob, { action, bucket: lockout }), 'explicit-deny');
    }
  });

  it('RestrictPublicBuckets takes a public policy from anonymous callers only', () => {
    const policy = bucketPolicy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*' });
    assert.equal(decide(nobody, get(bucket(policy, OPEN))), 'allow');
    const restricted = bucket(policy, { ...OPEN, restrictPublicBuckets: true });
    assert.equal(decide(nobody, get(restricted)), 'implicit-deny');
    assert.equal(decide(bob, get(restricted)), 'allow');
    // A policy pinned to addresses is not public: it keeps working for anonymous callers from them.
    const pinned = bucketPolicy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*', Condition: { IpAddress: { 'aws:SourceIp': '192.0.2.0/24' } } });
    const from = (ip: string): Actor => ({ ...nobody, conditions: { 'aws:sourceip': ip } });
    const pinnedBucket = bucket(pinned, { ...OPEN, restrictPublicBuckets: true });
    assert.equal(decide(from('192.0.2.7'), get(pinnedBucket)), 'allow');
    assert.equal(decide(from('198.51.100.1'), get(pinnedBucket)), 'implicit-deny');
  });

  it('a user with policies attached is confined to them, even in their own bucket', () => {
    const readOnly: Actor = { ...alice, policies: [userPolicy({ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::photos', 'arn:aws:s3:::photos/*'] })] };
    const plain = bucket();
    assert.equal(decide(readOnly, get(plain)), 'allow');
    assert.equal(decide(readOnly, { action: 's3:PutObject', bucket: plain, key: 'a' }), 'implicit-deny');
    assert.equal(decide(readOnly, { action: 's3:CreateBucket' }), 'implicit-deny');
    // Another's bucket: a user policy reaches it (one Tessera is one account).
    const uploader: Actor = { ...bob, policies: [userPolicy({ Effect: 'Allow', Action: 's3:PutObject', Resource: 'arn:aws:s3:::photos/incoming/*' })] };
    assert.equal(decide(uploader, { action: 's3:PutObject', bucket: plain, key: 'incoming/x.jpg' }), 'allow');
    assert.equal(decide(uploader, { action: 's3:PutObject', bucket: plain, key: 'x.jpg' }), 'implicit-deny');
    assert.equal(decide(uploader, get(plain, 'incoming/x.jpg')), 'implicit-deny');
    // A Deny in a user policy beats a bucket policy's Allow.
    const denied: Actor = { ...bob, policies: [userPolicy({ Effect: 'Deny', Action: 's3:*', Resource: '*' })] };
    const shared = bucket(bucketPolicy({ Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*' }), OPEN);
    assert.equal(decide(denied, get(shared)), 'explicit-deny');
  });

  it('ACL grants count while ACLs are on: a bucket older than Object Ownership (none stored) has them on, as AWS\'s older buckets', () => {
    const acl = { owner: 'alice', grants: [{ grantee: { group: 'AllUsers' as const }, permission: 'READ' as const }] };
    const list = (ownership?: 'BucketOwnerEnforced' | 'ObjectWriter'): AccessRequest => ({
      action: 's3:ListBucket',
      bucket: { name: 'photos', owner: 'alice', createdAt: new Date(0), access: { acl, ownership } },
    });
    assert.equal(decide(nobody, list()), 'allow');
    assert.equal(decide(nobody, list('ObjectWriter')), 'allow');
    assert.equal(decide(nobody, list('BucketOwnerEnforced')), 'implicit-deny');
  });

  it("an object's ACL grants what S3 maps to its permissions, where ACLs are on and no Deny says otherwise", () => {
    const objectAcl = {
      owner: 'alice',
      grants: [
        { grantee: { group: 'AllUsers' as const }, permission: 'READ' as const },
        { grantee: { user: 'bob' }, permission: 'WRITE_ACP' as const },
      ],
    };
    const info = (access: BucketInfo['access']): BucketInfo => ({ name: 'photos', owner: 'alice', createdAt: new Date(0), access });
    const ask = (action: string, bucketInfo: BucketInfo): AccessRequest => ({ action, bucket: bucketInfo, key: 'a.jpg', objectAcl });
    const writer = info({ ownership: 'ObjectWriter' });
    assert.equal(decide(nobody, ask('s3:GetObject', writer)), 'allow');
    assert.equal(decide(nobody, ask('s3:GetObjectVersion', writer)), 'allow');
    assert.equal(decide(nobody, ask('s3:GetObjectAcl', writer)), 'implicit-deny');
    assert.equal(decide(nobody, ask('s3:PutObject', writer)), 'implicit-deny');
    assert.equal(decide(bob, ask('s3:PutObjectAcl', writer)), 'allow');
    assert.equal(decide(bob, ask('s3:DeleteObject', writer)), 'implicit-deny');
    // Without the object's ACL (not read), nothing of it counts.
    assert.equal(decide(nobody, { action: 's3:GetObject', bucket: writer, key: 'a.jpg' }), 'implicit-deny');
    assert.equal(decide(nobody, ask('s3:GetObject', info({ ownership: 'BucketOwnerEnforced' }))), 'implicit-deny');
    assert.equal(decide(nobody, ask('s3:GetObject', info({ ownership: 'ObjectWriter', publicAccessBlock: { ...OPEN, ignorePublicAcls: true } }))), 'implicit-deny');
    const denied = info({
      ownership: 'ObjectWriter',
      policy: bucketPolicy({ Effect: 'Deny', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*' }),
    });
    assert.equal(decide(nobody, ask('s3:GetObject', denied)), 'explicit-deny');
  });

  it('conditions see the request (actor) and the call (request) together', () => {
    const prefixOnly = bucket(
      bucketPolicy({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::tessera:user/bob' }, Action: 's3:ListBucket', Resource: 'arn:aws:s3:::photos', Condition: { StringLike: { 's3:prefix': 'shared/*' } } }),
      OPEN,
    );
    assert.equal(decide(bob, { action: 's3:ListBucket', bucket: prefixOnly, conditions: { 's3:prefix': 'shared/2024/' } }), 'allow');
    assert.equal(decide(bob, { action: 's3:ListBucket', bucket: prefixOnly, conditions: { 's3:prefix': '' } }), 'implicit-deny');
    assert.equal(decide(bob, { action: 's3:ListBucket', bucket: prefixOnly }), 'implicit-deny');
  });

  it('version ids turn object actions into their version forms', () => {
    assert.equal(objectAction('s3:GetObject', undefined), 's3:GetObject');
    assert.equal(objectAction('s3:GetObject', 'v1'), 's3:GetObjectVersion');
    assert.equal(objectAction('s3:DeleteObject', 'v1'), 's3:DeleteObjectVersion');
    assert.equal(objectAction('s3:PutObjectTagging', 'v1'), 's3:PutObjectVersionTagging');
    assert.equal(objectAction('s3:GetObjectAttributes', 'v1'), 's3:GetObjectVersionAttributes');
    // Retention and legal hold have no version forms: the same action takes a version id.
    assert.equal(objectAction('s3:GetObjectRetention', 'v1'), 's3:GetObjectRetention');
    assert.equal(objectAction('s3:PutObjectLegalHold', 'v1'), 's3:PutObjectLegalHold');
  });

  it('what makes a policy public', () => {
    const parse = (statement: object) => parsePolicy(bucketPolicy(statement), { bucket: 'photos', userExists: everyone });
    const base = { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::photos/*' };
    assert.equal(policyIsPublic(parse(base)), true);
    assert.equal(policyIsPublic(parse({ ...base, Principal: { AWS: 'arn:aws:iam::tessera:user/bob' } })), false);
    assert.equal(policyIsPublic(parse({ ...base, Effect: 'Deny' })), false);
    assert.equal(policyIsPublic(parse({ ...base, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } })), false);
    assert.equal(policyIsPublic(parse({ ...base, Condition: { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } } })), true);
    assert.equal(policyIsPublic(parse({ ...base, Condition: { StringLike: { 'aws:Referer': 'https://example.com/*' } } })), true);
  });
});
