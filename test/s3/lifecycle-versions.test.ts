/**
 * The lifecycle worker on versioned buckets, through the AWS SDK: NoncurrentVersionExpiration
 * deletes noncurrent versions for good NoncurrentDays after they became noncurrent (keeping the
 * NewerNoncurrentVersions newest, and only what the rule's filter covers), ExpiredObjectDeleteMarker
 * removes a delete marker left alone on its key, and an Expiration in a suspended bucket writes a
 * null delete marker over the null version; nothing else goes. On SQLite and (when installed)
 * PostgreSQL. A lifecycle day is 2 seconds here and the background work runs every half second.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { expectError } from '../helpers/assertions.js';
import { onEachBackend, type BackendStart } from '../helpers/backends.js';
import { s3Client } from '../helpers/s3.js';
import { filesUnder, type TestServer } from '../helpers/server.js';

const DAY_MS = 2000;
const CONFIG = { lifecycleDaySeconds: DAY_MS / 1000, sweepIntervalSeconds: 0.5 };

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** A bucket's history as `key version-name [marker] [latest]` lines, in listing order of each list. */
type Names = Map<string, string>;

function scenario(backend: string, start: BackendStart): void {
  describe(`lifecycle on versioned buckets (${backend})`, () => {
    let server: TestServer;
    let cleanup: () => Promise<void>;
    let s3: S3Client;

    before(async () => {
      ({ server, cleanup } = await start());
      s3 = s3Client(server);
    });
    after(async () => {
      s3?.destroy();
      await cleanup?.();
    });

    const versioned = async (Bucket: string) => {
      await s3.send(new CreateBucketCommand({ Bucket }));
      await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    };
    const putRules = (Bucket: string, Rules: LifecycleRule[]) =>
      s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket, LifecycleConfiguration: { Rules } }));
    /** Writes a version and names it, so the state reads as names. */
    const write = async (Bucket: string, names: Names, name: string, Key: string, Body: string | Buffer, Tagging?: string) => {
      const versionId = (await s3.send(new PutObjectCommand({ Bucket, Key, Body, Tagging }))).VersionId!;
      names.set(versionId, name);
    };
    const remove = async (Bucket: string, names: Names, name: string, Key: string) => {
      const deleted = await s3.send(new DeleteObjectCommand({ Bucket, Key }));
      assert.equal(deleted.DeleteMarker, true);
      names.set(deleted.VersionId!, name);
    };
    /** Every version and marker of the bucket as `name` or `name*` (latest), sorted. */
    const state = async (Bucket: string, names: Names): Promise<string[]> => {
      const listed = await s3.send(new ListObjectVersionsCommand({ Bucket }));
      assert.equal(listed.IsTruncated, false);
      const entries = [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])];
      return entries.map((entry) => `${names.get(entry.VersionId!) ?? `${entry.Key}?${entry.VersionId}`}${entry.IsLatest ? '*' : ''}`).sort();
    };

    it('deletes noncurrent versions NoncurrentDays after they became noncurrent, keeps NewerNoncurrentVersions, respects the filters, and frees their bytes', async () => {
      const Bucket = 'noncurrent';
      const names: Names = new Map();
      await versioned(Bucket);
      await putRules(Bucket, [
        { ID: 'logs', Filter: { Prefix: 'logs/' }, Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
        { ID: 'docs-keep-two', Filter: { Prefix: 'docs/' }, Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 1, NewerNoncurrentVersions: 2 } },
        { ID: 'big-media', Filter: { And: { Prefix: 'media/', ObjectSizeGreaterThan: 10 } }, Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
        { ID: 'temporary', Filter: { Tag: { Key: 'temp', Value: 'yes' } }, Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
        { ID: 'switched-off', Filter: { Prefix: 'off/' }, Status: 'Disabled', NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
      ]);
      const blobsBefore = (await filesUnder(join(server.dataDir, 'blobs'))).length;
      const started = Date.now();
      for (const n of [1, 2, 3]) await write(Bucket, names, `logs${n}`, 'logs/a', `log ${n}`);
      await write(Bucket, names, 'gone1', 'logs/gone', 'gone');
      await remove(Bucket, names, 'gone-marker', 'logs/gone');
      for (const n of [1, 2, 3, 4]) await write(Bucket, names, `docs${n}`, 'docs/d', `doc ${n}`);
      await write(Bucket, names, 'media-big', 'media/m', Buffer.alloc(20, 1));
      await write(Bucket, names, 'media-small', 'media/m', Buffer.alloc(5, 2));
      await write(Bucket, names, 'media-now', 'media/m', Buffer.alloc(1, 3));
      await write(Bucket, names, 'tags-temp', 'tags/t', 'temp', 'temp=yes');
      await write(Bucket, names, 'tags-plain', 'tags/t', 'plain', 'temp=no');
      await write(Bucket, names, 'tags-now', 'tags/t', 'now');
      for (const n of [1, 2]) await write(Bucket, names, `off${n}`, 'off/o', `off ${n}`);
      for (const n of [1, 2]) await write(Bucket, names, `other${n}`, 'other', `other ${n}`);
      // A marker left on top again (the version written over it deleted by id) is the latest, not noncurrent.
      await write(Bucket, names, 'revived1', 'logs/revived', 'r1');
      await remove(Bucket, names, 'revived-marker', 'logs/revived');
      const revived2 = (await s3.send(new PutObjectCommand({ Bucket, Key: 'logs/revived', Body: 'r2' }))).VersionId!;
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 'logs/revived', VersionId: revived2 }));
      const written = (await filesUnder(join(server.dataDir, 'blobs'))).length;
      assert.ok(written > blobsBefore);

      const expected = [
        'docs2', 'docs3', 'docs4*',
        'gone-marker*',
        'logs3*',
        'media-now*', 'media-small',
        'off1', 'off2*',
        'other1', 'other2*',
        'revived-marker*',
        'tags-now*', 'tags-plain',
      ].sort();
      await eventually('the covered noncurrent versions are deleted', async () => (await state(Bucket, names)).length === expected.length);
      // Not before their day: a day after they became noncurrent (rounded up to a day boundary).
      assert.ok(Date.now() >= started + DAY_MS, 'not before NoncurrentDays');
      assert.deepEqual(await state(Bucket, names), expected);

      // Gone for good: by id it is NoSuchVersion, and its bytes are released.
      const logs1 = [...names].find(([, name]) => name === 'logs1')![0];
      await expectError(s3.send(new GetObjectCommand({ Bucket, Key: 'logs/a', VersionId: logs1 })), 404, 'NoSuchVersion');
      assert.equal((await filesUnder(join(server.dataDir, 'blobs'))).length, written - 7, 'seven versions deleted: their blobs with them');
      const body = await (await s3.send(new GetObjectCommand({ Bucket, Key: 'docs/d' }))).Body!.transformToString();
      assert.equal(body, 'doc 4');
    });

    it('a noncurrent version under retention or legal hold outlives its NoncurrentDays (Object Lock)', async () => {
      const Bucket = 'noncurrent-locked';
      const names: Names = new Map();
      await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
      await putRules(Bucket, [{ ID: 'all', Filter: { Prefix: '' }, Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 1 } }]);
      const retained = await s3.send(
        new PutObjectCommand({ Bucket, Key: 'a', Body: 'a1', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: new Date(Date.now() + 3600_000) }),
      );
      names.set(retained.VersionId!, 'a1');
      const held = await s3.send(new PutObjectCommand({ Bucket, Key: 'b', Body: 'b1', ObjectLockLegalHoldStatus: 'ON' }));
      names.set(held.VersionId!, 'b1');
      await write(Bucket, names, 'c1', 'c', 'c1');
      for (const key of ['a', 'b', 'c']) await write(Bucket, names, `${key}2`, key, `${key}2`);
      // c1 goes in the run that considers a1 and b1 (keys in order): once it is gone, they were passed over.
      await eventually('the unprotected noncurrent version is deleted', async () => !(await state(Bucket, names)).includes('c1'));
      assert.deepEqual(await state(Bucket, names), ['a1', 'a2*', 'b1', 'b2*', 'c2*']);
    });

    it('removes a delete marker left alone on its key (ExpiredObjectDeleteMarker), after its noncurrent versions go, and no other marker', async () => {
      const Bucket = 'markers';
      const names: Names = new Map();
      await versioned(Bucket);
      await putRules(Bucket, [
        { ID: 'clean', Filter: { Prefix: 'm/' }, Status: 'Enabled', Expiration: { ExpiredObjectDeleteMarker: true }, NoncurrentVersionExpiration: { NoncurrentDays: 1 } },
      ]);
      // A marker over nothing: alone from the start.
      await remove(Bucket, names, 'never-marker', 'm/never');
      // A marker over a version: alone once the version has gone.
      await write(Bucket, names, 'alone1', 'm/alone', 'one');
      await remove(Bucket, names, 'alone-marker', 'm/alone');
      // A marker written over is noncurrent: it goes after NoncurrentDays like a version.
      await write(Bucket, names, 'back1', 'm/back', 'one');
      await remove(Bucket, names, 'back-marker', 'm/back');
      await write(Bucket, names, 'back2', 'm/back', 'two');
      // Not covered by the rule: stays as it is.
      await write(Bucket, names, 'x1', 'x/alone', 'one');
      await remove(Bucket, names, 'x-marker', 'x/alone');
      await remove(Bucket, names, 'x-never-marker', 'x/never');

      const expected = ['back2*', 'x-marker*', 'x-never-marker*', 'x1'];
      await eventually('the expired markers are removed', async () => (await state(Bucket, names)).length === expected.length);
      assert.deepEqual(await state(Bucket, names), expected);
    });

    it('an Expiration in Days removes an expired object delete marker once it is that old; a marker with versions behind it stays', async () => {
      const Bucket = 'dated-markers';
      const names: Names = new Map();
      await versioned(Bucket);
      const started = Date.now();
      await remove(Bucket, names, 'lonely', 'lonely');
      await write(Bucket, names, 'kept1', 'kept', 'one');
      await remove(Bucket, names, 'kept-marker', 'kept');
      await putRules(Bucket, [{ ID: 'a-day', Filter: { Prefix: '' }, Status: 'Enabled', Expiration: { Days: 1 } }]);
      await eventually('the lonely marker is removed', async () => !(await state(Bucket, names)).includes('lonely*'));
      assert.ok(Date.now() >= started + DAY_MS, 'not before its day');
      assert.deepEqual(await state(Bucket, names), ['kept-marker*', 'kept1']);
    });

    it('in a suspended bucket an expiring object is replaced by a null delete marker; versions with ids stay', async () => {
      const Bucket = 'suspended';
      const names: Names = new Map();
      await versioned(Bucket);
      await write(Bucket, names, 'first', 'k', 'first');
      await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } }));
      await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'null version' }));
      await putRules(Bucket, [{ ID: 'gone-in-2020', Filter: { Prefix: '' }, Status: 'Enabled', Expiration: { Date: new Date('2020-01-01T00:00:00Z') } }]);
      const versions = () => s3.send(new ListObjectVersionsCommand({ Bucket }));
      await eventually('the null version is expired', async () => ((await versions()).DeleteMarkers ?? []).length > 0);
      const listed = await versions();
      assert.deepEqual(listed.Versions?.map((v) => [names.get(v.VersionId!), v.IsLatest]), [['first', false]]);
      assert.deepEqual(listed.DeleteMarkers?.map((m) => [m.VersionId, m.IsLatest]), [['null', true]]);
    });
  });
}

onEachBackend(scenario, { config: CONFIG });
