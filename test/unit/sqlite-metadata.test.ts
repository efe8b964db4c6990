import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { SqliteMetadata } from '../../src/core/metadata/sqlite.js';
import { writeLegacyPanDb } from '../helpers/legacy-pan-db.js';
import { SQLITE_SCHEMA_VERSION } from '../../src/core/metadata/sqlite-schema.js';
import { HISTORY_AFTER_MIGRATION_7, HISTORY_BEFORE_MIGRATION_7 } from '../helpers/version-history.js';

describe('SQLite metadata backend', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-sqlite-meta-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a transaction holds the connection: queries arriving while it awaits see nothing of it until it commits', async () => {
    const meta = SqliteMetadata.open(join(dir, 'gate.db'));
    try {
      let release!: () => void;
      const paused = new Promise<void>((resolve) => (release = resolve));
      let inside!: () => void;
      const entered = new Promise<void>((resolve) => (inside = resolve));
      const tx = meta.transaction(async (q) => {
        await q.insertBucket('gated', 'alice', new Date(0));
        inside();
        await paused;
        await q.insertBucket('gated-2', 'alice', new Date(0));
      });
      await entered;
      // Asked while the transaction is between its two inserts: answered only after it commits.
      const seen = meta.listBuckets().then((buckets) => buckets.map((bucket) => bucket.name));
      let answered = false;
      void seen.then(() => (answered = true));
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(answered, false, 'the read waits for the transaction');
      release();
      await tx;
      assert.deepEqual(await seen, ['gated', 'gated-2']);
    } finally {
      await meta.close();
    }
  });

  it('a transaction that throws leaves nothing behind, and the queue moves on', async () => {
    const meta = SqliteMetadata.open(join(dir, 'rollback.db'));
    try {
      await assert.rejects(
        meta.transaction(async (q) => {
          await q.insertBucket('doomed', 'alice', new Date(0));
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      const [afterwards, other] = await Promise.all([meta.getBucket('doomed'), meta.ensureSetting('k', 'v')]);
      assert.equal(afterwards, undefined);
      assert.equal(other, 'v');
      // Transactions queued behind each other run one at a time, in order.
      const order: number[] = [];
      await Promise.all(
        [1, 2, 3].map((n) =>
          meta.transaction(async (q) => {
            order.push(n);
            await q.insertBucket(`b${n}`, 'alice', new Date(0));
            await new Promise((resolve) => setTimeout(resolve, 5));
            order.push(n);
          }),
        ),
      );
      assert.deepEqual(order, [1, 1, 2, 2, 3, 3]);
    } finally {
      await meta.close();
    }
  });

  it("imports a data directory's pan.db once: tokens, sessions, trash marks and secrets carry over", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'tessera-pan-import-'));
    try {
      writeLegacyPanDb(dataDir, 'verifying');
      const meta = SqliteMetadata.open(join(dataDir, 'meta.db'));
      try {
        assert.equal(await meta.ensureSetting('token-secret', 'other'), 'c2VjcmV0');
        assert.equal(await meta.tokenClient('h1', new Date()), 'app');
        const session = await meta.getSession('p1');
        assert.equal(session?.status, 'verifying');
        assert.equal(session?.uploadId, 'U1');
        assert.equal(await meta.isTrashed(7), true);
      } finally {
        await meta.close();
      }
      assert.equal(existsSync(join(dataDir, 'pan.db')), false, 'pan.db is read once');
      assert.equal(existsSync(join(dataDir, 'pan.db.imported')), true, 'and kept, renamed');
      // Opened again: nothing imported twice, nothing lost.
      const again = SqliteMetadata.open(join(dataDir, 'meta.db'));
      try {
        assert.equal(await again.tokenClient('h1', new Date()), 'app');
      } finally {
        await again.close();
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('migration 7 dates the existing history: each version noncurrent since the next newer one was written', async () => {
    const path = join(dir, 'history.db');
    await SqliteMetadata.open(path).close();
    // Back to version 6: the column this migration adds taken away, the history as version 6 held it.
    const old = new Database(path);
    old.exec('DROP INDEX object_versions_by_noncurrent_since');
    old.exec('DROP INDEX object_versions_latest_markers');
    old.exec('ALTER TABLE object_versions DROP COLUMN noncurrent_since');
    old.pragma('user_version = 6');
    old.exec(HISTORY_BEFORE_MIGRATION_7);
    old.close();
    await SqliteMetadata.open(path).close();
    const db = new Database(path, { readonly: true });
    try {
      assert.deepEqual(db.prepare('SELECT version_id, noncurrent_since FROM object_versions ORDER BY key, seq').all(), HISTORY_AFTER_MIGRATION_7);
    } finally {
      db.close();
    }
  });

  it('refuses a database from a newer Tessera, naming both versions', async () => {
    const path = join(dir, 'newer.db');
    const db = new Database(path);
    db.pragma(`user_version = ${SQLITE_SCHEMA_VERSION + 1}`);
    db.close();
    assert.throws(
      () => SqliteMetadata.open(path),
      new RegExp(`schema version ${SQLITE_SCHEMA_VERSION + 1} is newer than this Tessera knows \\(${SQLITE_SCHEMA_VERSION}\\)`),
    );
  });
});
