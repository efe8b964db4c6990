import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeleteObjectCommand, DeleteObjectsCommand } from '@aws-sdk/client-s3';
import { onEachBackend } from '../helpers/backends.js';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertOssError, expectOssError, ossClient, ossRequest, xmlValue, type AliOss } from './helpers.js';

// OSS bucket WORM (retention policy): Initiate, Abort, Complete, Extend and Get with ali-oss and
// raw requests, and the deletes a policy in effect refuses (InProgress and Locked alike).

const wormXml = (root: string, days: string) => `<${root}><RetentionPeriodInDays>${days}</RetentionPeriodInDays></${root}>`;

onEachBackend((backend, start) => {
  describe(`OSS bucket WORM (${backend})`, () => {
    let server: TestServer;
    let cleanup: () => Promise<void>;
    const oss = (bucket: string): AliOss => ossClient(server, 'v4', bucket);

    before(async () => {
      ({ server, cleanup } = await start());
    });
    after(async () => {
      await cleanup?.();
    });

    it('initiates, reads, aborts, initiates again, completes and extends a policy (ali-oss)', async () => {
      const bucket = 'worm-cycle';
      const client = oss(bucket);
      await client.putBucket(bucket);
      await expectOssError(client.getBucketWorm(bucket), 404, 'NoSuchWORMConfiguration');
      // ali-oss's abortBucketWorm names no success statuses: it resolves with any answer.
      assert.equal((await client.abortBucketWorm(bucket)).status, 404);

      const first = await client.initiateBucketWorm(bucket, 30);
      assert.match(first.wormId, /^[0-9A-F]{32}$/);
      const got = await client.getBucketWorm(bucket);
      assert.equal(got.wormId, first.wormId);
      assert.equal(got.state, 'InProgress');
      assert.equal(got.days, '30');
      assert.match(got.creationDate, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
      const created = new Date(`${got.creationDate as string}Z`).getTime();
      assert.ok(Math.abs(created - Date.now()) < 60_000, `creation date ${got.creationDate as string} is now`);
      // A second policy while one is in effect is refused.
      await expectOssError(client.initiateBucketWorm(bucket, 5), 409, 'WORMConfigurationLocked');
      // An InProgress policy cannot be extended.
      await expectOssError(client.extendBucketWorm(bucket, first.wormId, 60), 400, 'InvalidWORMConfiguration');

      assert.equal((await client.abortBucketWorm(bucket)).status, 204);
      await expectOssError(client.getBucketWorm(bucket), 404, 'NoSuchWORMConfiguration');

      const second = await client.initiateBucketWorm(bucket, 10);
      assert.notEqual(second.wormId, first.wormId);
      // Nor does its completeBucketWorm.
      assert.equal((await client.completeBucketWorm(bucket, first.wormId)).status, 404);
      assert.equal((await client.completeBucketWorm(bucket, second.wormId)).status, 200);
      const locked = await client.getBucketWorm(bucket);
      assert.equal(locked.state, 'Locked');
      assert.equal(locked.days, '10');
      // Locked: no abort, no second completion, only a longer period.
      assert.equal((await client.abortBucketWorm(bucket)).status, 409);
      assert.equal((await client.completeBucketWorm(bucket, second.wormId)).status, 409);
      await expectOssError(client.extendBucketWorm(bucket, second.wormId, 10), 400, 'InvalidWORMConfiguration');
      await expectOssError(client.extendBucketWorm(bucket, second.wormId, 3), 400, 'InvalidWORMConfiguration');
      await expectOssError(client.extendBucketWorm(bucket, first.wormId, 20), 404, 'NoSuchWORMConfiguration');
      await client.extendBucketWorm(bucket, second.wormId, 20);
      const extended = await client.getBucketWorm(bucket);
      assert.equal(extended.days, '20');
      assert.equal(extended.state, 'Locked');
      assert.equal(extended.wormId, second.wormId);
    });

    it('refuses deletes and overwrites of objects inside the period while InProgress and once Locked; new keys and reads go on', async () => {
      const bucket = 'worm-protect';
      const client = oss(bucket);
      await client.putBucket(bucket);
      await client.put('before', Buffer.from('old'));
      const { wormId } = await client.initiateBucketWorm(bucket, 1);
      await expectOssError(client.delete('before'), 403, 'AccessDenied');
      await client.put('during', Buffer.from('new'));
      await expectOssError(client.delete('during'), 403, 'AccessDenied');
      // Overwrites take the object away as surely: PutObject, CopyObject and a multipart Complete.
      await expectOssError(client.put('before', Buffer.from('replaced')), 403, 'AccessDenied');
      await expectOssError(client.copy('before', 'during'), 403, 'AccessDenied');
      const upload = await client.initMultipartUpload('before');
      const part = await client.uploadPart('before', upload.uploadId, 1, Buffer.from('part'), 0, 4);
      await expectOssError(client.completeMultipartUpload('before', upload.uploadId, [{ number: 1, etag: part.etag }]), 403, 'AccessDenied');
      await client.abortMultipartUpload('before', upload.uploadId);
      const multi = await ossRequest(server, {
        method: 'POST',
        bucket,
        query: [['delete', '']],
        headers: { 'content-type': 'application/xml' },
        body: '<Delete><Quiet>false</Quiet><Object><Key>during</Key></Object></Delete>',
      });
      // OSS's DeleteResult has no per-key error: the request is refused.
      assertOssError(multi, 403, 'AccessDenied');
      assert.equal((await client.completeBucketWorm(bucket, wormId)).status, 200);
      await expectOssError(client.delete('before'), 403, 'AccessDenied');
      assert.equal((await client.get('before')).content.toString(), 'old');
      assert.equal((await client.get('during')).content.toString(), 'new');
      // A missing key has nothing to protect: deleting it still succeeds.
      await client.delete('never-written');

      // Abort of an InProgress policy lifts it.
      const other = 'worm-lifted';
      const second = oss(other);
      await second.putBucket(other);
      await second.put('k', Buffer.from('v'));
      await second.initiateBucketWorm(other, 1);
      await expectOssError(second.delete('k'), 403, 'AccessDenied');
      assert.equal((await second.abortBucketWorm(other)).status, 204);
      await second.delete('k');
      await expectOssError(second.get('k'), 404, 'NoSuchKey');
    });

    it('an S3 delete of a protected object is refused too; S3 DeleteObjects reports it per key', async () => {
      const bucket = 'worm-s3';
      const client = oss(bucket);
      await client.putBucket(bucket);
      await client.put('k', Buffer.from('v'));
      await client.initiateBucketWorm(bucket, 1);
      const s3 = s3Client(server);
      try {
        await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'k' })), (err: Error & { $metadata?: { httpStatusCode?: number } }) => {
          assert.equal(err.name, 'AccessDenied');
          assert.equal(err.$metadata?.httpStatusCode, 403);
          return true;
        });
        const many = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: 'k' }] } }));
        assert.deepEqual(many.Errors?.map((e) => [e.Key, e.Code]), [['k', 'AccessDenied']]);
      } finally {
        s3.destroy();
      }
      assert.equal((await client.get('k')).content.toString(), 'v');
    });

    it('in a Suspended bucket, the null version is neither deleted nor replaced; an Enabled one takes new versions', async () => {
      const bucket = 'worm-suspended';
      const client = oss(bucket);
      await client.putBucket(bucket);
      await client.put('k', Buffer.from('null-version'));
      await client.putBucketVersioning(bucket, 'Suspended');
      await client.initiateBucketWorm(bucket, 1);
      await expectOssError(client.put('k', Buffer.from('other')), 403, 'AccessDenied');
      await expectOssError(client.delete('k'), 403, 'AccessDenied');
      await client.putBucketVersioning(bucket, 'Enabled');
      const v2 = (await client.put('k', Buffer.from('two'))).res.headers['x-oss-version-id'] as string;
      assert.equal((await client.get('k')).content.toString(), 'two');
      assert.equal((await client.get('k', undefined, { versionId: 'null' })).content.toString(), 'null-version');
      await expectOssError(client.delete('k', { versionId: v2 }), 403, 'AccessDenied');
    });

    it('in a versioned bucket, delete markers go on top; a version is not deleted by id', async () => {
      const bucket = 'worm-versions';
      const client = oss(bucket);
      await client.putBucket(bucket);
      await client.putBucketVersioning(bucket, 'Enabled');
      const v1 = (await client.put('k', Buffer.from('one'))).res.headers['x-oss-version-id'] as string;
      await client.initiateBucketWorm(bucket, 1);
      const marker = await client.delete('k');
      assert.equal(marker.res.headers['x-oss-delete-marker'], 'true');
      await expectOssError(client.delete('k', { versionId: v1 }), 403, 'AccessDenied');
      // The marker itself holds no data.
      await client.delete('k', { versionId: marker.res.headers['x-oss-version-id'] });
      assert.equal((await client.get('k')).content.toString(), 'one');
    });

    it('answers malformed documents and unknown ids in OSS error documents (raw)', async () => {
      const bucket = 'worm-raw';
      await oss(bucket).putBucket(bucket);
      const initiate = (body: string) => ossRequest(server, { method: 'POST', bucket, query: [['worm', '']], body });
      assertOssError(await initiate('<InitiateWormConfiguration></InitiateWormConfiguration>'), 400, 'MalformedXML');
      assertOssError(await initiate(wormXml('InitiateWormConfiguration', 'ten')), 400, 'MalformedXML');
      assertOssError(await initiate(wormXml('Other', '1')), 400, 'MalformedXML');
      assertOssError(await initiate(wormXml('InitiateWormConfiguration', '0')), 400, 'InvalidWORMConfiguration');
      assertOssError(await initiate(wormXml('InitiateWormConfiguration', '25551')), 400, 'InvalidWORMConfiguration');
      const made = await initiate(wormXml('InitiateWormConfiguration', '25550'));
      assert.equal(made.status, 200, made.body);
      const wormId = made.headers['x-oss-worm-id'] as string;
      assert.match(wormId, /^[0-9A-F]{32}$/);
      const got = await ossRequest(server, { bucket, query: [['worm', '']] });
      assert.equal(got.status, 200, got.body);
      assert.equal(xmlValue(got.body, 'WormId'), wormId);
      assert.equal(xmlValue(got.body, 'RetentionPeriodInDays'), '25550');
      assertOssError(await ossRequest(server, { method: 'POST', bucket, query: [['wormId', 'NOPE']] }), 404, 'NoSuchWORMConfiguration');
      const complete = await ossRequest(server, { method: 'POST', bucket, query: [['wormId', wormId]] });
      assert.equal(complete.status, 200, complete.body);
      const extend = (days: string) =>
        ossRequest(server, { method: 'POST', bucket, query: [['wormExtend', ''], ['wormId', wormId]], body: wormXml('ExtendWormConfiguration', days) });
      assertOssError(await extend('25551'), 400, 'InvalidWORMConfiguration');
      assertOssError(await ossRequest(server, { method: 'DELETE', bucket, query: [['worm', '']] }), 409, 'WORMConfigurationLocked');
      assertOssError(await ossRequest(server, { bucket: 'worm-no-such-bucket', query: [['worm', '']] }), 404, 'NoSuchBucket');
    });
  });
});

describe('OSS bucket WORM and the lifecycle worker', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ config: { lifecycleDaySeconds: 2, sweepIntervalSeconds: 0.5 } });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('lifecycle expiration does not delete an object the policy keeps', async () => {
    const tomorrow = new Date(Date.now() + 24 * 60 * 60 * 1000);
    tomorrow.setUTCHours(0, 0, 0, 0);
    const atOnce = [{ id: 'now', prefix: '', status: 'Enabled', expiration: { createdBeforeDate: tomorrow.toISOString() } }];
    const kept = ossClient(server, 'v4', 'worm-lifecycle');
    await kept.putBucket('worm-lifecycle');
    await kept.put('kept', Buffer.from('v'));
    await kept.initiateBucketWorm('worm-lifecycle', 1);
    await kept.putBucketLifecycle('worm-lifecycle', atOnce);
    // A bucket without a policy, under the same rule: once its object went twice, the worker has
    // swept every bucket at least once in between.
    const control = ossClient(server, 'v4', 'worm-lifecycle-control');
    await control.putBucket('worm-lifecycle-control');
    await control.putBucketLifecycle('worm-lifecycle-control', atOnce);
    for (const round of [1, 2]) {
      await control.put('gone', Buffer.from(String(round)));
      const until = Date.now() + 20_000;
      while (Date.now() < until && ((await control.list({ prefix: '' }, {})).objects ?? []).length > 0) {
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.deepEqual((await control.list({ prefix: '' }, {})).objects ?? [], [], `round ${round}: the control object expired`);
    }
    assert.equal((await kept.get('kept')).content.toString(), 'v');
  });
});
