import { accessStamp } from '../../src/core/public-access.js';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ServiceError } from '../../src/core/errors.js';
import { maskUrl, PostgresMetadata } from '../../src/core/metadata/postgres.js';
import { migrate, MIGRATIONS, SCHEMA_VERSION } from '../../src/core/metadata/postgres-schema.js';
import { tempSqliteMetadata } from '../helpers/metadata.js';
import { deleteLatest, deleteVersion, writeVersion } from '../../src/core/versioning.js';
import type { BlobReference, HashState, Metadata, NewObject, StoredPart, WriteOutcome } from '../../src/core/metadata/types.js';
import type { UploadInfo } from '../../src/core/types.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { HISTORY_AFTER_MIGRATION_7, HISTORY_BEFORE_MIGRATION_7 } from '../helpers/version-history.js';

// The metadata layer through its interface. describeBackend runs the same tests on a backend;
// only the function that opens one differs between backends.

type OpenBackend = () => Promise<{ meta: Metadata; cleanup: () => Promise<void> }>;

const at = (ms: number) => new Date(Date.UTC(2025, 0, 1) + ms);
const noAttributes = { headers: {}, userMeta: {} };

function object(bucket: string, key: string, blobIds: string[], extra: Partial<NewObject> = {}): NewObject {
  return {
    bucket,
    key,
    size: blobIds.length * 10,
    etag: createHash('md5').update(key).digest('hex'),
    lastModified: at(0),
    ...noAttributes,
    content: { segments: blobIds.map((blobId, index) => ({ blobId, size: 10, partNumber: index + 1 })) },
    ...extra,
  };
}

function upload(bucket: string, key: string, uploadId: string, initiated = at(0), extra: Partial<UploadInfo> = {}): UploadInfo {
  return { uploadId, bucket, key, owner: 'alice', initiated, ...noAttributes, ...extra };
}

function part(partNumber: number, blobId: string, extra: Partial<StoredPart> = {}): StoredPart {
  return { partNumber, blobId, size: 100 + partNumber, etag: `etag-${partNumber}`, lastModified: at(partNumber), ...extra };
}

/** Keys in UTF-8 byte order, which is S3's listing order: upper case before lower, ASCII before é before emoji. */
function byteOrder(keys: string[]): string[] {
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

export function describeBackend(name: string, open: OpenBackend): void {
  describe(`metadata backend: ${name}`, () => {
    let meta: Metadata;
    let cleanup: () => Promise<void>;

    before(async () => {
      ({ meta, cleanup } = await open());
    });
    after(async () => {
      await cleanup();
    });

    it('creates, lists (in byte order), finds and deletes buckets', async () => {
      await meta.insertBucket('bk-zeta', 'alice', at(1));
      await meta.insertBucket('bk-alpha', 'bob', at(2));
      // No access settings: the stamp is the digest of none (core/public-access.ts accessStamp), the same on both backends.
      assert.deepEqual(await meta.getBucket('bk-zeta'), { name: 'bk-zeta', owner: 'alice', createdAt: at(1), accessStamp: accessStamp({}) });
      assert.equal(await meta.getBucket('bk-missing'), undefined);
      const names = (await meta.listBuckets()).map((bucket) => bucket.name).filter((bucket) => bucket.startsWith('bk-'));
      assert.deepEqual(names, ['bk-alpha', 'bk-zeta']);
      assert.equal(await meta.bucketHasObjects('bk-zeta'), false);
      await meta.putObject(object('bk-zeta', 'k', ['bk-blob']));
      assert.equal(await meta.bucketHasObjects('bk-zeta'), true);
      await meta.deleteObject('bk-zeta', 'k');
      await meta.deleteBucket('bk-zeta');
      assert.equal(await meta.getBucket('bk-zeta'), undefined);
    });

    it("writes a PUT's object only into a bucket that exists, is the writer's and (when asked) has no object at the key", async () => {
      await meta.insertBucket('guarded', 'alice', at(0));
      assert.deepEqual(await meta.writeObject(object('guarded-missing', 'k', ['g-0']), {}), { refused: 'no-bucket' });
      assert.deepEqual(await meta.writeObject(object('guarded', 'k', ['g-0']), { owner: 'bob' }), { refused: 'not-owner' });
      assert.equal(await meta.getObject('guarded', 'k'), undefined);

      const first = await meta.writeObject(object('guarded', 'k', ['g-1', 'g-2']), { owner: 'alice' });
      assert.ok('stored' in first);
      assert.deepEqual(first.released, []);
      assert.deepEqual(first.stored, await meta.getObject('guarded', 'k'));

      assert.deepEqual(await meta.writeObject(object('guarded', 'k', ['g-3']), { owner: 'alice', ifAbsent: true }), { refused: 'exists' });
      assert.deepEqual((await meta.segmentsOf(first.stored.id)).map((segment) => segment.blobId), ['g-1', 'g-2']);

      // Root (no owner) replaces: the old blobs come back released, as nothing else holds them.
      const second = await meta.writeObject(object('guarded', 'k', ['g-4']), {});
      assert.ok('stored' in second);
      assert.deepEqual(second.released, ['g-1', 'g-2']);
      assert.deepEqual((await meta.segmentsOf(second.stored.id)).map((segment) => segment.blobId), ['g-4']);
    });

    it('answers a written object as a read gives it back, every column set, for a new key and a replacement', async () => {
      await meta.insertBucket('as-read', 'alice', at(0));
      // A key with an unpaired surrogate, which a backend may store otherwise: the answer must say what was stored.
      const key = 'dir/é😀\ud800-key';
      const full = (blobId: string, value: number): NewObject =>
        object('as-read', key, [blobId], {
          headers: { contentType: 'text/plain; charset=utf-8', cacheControl: 'no-cache' },
          userMeta: { note: 'é😀', empty: '' },
          partsCount: 3,
          crc64: '18446744073709551615',
          checksum: { algorithm: 'sha256', type: 'composite', value: Buffer.alloc(32, value) },
          contentMd5: 'd41d8cd98f00b204e9800998ecf8427e',
          contentSha1: 'da39a3ee5e6b4b0d3255bfef95601890afd80709',
          tags: [
            { key: 'b', value: '2' },
            { key: 'a', value: 'é' },
          ],
        });
      for (const [blobId, value] of [['as-read-1', 1], ['as-read-2', 2]] as const) {
        const written = await meta.writeObject(full(blobId, value), { owner: 'alice' });
        assert.ok('stored' in written);
        const read = await meta.getObjectById(written.stored.id);
        assert.ok(read);
        assert.deepEqual(written.stored, read);
        assert.equal(written.stored.checksum?.value[0], value);
      }
      const inTransaction = await meta.transaction((tx) => tx.putObject(full('as-read-3', 3)));
      assert.deepEqual(inTransaction.stored, await meta.getObjectById(inTransaction.stored.id));
      assert.equal((await meta.listObjects('as-read', '', '', undefined, 10)).length, 1, 'each write replaced the one before');
    });

    it('keeps one configuration document per bucket and kind, replaced by a put, gone with its bucket', async () => {
      await meta.insertBucket('cfg-a', 'alice', at(0));
      await meta.insertBucket('cfg-b', 'alice', at(0));
      assert.equal(await meta.getBucketConfig('cfg-a', 'cors'), undefined);
      await meta.putBucketConfig('cfg-a', 'cors', '{"rules":1}');
      await meta.putBucketConfig('cfg-b', 'cors', '{"rules":"b"}');
      assert.equal(await meta.getBucketConfig('cfg-a', 'cors'), '{"rules":1}');
      await meta.transaction((tx) => tx.putBucketConfig('cfg-a', 'cors', '{"rules":2,"text":"é😀"}'));
      assert.equal(await meta.getBucketConfig('cfg-a', 'cors'), '{"rules":2,"text":"é😀"}', 'replaced, not added');
      await meta.deleteBucketConfig('cfg-b', 'cors');
      assert.equal(await meta.getBucketConfig('cfg-b', 'cors'), undefined);
      await meta.deleteBucketConfig('cfg-b', 'cors');
      await meta.putBucketConfig('cfg-b', 'cors', '{"rules":"b"}');
      await meta.transaction((tx) => tx.deleteBucket('cfg-a'));
      assert.equal(await meta.getBucketConfig('cfg-a', 'cors'), undefined, 'a deleted bucket takes its configurations');
      // A bucket made again under the name starts without them.
      await meta.insertBucket('cfg-a', 'bob', at(1));
      assert.equal(await meta.getBucketConfig('cfg-a', 'cors'), undefined);
      assert.equal(await meta.getBucketConfig('cfg-b', 'cors'), '{"rules":"b"}', "another bucket's stay");
    });

    it('puts, replaces and deletes objects, returning the blob ids each released', async () => {
      await meta.insertBucket('objects', 'alice', at(0));
      const checksum = { algorithm: 'crc64nvme' as const, type: 'full-object' as const, value: Buffer.from('0102030405060708', 'hex') };
      const big = 5 * 1024 ** 3 + 7; // beyond 32 bits: BIGINT all the way
      const first = await meta.putObject(
        object('objects', 'doc', ['o-1', 'o-2', 'o-3'], {
          size: big,
          headers: { contentType: 'text/plain', cacheControl: 'no-cache' },
          userMeta: { colour: 'blue', 'x-odd': 'é😀' },
          crc64: '18446744073709551615',
          checksum,
          contentMd5: 'a'.repeat(32),
          contentSha1: 'b'.repeat(40),
          lastModified: at(5),
        }),
      );
      assert.deepEqual(first.released, []);
      const stored = await meta.getObject('objects', 'doc');
      assert.ok(stored);
      assert.deepEqual(first.stored, stored, 'putObject answers the row it stored');
      assert.equal(typeof stored.id, 'number');
      assert.deepEqual({ ...stored, id: 0 }, {
        id: 0,
        bucket: 'objects',
        key: 'doc',
        size: big,
        etag: createHash('md5').update('doc').digest('hex'),
        lastModified: at(5),
        headers: { contentType: 'text/plain', cacheControl: 'no-cache' },
        userMeta: { colour: 'blue', 'x-odd': 'é😀' },
        partsCount: undefined,
        crc64: '18446744073709551615',
        checksum,
        contentMd5: 'a'.repeat(32),
        contentSha1: 'b'.repeat(40),
      });
      assert.deepEqual(await meta.getObjectById(stored.id), stored);
      assert.deepEqual(await meta.segmentsOf(stored.id), [
        { blobId: 'o-1', offset: 0, size: 10, partNumber: 1 },
        { blobId: 'o-2', offset: 10, size: 10, partNumber: 2 },
        { blobId: 'o-3', offset: 20, size: 10, partNumber: 3 },
      ]);

      // Replacing releases the old blobs, in order; the new object gets a new id.
      const put = await meta.putObject(object('objects', 'doc', ['o-4']));
      assert.deepEqual(put.released, ['o-1', 'o-2', 'o-3']);
      const replaced = await meta.getObject('objects', 'doc');
      assert.deepEqual(put.stored, replaced, 'putObject answers the row it stored');
      assert.ok(replaced && replaced.id > stored.id);
      assert.equal(replaced.checksum, undefined);
      assert.equal(await meta.getObjectById(stored.id), undefined);
      assert.deepEqual(await meta.segmentsOf(stored.id), []);

      assert.deepEqual(await meta.deleteObject('objects', 'doc'), ['o-4']);
      assert.deepEqual(await meta.deleteObject('objects', 'doc'), []);
      assert.equal(await meta.getObject('objects', 'doc'), undefined);
      assert.deepEqual(await meta.segmentsOf(replaced.id), []);
    });

    it('reads back in a transaction the object it has just written, as stored, and not once it is gone', async () => {
      await meta.insertBucket('readback', 'alice', at(0));
      const fields: Partial<NewObject> = {
        size: 5 * 1024 ** 3,
        headers: { contentType: 'text/plain' },
        userMeta: { colour: 'é😀' },
        crc64: '42',
        checksum: { algorithm: 'crc32', type: 'full-object', value: Buffer.from('01020304', 'hex') },
        contentMd5: 'c'.repeat(32),
        lastModified: at(3),
      };
      const written = await meta.transaction(async (tx) => {
        await tx.putObject(object('readback', 'k', ['rb-1'], fields));
        return tx.getObject('readback', 'k');
      });
      assert.ok(written);
      assert.deepEqual(written, await meta.getObject('readback', 'k'));
      const replaced = await meta.transaction(async (tx) => {
        await tx.putObject(object('readback', 'k', ['rb-2']));
        return tx.getObject('readback', 'k');
      });
      assert.ok(replaced && replaced.id > written.id);
      assert.deepEqual(replaced, await meta.getObject('readback', 'k'));
      const afterDelete = await meta.transaction(async (tx) => {
        await tx.putObject(object('readback', 'k', ['rb-3']));
        await tx.deleteObject('readback', 'k');
        return tx.getObject('readback', 'k');
      });
      assert.equal(afterDelete, undefined);
      const afterRename = await meta.transaction(async (tx) => {
        await tx.putObject(object('readback', 'k', ['rb-4']));
        const stored = (await tx.getObject('readback', 'k'))!;
        await tx.renameObject(stored.id, 'k2', at(9));
        return [await tx.getObject('readback', 'k'), await tx.getObject('readback', 'k2')];
      });
      assert.equal(afterRename[0], undefined);
      assert.equal(afterRename[1]?.key, 'k2');
      assert.deepEqual(afterRename[1]?.lastModified, at(9));
      assert.equal(await meta.transaction(async (tx) => {
        await tx.putObject(object('readback', 'k3', ['rb-5']));
        return tx.getObject('readback', 'k');
      }), undefined);
    });

    it('renames objects, finds them by content and sums a bucket', async () => {
      await meta.insertBucket('content-a', 'alice', at(0));
      await meta.insertBucket('content-b', 'bob', at(0));
      await meta.putObject(object('content-b', 'bobs', ['c-1'], { contentMd5: 'f'.repeat(32), size: 10 }));
      await meta.putObject(object('content-a', 'first', ['c-2'], { contentMd5: 'f'.repeat(32), contentSha1: 'e'.repeat(40), size: 10 }));
      await meta.putObject(object('content-a', 'second', ['c-3'], { contentMd5: 'f'.repeat(32), size: 10 }));
      // The oldest one alice owns; any owner's when asked.
      assert.equal((await meta.findByContent('md5', 'f'.repeat(32), 10, 'alice', false))?.key, 'first');
      assert.equal((await meta.findByContent('md5', 'f'.repeat(32), 10, 'alice', true))?.key, 'bobs');
      assert.equal((await meta.findByContent('sha1', 'e'.repeat(40), 10, 'bob', false))?.key, undefined);
      assert.equal((await meta.findByContent('sha1', 'e'.repeat(40), 10, 'alice', false))?.key, 'first');
      assert.equal(await meta.findByContent('md5', 'f'.repeat(32), 11, 'alice', true), undefined);

      const first = (await meta.getObject('content-a', 'first'))!;
      await meta.renameObject(first.id, 'moved/first', at(99));
      assert.equal(await meta.getObject('content-a', 'first'), undefined);
      const moved = (await meta.getObject('content-a', 'moved/first'))!;
      assert.equal(moved.id, first.id);
      assert.deepEqual(moved.lastModified, at(99));
      assert.deepEqual(await meta.segmentsOf(moved.id), [{ blobId: 'c-2', offset: 0, size: 10, partNumber: 1 }]);

      assert.deepEqual(await meta.bucketUsage('content-a'), { objects: 2, bytes: 20 });
      assert.deepEqual(await meta.bucketUsage('content-empty'), { objects: 0, bytes: 0 });
    });

    it('lists keys in UTF-8 byte order with marker, bounds and limit', async () => {
      await meta.insertBucket('order', 'alice', at(0));
      const keys = ['a', 'B', 'é', '😀', 'ab', 'a/b', 'Z', 'Ä', 'ｚ', '~', 'a b'];
      for (const key of keys) await meta.putObject(object('order', key, [`order-${key}`]));
      const sorted = byteOrder(keys);
      assert.deepEqual(sorted.slice(0, 4), ['B', 'Z', 'a', 'a b']);
      assert.ok(sorted.indexOf('B') < sorted.indexOf('a') && sorted.indexOf('a') < sorted.indexOf('é') && sorted.indexOf('é') < sorted.indexOf('😀'));

      assert.deepEqual((await meta.listObjects('order', '', '', undefined, 100)).map((o) => o.key), sorted);
      assert.deepEqual((await meta.listObjects('order', '', '', undefined, 3)).map((o) => o.key), sorted.slice(0, 3));
      // After a marker (exclusive)
      assert.deepEqual((await meta.listObjects('order', 'a', '', undefined, 100)).map((o) => o.key), sorted.slice(sorted.indexOf('a') + 1));
      // A prefix as the range [prefix, prefix with its last byte raised)
      assert.deepEqual((await meta.listObjects('order', '', 'a', 'b', 100)).map((o) => o.key), ['a', 'a b', 'a/b', 'ab']);
      assert.deepEqual((await meta.listObjects('order', '', 'é', 'ê', 100)).map((o) => o.key), ['é']);
      assert.deepEqual((await meta.listObjects('order', 'a b', 'a', 'b', 2)).map((o) => o.key), ['a/b', 'ab']);
      assert.deepEqual(await meta.listObjects('order', '', 'q', 'r', 100), []);
    });

    it('stores a multipart object as its completed upload\'s parts and releases them with it', async () => {
      await meta.insertBucket('multi', 'alice', at(0));
      const spec = { algorithm: 'sha256' as const, type: 'composite' as const };
      await meta.insertUpload(upload('multi', 'big', 'up-multi', at(1), { checksum: spec, headers: { contentType: 'video/mp4' }, userMeta: { a: '1' } }));
      const digest = (n: number) => createHash('sha256').update(String(n)).digest();
      for (const n of [1, 2, 3, 4]) {
        assert.equal(await meta.upsertPart('up-multi', part(n, `mp-${n}`, { checksum: { algorithm: 'sha256', value: digest(n) } })), undefined);
      }
      // Complete lists 1, 2 and 4: part 3 goes.
      assert.deepEqual(await meta.deleteParts('up-multi', [3]), ['mp-3']);
      assert.deepEqual(await meta.deleteParts('up-multi', [3]), []);
      await meta.markCompleted('up-multi', at(50), 'fingerprint', 'etag-3');
      assert.deepEqual((await meta.putObject(object('multi', 'big', [], { size: 101 + 102 + 104, partsCount: 3, content: { uploadId: 'up-multi' } }))).released, []);

      const stored = (await meta.getObject('multi', 'big'))!;
      assert.equal(stored.partsCount, 3);
      assert.deepEqual(await meta.segmentsOf(stored.id), [
        // A part's segment carries its ETag: a full GET checks the part's bytes against it.
        { blobId: 'mp-1', offset: 0, size: 101, partNumber: 1, etag: 'etag-1' },
        { blobId: 'mp-2', offset: 101, size: 102, partNumber: 2, etag: 'etag-2' },
        { blobId: 'mp-4', offset: 203, size: 104, partNumber: 4, etag: 'etag-4' },
      ]);
      assert.deepEqual(await meta.objectPartChecksum(stored.id, 2), { algorithm: 'sha256', value: digest(2) });
      assert.equal(await meta.objectPartChecksum(stored.id, 3), undefined);

      const completed = (await meta.getUpload('up-multi'))!;
      assert.deepEqual(completed.completed, { at: at(50), fingerprint: 'fingerprint', etag: 'etag-3' });
      assert.deepEqual(completed.checksum, spec);
      assert.deepEqual(completed.headers, { contentType: 'video/mp4' });
      assert.deepEqual(completed.userMeta, { a: '1' });
      // A completed upload is no longer listed as open, and is not stale while its object exists.
      assert.deepEqual(await meta.listUploadsAfter('multi', { key: '', uploadId: '' }, '', undefined, 10), []);
      assert.equal((await meta.staleUploadIds(at(1000), at(1000))).includes('up-multi'), false);
      assert.equal(await meta.isBlobReferenced('mp-2'), true);

      // Replacing the object releases its parts and forgets its upload.
      assert.deepEqual((await meta.putObject(object('multi', 'big', ['single']))).released, ['mp-1', 'mp-2', 'mp-4']);
      assert.equal(await meta.getUpload('up-multi'), undefined);
      assert.deepEqual(await meta.allParts('up-multi'), []);
      assert.equal(await meta.isBlobReferenced('mp-2'), false);
      // A single PUT's object has no part checksums.
      assert.equal(await meta.objectPartChecksum((await meta.getObject('multi', 'big'))!.id, 1), undefined);
    });

    it("keeps an object's and an upload's tags, replaced or cleared alone, and pages a multipart object's parts", async () => {
      await meta.insertBucket('tags', 'alice', at(0));
      const tags = [
        { key: 'a', value: '' },
        { key: 'é😀', value: 'x y' },
      ];
      const stored = (await meta.putObject(object('tags', 'doc', ['t-1'], { tags }))).stored;
      assert.deepEqual(stored.tags, tags, 'putObject answers the tags it stored');
      assert.deepEqual((await meta.getObject('tags', 'doc'))!.tags, tags);
      await meta.transaction((tx) => tx.setObjectTags(stored.id, [{ key: 'only', value: '1' }]));
      const retagged = (await meta.getObject('tags', 'doc'))!;
      assert.deepEqual(retagged.tags, [{ key: 'only', value: '1' }]);
      assert.equal(retagged.etag, stored.etag);
      assert.equal(retagged.lastModified.getTime(), stored.lastModified.getTime());
      await meta.setObjectTags(stored.id, []);
      assert.equal('tags' in (await meta.getObject('tags', 'doc'))!, false, 'an empty set is no tags');
      // A new object at the key has its own tags (none), not the old one's.
      await meta.setObjectTags(stored.id, tags);
      await meta.putObject(object('tags', 'doc', ['t-2']));
      assert.equal((await meta.getObject('tags', 'doc'))!.tags, undefined);

      // An upload's tags, kept until Complete hands them on.
      await meta.insertUpload(upload('tags', 'big', 'up-tags', at(1), { tags }));
      assert.deepEqual((await meta.getUpload('up-tags'))!.tags, tags);
      for (const n of [1, 2, 3]) await meta.upsertPart('up-tags', part(n, `tp-${n}`, { checksum: { algorithm: 'crc32', value: Buffer.from([0, 0, 0, n]) } }));
      const big = (await meta.putObject(object('tags', 'big', [], { partsCount: 3, tags, content: { uploadId: 'up-tags' } }))).stored;
      assert.deepEqual((await meta.listObjectParts(big.id, 0, 2)).map((p) => [p.partNumber, p.size, p.checksum?.value.toString('hex')]), [
        [1, 101, '00000001'],
        [2, 102, '00000002'],
      ]);
      assert.deepEqual((await meta.listObjectParts(big.id, 2, 10)).map((p) => p.partNumber), [3]);
      assert.deepEqual(await meta.listObjectParts((await meta.getObject('tags', 'doc'))!.id, 0, 10), [], "a single PUT's object has no parts");
    });

    it("keeps an object's and an upload's ACL and encryption, and hands them to the object's history", async () => {
      await meta.insertBucket('sealed', 'alice', at(0));
      const acl = { owner: 'alice', grants: [{ grantee: { user: 'alice' }, permission: 'FULL_CONTROL' as const }, { grantee: { group: 'AllUsers' as const }, permission: 'READ' as const }] };
      const encryption = { kind: 'sse-c' as const, customerKeyCheck: 'salt:mac' };
      const stored = (await meta.putObject(object('sealed', 'doc', ['e-1'], { acl, encryption }))).stored;
      assert.deepEqual([stored.acl, stored.encryption], [acl, encryption]);
      assert.deepEqual((await meta.getObject('sealed', 'doc'))!.encryption, encryption);
      const plain = (await meta.putObject(object('sealed', 'plain', ['e-2']))).stored;
      assert.equal('acl' in plain || 'encryption' in plain, false, 'an object without either has neither');
      // Archived into the key's history with its columns.
      const archived = await meta.archiveCurrent('sealed', 'doc', at(9));
      assert.deepEqual([archived?.acl, archived?.encryption], [acl, encryption]);
      await meta.insertUpload(upload('sealed', 'big', 'up-sealed', at(1), { encryption: { kind: 'sse-kms', kmsKeyId: 'k-1', bucketKeyEnabled: true } }));
      assert.deepEqual((await meta.getUpload('up-sealed'))!.encryption, { kind: 'sse-kms', kmsKeyId: 'k-1', bucketKeyEnabled: true });
    });

    it("replaces an object's or a noncurrent version's ACL alone, and clears it", async () => {
      await meta.insertBucket('acl-set', 'alice', at(0));
      const acl = { owner: 'alice', grants: [{ grantee: { user: 'bob' }, permission: 'READ' as const }] };
      const first = (await meta.putObject(object('acl-set', 'doc', ['a-1']))).stored;
      await meta.transaction((tx) => tx.setObjectAcl(first.id, acl));
      const set = (await meta.getObject('acl-set', 'doc'))!;
      assert.deepEqual(set.acl, acl);
      assert.equal(set.etag, first.etag);
      assert.equal(set.lastModified.getTime(), first.lastModified.getTime());
      await meta.setObjectAcl(first.id, undefined);
      assert.equal('acl' in (await meta.getObject('acl-set', 'doc'))!, false, 'cleared: none of its own');
      // A version in the key's history keeps its id: its ACL is set where it is.
      await meta.archiveCurrent('acl-set', 'doc', at(5));
      await meta.setObjectAcl(first.id, acl);
      assert.deepEqual((await meta.newestNoncurrent('acl-set', 'doc'))?.acl, acl);
    });

    it('pages open uploads by (key, upload id) within bounds', async () => {
      await meta.insertBucket('uploads', 'alice', at(0));
      await meta.insertBucket('uploads-other', 'alice', at(0));
      const made = [
        ['b', 'u2'], ['b', 'u1'], ['a', 'u9'], ['é', 'u3'], ['B', 'u4'], ['a/x', 'u5'], ['b', 'u7'],
      ];
      for (const [key, id] of made) await meta.insertUpload(upload('uploads', key!, id!, at(Number(id!.slice(1)))));
      await meta.insertUpload(upload('uploads-other', 'a', 'u0'));
      const all = async (after: { key: string; uploadId: string }, lower = '', upper?: string, limit = 100) =>
        (await meta.listUploadsAfter('uploads', after, lower, upper, limit)).map((u) => `${u.key}:${u.uploadId}`);

      assert.deepEqual(await all({ key: '', uploadId: '' }), ['B:u4', 'a:u9', 'a/x:u5', 'b:u1', 'b:u2', 'b:u7', 'é:u3']);
      // The cursor is a (key, upload id) pair: after b:u1 comes b:u2.
      assert.deepEqual(await all({ key: 'b', uploadId: 'u1' }, '', undefined, 2), ['b:u2', 'b:u7']);
      // Skipping a whole key: a cursor with the highest possible id.
      assert.deepEqual(await all({ key: 'b', uploadId: '\u{10FFFF}' }), ['é:u3']);
      assert.deepEqual(await all({ key: '', uploadId: '' }, 'a', 'b'), ['a:u9', 'a/x:u5']);
      assert.deepEqual(
        (await meta.listUploadsOfKeyAfterId('uploads', 'b', 'u1', 10)).map((u) => u.uploadId),
        ['u2', 'u7'],
      );
      assert.deepEqual((await meta.listUploadsOfKeyAfterId('uploads', 'b', '', 1)).map((u) => u.uploadId), ['u1']);
      assert.deepEqual([...(await meta.uploadIdsOfBucket('uploads'))].sort(), ['u1', 'u2', 'u3', 'u4', 'u5', 'u7', 'u9']);

      // Stale: open uploads initiated before the first date.
      const stale = (await meta.staleUploadIds(at(4), at(0))).filter((id) => ['u1', 'u2', 'u3', 'u4', 'u5', 'u7', 'u9', 'u0'].includes(id));
      assert.deepEqual(stale.sort(), ['u0', 'u1', 'u2', 'u3']);

      await meta.upsertPart('u2', part(1, 'u2-p1'));
      assert.deepEqual(await meta.deleteUpload('u2'), ['u2-p1']);
      assert.equal(await meta.getUpload('u2'), undefined);
      assert.deepEqual(await meta.deleteUpload('u2'), []);
    });

    it('inserts and replaces parts, reporting the blob a replacement released', async () => {
      await meta.insertUpload(upload('parts', 'k', 'up-parts'));
      assert.equal(await meta.upsertPart('up-parts', part(2, 'p2-a')), undefined);
      assert.equal(await meta.upsertPart('up-parts', part(1, 'p1')), undefined);
      const replacement = part(2, 'p2-b', { size: 7, etag: 'again', crc64: '42', checksum: { algorithm: 'crc32', value: Buffer.from('0a0b0c0d', 'hex') } });
      assert.equal(await meta.upsertPart('up-parts', replacement), 'p2-a');
      assert.deepEqual(await meta.getPart('up-parts', 2), replacement);
      assert.equal(await meta.getPart('up-parts', 3), undefined);
      await meta.upsertPart('up-parts', part(3, 'p3'));
      assert.deepEqual((await meta.listParts('up-parts', 0, 2)).map((p) => p.partNumber), [1, 2]);
      assert.deepEqual((await meta.listParts('up-parts', 2, 2)).map((p) => p.partNumber), [3]);
      assert.deepEqual((await meta.allParts('up-parts')).map((p) => p.blobId), ['p1', 'p2-b', 'p3']);
      assert.equal((await meta.allParts('up-parts'))[0]!.checksum, undefined);
    });

    it("totals each upload's parts and bytes, for the bucket's uploads only", async () => {
      await meta.insertUpload(upload('totals', 'a', 'up-totals-a'));
      await meta.insertUpload(upload('totals', 'b', 'up-totals-b'));
      await meta.insertUpload(upload('totals', 'c', 'up-totals-empty'));
      await meta.insertUpload(upload('totals-other', 'a', 'up-totals-other'));
      await meta.upsertPart('up-totals-a', part(1, 'ta1', { size: 5 }));
      await meta.upsertPart('up-totals-a', part(2, 'ta2', { size: 6 * 1024 ** 3 }));
      await meta.upsertPart('up-totals-b', part(7, 'tb7', { size: 3 }));
      await meta.upsertPart('up-totals-other', part(1, 'to1', { size: 9 }));
      const totals = await meta.partTotals('totals', ['up-totals-a', 'up-totals-b', 'up-totals-empty', 'up-totals-other', 'up-missing']);
      assert.deepEqual(
        [...totals.entries()].sort(([a], [b]) => a.localeCompare(b)),
        [
          ['up-totals-a', { parts: 2, bytes: 5 + 6 * 1024 ** 3 }],
          ['up-totals-b', { parts: 1, bytes: 3 }],
        ],
      );
      assert.equal((await meta.partTotals('totals', [])).size, 0);
    });

    it('gives Complete the parts as columns, with checksums in hex when asked', async () => {
      await meta.insertUpload(upload('columns', 'k', 'up-columns'));
      assert.deepEqual(await meta.partColumns('up-columns'), { numbers: [], sizes: [], etags: [], crc64s: [] });
      assert.deepEqual(await meta.partColumns('up-columns', true), { numbers: [], sizes: [], etags: [], crc64s: [], checksums: [] });
      await meta.upsertPart('up-columns', part(3, 'c3', { crc64: '3', size: 6 * 1024 ** 3, checksum: { algorithm: 'crc32', value: Buffer.from('00ff10ab', 'hex') } }));
      await meta.upsertPart('up-columns', part(1, 'c1', { crc64: '1' }));
      await meta.upsertPart('up-columns', part(2, 'c2'));
      const columns = await meta.partColumns('up-columns');
      assert.deepEqual(columns, {
        numbers: [1, 2, 3],
        sizes: [101, 102, 6 * 1024 ** 3],
        etags: ['etag-1', 'etag-2', 'etag-3'],
        crc64s: ['1', null, '3'],
      });
      // Hex in either case (the engine compares case-insensitively).
      assert.deepEqual((await meta.partColumns('up-columns', true)).checksums!.map((hex) => hex.toLowerCase()), ['', '', '00ff10ab']);
    });

    it('reads 10,000 parts as columns', async (t) => {
      const count = 10_000;
      await meta.insertUpload(upload('columns', 'many', 'up-many'));
      await meta.transaction(async (tx) => {
        for (let n = count; n >= 1; n--) {
          await tx.upsertPart('up-many', part(n, `many-${n}`, { crc64: String(n * 7), checksum: { algorithm: 'crc32', value: Buffer.alloc(4, n & 0xff) } }));
        }
      });
      const timed = async <T>(read: () => Promise<T>): Promise<[T, number]> => {
        const started = performance.now();
        const result = await read();
        return [result, performance.now() - started];
      };
      const [columns, first] = await timed(() => meta.partColumns('up-many'));
      const [withChecksums, firstWithChecksums] = await timed(() => meta.partColumns('up-many', true));
      const again: number[] = [];
      for (let n = 0; n < 5; n++) again.push((await timed(() => meta.partColumns('up-many')))[1]);
      t.diagnostic(
        `partColumns of ${count} parts: first ${first.toFixed(1)} ms (with checksums ${firstWithChecksums.toFixed(1)} ms), ` +
          `then ${again.map((ms) => ms.toFixed(1)).join(', ')} ms`,
      );
      assert.equal(columns.numbers.length, count);
      assert.ok(columns.numbers.every((n, index) => n === index + 1));
      assert.ok(columns.sizes.every((size, index) => size === 100 + index + 1));
      assert.ok(columns.etags.every((etag, index) => etag === `etag-${index + 1}`));
      assert.ok(columns.crc64s.every((crc, index) => crc === String((index + 1) * 7)));
      assert.equal(columns.checksums, undefined);
      assert.ok(withChecksums.checksums!.every((hex, index) => hex.toLowerCase() === Buffer.alloc(4, (index + 1) & 0xff).toString('hex')));
    });

    it('tells which released blobs nothing refers to any more', async () => {
      await meta.insertBucket('refs', 'alice', at(0));
      await meta.putObject(object('refs', 'one', ['r-shared', 'r-own']));
      await meta.insertUpload(upload('refs', 'two', 'up-refs'));
      await meta.upsertPart('up-refs', part(1, 'r-part'));
      // In the caller's order, each once; referenced ones left out.
      assert.deepEqual(await meta.unreferenced(['r-free-2', 'r-own', 'r-free-1', 'r-part', 'r-free-2']), ['r-free-2', 'r-free-1']);
      assert.deepEqual(await meta.unreferenced([]), []);
      assert.equal(await meta.isBlobReferenced('r-shared'), true);
      assert.equal(await meta.isBlobReferenced('r-part'), true);
      assert.equal(await meta.isBlobReferenced('r-free-1'), false);
      const all = await meta.allBlobIds();
      for (const id of ['r-shared', 'r-own', 'r-part']) assert.ok(all.has(id), id);
      assert.equal(all.has('r-free-1'), false);
      // Released inside the transaction that released them.
      const released = await meta.transaction(async (tx) => tx.unreferenced(await tx.deleteObject('refs', 'one')));
      assert.deepEqual(released, ['r-shared', 'r-own']);
    });

    it('keeps the first value of a setting', async () => {
      assert.equal(await meta.ensureSetting('secret', 'first'), 'first');
      assert.equal(await meta.ensureSetting('secret', 'second'), 'first');
      assert.equal(await meta.getSetting('secret'), 'first');
      assert.equal(await meta.getSetting('never-set'), undefined);
      const racing = await Promise.all(Array.from({ length: 10 }, (_, n) => meta.ensureSetting('raced', `value-${n}`)));
      assert.equal(new Set(racing).size, 1);
    });

    it('gives a lease to one holder until it expires or is released', async () => {
      const until = at(60_000);
      assert.equal(await meta.acquireLease('job/gc', 'node-a', until, at(0)), true);
      assert.equal(await meta.acquireLease('job/gc', 'node-b', at(70_000), at(1_000)), false);
      // The holder renews.
      assert.equal(await meta.acquireLease('job/gc', 'node-a', at(120_000), at(50_000)), true);
      assert.equal(await meta.acquireLease('job/gc', 'node-b', at(130_000), at(119_999)), false);
      // Expired: the other takes it, and the first no longer holds it.
      assert.equal(await meta.acquireLease('job/gc', 'node-b', at(180_000), at(120_000)), true);
      assert.equal(await meta.acquireLease('job/gc', 'node-a', at(190_000), at(130_000)), false);
      await meta.acquireLease('job/scrub', 'node-a', until, at(0));
      await meta.acquireLease('other', 'node-a', until, at(0));
      assert.deepEqual(await meta.listLeases('job/'), [
        { name: 'job/gc', holder: 'node-b', until: at(180_000) },
        { name: 'job/scrub', holder: 'node-a', until },
      ]);
      // Only the holder releases.
      await meta.releaseLease('job/gc', 'node-a');
      assert.equal(await meta.acquireLease('job/gc', 'node-a', at(200_000), at(130_000)), false);
      await meta.releaseLease('job/gc', 'node-b');
      assert.equal(await meta.acquireLease('job/gc', 'node-a', at(200_000), at(130_000)), true);

      // Racing for a free lease: exactly one wins.
      const racers = await Promise.all(Array.from({ length: 8 }, (_, n) => meta.acquireLease('job/race', `node-${n}`, until, at(0))));
      assert.equal(racers.filter(Boolean).length, 1);
    });

    it('counts calls per window, 20 at once included', async () => {
      const now = new Date();
      assert.equal(await meta.countCall('client-a/upload/1', now), 1);
      assert.equal(await meta.countCall('client-a/upload/1', now), 2);
      assert.equal(await meta.countCall('client-a/upload/2', now), 1);
      const counts = await Promise.all(Array.from({ length: 20 }, () => meta.countCall('client-a/list/1', now)));
      assert.deepEqual([...counts].sort((a, b) => a - b), Array.from({ length: 20 }, (_, n) => n + 1));
    });

    it('issues tokens, revoking the oldest beyond the live maximum', async () => {
      const day = 24 * 3600 * 1000;
      const now = new Date();
      const later = (ms: number) => new Date(now.getTime() + ms);
      assert.equal(await meta.issueToken('hash-1', 'app', now, later(day), 2), 0);
      assert.equal(await meta.issueToken('hash-2', 'app', later(1), later(day), 2), 0);
      assert.equal(await meta.issueToken('other-1', 'other-app', later(1), later(day), 2), 0);
      assert.equal(await meta.issueToken('hash-3', 'app', later(2), later(day), 2), 1);
      assert.equal(await meta.tokenClient('hash-1', later(3)), undefined);
      assert.equal(await meta.tokenClient('hash-2', later(3)), 'app');
      assert.equal(await meta.tokenClient('hash-3', later(3)), 'app');
      assert.equal(await meta.tokenClient('other-1', later(3)), 'other-app');
      assert.equal(await meta.tokenClient('unknown', later(3)), undefined);
      // Expired at its expiry.
      assert.equal(await meta.tokenClient('hash-3', later(day)), undefined);
      // Two beyond the maximum at once (a lower maximum).
      assert.equal(await meta.issueToken('hash-4', 'app', later(4), later(day), 1), 2);
      assert.equal(await meta.tokenClient('hash-2', later(5)), undefined);
      assert.equal(await meta.tokenClient('hash-4', later(5)), 'app');
    });

    it('keeps upload sessions and finds the newest open one', async () => {
      const session = (id: string, createdAt: Date) => ({
        id,
        clientId: 'app',
        bucket: 'pan',
        key: 'dir/file (1).bin',
        requestedKey: 'dir/file.bin',
        uploadId: `up-${id}`,
        etag: 'd41d8cd98f00b204e9800998ecf8427e',
        size: 8 * 1024 ** 3,
        sliceSize: 16 * 1024 ** 2,
        duplicate: 1,
        createdAt,
      });
      await meta.insertSession(session('s-old', at(1)));
      await meta.insertSession(session('s-new', at(2)));
      assert.deepEqual(await meta.getSession('s-old'), { ...session('s-old', at(1)), status: 'open', fileId: undefined, message: undefined });
      assert.equal(await meta.getSession('s-none'), undefined);
      assert.equal((await meta.findOpenSession('pan', 'dir/file.bin', 'd41d8cd98f00b204e9800998ecf8427e', 8 * 1024 ** 3))?.id, 's-new');
      await meta.setSessionStatus('s-new', 'verifying');
      assert.equal((await meta.findOpenSession('pan', 'dir/file.bin', 'd41d8cd98f00b204e9800998ecf8427e', 8 * 1024 ** 3))?.id, 's-old');
      assert.equal(await meta.findOpenSession('pan', 'dir/file.bin', 'd41d8cd98f00b204e9800998ecf8427e', 1), undefined);
      await meta.setSessionStatus('s-old', 'verifying');
      assert.deepEqual((await meta.sessionsWithStatus('verifying', 10)).map((s) => s.id), ['s-old', 's-new']);
      assert.deepEqual((await meta.sessionsWithStatus('verifying', 1)).map((s) => s.id), ['s-old']);
      await meta.setSessionStatus('s-old', 'done', 12345678901);
      await meta.setSessionStatus('s-new', 'failed', undefined, 'MD5 mismatch');
      const done = (await meta.getSession('s-old'))!;
      assert.equal(done.status, 'done');
      assert.equal(done.fileId, 12345678901);
      assert.equal((await meta.getSession('s-new'))!.message, 'MD5 mismatch');
      assert.deepEqual(await meta.sessionsWithStatus('verifying', 10), []);
    });

    it('saves a running hash only over the state it continues (compare and set)', async () => {
      const state = (next: number): HashState => ({
        next,
        size: next * 1000,
        md5: Uint8Array.from([next, 1, 2, 3]),
        sha1: Uint8Array.from([next, 9, 8]),
        etags: Array.from({ length: next - 1 }, (_, n) => `slice-${n + 1}`),
      });
      const same = (actual: HashState | undefined, expected: HashState) => {
        assert.ok(actual);
        assert.deepEqual(
          { ...actual, md5: [...actual.md5], sha1: [...actual.sha1] },
          { ...expected, md5: [...expected.md5], sha1: [...expected.sha1] },
        );
      };
      assert.equal(await meta.getHashState('h'), undefined);
      assert.equal(await meta.saveHashState('h', undefined, state(2)), true);
      assert.equal(await meta.saveHashState('h', undefined, state(2)), false);
      assert.equal(await meta.saveHashState('h', 3, state(4)), false);
      assert.equal(await meta.saveHashState('h', 2, state(3)), true);
      same(await meta.getHashState('h'), state(3));
      // Two writers continuing the same state: one wins.
      const results = await Promise.all([meta.saveHashState('h', 3, state(4)), meta.saveHashState('h', 3, state(4))]);
      assert.deepEqual(results.sort(), [false, true]);
      same(await meta.getHashState('h'), state(4));
      await meta.deleteHashState('h');
      assert.equal(await meta.getHashState('h'), undefined);
    });

    it('marks and unmarks objects as trashed', async () => {
      assert.equal(await meta.isTrashed(7), false);
      await meta.trash(7, 'pan', at(1));
      await meta.trash(7, 'pan', at(2));
      assert.equal(await meta.isTrashed(7), true);
      assert.equal(await meta.isTrashed(8), false);
      await meta.untrash(7);
      assert.equal(await meta.isTrashed(7), false);
    });

    it('rolls a transaction back when its function throws, and passes the error on', async () => {
      const failure = new Error('changed my mind');
      await assert.rejects(
        meta.transaction(async (tx) => {
          await tx.insertBucket('rolled-back', 'alice', at(0));
          await tx.insertUpload(upload('rolled-back', 'k', 'up-rolled-back'));
          assert.ok(await tx.getBucket('rolled-back'), 'a transaction sees its own writes');
          throw failure;
        }),
        (err) => err === failure,
      );
      assert.equal(await meta.getBucket('rolled-back'), undefined);
      assert.equal(await meta.getUpload('up-rolled-back'), undefined);
      assert.equal(await meta.transaction(async (tx) => (await tx.getBucket('objects'))?.name), 'objects');
    });

    it('runs racing transactions as if one after the other', async () => {
      // Two uploads of the same part number: both succeed, exactly one reports the other's blob.
      await meta.insertUpload(upload('race', 'k', 'up-race'));
      const replaced = await Promise.all(
        ['race-a', 'race-b'].map((blobId) =>
          meta.transaction(async (tx) => {
            const previous = await tx.upsertPart('up-race', part(1, blobId));
            return tx.unreferenced(previous === undefined ? [] : [previous]);
          }),
        ),
      );
      const reported = replaced.flat();
      assert.equal(reported.length, 1);
      const kept = (await meta.getPart('up-race', 1))!.blobId;
      assert.deepEqual([...reported, kept].sort(), ['race-a', 'race-b']);

      // The same outside a transaction: upsertPart is one atomic step on its own.
      await meta.insertUpload(upload('race', 'k', 'up-race-top'));
      await Promise.all(
        Array.from({ length: 10 }, async (_, index) => {
          const partNumber = index + 1;
          const blobIds = ['a', 'b', 'c', 'd'].map((racer) => `top-${partNumber}-${racer}`);
          const replacedTop = await Promise.all(blobIds.map((blobId) => meta.upsertPart('up-race-top', part(partNumber, blobId))));
          const keptTop = (await meta.getPart('up-race-top', partNumber))!.blobId;
          assert.deepEqual([...replacedTop.filter((id) => id !== undefined), keptTop].sort(), blobIds);
        }),
      );

      // Two replacements of one object: every blob is either released once or still held.
      await meta.insertBucket('race', 'alice', at(0));
      await meta.putObject(object('race', 'k', ['race-0']));
      const releases = await Promise.all(['race-1', 'race-2'].map((blobId) => meta.transaction(async (tx) => (await tx.putObject(object('race', 'k', [blobId]))).released)));
      const held = (await meta.segmentsOf((await meta.getObject('race', 'k'))!.id)).map((s) => s.blobId);
      assert.deepEqual([...releases.flat(), ...held].sort(), ['race-0', 'race-1', 'race-2']);

      // Two first PUTs of one new key: one object is left with one blob; the other blob is released.
      const firsts = await Promise.all(['first-1', 'first-2'].map((blobId) => meta.transaction(async (tx) => (await tx.putObject(object('race', 'new-key', [blobId]))).released)));
      const firstHeld = (await meta.segmentsOf((await meta.getObject('race', 'new-key'))!.id)).map((s) => s.blobId);
      assert.equal(firstHeld.length, 1);
      assert.deepEqual([...firsts.flat(), ...firstHeld].sort(), ['first-1', 'first-2']);

      // PUTs of neighbouring new keys at once (a client uploading a directory): all land, none releases a blob.
      const neighbours = Array.from({ length: 16 }, (_, i) => `dir/file-${String(i).padStart(2, '0')}`);
      const neighbourReleases = await Promise.all(neighbours.map((key) => meta.transaction(async (tx) => (await tx.putObject(object('race', key, [`blob-${key}`]))).released)));
      assert.deepEqual(neighbourReleases.flat(), []);
      const listed = await meta.listObjects('race', '', 'dir/', 'dir0', 100);
      assert.deepEqual(listed.map((o) => o.key), neighbours);
      for (const stored of listed) assert.deepEqual((await meta.segmentsOf(stored.id)).map((s) => s.blobId), [`blob-${stored.key}`]);

      // Check-then-insert (as creating a bucket does): one creates it, the other sees it.
      const outcomes = await Promise.all(
        ['alice', 'bob'].map((owner) =>
          meta.transaction(async (tx) => {
            if (await tx.getBucket('contested')) return 'exists';
            await tx.insertBucket('contested', owner, at(0));
            return 'created';
          }),
        ),
      );
      assert.deepEqual(outcomes.sort(), ['created', 'exists']);
    });

    it('records when each version became noncurrent: archived under a newer one, a marker written over, a marker left on top again', async () => {
      await meta.insertBucket('nc', 'alice', at(0));
      const history = async () =>
        (await meta.listNoncurrent('nc', '', 0, '', undefined, 100)).map((v) => ({ id: v.versionId, marker: v.deleteMarker, since: v.noncurrentSince }));
      const write = (body: string) => meta.transaction(async (tx) => (await writeVersion(tx, object('nc', 'k', [`nc-${body}`]), { name: 'nc', owner: 'alice', createdAt: at(0), versioning: 'Enabled' })).stored.versionId!);
      const v1 = await write('1');
      assert.deepEqual(await history(), []);
      const beforeV2 = Date.now();
      await write('2');
      const [archived] = await history();
      assert.equal(archived?.id, v1);
      assert.ok(archived.since && archived.since.getTime() >= beforeV2 && archived.since.getTime() <= Date.now(), String(archived.since));
      const marker = (await meta.transaction((tx) => deleteLatest(tx, 'nc', 'k', 'Enabled'))).versionId!;
      let [top] = await history();
      assert.deepEqual([top?.id, top?.marker, top?.since], [marker, true, undefined], 'the latest marker is not noncurrent');
      const beforeV3 = Date.now();
      const v3 = await write('3');
      [top] = await history();
      assert.equal(top?.id, marker);
      assert.ok(top.since && top.since.getTime() >= beforeV3, 'written over: noncurrent since then');
      await meta.transaction((tx) => deleteVersion(tx, 'nc', 'k', v3));
      [top] = await history();
      assert.deepEqual([top?.id, top?.since], [marker, undefined], 'on top again: the latest once more');
      assert.equal((await history()).filter((entry) => entry.since === undefined).length, 1, 'only the latest has no date');
      // What the lifecycle worker seeks: the oldest noncurrent version's date, the latest markers.
      assert.equal((await meta.oldestNoncurrentSince('nc'))?.getTime(), archived.since.getTime());
      assert.equal(await meta.oldestNoncurrentSince('bk-alpha'), undefined);
      await meta.transaction((tx) => deleteLatest(tx, 'nc', 'other', 'Enabled'));
      const markers = await meta.listLatestMarkers('nc', '', '', undefined, 10);
      assert.deepEqual(markers.map((m) => [m.key, m.versionId, m.deleteMarker]), [['k', marker, true], ['other', markers[1]?.versionId, true]]);
      assert.deepEqual((await meta.listLatestMarkers('nc', 'k', '', undefined, 10)).map((m) => m.key), ['other']);
      assert.deepEqual((await meta.listLatestMarkers('nc', '', 'k', 'l', 10)).map((m) => m.key), ['k']);
    });

    it('lists every reference of each blob in blob id order, page by page, with the MD5 its referrer records (the scrub)', async () => {
      const md5 = (text: string) => createHash('md5').update(text).digest('hex');
      const blob = (letter: string) => `zz-scrub-${letter}`;
      await meta.insertBucket('scrub-refs', 'alice', at(0));
      // A single PUT, then a copy sharing its blob; the first then goes noncurrent under a new version.
      await meta.putObject(object('scrub-refs', 'one', [blob('a')], { contentMd5: md5('a'), versionId: 'v1' }));
      await meta.putObject(object('scrub-refs', 'copy', [blob('a')], { contentMd5: md5('a') }));
      await meta.archiveCurrent('scrub-refs', 'one', at(2));
      await meta.putObject(object('scrub-refs', 'one', [blob('d')], { contentMd5: md5('d'), versionId: 'v2' }));
      // Two segments (a copy of a multipart object): the whole content's MD5 is no single blob's.
      await meta.putObject(object('scrub-refs', 'two', [blob('b'), blob('c')], { contentMd5: md5('bc') }));
      // An upload in progress; a completed one (the object's bytes); an SSE-KMS one (its ETag is no MD5).
      await meta.insertUpload(upload('scrub-refs', 'open', 'up-scrub-open'));
      await meta.upsertPart('up-scrub-open', part(1, blob('e'), { etag: md5('e') }));
      await meta.insertUpload(upload('scrub-refs', 'mp', 'up-scrub-done'));
      await meta.upsertPart('up-scrub-done', part(1, blob('f'), { etag: md5('f') }));
      await meta.markCompleted('up-scrub-done', at(3), 'fingerprint', 'x');
      await meta.putObject(object('scrub-refs', 'mp', [], { size: 101, partsCount: 1, content: { uploadId: 'up-scrub-done' } }));
      await meta.insertUpload(upload('scrub-refs', 'sealed', 'up-scrub-kms', at(0), { encryption: { kind: 'sse-kms', kmsKeyId: 'k1' } }));
      await meta.upsertPart('up-scrub-kms', part(1, blob('g'), { etag: md5('g') }));

      const all: BlobReference[] = [];
      for (let after = 'zz-scrub-', page: BlobReference[]; (page = await meta.blobReferences(after, 2)).length > 0; after = page[page.length - 1]!.blobId) {
        assert.ok(new Set(page.map((ref) => ref.blobId)).size <= 2, 'at most `limit` blobs a page');
        all.push(...page.filter((ref) => ref.blobId.startsWith('zz-scrub-')));
      }
      const sorted = (refs: typeof all) => [...refs].sort((x, y) => (x.blobId + x.key + String(x.noncurrent)).localeCompare(y.blobId + y.key + String(y.noncurrent)));
      assert.deepEqual(sorted(all), [
        { blobId: blob('a'), size: 10, bucket: 'scrub-refs', key: 'copy', partNumber: 1, object: true, versionId: null, md5: md5('a') },
        { blobId: blob('a'), size: 10, bucket: 'scrub-refs', key: 'one', partNumber: 1, object: true, versionId: 'v1', noncurrent: true, md5: md5('a') },
        { blobId: blob('b'), size: 10, bucket: 'scrub-refs', key: 'two', partNumber: 1, object: true, versionId: null },
        { blobId: blob('c'), size: 10, bucket: 'scrub-refs', key: 'two', partNumber: 2, object: true, versionId: null },
        { blobId: blob('d'), size: 10, bucket: 'scrub-refs', key: 'one', partNumber: 1, object: true, versionId: 'v2', md5: md5('d') },
        { blobId: blob('e'), size: 101, bucket: 'scrub-refs', key: 'open', partNumber: 1, object: false, uploadId: 'up-scrub-open', md5: md5('e') },
        { blobId: blob('f'), size: 101, bucket: 'scrub-refs', key: 'mp', partNumber: 1, object: true, versionId: null, uploadId: 'up-scrub-done', md5: md5('f') },
        { blobId: blob('g'), size: 101, bucket: 'scrub-refs', key: 'sealed', partNumber: 1, object: false, uploadId: 'up-scrub-kms', encryption: { kind: 'sse-kms', kmsKeyId: 'k1' } },
      ]);
      // In blob id order across pages.
      assert.deepEqual(all.map((ref) => ref.blobId), [...all.map((ref) => ref.blobId)].sort());
    });
  });
}

// PostgreSQL: one server for the file, a fresh database per group.

const pgAvailable = postgresBinDir() !== undefined || Boolean(process.env.CI);
let server: TestPostgres;
let databases = 0;

/**
 * A new empty database on the test server; its URL. Its default collation is ICU's en-US, where
 * 'a' < 'B' and 'é' sorts beside 'e': byte order in listings must come from the schema itself.
 */
async function freshDatabase(): Promise<string> {
  const name = `metadata_${++databases}`;
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'`);
  } finally {
    await admin.end();
  }
  return server.url.replace(/\/[^/]*$/, `/${name}`);
}

async function queryOnce<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

describeBackend('sqlite', () => tempSqliteMetadata('tessera-meta-sqlite-'));

describe('PostgreSQL metadata', { skip: pgAvailable ? false : 'PostgreSQL not installed' }, () => {
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.cleanup();
  });

  describeBackend('postgres', async () => {
    const meta = await PostgresMetadata.open(await freshDatabase());
    return { meta, cleanup: () => meta.close() };
  });

  it('creates the schema once when nodes start at the same moment on an empty database', async () => {
    const url = await freshDatabase();
    const nodes = await Promise.all(Array.from({ length: 4 }, () => PostgresMetadata.open(url, { poolSize: 2 })));
    try {
      const versions = await queryOnce<{ version: number }>(url, 'SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(versions.map((row) => row.version), MIGRATIONS.map((migration) => migration.version));
      // Every node works on the one schema.
      await nodes[0]!.insertBucket('shared', 'alice', at(0));
      assert.equal((await nodes[3]!.getBucket('shared'))?.owner, 'alice');

      // A later version, appended to the list, is applied once however many nodes start with it.
      const next = { version: SCHEMA_VERSION + 1, description: 'test', sql: 'CREATE TABLE appended (id INTEGER PRIMARY KEY)' };
      await Promise.all(
        Array.from({ length: 3 }, async () => {
          const client = new pg.Client({ connectionString: url });
          await client.connect();
          try {
            await migrate(client, [...MIGRATIONS, next]);
          } finally {
            await client.end();
          }
        }),
      );
      const after = await queryOnce<{ version: number }>(url, 'SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(after.map((row) => row.version), [...MIGRATIONS.map((migration) => migration.version), next.version]);
      assert.deepEqual(await queryOnce(url, 'SELECT count(*)::int AS n FROM appended'), [{ n: 0 }]);
    } finally {
      await Promise.all(nodes.map((node) => node.close()));
    }
  });

  it('migration 7 dates the existing history: each version noncurrent since the next newer one was written', async () => {
    const url = await freshDatabase();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await migrate(client, MIGRATIONS.filter((migration) => migration.version <= 6));
      await client.query(HISTORY_BEFORE_MIGRATION_7);
      await migrate(client, MIGRATIONS);
      const rows = await client.query<{ version_id: string; noncurrent_since: number | null }>(
        'SELECT version_id, noncurrent_since::int AS noncurrent_since FROM object_versions ORDER BY key, seq',
      );
      assert.deepEqual(rows.rows, HISTORY_AFTER_MIGRATION_7);
    } finally {
      await client.end();
    }
  });

  it('never leaves an object in no bucket when a PUT races a DeleteBucket', async () => {
    const meta = await PostgresMetadata.open(await freshDatabase(), { poolSize: 4 });
    try {
      // DeleteBucket as the engine does it (refused while the bucket holds an object), with a PUT
      // landing between its emptiness check and its delete: the delete must see it and refuse.
      await meta.insertBucket('raced-late', 'alice', at(0));
      let put: WriteOutcome | undefined;
      const late = await meta.transaction(async (tx) => {
        if (await tx.bucketHasObjects('raced-late')) return 'not-empty';
        put ??= await meta.writeObject(object('raced-late', 'k', ['late-1']), { owner: 'alice' });
        await tx.deleteBucket('raced-late');
        return 'deleted';
      });
      assert.ok(put && 'stored' in put);
      assert.equal(late, 'not-empty');
      assert.ok(await meta.getBucket('raced-late'));

      // The other order: the bucket's row is deleted (not yet committed) when the PUT arrives.
      await meta.insertBucket('raced-early', 'alice', at(0));
      let pending: Promise<WriteOutcome> | undefined;
      const early = await meta.transaction(async (tx) => {
        if (await tx.bucketHasObjects('raced-early')) return 'not-empty';
        await tx.deleteBucket('raced-early');
        pending ??= meta.writeObject(object('raced-early', 'k', ['early-1']), { owner: 'alice' });
        // Give the PUT's statement time to reach the bucket's row and wait on it.
        await new Promise((resolve) => setTimeout(resolve, 200));
        return 'deleted';
      });
      assert.equal(early, 'deleted');
      assert.deepEqual(await pending, { refused: 'no-bucket' });
      assert.equal(await meta.getObject('raced-early', 'k'), undefined);
    } finally {
      await meta.close();
    }
  });

  it('answers ServiceUnavailable, not a hang, when a statement waits on a stuck transaction past its time', async () => {
    const url = await freshDatabase();
    const meta = await PostgresMetadata.open(url, { statementTimeoutMs: 300 });
    const stuck = new pg.Client({ connectionString: url });
    await stuck.connect();
    try {
      await meta.insertBucket('stuck', 'alice', at(0));
      // Another session deletes the bucket's row and then neither commits nor rolls back.
      await stuck.query('BEGIN');
      await stuck.query(`DELETE FROM buckets WHERE name = 'stuck'`);
      await assert.rejects(meta.writeObject(object('stuck', 'k', ['stuck-1']), {}), (err: ServiceError) => {
        assert.equal(err.status, 503);
        assert.equal(err.code, 'ServiceUnavailable');
        return true;
      });
      await stuck.query('ROLLBACK');
      assert.ok('stored' in (await meta.writeObject(object('stuck', 'k', ['stuck-1']), {})));
    } finally {
      await stuck.end();
      await meta.close();
    }
  });

  it('refuses a database whose schema is newer than it knows', async () => {
    const url = await freshDatabase();
    await (await PostgresMetadata.open(url)).close();
    await queryOnce(url, `INSERT INTO schema_migrations (version, description, applied_at) VALUES (${SCHEMA_VERSION + 5}, 'future', 0)`);
    await assert.rejects(PostgresMetadata.open(url), {
      message: `database schema version ${SCHEMA_VERSION + 5} is newer than this Tessera knows (${SCHEMA_VERSION}); upgrade Tessera`,
    });
  });

  it('names the database it cannot reach, password masked', async () => {
    const closed = `postgres://tessera:s3cret@127.0.0.1:${server.port + 1}/tessera`;
    await assert.rejects(PostgresMetadata.open(closed, { connectTimeoutMs: 2000 }), (err: Error) => {
      assert.match(err.message, new RegExp(`postgres://tessera:\\*\\*\\*@127\\.0\\.0\\.1:${server.port + 1}/tessera`));
      assert.match(err.message, /ECONNREFUSED/);
      assert.doesNotMatch(err.message, /s3cret/);
      return true;
    });
    assert.equal(maskUrl('postgres://user:pa:ss@db.example:5432/meta'), 'postgres://user:***@db.example:5432/meta');
    assert.equal(maskUrl('postgresql://user@db/meta?sslmode=require'), 'postgresql://user@db/meta?sslmode=require');
    assert.equal(maskUrl('postgres://db/meta?user=u&password=secret'), 'postgres://db/meta?user=u&password=***');
    assert.equal(maskUrl('postgresql://user:secret@/meta?host=/run/postgresql'), 'postgresql://user:***@/meta?host=/run/postgresql');
  });

  it('reads BIGINT as numbers through its own pool only', async () => {
    const url = await freshDatabase();
    const meta = await PostgresMetadata.open(url);
    try {
      await meta.insertBucket('numbers', 'alice', at(0));
      await meta.putObject(object('numbers', 'k', ['n-1'], { size: 2 ** 40 }));
      assert.deepEqual(await meta.bucketUsage('numbers'), { objects: 1, bytes: 2 ** 40 });
      // The driver's global parsers are untouched: other pg users in the process still get strings.
      assert.deepEqual(await queryOnce(url, 'SELECT 1::bigint AS one'), [{ one: '1' }]);
    } finally {
      await meta.close();
    }
  });

  it('does not commit a transaction whose function swallowed a failed statement', async () => {
    const meta = await PostgresMetadata.open(await freshDatabase());
    try {
      await assert.rejects(
        meta.transaction(async (tx) => {
          await tx.insertBucket('swallowed', 'alice', at(0));
          // A negative LIMIT is an error in PostgreSQL; the transaction is aborted from here on.
          await tx.listObjects('swallowed', '', '', undefined, -1).catch(() => undefined);
          return 'done';
        }),
        { code: '2201W' },
      );
      assert.equal(await meta.getBucket('swallowed'), undefined);
    } finally {
      await meta.close();
    }
  });

  it('retries a transaction that keeps hitting a taken key a bounded number of times, then passes the error on', async () => {
    const meta = await PostgresMetadata.open(await freshDatabase());
    try {
      await meta.insertBucket('taken', 'alice', at(0));
      let runs = 0;
      await assert.rejects(
        meta.transaction(async (tx) => {
          runs++;
          await tx.insertBucket('taken', 'bob', at(1));
        }),
        { code: '23505' },
      );
      assert.equal(runs, 10);
      assert.equal((await meta.getBucket('taken'))?.owner, 'alice');
    } finally {
      await meta.close();
    }
  });

  it('answers ServiceUnavailable while the database is down and recovers by itself', async () => {
    const connectionErrors: Error[] = [];
    const meta = await PostgresMetadata.open(await freshDatabase(), { connectTimeoutMs: 2000, onConnectionError: (err) => connectionErrors.push(err) });
    try {
      await meta.insertBucket('outage', 'alice', at(0));
      // Two connections in the pool, so one stays idle while the transaction below holds the other.
      await Promise.all([meta.getBucket('outage'), meta.getBucket('outage')]);
      // A transaction holds its connection when the server goes: it fails, and the process lives.
      let resume!: () => void;
      const gate = new Promise<void>((resolve) => (resume = resolve));
      let entered!: () => void;
      const inside = new Promise<void>((resolve) => (entered = resolve));
      let runs = 0;
      const interrupted = meta.transaction(async (tx) => {
        runs++;
        await tx.getBucket('outage');
        entered();
        await gate;
        return tx.getBucket('outage');
      });
      await inside;
      await server.stop();
      resume();
      const unavailable = (err: unknown) => {
        assert.ok(err instanceof ServiceError, String(err));
        assert.equal(err.code, 'ServiceUnavailable');
        assert.equal(err.status, 503);
        assert.equal(err.message, 'Service is unable to handle request.');
        return true;
      };
      await assert.rejects(interrupted, unavailable);
      assert.equal(runs, 1, 'a lost connection is not retried');
      // The idle connections the server ended were reported, not thrown.
      assert.ok(connectionErrors.length > 0);
      await assert.rejects(meta.getBucket('outage'), unavailable);
      await assert.rejects(meta.putObject(object('outage', 'k', ['outage-1'])), unavailable);
      await assert.rejects(meta.transaction((tx) => tx.getBucket('outage')), unavailable);
      await server.start();
      assert.equal((await meta.getBucket('outage'))?.owner, 'alice');
      assert.deepEqual((await meta.putObject(object('outage', 'k', ['outage-2']))).released, []);
      assert.equal(await meta.transaction(async (tx) => (await tx.getObject('outage', 'k'))?.key), 'k');
    } finally {
      await meta.close();
    }
  });

  it('keeps answering when a table it has read with prepared statements gains a column (a newer node migrated)', async () => {
    const url = await freshDatabase();
    const meta = await PostgresMetadata.open(url);
    try {
      await meta.insertBucket('stale', 'alice', at(0));
      await meta.putObject(object('stale', 'k', ['stale-1']));
      const reads = async () => {
        assert.equal((await meta.getObject('stale', 'k'))?.key, 'k');
        assert.deepEqual((await meta.listObjects('stale', '', '', undefined, 10)).map((o) => o.key), ['k']);
        assert.equal(await meta.transaction(async (tx) => (await tx.getObject('stale', 'k'))?.key), 'k');
      };
      // Prepared on the connections the pool hands out (the last one released first).
      for (let i = 0; i < 3; i++) await reads();
      await queryOnce(url, 'ALTER TABLE objects ADD COLUMN added_by_a_newer_node INTEGER');
      await reads();
      await reads();
    } finally {
      await meta.close();
    }
  });

  it('reports the time of one small transaction', async (t) => {
    const meta = await PostgresMetadata.open(await freshDatabase());
    try {
      await meta.insertBucket('timing', 'alice', at(0));
      const rounds = 200;
      const started = performance.now();
      for (let n = 0; n < rounds; n++) {
        await meta.transaction(async (tx) => {
          if (!(await tx.getBucket('timing'))) throw new Error('bucket vanished');
          return tx.unreferenced((await tx.putObject(object('timing', `k-${n % 10}`, [`t-${n}`]))).released);
        });
      }
      t.diagnostic(`one small transaction (getBucket, putObject, unreferenced): ${((performance.now() - started) / rounds).toFixed(2)} ms`);
      assert.deepEqual((await meta.listObjects('timing', '', '', undefined, 100)).length, 10);
    } finally {
      await meta.close();
    }
  });
});
