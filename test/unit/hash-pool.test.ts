import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { digestsOf } from '../../src/core/digests.js';
import { BatchHasher, HashPool, SLOT_BYTES } from '../../src/core/hash-pool.js';
import type { ExtraDigest } from '../../src/core/types.js';

const ALL: ExtraDigest[] = ['sha256', 'sha1', 'crc64', 'crc32', 'crc32c', 'crc64nvme'];

/** Splits `data` into chunks of varied sizes, then into batches of about `batchBytes`, as staging does. */
function batchesOf(data: Buffer, batchBytes: number): Buffer[][] {
  const batches: Buffer[][] = [];
  let batch: Buffer[] = [];
  let bytes = 0;
  for (let offset = 0, i = 0; offset < data.length; i++) {
    const size = [65_536, 1, 7_000, 3 * SLOT_BYTES, 16_384][i % 5]!;
    const chunk = data.subarray(offset, offset + size);
    offset += chunk.length;
    batch.push(chunk);
    bytes += chunk.length;
    if (bytes >= batchBytes) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
  }
  if (bytes > 0) batches.push(batch);
  return batches;
}

async function hashWith(hasher: BatchHasher, data: Buffer, batchBytes: number) {
  for (const batch of batchesOf(data, batchBytes)) {
    await hasher.add(batch, batch.reduce((sum, b) => sum + b.length, 0));
  }
  return hasher.digests();
}

describe('hash workers', () => {
  const pool = new HashPool(2);
  after(() => pool.close());

  it('give the digests computed inline, for every algorithm, with many jobs sharing two workers', async () => {
    // More jobs than workers and more bytes in flight than the arenas hold: slots must be waited for and reused.
    const bodies = Array.from({ length: 6 }, (_, i) => randomBytes(5 * SLOT_BYTES + 1000 * i));
    const results = await Promise.all(bodies.map((body) => hashWith(new BatchHasher(pool, ALL, SLOT_BYTES), body, SLOT_BYTES)));
    results.forEach((result, i) => assert.deepEqual(result, digestsOf(bodies[i]!, ALL)));
  });

  it('hash a small body inline and an empty body correctly', async () => {
    const small = randomBytes(10_000);
    assert.deepEqual(await hashWith(new BatchHasher(pool, ALL, SLOT_BYTES), small, SLOT_BYTES), digestsOf(small, ALL));
    assert.deepEqual(await new BatchHasher(pool, ['crc32'], SLOT_BYTES).digests(), digestsOf(Buffer.alloc(0), ['crc32']));
  });

  it('keep serving after a job is abandoned half way', async () => {
    const abandoned = new BatchHasher(pool, ['sha256'], SLOT_BYTES);
    await abandoned.add([randomBytes(2 * SLOT_BYTES)], 2 * SLOT_BYTES);
    abandoned.abandon();
    const body = randomBytes(3 * SLOT_BYTES + 5);
    assert.deepEqual(await hashWith(new BatchHasher(pool, ['sha256'], SLOT_BYTES), body, SLOT_BYTES), digestsOf(body, ['sha256']));
  });

  it('take back the partly filled slot of an abandoned job (more abandoned jobs than a worker has slots)', { timeout: 30_000 }, async () => {
    const single = new HashPool(1);
    try {
      for (let i = 0; i < 20; i++) {
        const abandoned = new BatchHasher(single, ['crc32'], SLOT_BYTES);
        // 1.5 slots: one posted, half of the next held by the job when it is abandoned.
        await abandoned.add([randomBytes(SLOT_BYTES + SLOT_BYTES / 2)], SLOT_BYTES + SLOT_BYTES / 2);
        abandoned.abandon();
      }
      const body = randomBytes(10 * SLOT_BYTES + 3);
      assert.deepEqual(await hashWith(new BatchHasher(single, ['crc32'], SLOT_BYTES), body, SLOT_BYTES), digestsOf(body, ['crc32']));
    } finally {
      await single.close();
    }
  });

  it('fail the jobs of a worker that dies instead of hanging them', async () => {
    const lonely = new HashPool(1);
    try {
      const hasher = new BatchHasher(lonely, [], SLOT_BYTES);
      await hasher.add([randomBytes(SLOT_BYTES)], SLOT_BYTES);
      await lonely.close();
      await assert.rejects(hasher.digests());
    } finally {
      await lonely.close();
    }
  });
});
