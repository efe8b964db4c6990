import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { ossClient, type AliOss } from './helpers.js';

// OSS's lifecycle forms for versioned buckets, written by ali-oss: NoncurrentVersionExpiration
// (NoncurrentDays) and Expiration/ExpiredObjectDeleteMarker, applied by the same worker as S3's
// rules (core/lifecycle-history.ts). A lifecycle day is 2 seconds here.

const BUCKET = 'oss-lifecycle-versions';
const DAY_MS = 2000;

interface Listed {
  name: string;
  versionId: string;
  /** ali-oss reads it for versions only, not for delete markers. */
  isLatest?: boolean;
}

describe('OSS lifecycle on a versioned bucket', () => {
  let server: TestServer;
  let oss: AliOss;

  before(async () => {
    server = await startServer({ config: { lifecycleDaySeconds: DAY_MS / 1000, sweepIntervalSeconds: 0.5 } });
    oss = ossClient(server, 'v4', BUCKET);
    await oss.putBucket(BUCKET);
    await oss.putBucketVersioning(BUCKET, 'Enabled');
  });
  after(async () => {
    await server?.cleanup();
  });

  it('deletes noncurrent versions NoncurrentDays after they became noncurrent and removes delete markers left alone; nothing else', async () => {
    const names = new Map<string, string>();
    const put = async (name: string, key: string, body: string) => {
      names.set((await oss.put(key, Buffer.from(body))).res.headers['x-oss-version-id'] as string, name);
    };
    const remove = async (name: string, key: string) => {
      const deleted = await oss.delete(key);
      names.set(deleted.res.headers['x-oss-version-id'] as string, name);
    };
    await oss.putBucketLifecycle(BUCKET, [
      { id: 'history', prefix: 'h/', status: 'Enabled', noncurrentVersionExpiration: { noncurrentDays: '1' } },
      { id: 'markers', prefix: 'h/', status: 'Enabled', expiration: { expiredObjectDeleteMarker: 'true' } },
    ]);
    const { rules } = await oss.getBucketLifecycle(BUCKET);
    assert.deepEqual(rules, [
      { id: 'history', prefix: 'h/', status: 'Enabled', noncurrentVersionExpiration: { noncurrentDays: '1' } },
      { id: 'markers', prefix: 'h/', status: 'Enabled', expiration: { expiredObjectDeleteMarker: 'true' } },
    ]);

    const started = Date.now();
    await put('a1', 'h/a', 'one');
    await put('a2', 'h/a', 'two');
    await put('gone1', 'h/gone', 'gone');
    await remove('gone-marker', 'h/gone');
    await put('o1', 'other', 'one');
    await put('o2', 'other', 'two');
    await remove('o-marker', 'other-deleted');

    const state = async () => {
      const listed = await oss.getBucketVersions({ 'max-keys': 1000 });
      const entries = [...(listed.objects as Listed[]), ...(listed.deleteMarker as Listed[])];
      return entries.map((entry) => `${names.get(entry.versionId) ?? `${entry.name}?${entry.versionId}`}${entry.isLatest ? '*' : ''}`).sort();
    };
    const expected = ['a2*', 'o-marker', 'o1', 'o2*'];
    const until = Date.now() + 30_000;
    while ((await state()).length !== expected.length) {
      if (Date.now() > until) assert.fail(`not within 30 s: ${(await state()).join(' ')}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(Date.now() >= started + DAY_MS, 'not before NoncurrentDays');
    assert.deepEqual(await state(), expected);
    assert.equal((await oss.get('h/a')).content.toString(), 'two');
  });
});
