import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
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
import { clusterMode, startServer, type TestServer } from '../helpers/server.js';

// Managed policies (src/core/user-policies.ts): named documents in the AWS policy language without
// a Principal, attached to any number of users through the admin API. An attached user is confined
// to what their policies allow; an explicit Deny wins; replacing or detaching a policy is in force
// from the answer on (on a single node at once; in a cluster, behind a round-robin proxy, on every
// node when its notification arrives: there the checks retry briefly).

const MiB = 1024 * 1024;
/** A user of the config file: read-only through the admin API, but a policy may confine them, by id. */
const CONFIG_USER = { id: 'fixed', accessKey: 'FIXEDUSERKEY', secretKey: 'fixed-user-secret-key' };
const readShared = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: ['arn:aws:s3:::shared', 'arn:aws:s3:::shared/*'] }],
};

describe('managed policies', () => {
  let server: TestServer;
  let root: S3Client;
  const clients: S3Client[] = [];

  before(async () => {
    server = await startServer({ config: { users: [CONFIG_USER] } });
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
    const client = s3Client(server, { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey }, { maxAttempts: 1 });
    clients.push(client);
    return client;
  }
  const putPolicy = async (name: string, document: object) => {
    const res = await admin(server, 'PUT', `policies/${name}`, document);
    assert.equal(res.status, 200, res.body);
    return res.json;
  };
  const attach = async (name: string, user: string) => {
    const res = await admin(server, 'PUT', `users/${user}/attached-policies/${name}`);
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.json, { userId: user, name });
  };
  const detach = async (name: string, user: string) => assert.equal((await admin(server, 'DELETE', `users/${user}/attached-policies/${name}`)).status, 204);
  const text = async (client: S3Client, bucket: string, key: string) =>
    (await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString();

  it('read-only on one bucket, one policy for two users: GET and list there; no PUT, no other bucket, no new bucket', async () => {
    const [ann, ben] = [await userWithKey('ann'), await userWithKey('ben')];
    const stored = await putPolicy('read-shared', readShared);
    assert.equal(stored.name, 'read-shared');
    assert.deepEqual(stored.users, []);
    await attach('read-shared', 'ann');
    await attach('read-shared', 'ben');
    await attach('read-shared', 'ben'); // again: no change, as IAM's AttachUserPolicy
    for (const reader of [ann, ben]) {
      await settled(async () => assert.equal(await text(reader, 'shared', 'doc.txt'), 'shared doc'));
      assert.deepEqual((await reader.send(new ListObjectsV2Command({ Bucket: 'shared' }))).Contents?.map((o) => o.Key), ['doc.txt']);
      await expectError(reader.send(new PutObjectCommand({ Bucket: 'shared', Key: 'new.txt', Body: 'x' })), 403, 'AccessDenied');
      await expectError(reader.send(new GetObjectCommand({ Bucket: 'other', Key: 'doc.txt' })), 403, 'AccessDenied');
    }
    await expectError(ann.send(new CreateBucketCommand({ Bucket: 'ann-own' })), 403, 'AccessDenied');

    const listed = (await admin(server, 'GET', 'policies')).json.policies as Array<{ name: string; users: string[]; created: string; updated: string }>;
    assert.deepEqual(listed.find((p) => p.name === 'read-shared')?.users, ['ann', 'ben']);
    assert.deepEqual((await admin(server, 'GET', 'policies/read-shared')).json, readShared);
    assert.deepEqual((await admin(server, 'GET', 'users/ann/attached-policies')).json.policies.map((p: { name: string }) => p.name), ['read-shared']);
    // The user listing names each user's policies.
    const users = (await admin(server, 'GET', 'users')).json.users as Array<{ id: string; policies: string[]; attachedPolicies: string[] }>;
    assert.deepEqual(users.find((u) => u.id === 'ben'), { ...users.find((u) => u.id === 'ben'), policies: [], attachedPolicies: ['read-shared'] });
    assert.deepEqual((await admin(server, 'GET', 'users/root')).json.attachedPolicies, []);
  });

  it('write-only to one prefix, for an uploader app: PUT and multipart there; nothing elsewhere, no GET, no DELETE', async () => {
    const uploader = await userWithKey('uploader');
    await putPolicy('incoming-only', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['s3:PutObject', 's3:AbortMultipartUpload'], Resource: 'arn:aws:s3:::shared/incoming/*' }],
    });
    await attach('incoming-only', 'uploader');
    await settled(async () => void (await uploader.send(new PutObjectCommand({ Bucket: 'shared', Key: 'incoming/a.txt', Body: 'a' }))));
    const big = Buffer.alloc(11 * MiB, 7);
    await new Upload({ client: uploader, params: { Bucket: 'shared', Key: 'incoming/big.bin', Body: big }, partSize: 5 * MiB }).done();
    assert.equal((await root.send(new GetObjectCommand({ Bucket: 'shared', Key: 'incoming/big.bin' }))).ContentLength, big.length);
    const started = await uploader.send(new CreateMultipartUploadCommand({ Bucket: 'shared', Key: 'incoming/left.bin' }));
    await uploader.send(new AbortMultipartUploadCommand({ Bucket: 'shared', Key: 'incoming/left.bin', UploadId: started.UploadId }));

    await expectError(uploader.send(new PutObjectCommand({ Bucket: 'shared', Key: 'elsewhere.txt', Body: 'x' })), 403, 'AccessDenied');
    await expectError(uploader.send(new CreateMultipartUploadCommand({ Bucket: 'shared', Key: 'elsewhere.bin' })), 403, 'AccessDenied');
    await expectError(uploader.send(new PutObjectCommand({ Bucket: 'other', Key: 'incoming/a.txt', Body: 'x' })), 403, 'AccessDenied');
    await expectError(uploader.send(new GetObjectCommand({ Bucket: 'shared', Key: 'incoming/a.txt' })), 403, 'AccessDenied');
    await expectError(uploader.send(new DeleteObjectCommand({ Bucket: 'shared', Key: 'incoming/a.txt' })), 403, 'AccessDenied');
    await expectError(uploader.send(new ListObjectsV2Command({ Bucket: 'shared', Prefix: 'incoming/' })), 403, 'AccessDenied');
  });

  it("an explicit Deny wins over the user's default access to their own bucket, and over an Allow of another policy", async () => {
    const owner = await userWithKey('owner');
    await owner.send(new CreateBucketCommand({ Bucket: 'owner-bucket' }));
    await owner.send(new PutObjectCommand({ Bucket: 'owner-bucket', Key: 'keep.txt', Body: 'keep' }));
    await putPolicy('everything', { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] });
    await putPolicy('no-delete', { Version: '2012-10-17', Statement: [{ Effect: 'Deny', Action: 's3:DeleteObject', Resource: 'arn:aws:s3:::*' }] });
    await attach('everything', 'owner');
    await attach('no-delete', 'owner');
    await settled(() => expectError(owner.send(new DeleteObjectCommand({ Bucket: 'owner-bucket', Key: 'keep.txt' })), 403, 'AccessDenied'));
    // The Allow of `everything` stands where nothing denies: root's bucket too.
    await owner.send(new PutObjectCommand({ Bucket: 'other', Key: 'owner.txt', Body: 'x' }));
    assert.equal(await text(owner, 'owner-bucket', 'keep.txt'), 'keep');

    // Detached, the Deny is gone: the owner's default access deletes in their own bucket again.
    await detach('no-delete', 'owner');
    await detach('everything', 'owner');
    await settled(async () => void (await owner.send(new DeleteObjectCommand({ Bucket: 'owner-bucket', Key: 'keep.txt' }))));
    await expectError(owner.send(new GetObjectCommand({ Bucket: 'other', Key: 'owner.txt' })), 403, 'AccessDenied');
  });

  it('a replaced document is in force for every attached user at once; a detached user has their default access again', async () => {
    const carol = await userWithKey('carol');
    await putPolicy('moving', readShared);
    await attach('moving', 'carol');
    await settled(async () => assert.equal(await text(carol, 'shared', 'doc.txt'), 'shared doc'));
    const before = (await admin(server, 'GET', 'policies')).json.policies.find((p: { name: string }) => p.name === 'moving');

    const readOther = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::other/*' }] };
    const replaced = await putPolicy('moving', readOther);
    assert.deepEqual(replaced.users, ['carol']);
    assert.equal(replaced.created, before.created, 'replacing keeps the creation date');
    assert.ok(replaced.updated >= before.updated);
    await settled(() => expectError(carol.send(new GetObjectCommand({ Bucket: 'shared', Key: 'doc.txt' })), 403, 'AccessDenied'));
    await settled(async () => assert.equal(await text(carol, 'other', 'doc.txt'), 'other doc'));

    await detach('moving', 'carol');
    await settled(() => expectError(carol.send(new GetObjectCommand({ Bucket: 'other', Key: 'doc.txt' })), 403, 'AccessDenied'));
    await settled(async () => void (await carol.send(new CreateBucketCommand({ Bucket: 'carol-own' })).catch(ownedAlready)));
  });

  it('a policy attached to a user cannot be deleted (DeleteConflict) until detached; removing the user detaches it', async () => {
    await userWithKey('dora');
    await userWithKey('ed');
    await putPolicy('held', readShared);
    await attach('held', 'dora');
    await attach('held', 'ed');
    const refused = await admin(server, 'DELETE', 'policies/held');
    assert.deepEqual([refused.status, refused.json.code], [409, 'DeleteConflict']);
    assert.match(refused.json.message, /"dora", "ed"/);
    assert.deepEqual((await admin(server, 'GET', 'policies/held')).json, readShared);

    await detach('held', 'dora');
    assert.equal((await admin(server, 'DELETE', 'users/ed')).status, 204);
    assert.equal((await admin(server, 'DELETE', 'policies/held')).status, 204);
    for (const res of [await admin(server, 'GET', 'policies/held'), await admin(server, 'DELETE', 'policies/held')]) {
      assert.deepEqual([res.status, res.json.code], [404, 'NoSuchEntity']);
    }
    assert.ok(!(await admin(server, 'GET', 'policies')).json.policies.some((p: { name: string }) => p.name === 'held'));
  });

  it('a config-file user may be confined, by id, and set free again', async () => {
    const fixed = s3Client(server, { accessKeyId: CONFIG_USER.accessKey, secretAccessKey: CONFIG_USER.secretKey }, { maxAttempts: 1 });
    clients.push(fixed);
    await fixed.send(new CreateBucketCommand({ Bucket: 'fixed-own' }));
    await putPolicy('fixed-reads', readShared);
    await attach('fixed-reads', 'fixed');
    assert.deepEqual((await admin(server, 'GET', 'users/fixed')).json.attachedPolicies, ['fixed-reads']);
    await settled(async () => assert.equal(await text(fixed, 'shared', 'doc.txt'), 'shared doc'));
    await expectError(fixed.send(new PutObjectCommand({ Bucket: 'fixed-own', Key: 'x.txt', Body: 'x' })), 403, 'AccessDenied');
    await detach('fixed-reads', 'fixed');
    await settled(async () => void (await fixed.send(new PutObjectCommand({ Bucket: 'fixed-own', Key: 'x.txt', Body: 'x' }))));
    await expectError(fixed.send(new GetObjectCommand({ Bucket: 'shared', Key: 'doc.txt' })), 403, 'AccessDenied');
  });

  it('bad input is refused with a clear code and changes nothing', async () => {
    await userWithKey('frank');
    await putPolicy('kept', readShared);
    await attach('kept', 'frank');
    const put = (body: string, name = 'kept') => admin(server, 'PUT', `policies/${encodeURIComponent(name)}`, undefined, { rawBody: body });
    const statement = { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::shared/*' };
    const doc = (extra: object) => JSON.stringify({ Version: '2012-10-17', Statement: [{ ...statement, ...extra }] });
    const cases: Array<[string, Promise<{ status: number; json: any }>, number, string]> = [
      ['not JSON', put('{not json'), 400, 'MalformedPolicyDocument'],
      ['empty', put(''), 400, 'MalformedPolicyDocument'],
      ['a Principal', put(doc({ Principal: '*' })), 400, 'MalformedPolicyDocument'],
      ['an unknown action', put(doc({ Action: 's3:FlyToTheMoon' })), 400, 'MalformedPolicyDocument'],
      ['an ARN of another service', put(doc({ Resource: 'arn:aws:ec2:::thing' })), 400, 'MalformedPolicyDocument'],
      ['not an ARN', put(doc({ Resource: 'shared/*' })), 400, 'MalformedPolicyDocument'],
      ['over 20 KB', put(doc({ Resource: `arn:aws:s3:::shared/${'k'.repeat(21_000)}` })), 400, 'MalformedPolicyDocument'],
      ['a bad name', put(doc({}), 'bad name!'), 400, 'InvalidArgument'],
      ['a name too long', put(doc({}), 'n'.repeat(129)), 400, 'InvalidArgument'],
      ['attach: no such policy', admin(server, 'PUT', 'users/frank/attached-policies/nothing'), 404, 'NoSuchEntity'],
      ['attach: no such user', admin(server, 'PUT', 'users/nobody/attached-policies/kept'), 404, 'NoSuchUser'],
      ['attach: root', admin(server, 'PUT', 'users/root/attached-policies/kept'), 409, 'ReadOnlyUser'],
      ['detach: not attached', admin(server, 'DELETE', 'users/frank/attached-policies/read-shared'), 404, 'NoSuchEntity'],
      ['detach: no such user', admin(server, 'DELETE', 'users/nobody/attached-policies/kept'), 404, 'NoSuchUser'],
      ['list attached: no such user', admin(server, 'GET', 'users/nobody/attached-policies'), 404, 'NoSuchUser'],
      ['a policy name with a slash', admin(server, 'PUT', 'policies/a%2Fb', undefined, { rawBody: doc({}) }), 400, 'InvalidArgument'],
    ];
    for (const [what, answer, status, code] of cases) {
      const res = await answer;
      assert.deepEqual([res.status, res.json?.code], [status, code], `${what}: ${JSON.stringify(res.json)}`);
    }
    // Far over the limit: refused before it is read whole, with a 400 all the same.
    const huge = await put(doc({ Resource: `arn:aws:s3:::shared/${'k'.repeat(100_000)}` }));
    assert.deepEqual([huge.status, huge.json?.code], [400, 'MaxMessageLengthExceeded'], huge.body);

    // Nothing changed: the policy keeps its document and its one user, no other policy appeared.
    assert.deepEqual((await admin(server, 'GET', 'policies/kept')).json, readShared);
    const listed = (await admin(server, 'GET', 'policies')).json.policies as Array<{ name: string; users: string[] }>;
    assert.deepEqual(listed.find((p) => p.name === 'kept')?.users, ['frank']);
    assert.ok(!listed.some((p) => p.name === 'bad name!' || p.name === 'nothing'));
    assert.deepEqual((await admin(server, 'GET', 'users/root')).json.attachedPolicies, []);
  });
});

/** A bucket made by an earlier attempt. */
function ownedAlready(err: Error): void {
  if (err.name !== 'BucketAlreadyOwnedByYou') throw err;
}

/**
 * `check` once on a single node, where a change is in force before its answer. In a cluster it is
 * retried for up to 5 s until it passes three times in a row: the proxy gives each request to the
 * next of the three nodes, so by then every node has had the notification.
 */
async function settled(check: () => Promise<void>): Promise<void> {
  const needed = clusterMode() ? 3 : 1;
  for (let attempt = 0, passed = 0; passed < needed; attempt++) {
    try {
      await check();
      passed++;
    } catch (err) {
      if (!clusterMode() || attempt >= 50) throw err;
      passed = 0;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
