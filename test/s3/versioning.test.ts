/**
 * Bucket versioning through the AWS SDK at its defaults: the configuration, a version per write,
 * reads and deletes by version id, delete markers, the `null` version of a suspended bucket,
 * ListObjectVersions paging and DeleteObjects, on SQLite and (when installed) PostgreSQL; what S3
 * refuses over raw HTTP.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  DeleteObjectTaggingCommand,
  GetBucketVersioningCommand,
  GetObjectAttributesCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { assertS3Error, expectError } from '../helpers/assertions.js';
import { signedRequest } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import { onEachBackend, type BackendStart } from '../helpers/backends.js';
import type { TestServer } from '../helpers/server.js';

const text = async (s3: S3Client, Bucket: string, Key: string, VersionId?: string) =>
  (await s3.send(new GetObjectCommand({ Bucket, Key, VersionId }))).Body!.transformToString();

/** Every entry of the bucket's versions, in listing order, paged `pageSize` at a time. */
async function allVersions(s3: S3Client, Bucket: string, pageSize: number, Prefix?: string, Delimiter?: string) {
  const seen: Array<{ key: string; versionId: string; latest: boolean; marker: boolean }> = [];
  const prefixes: string[] = [];
  let KeyMarker: string | undefined;
  let VersionIdMarker: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket, MaxKeys: pageSize, KeyMarker, VersionIdMarker, Prefix, Delimiter }));
    const entries = [
      ...(page.Versions ?? []).map((v) => ({ key: v.Key!, versionId: v.VersionId!, latest: v.IsLatest!, marker: false, at: v.LastModified! })),
      ...(page.DeleteMarkers ?? []).map((m) => ({ key: m.Key!, versionId: m.VersionId!, latest: m.IsLatest!, marker: true, at: m.LastModified! })),
    ];
    assert.ok(entries.length + (page.CommonPrefixes?.length ?? 0) <= pageSize, 'page larger than max-keys');
    // Versions and markers arrive as two lists: a page holds at most pageSize entries, so order them
    // by where they stand (key, then the order of the two lists is fixed by the test's own sort).
    seen.push(...entries.map(({ at: _at, ...entry }) => entry));
    prefixes.push(...(page.CommonPrefixes ?? []).map((p) => p.Prefix!));
    if (!page.IsTruncated) return { seen, prefixes };
    KeyMarker = page.NextKeyMarker;
    VersionIdMarker = page.NextVersionIdMarker;
  }
  throw new Error('listing never ended');
}

function scenario(name: string, start: BackendStart) {
  describe(`S3 versioning (${name})`, () => {
    let server: TestServer;
    let s3: S3Client;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ server, cleanup } = await start());
      s3 = s3Client(server);
    });
    after(async () => {
      s3?.destroy();
      await cleanup?.();
    });

    it('keeps every version, reads and deletes by id, and answers delete markers as S3 does', async () => {
      const Bucket = 'versions-main';
      await s3.send(new CreateBucketCommand({ Bucket }));
      assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status, undefined);
      // Written before versioning: the null version.
      await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'v0' }));
      await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status, 'Enabled');

      const v1 = (await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'v1' }))).VersionId!;
      const v2 = (await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'v2' }))).VersionId!;
      assert.match(v1, /^[A-Za-z0-9_-]{32}$/);
      assert.notEqual(v1, v2);
      const latest = await s3.send(new GetObjectCommand({ Bucket, Key: 'k' }));
      assert.equal(latest.VersionId, v2);
      assert.equal(await latest.Body!.transformToString(), 'v2');
      assert.equal(await text(s3, Bucket, 'k', v1), 'v1');
      assert.equal(await text(s3, Bucket, 'k', 'null'), 'v0');
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'k', VersionId: v1 }))).ContentLength, 2);
      // ListObjects sees only the current version.
      assert.deepEqual((await s3.send(new ListObjectsV2Command({ Bucket }))).Contents?.map((o) => o.Key), ['k']);

      // A delete without a version id writes a marker; the key then reads as missing.
      const marked = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }));
      assert.equal(marked.DeleteMarker, true);
      assert.match(marked.VersionId ?? '', /^[A-Za-z0-9_-]{32}$/);
      const missing = await signedRequest(server.url, 'GET', `/${Bucket}/k`);
      assertS3Error(missing, 404, 'NoSuchKey');
      assert.equal(missing.headers['x-amz-delete-marker'], 'true');
      assert.equal(missing.headers['x-amz-version-id'], marked.VersionId);
      const atMarker = await signedRequest(server.url, 'GET', `/${Bucket}/k?versionId=${marked.VersionId}`);
      assertS3Error(atMarker, 405, 'MethodNotAllowed');
      assert.equal(atMarker.headers['x-amz-delete-marker'], 'true');
      assert.equal((await s3.send(new ListObjectsV2Command({ Bucket }))).KeyCount, 0);
      assert.equal(await text(s3, Bucket, 'k', v2), 'v2');

      // Deleting the marker brings v2 back; deleting v2 falls back to v1.
      const unmarked = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId: marked.VersionId }));
      assert.equal(unmarked.DeleteMarker, true);
      assert.equal(unmarked.VersionId, marked.VersionId);
      assert.equal(await text(s3, Bucket, 'k'), 'v2');
      assert.equal((await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId: v2 }))).VersionId, v2);
      assert.equal(await text(s3, Bucket, 'k'), 'v1');
      await expectError(s3.send(new GetObjectCommand({ Bucket, Key: 'k', VersionId: v2 })), 404, 'NoSuchVersion');

      const listed = await s3.send(new ListObjectVersionsCommand({ Bucket }));
      assert.deepEqual(
        listed.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest, v.Size]),
        [
          ['k', v1, true, 2],
          ['k', 'null', false, 2],
        ],
      );
      assert.equal(listed.DeleteMarkers, undefined);

      // A bucket holding versions is not empty.
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }));
      await expectError(s3.send(new DeleteBucketCommand({ Bucket })), 409, 'BucketNotEmpty');
    });

    it('a suspended bucket writes and overwrites the null version, keeping the others', async () => {
      const Bucket = 'versions-suspended';
      await s3.send(new CreateBucketCommand({ Bucket }));
      await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      const v1 = (await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'v1' }))).VersionId!;
      await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } }));
      assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status, 'Suspended');
      assert.equal((await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'n1' }))).VersionId, 'null');
      assert.equal((await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'n2' }))).VersionId, 'null');
      assert.equal(await text(s3, Bucket, 'k'), 'n2');
      assert.equal(await text(s3, Bucket, 'k', v1), 'v1');
      const listed = await s3.send(new ListObjectVersionsCommand({ Bucket }));
      assert.deepEqual(listed.Versions?.map((v) => [v.VersionId, v.IsLatest]), [['null', true], [v1, false]]);
      // A delete there makes a null delete marker, replacing the null version.
      const marked = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'k' }));
      assert.equal(marked.DeleteMarker, true);
      assert.equal(marked.VersionId, 'null');
      const after = await s3.send(new ListObjectVersionsCommand({ Bucket }));
      assert.deepEqual(after.Versions?.map((v) => [v.VersionId, v.IsLatest]), [[v1, false]]);
      assert.deepEqual(after.DeleteMarkers?.map((m) => [m.VersionId, m.IsLatest]), [['null', true]]);
    });

    it('multipart Complete, CopyObject and UploadPartCopy make versions and read source versions', async () => {
      const Bucket = 'versions-writes';
      await s3.send(new CreateBucketCommand({ Bucket }));
      await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      const src1 = (await s3.send(new PutObjectCommand({ Bucket, Key: 'src', Body: 'first' }))).VersionId!;
      await s3.send(new PutObjectCommand({ Bucket, Key: 'src', Body: 'second' }));
      const copy = await s3.send(new CopyObjectCommand({ Bucket, Key: 'copy', CopySource: `${Bucket}/src?versionId=${src1}` }));
      assert.equal(copy.CopySourceVersionId, src1);
      assert.match(copy.VersionId ?? '', /^[A-Za-z0-9_-]{32}$/);
      assert.equal(await text(s3, Bucket, 'copy'), 'first');

      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp' }));
      const part = await s3.send(new UploadPartCopyCommand({ Bucket, Key: 'mp', UploadId, PartNumber: 1, CopySource: `${Bucket}/src?versionId=${src1}` }));
      assert.equal(part.CopySourceVersionId, src1);
      const done = await s3.send(
        new CompleteMultipartUploadCommand({ Bucket, Key: 'mp', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.CopyPartResult!.ETag }] } }),
      );
      assert.match(done.VersionId ?? '', /^[A-Za-z0-9_-]{32}$/);
      // A second multipart version over it: the first keeps its parts.
      const second = await s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'mp' }));
      const etag = (await s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId: second.UploadId, PartNumber: 1, Body: 'other' }))).ETag;
      await s3.send(new CompleteMultipartUploadCommand({ Bucket, Key: 'mp', UploadId: second.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: etag }] } }));
      assert.equal(await text(s3, Bucket, 'mp'), 'other');
      assert.equal(await text(s3, Bucket, 'mp', done.VersionId), 'first');
      // Deleting the newer version frees it and the older one is current again.
      const versions = (await s3.send(new ListObjectVersionsCommand({ Bucket, Prefix: 'mp' }))).Versions!;
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 'mp', VersionId: versions[0]!.VersionId }));
      assert.equal(await text(s3, Bucket, 'mp'), 'first');
    });

    it('ListObjectVersions pages through versions and markers exactly once each, in order, at any max-keys', async () => {
      const Bucket = 'versions-paging';
      await s3.send(new CreateBucketCommand({ Bucket }));
      await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      const expected: Array<{ key: string; versionId: string; latest: boolean; marker: boolean }> = [];
      for (const key of ['a', 'b/1', 'b/2', 'c']) {
        const history: Array<{ versionId: string; marker: boolean }> = [];
        for (let i = 0; i < 3; i++) history.push({ versionId: (await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: `${key}${i}` }))).VersionId!, marker: false });
        if (key !== 'c') history.push({ versionId: (await s3.send(new DeleteObjectCommand({ Bucket, Key: key }))).VersionId!, marker: true });
        if (key === 'a') history.push({ versionId: (await s3.send(new PutObjectCommand({ Bucket, Key: key, Body: 'again' }))).VersionId!, marker: false });
        history.reverse().forEach((entry, i) => expected.push({ key, versionId: entry.versionId, latest: i === 0, marker: entry.marker }));
      }
      // Versions and markers come back as two lists per page: their order across the two lists is
      // checked with one entry a page; every page size must see each entry exactly once.
      const order = (list: typeof expected) => list.map((e) => JSON.stringify(e));
      for (const pageSize of [1, 2, 3, 1000]) {
        const { seen } = await allVersions(s3, Bucket, pageSize);
        assert.equal(seen.length, expected.length, `max-keys ${pageSize}`);
        assert.deepEqual(new Set(order(seen)), new Set(order(expected)), `max-keys ${pageSize}`);
        if (pageSize <= 1) assert.deepEqual(order(seen), order(expected), 'one entry a page keeps the order exactly');
      }
      const rolled = await allVersions(s3, Bucket, 1, '', '/');
      assert.deepEqual(rolled.prefixes, ['b/']);
      assert.deepEqual([...new Set(rolled.seen.map((e) => e.key))], ['a', 'c']);
    });

    it('ListObjectVersions writes Version and DeleteMarker elements interleaved, in listing order', async () => {
      const Bucket = 'versions-order';
      await s3.send(new CreateBucketCommand({ Bucket }));
      await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      const a1 = (await s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: '1' }))).VersionId!;
      const aMarker = (await s3.send(new DeleteObjectCommand({ Bucket, Key: 'a' }))).VersionId!;
      const a2 = (await s3.send(new PutObjectCommand({ Bucket, Key: 'a', Body: '2' }))).VersionId!;
      const b1 = (await s3.send(new PutObjectCommand({ Bucket, Key: 'b', Body: '1' }))).VersionId!;
      const bMarker = (await s3.send(new DeleteObjectCommand({ Bucket, Key: 'b' }))).VersionId!;
      const answer = await signedRequest(server.url, 'GET', `/${Bucket}?versions`);
      assert.equal(answer.status, 200);
      const elements = [...answer.body.matchAll(/<(Version|DeleteMarker)><Key>([^<]*)<\/Key><VersionId>([^<]*)<\/VersionId>/g)].map((m) => `${m[1]} ${m[2]} ${m[3]}`);
      assert.deepEqual(elements, [`Version a ${a2}`, `DeleteMarker a ${aMarker}`, `Version a ${a1}`, `DeleteMarker b ${bMarker}`, `Version b ${b1}`]);
    });

    it('DeleteObjects deletes versions by id and reports the markers it makes', async () => {
      const Bucket = 'versions-multi';
      await s3.send(new CreateBucketCommand({ Bucket }));
      await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      // If-None-Match: * writes a new key of a versioned bucket, and refuses an existing one.
      const v1 = (await s3.send(new PutObjectCommand({ Bucket, Key: 'x', Body: '1', IfNoneMatch: '*' }))).VersionId!;
      await expectError(s3.send(new PutObjectCommand({ Bucket, Key: 'x', Body: 'again', IfNoneMatch: '*' })), 412, 'PreconditionFailed');
      const v2 = (await s3.send(new PutObjectCommand({ Bucket, Key: 'x', Body: '2' }))).VersionId!;
      await s3.send(new PutObjectCommand({ Bucket, Key: 'y', Body: 'y' }));
      const result = await s3.send(
        new DeleteObjectsCommand({ Bucket, Delete: { Objects: [{ Key: 'x', VersionId: v2 }, { Key: 'y' }, { Key: 'x', VersionId: 'not a version' }] } }),
      );
      const byKey = new Map(result.Deleted?.map((d) => [`${d.Key}:${d.VersionId ?? ''}`, d]));
      assert.ok(byKey.has(`x:${v2}`));
      const y = byKey.get('y:');
      assert.equal(y?.DeleteMarker, true);
      assert.match(y?.DeleteMarkerVersionId ?? '', /^[A-Za-z0-9_-]{32}$/);
      assert.deepEqual(result.Errors?.map((e) => [e.Key, e.Code]), [['x', 'InvalidArgument']]);
      assert.equal(await text(s3, Bucket, 'x'), '1');
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'x' }))).VersionId, v1);
    });

    it('tags each version on its own: the tagging calls and GetObjectAttributes take versionId', async () => {
      const Bucket = 'versions-tags';
      await s3.send(new CreateBucketCommand({ Bucket }));
      await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      const v1 = (await s3.send(new PutObjectCommand({ Bucket, Key: 't', Body: 'one', Tagging: 'gen=1' }))).VersionId!;
      const v2 = (await s3.send(new PutObjectCommand({ Bucket, Key: 't', Body: 'two!', Tagging: 'gen=2' }))).VersionId!;
      const tagsOf = async (VersionId?: string) => {
        const answer = await s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't', VersionId }));
        return { versionId: answer.VersionId, tags: answer.TagSet?.map((tag) => `${tag.Key}=${tag.Value}`) };
      };
      assert.deepEqual(await tagsOf(), { versionId: v2, tags: ['gen=2'] });
      assert.deepEqual(await tagsOf(v1), { versionId: v1, tags: ['gen=1'] });

      // Retagging the noncurrent version leaves the current one alone, and the reverse.
      const put = await s3.send(new PutObjectTaggingCommand({ Bucket, Key: 't', VersionId: v1, Tagging: { TagSet: [{ Key: 'old', Value: 'yes' }] } }));
      assert.equal(put.VersionId, v1);
      assert.deepEqual(await tagsOf(v1), { versionId: v1, tags: ['old=yes'] });
      assert.deepEqual(await tagsOf(), { versionId: v2, tags: ['gen=2'] });
      const removed = await s3.send(new DeleteObjectTaggingCommand({ Bucket, Key: 't' }));
      assert.equal(removed.VersionId, v2);
      assert.deepEqual(await tagsOf(), { versionId: v2, tags: [] });
      assert.deepEqual(await tagsOf(v1), { versionId: v1, tags: ['old=yes'] });
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 't', VersionId: v1 }))).TagCount, 1);

      // The version's tags travel with it: deleting v2 for good makes v1 current, tags and all.
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 't', VersionId: v2 }));
      assert.deepEqual(await tagsOf(), { versionId: v1, tags: ['old=yes'] });
      // A new write archives v1 with its tags.
      const v3 = (await s3.send(new PutObjectCommand({ Bucket, Key: 't', Body: 'three' }))).VersionId!;
      assert.deepEqual(await tagsOf(v1), { versionId: v1, tags: ['old=yes'] });
      assert.deepEqual(await tagsOf(v3), { versionId: v3, tags: [] });

      const attributes = await s3.send(new GetObjectAttributesCommand({ Bucket, Key: 't', VersionId: v1, ObjectAttributes: ['ObjectSize'] }));
      assert.equal(attributes.VersionId, v1);
      assert.equal(attributes.ObjectSize, 3);

      // A delete marker has no tags to read or write (405), an unknown version is NoSuchVersion.
      const marker = (await s3.send(new DeleteObjectCommand({ Bucket, Key: 't' }))).VersionId!;
      await expectError(s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't', VersionId: marker })), 405, 'MethodNotAllowed');
      await expectError(
        s3.send(new PutObjectTaggingCommand({ Bucket, Key: 't', VersionId: marker, Tagging: { TagSet: [] } })),
        405,
        'MethodNotAllowed',
      );
      await expectError(s3.send(new GetObjectTaggingCommand({ Bucket, Key: 't', VersionId: 'B'.repeat(32) })), 404, 'NoSuchVersion');
      assert.deepEqual(await tagsOf(v1), { versionId: v1, tags: ['old=yes'] });
    });

    it('refuses what S3 refuses: bad configurations, MFA Delete, malformed version ids', async () => {
      const Bucket = 'versions-errors';
      await s3.send(new CreateBucketCommand({ Bucket }));
      const put = (body: string) => signedRequest(server.url, 'PUT', `/${Bucket}?versioning`, { body });
      assertS3Error(await put('<VersioningConfiguration><Status>Disabled</Status></VersioningConfiguration>'), 400, 'MalformedXML');
      assertS3Error(await put('<VersioningConfiguration><Status>Enabled</Status>'), 400, 'MalformedXML');
      assertS3Error(await put('<VersioningConfiguration><Status>Enabled</Status><Extra/></VersioningConfiguration>'), 400, 'MalformedXML');
      assertS3Error(
        await put('<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>'),
        400,
        'InvalidRequest',
      );
      // Nothing stored by the refusals.
      assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status, undefined);
      await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }));
      assertS3Error(await signedRequest(server.url, 'GET', `/${Bucket}/k?versionId=bogus`), 400, 'InvalidArgument');
      assertS3Error(await signedRequest(server.url, 'DELETE', `/${Bucket}/k?versionId=bogus`), 400, 'InvalidArgument');
      assertS3Error(await signedRequest(server.url, 'GET', `/${Bucket}?versions&version-id-marker=null`), 400, 'InvalidArgument');
      // Unversioned: `null` names the one version, and no answer carries a version id.
      const unknown = 'A'.repeat(32);
      assertS3Error(await signedRequest(server.url, 'GET', `/${Bucket}/k?versionId=${unknown}`), 400, 'InvalidArgument');
      const head = await signedRequest(server.url, 'HEAD', `/${Bucket}/k?versionId=null`);
      assert.equal(head.status, 200);
      assert.equal(head.headers['x-amz-version-id'], undefined);
    });
  });
}

onEachBackend(scenario);
