import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ServiceError } from '../../src/core/errors.js';
import { Storage } from '../../src/core/storage.js';
import type { Actor, ChecksumAlgorithm, CompletedPart } from '../../src/core/types.js';
import { checksumOf, compositeOf, digest } from '../helpers/checksums.js';

const root: Actor = { userId: 'root', root: true };
const noAttributes = { headers: {}, userMeta: {} };

async function* bytes(data: Buffer): AsyncGenerator<Buffer> {
  yield data;
}

function code(expected: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof ServiceError, String(err));
    assert.equal(err.code, expected, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

describe('stored checksums in the engine', () => {
  let dataDir: string;
  let storage: Storage;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-checksums-'));
    storage = await Storage.open(dataDir, { minPartSize: 1, uploadExpiryMs: 60_000 });
    await storage.createBucket(root, 'bkt');
  });

  after(async () => {
    await storage.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** Uploads `parts` to a new upload with `spec`, each part claiming `claim` (undefined: none). */
  async function upload(key: string, parts: Buffer[], spec?: { algorithm: ChecksumAlgorithm; type: 'composite' | 'full-object' }) {
    const created = await storage.uploads.create(root, 'bkt', key, noAttributes, spec);
    const listed: CompletedPart[] = [];
    for (const [i, part] of parts.entries()) {
      const info = await storage.uploads.uploadPart(root, 'bkt', key, created.uploadId, i + 1, bytes(part));
      listed.push({ partNumber: i + 1, etag: info.etag, checksum: info.checksum });
    }
    return { uploadId: created.uploadId, listed };
  }

  it('a PUT stores the named checksum as a full-object one, and it survives a restart', async () => {
    const body = randomBytes(10_000);
    const stored = await storage.putObject(root, 'bkt', 'single', bytes(body), noAttributes, { checksum: 'crc32c' });
    assert.equal(stored.checksum?.type, 'full-object');
    assert.equal(stored.checksum?.value.toString('base64'), checksumOf('crc32c', body));
    await storage.close();
    storage = await Storage.open(dataDir, { minPartSize: 1, uploadExpiryMs: 60_000 });
    const read = await storage.headObject(root, 'bkt', 'single');
    assert.deepEqual(read.checksum, { algorithm: 'crc32c', type: 'full-object', value: digest('crc32c', body) });
    const plain = await storage.putObject(root, 'bkt', 'plain', bytes(body), noAttributes);
    assert.equal(plain.checksum, undefined);
  });

  it('COMPOSITE: each part keeps its digest, the object the digest of the digests', async () => {
    const parts = [randomBytes(4000), randomBytes(4000), randomBytes(123)];
    const { uploadId, listed } = await upload('composite', parts, { algorithm: 'sha256', type: 'composite' });
    assert.deepEqual(listed.map((part) => part.checksum?.value.toString('base64')), parts.map((part) => checksumOf('sha256', part)));
    const listedParts = await storage.uploads.listParts(root, 'bkt', 'composite', uploadId, { maxParts: 10 });
    assert.deepEqual(listedParts.upload.checksum, { algorithm: 'sha256', type: 'composite' });
    assert.deepEqual(listedParts.parts.map((part) => part.checksum?.algorithm), ['sha256', 'sha256', 'sha256']);

    const result = await storage.uploads.complete(root, 'bkt', 'composite', uploadId, listed);
    assert.equal(`${result.checksum?.value.toString('base64')}-3`, compositeOf('sha256', parts));
    const object = await storage.headObject(root, 'bkt', 'composite');
    assert.equal(object.checksum?.type, 'composite');
    assert.deepEqual(object.checksum?.value, result.checksum?.value);
    assert.deepEqual(await storage.objectPartChecksum(object, 2), { algorithm: 'sha256', value: digest('sha256', parts[1]!) });
    // A retried Complete answers the same checksum.
    const again = await storage.uploads.complete(root, 'bkt', 'composite', uploadId, listed);
    assert.deepEqual(again.checksum, result.checksum);
  });

  it('COMPOSITE: a listed checksum missing, of another algorithm or wrong fails, and nothing is stored', async () => {
    const parts = [randomBytes(1000), randomBytes(1000)];
    const { uploadId, listed } = await upload('refused', parts, { algorithm: 'crc32', type: 'composite' });
    const missing = listed.map((part, i) => (i === 1 ? { ...part, checksum: undefined } : part));
    await assert.rejects(
      storage.uploads.complete(root, 'bkt', 'refused', uploadId, missing),
      code('InvalidRequest', /created using a crc32 checksum.*missing for part 2/),
    );
    const otherAlgorithm = listed.map((part, i) => (i === 0 ? { ...part, checksum: { algorithm: 'sha1' as const, value: digest('sha1', parts[0]!) } } : part));
    await assert.rejects(storage.uploads.complete(root, 'bkt', 'refused', uploadId, otherAlgorithm), code('BadDigest', /sha1 you specified for part 1/));
    const wrong = listed.map((part, i) => (i === 1 ? { ...part, checksum: { algorithm: 'crc32' as const, value: Buffer.from('00000000', 'hex') } } : part));
    await assert.rejects(storage.uploads.complete(root, 'bkt', 'refused', uploadId, wrong), (err: unknown) => {
      assert.ok(err instanceof ServiceError && err.code === 'InvalidPart');
      assert.equal(err.detail.PartNumber, '2');
      return true;
    });
    await assert.rejects(
      storage.uploads.complete(root, 'bkt', 'refused', uploadId, listed, { stated: { type: 'full-object' } }),
      code('InvalidRequest', /created using the COMPOSITE checksum mode/),
    );
    const stated = { object: { algorithm: 'crc32' as const, value: Buffer.from(compositeOf('crc32', parts).split('-')[0]!, 'base64'), partCount: 3 } };
    await assert.rejects(storage.uploads.complete(root, 'bkt', 'refused', uploadId, listed, { stated }), code('BadDigest', /crc32 you specified/));
    await assert.rejects(storage.headObject(root, 'bkt', 'refused'), code('NoSuchKey'));
    // Still open, and completes with everything right.
    const done = await storage.uploads.complete(root, 'bkt', 'refused', uploadId, listed, { stated: { type: 'composite', object: { ...stated.object, partCount: 2 } } });
    assert.equal(`${done.checksum!.value.toString('base64')}-2`, compositeOf('crc32', parts));
  });

  it('FULL_OBJECT: part CRCs combine into the CRC of the whole; listed part checksums are optional', async () => {
    for (const algorithm of ['crc32', 'crc32c', 'crc64nvme'] as const) {
      const parts = [randomBytes(5000), randomBytes(5000), randomBytes(77)];
      const key = `full-${algorithm}`;
      const { uploadId, listed } = await upload(key, parts, { algorithm, type: 'full-object' });
      const bare = listed.map(({ checksum: _omit, ...part }) => part);
      const whole = checksumOf(algorithm, Buffer.concat(parts));
      await assert.rejects(
        storage.uploads.complete(root, 'bkt', key, uploadId, bare, { stated: { object: { algorithm, value: Buffer.alloc(algorithm === 'crc64nvme' ? 8 : 4) } } }),
        code('BadDigest'),
      );
      const result = await storage.uploads.complete(root, 'bkt', key, uploadId, bare, {
        stated: { type: 'full-object', object: { algorithm, value: Buffer.from(whole, 'base64') } },
      });
      assert.equal(result.checksum?.type, 'full-object');
      assert.equal(result.checksum?.value.toString('base64'), whole);
    }
  });

  it('an upload that announced no algorithm takes no listed checksum, and its object gets none', async () => {
    const parts = [randomBytes(100)];
    const created = await storage.uploads.create(root, 'bkt', 'none', noAttributes);
    const part = await storage.uploads.uploadPart(root, 'bkt', 'none', created.uploadId, 1, bytes(parts[0]!), { checksum: 'crc32' });
    assert.equal(part.checksum?.value.toString('base64'), checksumOf('crc32', parts[0]!));
    await assert.rejects(
      storage.uploads.complete(root, 'bkt', 'none', created.uploadId, [{ partNumber: 1, etag: part.etag, checksum: part.checksum }]),
      code('InvalidPart'),
    );
    const done = await storage.uploads.complete(root, 'bkt', 'none', created.uploadId, [{ partNumber: 1, etag: part.etag }], {
      stated: { type: 'full-object' },
    });
    assert.equal(done.checksum, undefined);
  });

  it('UploadPartCopy gives the part its upload\'s checksum; CopyObject keeps the source\'s or computes the one asked for', async () => {
    const body = randomBytes(20_000);
    await storage.putObject(root, 'bkt', 'source', bytes(body), noAttributes, { checksum: 'crc32' });
    const created = await storage.uploads.create(root, 'bkt', 'copied-parts', noAttributes, { algorithm: 'crc32c', type: 'composite' });
    const part = await storage.uploads.copyPart(root, { bucket: 'bkt', key: 'copied-parts', uploadId: created.uploadId, partNumber: 1 }, {
      bucket: 'bkt',
      key: 'source',
      range: { start: 100, end: 199 },
    });
    assert.equal(part.checksum?.value.toString('base64'), checksumOf('crc32c', body.subarray(100, 200)));

    const kept = await storage.copies.copy(root, { bucket: 'bkt', key: 'source' }, { bucket: 'bkt', key: 'kept' });
    assert.equal(kept.checksum?.value.toString('base64'), checksumOf('crc32', body));
    const recomputed = await storage.copies.copy(root, { bucket: 'bkt', key: 'source' }, { bucket: 'bkt', key: 'sha' }, undefined, {
      checksum: () => 'sha256',
    });
    assert.deepEqual(recomputed.checksum, { algorithm: 'sha256', type: 'full-object', value: digest('sha256', body) });
    const empty = await storage.putObject(root, 'bkt', 'empty', bytes(Buffer.alloc(0)), noAttributes);
    const emptyCopy = await storage.copies.copy(root, { bucket: 'bkt', key: 'empty' }, { bucket: 'bkt', key: 'empty-copy' }, undefined, {
      checksum: () => 'crc64nvme',
    });
    assert.equal(empty.checksum, undefined);
    assert.equal(emptyCopy.checksum?.value.toString('hex'), '0000000000000000');
  });
});

describe('a data directory from before stored checksums', () => {
  it('opens, keeps its objects and uploads, and stores checksums from then on', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tessera-old-schema-'));
    try {
      // The schema as it was before checksum columns (tables only: open() adds the indexes).
      const db = new Database(join(dataDir, 'meta.db'));
      db.exec(`
        CREATE TABLE buckets (name TEXT PRIMARY KEY, owner TEXT NOT NULL, created_at INTEGER NOT NULL);
        CREATE TABLE objects (id INTEGER PRIMARY KEY AUTOINCREMENT, bucket TEXT NOT NULL, key TEXT NOT NULL, size INTEGER NOT NULL,
          etag TEXT NOT NULL, last_modified INTEGER NOT NULL, headers TEXT NOT NULL, user_meta TEXT NOT NULL, parts_count INTEGER,
          crc64 TEXT, upload_id TEXT, content_md5 TEXT, content_sha1 TEXT, UNIQUE (bucket, key));
        CREATE TABLE segments (object_id INTEGER NOT NULL, seq INTEGER NOT NULL, blob_id TEXT NOT NULL, offset INTEGER NOT NULL,
          size INTEGER NOT NULL, part_number INTEGER NOT NULL, PRIMARY KEY (object_id, seq)) WITHOUT ROWID;
        CREATE TABLE uploads (upload_id TEXT PRIMARY KEY, bucket TEXT NOT NULL, key TEXT NOT NULL, owner TEXT NOT NULL,
          initiated INTEGER NOT NULL, headers TEXT NOT NULL, user_meta TEXT NOT NULL, completed_at INTEGER,
          completed_fingerprint TEXT, completed_etag TEXT);
        CREATE TABLE parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, blob_id TEXT NOT NULL, size INTEGER NOT NULL,
          etag TEXT NOT NULL, last_modified INTEGER NOT NULL, crc64 TEXT, PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID;
        INSERT INTO buckets VALUES ('old', 'root', 0);
        INSERT INTO objects (bucket, key, size, etag, last_modified, headers, user_meta) VALUES ('old', 'empty', 0, 'd41d8cd98f00b204e9800998ecf8427e', 0, '{}', '{}');
        INSERT INTO uploads (upload_id, bucket, key, owner, initiated, headers, user_meta) VALUES ('U1', 'old', 'up', 'root', ${Date.now()}, '{}', '{}');
      `);
      db.close();
      const storage = await Storage.open(dataDir, { minPartSize: 1, uploadExpiryMs: 60_000 });
      try {
        assert.equal((await storage.headObject(root, 'old', 'empty')).checksum, undefined);
        assert.equal((await storage.uploads.get(root, 'old', 'up', 'U1')).checksum, undefined);
        const part = await storage.uploads.uploadPart(root, 'old', 'up', 'U1', 1, bytes(Buffer.from('abc')), { checksum: 'sha1' });
        assert.equal(part.checksum?.value.toString('base64'), checksumOf('sha1', Buffer.from('abc')));
        const stored = await storage.putObject(root, 'old', 'new', bytes(Buffer.from('abc')), noAttributes, { checksum: 'crc32' });
        assert.equal((await storage.headObject(root, 'old', 'new')).checksum?.value.toString('base64'), checksumOf('crc32', Buffer.from('abc')));
        assert.ok(stored.id > 1);
      } finally {
        await storage.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
