import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SqliteMetadata } from '../../src/core/metadata/sqlite.js';
import type { StoredObject } from '../../src/core/metadata/types.js';
import { completeWorm, initiateWorm, wormOf, wormProtects } from '../../src/core/object-lock.js';

// The engine's OSS bucket WORM rules on a real SQLite metadata store, at chosen times: the 24-hour
// lapse of an InProgress policy and the period counted from each object's last-modified time.

const HOUR = 3600 * 1000;
const DAY = 24 * HOUR;

describe('bucket WORM (engine)', () => {
  let dir: string;
  let meta: SqliteMetadata;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-worm-'));
    meta = SqliteMetadata.open(join(dir, 'meta.db'));
  });
  after(async () => {
    await meta.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('an InProgress policy lapses 24 hours after it was made; a Locked one stays', async () => {
    const t0 = new Date('2026-01-01T00:00:00Z');
    await meta.transaction(async (tx) => {
      await tx.insertBucket('lapse', 'alice', t0);
      await initiateWorm(tx, 'lapse', 3, 'A1', t0);
      assert.equal((await wormOf(tx, 'lapse', new Date(t0.getTime() + 24 * HOUR - 1)))?.state, 'InProgress');
      assert.equal(await wormOf(tx, 'lapse', new Date(t0.getTime() + 24 * HOUR)), undefined);
      // A lapsed policy makes room for a new one.
      const later = new Date(t0.getTime() + 25 * HOUR);
      await initiateWorm(tx, 'lapse', 3, 'A2', later);
      await completeWorm(tx, 'lapse', 'A2', later);
      assert.equal((await wormOf(tx, 'lapse', new Date(later.getTime() + 400 * DAY)))?.state, 'Locked');
    });
  });

  it('an object is protected for the period from its last-modified time; a delete marker never', () => {
    const worm = { id: 'W', state: 'Locked' as const, days: 2, created: new Date(0) };
    const written = new Date('2026-03-01T12:00:00Z');
    const object = { lastModified: written } as StoredObject;
    assert.equal(wormProtects(worm, object, new Date(written.getTime() + 2 * DAY - 1)), true);
    assert.equal(wormProtects(worm, object, new Date(written.getTime() + 2 * DAY)), false);
    assert.equal(wormProtects(undefined, object, written), false);
    assert.equal(wormProtects(worm, { ...object, deleteMarker: true }, written), false);
  });
});
