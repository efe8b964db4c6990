/**
 * MetadataQueries.uploadTotals (the metrics' upload gauges) on both metadata backends: the open
 * uploads of every bucket, and the parts and bytes they hold; completed uploads' parts (a
 * multipart object's bytes) are not counted.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PostgresMetadata } from '../../src/core/metadata/postgres.js';
import type { Metadata, StoredPart } from '../../src/core/metadata/types.js';
import type { UploadInfo } from '../../src/core/types.js';
import { tempSqliteMetadata } from '../helpers/metadata.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const at = new Date(Date.UTC(2026, 0, 1));
const upload = (bucket: string, uploadId: string): UploadInfo => ({ uploadId, bucket, key: `key-${uploadId}`, owner: 'alice', initiated: at, headers: {}, userMeta: {} });
const part = (partNumber: number, size: number): StoredPart => ({ partNumber, blobId: `blob-${partNumber}-${size}`, size, etag: `etag-${partNumber}`, lastModified: at });

function scenario(name: string, open: () => Promise<{ meta: Metadata; cleanup: () => Promise<void> }>): void {
  describe(`upload totals: ${name}`, () => {
    let meta: Metadata;
    let cleanup: () => Promise<void>;
    before(async () => ({ meta, cleanup } = await open()));
    after(async () => cleanup?.());

    it('is all zeros on an empty store', async () => {
      assert.deepEqual(await meta.uploadTotals(), { uploads: 0, parts: 0, bytes: 0 });
    });

    it("counts every bucket's open uploads, those without a part too, and their parts' bytes (past 2^32)", async () => {
      await meta.insertBucket('one', 'alice', at);
      await meta.insertBucket('two', 'alice', at);
      await meta.insertUpload(upload('one', 'u1'));
      await meta.insertUpload(upload('one', 'u2'));
      await meta.insertUpload(upload('two', 'u3'));
      await meta.upsertPart('u1', part(1, 5));
      await meta.upsertPart('u1', part(2, 6 * 1024 ** 3));
      await meta.upsertPart('u3', part(9, 7));
      assert.deepEqual(await meta.uploadTotals(), { uploads: 3, parts: 3, bytes: 5 + 6 * 1024 ** 3 + 7 });
      // Inside a transaction too (it is one of the queries).
      assert.deepEqual(await meta.transaction((tx) => tx.uploadTotals()), { uploads: 3, parts: 3, bytes: 5 + 6 * 1024 ** 3 + 7 });
      // A replaced part counts once, at its new size.
      await meta.upsertPart('u3', part(9, 70));
      assert.deepEqual(await meta.uploadTotals(), { uploads: 3, parts: 3, bytes: 5 + 6 * 1024 ** 3 + 70 });
    });

    it('leaves out a completed upload (its parts are an object now) and an aborted one', async () => {
      await meta.markCompleted('u1', at, 'fingerprint', 'etag-2');
      assert.deepEqual(await meta.uploadTotals(), { uploads: 2, parts: 1, bytes: 70 });
      await meta.deleteUpload('u3');
      assert.deepEqual(await meta.uploadTotals(), { uploads: 1, parts: 0, bytes: 0 });
      await meta.deleteUpload('u2');
      assert.deepEqual(await meta.uploadTotals(), { uploads: 0, parts: 0, bytes: 0 });
    });

    it('reports its connection pool: PostgreSQL its clients, SQLite none', async () => {
      const stats = meta.poolStats();
      if (meta.backend === 'sqlite') {
        assert.equal(stats, undefined);
        return;
      }
      assert.ok(stats);
      assert.ok(stats.total >= 1 && stats.idle >= 0 && stats.idle <= stats.total && stats.waiting === 0, JSON.stringify(stats));
      // A transaction holds a connection: it is not idle meanwhile.
      const during = await meta.transaction(async (tx) => {
        await tx.getBucket('one');
        return meta.poolStats()!;
      });
      assert.ok(during.idle < during.total, `one connection busy: ${JSON.stringify(during)}`);
    });
  });
}

scenario('sqlite', () => tempSqliteMetadata('tessera-upload-totals-'));

const pgAvailable = postgresBinDir() !== undefined;
describe('upload totals on PostgreSQL', { skip: pgAvailable ? false : 'PostgreSQL not installed' }, () => {
  let server: TestPostgres;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.cleanup();
  });
  scenario('postgres', async () => {
    const meta = await PostgresMetadata.open(server.url);
    return { meta, cleanup: () => meta.close() };
  });
});
