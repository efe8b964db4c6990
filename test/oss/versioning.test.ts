import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertOssError, expectOssError, ossClient, ossRequest, type AliOss } from './helpers.js';

// OSS versioning with ali-oss: PutBucketVersioning / GetBucketVersioning, x-oss-version-id on
// writes, reads and deletes by version id, delete markers, GET ?versions paging; errors over raw HTTP.

const BUCKET = 'oss-versioning';

describe('OSS bucket versioning', () => {
  let server: TestServer;
  let oss: AliOss;

  before(async () => {
    server = await startServer();
    oss = ossClient(server, 'v4', BUCKET);
    await oss.putBucket(BUCKET);
  });
  after(async () => {
    await server?.stop();
  });

  it('keeps versions, reads and deletes them by id, writes delete markers, lists them', async () => {
    assert.equal((await oss.getBucketVersioning(BUCKET)).versionStatus, undefined);
    await oss.putBucketVersioning(BUCKET, 'Enabled');
    assert.equal((await oss.getBucketVersioning(BUCKET)).versionStatus, 'Enabled');
    const v1 = (await oss.put('k', Buffer.from('one'))).res.headers['x-oss-version-id'] as string;
    const v2 = (await oss.put('k', Buffer.from('two'))).res.headers['x-oss-version-id'] as string;
    assert.match(v1, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(v1, v2);
    const latest = await oss.get('k');
    assert.equal(latest.content.toString(), 'two');
    assert.equal(latest.res.headers['x-oss-version-id'], v2);
    assert.equal((await oss.get('k', undefined, { versionId: v1 })).content.toString(), 'one');
    assert.equal((await oss.head('k', { versionId: v1 })).res.headers['content-length'], '3');

    const marker = await oss.delete('k');
    assert.equal(marker.res.headers['x-oss-delete-marker'], 'true');
    const markerId = marker.res.headers['x-oss-version-id'] as string;
    assert.match(markerId, /^[A-Za-z0-9_-]{32}$/);
    await expectOssError(oss.get('k'), 404, 'NoSuchKey');

    const listed = await oss.getBucketVersions({ 'max-keys': 1000 });
    assert.deepEqual(listed.objects.map((o: { versionId: string; isLatest: boolean }) => [o.versionId, o.isLatest]), [[v2, false], [v1, false]]);
    assert.deepEqual(listed.deleteMarker.map((m: { versionId: string }) => m.versionId), [markerId]);

    // Paging one entry at a time sees the marker, then each version, once.
    const seen: string[] = [];
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
      const page = await oss.getBucketVersions(keyMarker === undefined ? { 'max-keys': 1 } : { 'max-keys': 1, keyMarker, versionIdMarker });
      seen.push(...page.deleteMarker.map((m: { versionId: string }) => m.versionId), ...page.objects.map((o: { versionId: string }) => o.versionId));
      if (!page.isTruncated) break;
      keyMarker = page.nextKeyMarker;
      versionIdMarker = page.nextVersionIdMarker;
    }
    assert.deepEqual(seen, [markerId, v2, v1]);

    // Deleting the marker by id brings v2 back; deleting v2 falls back to v1.
    await oss.delete('k', { versionId: markerId });
    assert.equal((await oss.get('k')).content.toString(), 'two');
    await oss.delete('k', { versionId: v2 });
    assert.equal((await oss.get('k')).content.toString(), 'one');
  });

  it('tags each version on its own (putObjectTagging, getObjectTagging, deleteObjectTagging with versionId)', async () => {
    await oss.putBucketVersioning(BUCKET, 'Enabled');
    const v1 = (await oss.put('tagged', Buffer.from('one'), { headers: { 'x-oss-tagging': 'gen=1' } })).res.headers['x-oss-version-id'] as string;
    const v2 = (await oss.put('tagged', Buffer.from('two'), { headers: { 'x-oss-tagging': 'gen=2' } })).res.headers['x-oss-version-id'] as string;
    assert.notEqual(v1, v2);
    const tagsOf = async (versionId?: string) => (await oss.getObjectTagging('tagged', versionId === undefined ? {} : { versionId })).tag;
    assert.deepEqual(await tagsOf(), { gen: '2' });
    assert.deepEqual(await tagsOf(v1), { gen: '1' });
    await oss.putObjectTagging('tagged', { old: 'yes' }, { versionId: v1 });
    assert.deepEqual(await tagsOf(v1), { old: 'yes' });
    assert.deepEqual(await tagsOf(), { gen: '2' });
    await oss.deleteObjectTagging('tagged', { versionId: v1 });
    assert.deepEqual(await tagsOf(v1), {});
    assert.deepEqual(await tagsOf(), { gen: '2' });
  });

  it('refuses a status other than Enabled or Suspended and malformed version ids', async () => {
    const put = (body: string) => ossRequest(server, { method: 'PUT', bucket: BUCKET, query: [['versioning', '']], body });
    assertOssError(await put('<VersioningConfiguration><Status>Off</Status></VersioningConfiguration>'), 400, 'MalformedXML');
    assertOssError(await put('<VersioningConfiguration><Status>Enabled'), 400, 'MalformedXML');
    assert.equal((await oss.getBucketVersioning(BUCKET)).versionStatus, 'Enabled');
    await expectOssError(oss.get('k', undefined, { versionId: 'bogus' }), 400, 'InvalidArgument');
  });
});
