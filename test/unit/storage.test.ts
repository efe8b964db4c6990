import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Storage } from '../../src/core/storage.js';
import type { Actor } from '../../src/core/types.js';

const root: Actor = { userId: 'root', root: true };
const alice: Actor = { userId: 'alice', root: false };
const bob: Actor = { userId: 'bob', root: false };

async function* bytes(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

async function readAll(storage: Storage, bucket: string, key: string, start?: number, end?: number): Promise<Buffer> {
  const read = await storage.getObject(root, bucket, key);
  const chunks: Buffer[] = [];
  for await (const chunk of await storage.openRead(read, start, end)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function blobFiles(dataDir: string): Promise<number> {
  let count = 0;
  for (const dir of await readdir(join(dataDir, 'blobs'))) count += (await readdir(join(dataDir, 'blobs', dir))).length;
  return count;
}

const noAttributes = { headers: {}, userMeta: {} };

describe('storage engine', () => {
  let dataDir: string;
  let storage: Storage;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-unit-'));
    storage = await Storage.open(dataDir, { minPartSize: 5, uploadExpiryMs: 60_000 });
    await storage.createBucket(alice, 'alpha');
  });

  after(async () => {
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('lists keys with prefix, delimiter and markers, a common prefix counting once per page', async () => {
    await storage.createBucket(root, 'listing');
    const keys = ['a', 'b/1', 'b/2', 'b/3', 'c', 'd/x/1', 'd/y', 'e'];
    for (const key of keys) await storage.putObject(root, 'listing', key, bytes(Buffer.from(key)), noAttributes);

    const all = await storage.listObjects(root, 'listing', { maxKeys: 1000 });
    assert.deepEqual(all.objects.map((o) => o.key), keys);

    const grouped = await storage.listObjects(root, 'listing', { delimiter: '/', maxKeys: 1000 });
    assert.deepEqual(grouped.objects.map((o) => o.key), ['a', 'c', 'e']);
    assert.deepEqual(grouped.commonPrefixes, ['b/', 'd/']);

    // Page by two: a, b/ | c, d/ | e
    const pages: string[][] = [];
    let after: string | undefined;
    for (;;) {
      const page = await storage.listObjects(root, 'listing', { delimiter: '/', maxKeys: 2, after });
      pages.push([...page.objects.map((o) => o.key), ...page.commonPrefixes]);
      if (!page.isTruncated) break;
      after = page.nextMarker;
    }
    assert.deepEqual(pages, [['a', 'b/'], ['c', 'd/'], ['e']]);

    const underD = await storage.listObjects(root, 'listing', { prefix: 'd/', delimiter: '/', maxKeys: 1000 });
    assert.deepEqual(underD.objects.map((o) => o.key), ['d/y']);
    assert.deepEqual(underD.commonPrefixes, ['d/x/']);
  });

  it('orders keys by UTF-8 bytes, as S3 does', async () => {
    await storage.createBucket(root, 'unicode');
    // U+FF5E (3 UTF-8 bytes, 0xEF…) sorts before U+1F600 (4 bytes, 0xF0…), unlike UTF-16 code unit order.
    const keys = ['\u{1F600}', '\uFF5E', 'z'];
    for (const key of keys) await storage.putObject(root, 'unicode', key, bytes(Buffer.from('x')), noAttributes);
    const listed = (await storage.listObjects(root, 'unicode', { maxKeys: 10 })).objects.map((o) => o.key);
    assert.deepEqual(listed, ['z', '\uFF5E', '\u{1F600}']);
  });

  it('lists uploads by key then creation order, honouring key-marker and upload-id-marker', async () => {
    await storage.createBucket(root, 'uploads');
    const ids: Record<string, string[]> = { k1: [], k2: [], 'p/k3': [] };
    for (let i = 0; i < 3; i++) {
      for (const key of Object.keys(ids)) ids[key]!.push((await storage.uploads.create(root, 'uploads', key, noAttributes)).uploadId);
    }
    const all = await storage.uploads.list(root, 'uploads', { maxUploads: 1000 });
    assert.deepEqual(
      all.uploads.map((u) => `${u.key}:${u.uploadId}`),
      [...ids.k1!.map((id) => `k1:${id}`), ...ids.k2!.map((id) => `k2:${id}`), ...ids['p/k3']!.map((id) => `p/k3:${id}`)],
    );
    // ids sort by creation time
    assert.deepEqual([...ids.k1!].sort(), ids.k1);

    const afterKey = await storage.uploads.list(root, 'uploads', { keyMarker: 'k1', maxUploads: 1000 });
    assert.equal(afterKey.uploads[0]!.key, 'k2');

    const afterId = await storage.uploads.list(root, 'uploads', { keyMarker: 'k1', uploadIdMarker: ids.k1![0], maxUploads: 1000 });
    assert.deepEqual(afterId.uploads.slice(0, 3).map((u) => u.uploadId), [ids.k1![1], ids.k1![2], ids.k2![0]]);

    const ignored = await storage.uploads.list(root, 'uploads', { uploadIdMarker: ids.k2![1], maxUploads: 1000 });
    assert.equal(ignored.uploads.length, 9);

    // Page through two at a time with the returned markers: every upload once, in order.
    const seen: string[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await storage.uploads.list(root, 'uploads', { keyMarker, uploadIdMarker, maxUploads: 2 });
      seen.push(...page.uploads.map((u) => u.uploadId));
      if (!page.isTruncated) break;
      keyMarker = page.nextKeyMarker;
      uploadIdMarker = page.nextUploadIdMarker;
    }
    assert.deepEqual(seen, all.uploads.map((u) => u.uploadId));

    const grouped = await storage.uploads.list(root, 'uploads', { delimiter: '/', maxUploads: 1000 });
    assert.deepEqual(grouped.commonPrefixes, ['p/']);
    assert.equal(grouped.uploads.length, 6);
  });

  it('completes by reference: no new blob, parts in order, unlisted parts freed', async () => {
    await storage.createBucket(root, 'complete');
    const upload = await storage.uploads.create(root, 'complete', 'obj', noAttributes);
    const parts = [randomBytes(10), randomBytes(10), randomBytes(7)];
    const etags: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      etags.push((await storage.uploads.uploadPart(root, 'complete', 'obj', upload.uploadId, i + 1, bytes(parts[i]!))).etag);
    }
    // A fourth part that is not listed at Complete.
    await storage.uploads.uploadPart(root, 'complete', 'obj', upload.uploadId, 4, bytes(randomBytes(10)));
    const before = await blobFiles(dataDir);
    const result = await storage.uploads.complete(root, 'complete', 'obj', upload.uploadId, [
      { partNumber: 1, etag: etags[0]! },
      { partNumber: 2, etag: `"${etags[1]!.toUpperCase()}"` },
      { partNumber: 3, etag: etags[2]! },
    ]);
    const expectedEtag =
      createHash('md5')
        .update(Buffer.concat(etags.map((e) => Buffer.from(e, 'hex'))))
        .digest('hex') + '-3';
    assert.equal(result.etag, expectedEtag);
    assert.equal(await blobFiles(dataDir), before - 1, 'only the unlisted part is freed; nothing is copied');
    assert.deepEqual(await readAll(storage, 'complete', 'obj'), Buffer.concat(parts));
    // A range across the part boundary.
    assert.deepEqual(await readAll(storage, 'complete', 'obj', 8, 12), Buffer.concat(parts).subarray(8, 13));

    const again = await storage.uploads.complete(root, 'complete', 'obj', upload.uploadId, [
      { partNumber: 1, etag: etags[0]! },
      { partNumber: 2, etag: etags[1]! },
      { partNumber: 3, etag: etags[2]! },
    ]);
    assert.equal(again.etag, result.etag, 'a repeated Complete answers the same');
    await assert.rejects(
      storage.uploads.complete(root, 'complete', 'obj', upload.uploadId, [{ partNumber: 1, etag: etags[0]! }]),
      { code: 'NoSuchUpload' },
    );
  });

  it('rejects small parts, bad order and wrong ETags at Complete', async () => {
    await storage.createBucket(root, 'rules');
    const upload = await storage.uploads.create(root, 'rules', 'k', noAttributes);
    const p1 = await storage.uploads.uploadPart(root, 'rules', 'k', upload.uploadId, 1, bytes(Buffer.alloc(3)));
    const p2 = await storage.uploads.uploadPart(root, 'rules', 'k', upload.uploadId, 2, bytes(Buffer.alloc(3)));
    const complete = (list: Array<{ partNumber: number; etag: string }>) =>
      storage.uploads.complete(root, 'rules', 'k', upload.uploadId, list);
    await assert.rejects(complete([{ partNumber: 1, etag: p1.etag }, { partNumber: 2, etag: p2.etag }]), { code: 'EntityTooSmall' });
    await assert.rejects(complete([{ partNumber: 2, etag: p2.etag }, { partNumber: 1, etag: p1.etag }]), { code: 'InvalidPartOrder' });
    // A number repeated after a higher one is out of order; repeated in a row, its last entry must match.
    await assert.rejects(complete([{ partNumber: 1, etag: p1.etag }, { partNumber: 2, etag: p2.etag }, { partNumber: 1, etag: p1.etag }]), { code: 'InvalidPartOrder' });
    await assert.rejects(complete([{ partNumber: 1, etag: p1.etag }, { partNumber: 1, etag: 'ffff' }]), { code: 'InvalidPart' });
    await assert.rejects(complete([{ partNumber: 1, etag: 'ffff' }]), { code: 'InvalidPart' });
    await assert.rejects(complete([{ partNumber: 7, etag: p1.etag }]), { code: 'InvalidPart' });
    await assert.rejects(complete([]), { code: 'MalformedXML' });
    // The last part alone may be small.
    const done = await complete([{ partNumber: 2, etag: p2.etag }]);
    assert.match(done.etag, /-1$/);
  });

  it('a part that finishes after an abort cannot bring the upload back', async () => {
    await storage.createBucket(root, 'race');
    const upload = await storage.uploads.create(root, 'race', 'k', noAttributes);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    async function* slowBody(): AsyncGenerator<Buffer> {
      yield Buffer.from('first half');
      await gate;
      yield Buffer.from('second half');
    }
    const filesBefore = await blobFiles(dataDir);
    const inFlight = storage.uploads.uploadPart(root, 'race', 'k', upload.uploadId, 1, slowBody());
    await storage.uploads.abort(root, 'race', 'k', upload.uploadId);
    release();
    await assert.rejects(inFlight, { code: 'NoSuchUpload' });
    await assert.rejects(storage.uploads.listParts(root, 'race', 'k', upload.uploadId, { maxParts: 10 }), { code: 'NoSuchUpload' });
    assert.equal(await blobFiles(dataDir), filesBefore, 'the late part left no file behind');
    assert.equal((await storage.uploads.list(root, 'race', { maxUploads: 10 })).uploads.length, 0);
  });

  it('copies share bytes: deleting one keeps the other, deleting both frees the blob', async () => {
    await storage.createBucket(root, 'copies');
    const data = randomBytes(1000);
    await storage.putObject(root, 'copies', 'src', bytes(data), noAttributes);
    const filesBefore = await blobFiles(dataDir);
    await storage.copies.copy(root, { bucket: 'copies', key: 'src' }, { bucket: 'copies', key: 'dst' });
    assert.equal(await blobFiles(dataDir), filesBefore, 'a copy adds no bytes');
    await storage.deleteObject(root, 'copies', 'src');
    assert.deepEqual(await readAll(storage, 'copies', 'dst'), data);
    assert.equal(await blobFiles(dataDir), filesBefore);
    await storage.deleteObject(root, 'copies', 'dst');
    assert.equal(await blobFiles(dataDir), filesBefore - 1);
  });

  it('keeps users to their own buckets; root reaches all', async () => {
    await storage.putObject(alice, 'alpha', 'mine', bytes(Buffer.from('x')), noAttributes);
    await assert.rejects(storage.headObject(bob, 'alpha', 'mine'), { code: 'AccessDenied' });
    await assert.rejects(storage.putObject(bob, 'alpha', 'theirs', bytes(Buffer.from('x')), noAttributes), { code: 'AccessDenied' });
    await assert.rejects(storage.uploads.create(bob, 'alpha', 'k', noAttributes), { code: 'AccessDenied' });
    assert.equal((await storage.headObject(root, 'alpha', 'mine')).size, 1);
    assert.deepEqual(await storage.listBuckets(bob), []);
    assert.ok((await storage.listBuckets(alice)).some((b) => b.name === 'alpha'));
    await assert.rejects(storage.createBucket(bob, 'alpha'), { code: 'BucketAlreadyExists' });
    await assert.rejects(storage.createBucket(alice, 'alpha'), { code: 'BucketAlreadyOwnedByYou' });
  });

  it('deletes a bucket holding only incomplete uploads, with their parts', async () => {
    await storage.createBucket(root, 'pending');
    const upload = await storage.uploads.create(root, 'pending', 'k', noAttributes);
    await storage.uploads.uploadPart(root, 'pending', 'k', upload.uploadId, 1, bytes(randomBytes(50)));
    const filesBefore = await blobFiles(dataDir);
    await storage.deleteBucket(root, 'pending');
    assert.equal(await blobFiles(dataDir), filesBefore - 1);
    await assert.rejects(storage.headBucket(root, 'pending'), { code: 'NoSuchBucket' });
  });

  it('refuses to delete a bucket with objects', async () => {
    await storage.createBucket(root, 'full');
    await storage.putObject(root, 'full', 'k', bytes(Buffer.from('x')), noAttributes);
    await assert.rejects(storage.deleteBucket(root, 'full'), { code: 'BucketNotEmpty' });
  });

  it('sweeps uploads older than the expiry', async () => {
    await storage.createBucket(root, 'stale');
    const upload = await storage.uploads.create(root, 'stale', 'k', noAttributes);
    await storage.uploads.uploadPart(root, 'stale', 'k', upload.uploadId, 1, bytes(randomBytes(5)));
    assert.equal(await storage.maintenance.sweepStaleUploads(new Date(Date.now() + 30_000)), 0);
    const swept = await storage.maintenance.sweepStaleUploads(new Date(Date.now() + 120_000));
    assert.ok(swept >= 1);
    await assert.rejects(storage.uploads.get(root, 'stale', 'k', upload.uploadId), { code: 'NoSuchUpload' });
  });

  it('a multipart object keeps its parts through the sweep and frees them when deleted', async () => {
    await storage.createBucket(root, 'kept');
    const upload = await storage.uploads.create(root, 'kept', 'obj', noAttributes);
    const parts = [randomBytes(8), randomBytes(6)];
    const etags: string[] = [];
    for (let i = 0; i < parts.length; i++) {
      etags.push((await storage.uploads.uploadPart(root, 'kept', 'obj', upload.uploadId, i + 1, bytes(parts[i]!))).etag);
    }
    await storage.uploads.complete(root, 'kept', 'obj', upload.uploadId, etags.map((etag, i) => ({ partNumber: i + 1, etag })));
    const filesWithObject = await blobFiles(dataDir);
    // Long after the expiry, the sweep may forget completion records but not an object's bytes.
    await storage.maintenance.sweepStaleUploads(new Date(Date.now() + 10 * 60_000));
    assert.deepEqual(await readAll(storage, 'kept', 'obj'), Buffer.concat(parts));
    assert.equal(await blobFiles(dataDir), filesWithObject);
    await storage.putObject(root, 'kept', 'obj', bytes(Buffer.from('replaced')), noAttributes);
    assert.equal(await blobFiles(dataDir), filesWithObject - 2 + 1, 'overwriting frees the old parts');
    await storage.deleteObject(root, 'kept', 'obj');
    assert.equal(await blobFiles(dataDir), filesWithObject - 2);
  });

  it('a short body fails and leaves nothing behind', async () => {
    await storage.createBucket(root, 'short');
    const filesBefore = await blobFiles(dataDir);
    await assert.rejects(
      storage.putObject(root, 'short', 'k', bytes(Buffer.from('abc')), noAttributes, { expectedSize: 10 }),
      { code: 'IncompleteBody' },
    );
    assert.equal(await blobFiles(dataDir), filesBefore);
    assert.deepEqual(await readdir(join(dataDir, 'tmp')), []);
    await assert.rejects(storage.headObject(root, 'short', 'k'), { code: 'NoSuchKey' });
  });
});
