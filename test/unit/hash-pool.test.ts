import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { digestsOf } from '../../src/core/digests.js';
import { BodyHasher, HashPool } from '../../src/core/hash-pool.js';
import { LARGE_BODY_BYTES, SLOTS_PER_ARENA, SLOT_BYTES, SlotPool } from '../../src/core/slot-pool.js';
import type { ExtraDigest } from '../../src/core/types.js';

const ALL: ExtraDigest[] = ['sha256', 'sha1', 'crc64', 'crc32', 'crc32c', 'crc64nvme'];

/**
 * Feeds `data` through `hasher` as staging does: copied a slot at a time into the
 * pool's shared memory, up to `inFlight` slots being hashed at once, each released
 * when hashed.
 */
async function hashWith(hasher: BodyHasher, slots: SlotPool, data: Buffer, inFlight = 2) {
  const pending: Array<Promise<void>> = [];
  for (let offset = 0; offset < data.length; offset += SLOT_BYTES) {
    while (pending.length >= inFlight) await pending.shift();
    const slot = await slots.acquire();
    const length = data.copy(slots.view(slot), 0, offset, Math.min(offset + SLOT_BYTES, data.length));
    pending.push(Promise.resolve(hasher.hash(slot, length)).finally(() => slots.release(slot)));
  }
  await Promise.all(pending);
  return hasher.digests();
}

describe('hash workers', () => {
  const slots = new SlotPool();
  const pool = new HashPool(2, slots);
  after(() => pool.close());

  it('give the digests computed inline, for every algorithm, with many jobs sharing two workers', async () => {
    // Six bodies of 5+ slots, 3 slots each in flight: more slots than one arena holds, so the pool grows mid-way.
    const bodies = Array.from({ length: 6 }, (_, i) => randomBytes(5 * SLOT_BYTES + 1000 * i));
    const results = await Promise.all(bodies.map((body) => hashWith(new BodyHasher(pool, slots, ALL), slots, body, 3)));
    results.forEach((result, i) => assert.deepEqual(result, digestsOf(bodies[i]!, ALL)));
    assert.ok(slots.arenas.length >= 2, 'the pool grew past its first arena');
  });

  it('hash a small body inline and an empty body correctly', async () => {
    const small = randomBytes(10_000);
    assert.deepEqual(await hashWith(new BodyHasher(pool, slots, ALL), slots, small), digestsOf(small, ALL));
    assert.deepEqual(await new BodyHasher(pool, slots, ['crc32']).digests(), digestsOf(Buffer.alloc(0), ['crc32']));
  });

  it('take a body of LARGE_BODY_BYTES or more, and leave a smaller one inline', async () => {
    const fresh = new HashPool(1, slots);
    try {
      const small = randomBytes(LARGE_BODY_BYTES - 1);
      assert.deepEqual(await hashWith(new BodyHasher(fresh, slots, ['crc32']), slots, small), digestsOf(small, ['crc32']));
      assert.equal(fresh.threads, 0, 'no worker started for a body under LARGE_BODY_BYTES');
      const large = randomBytes(LARGE_BODY_BYTES);
      assert.deepEqual(await hashWith(new BodyHasher(fresh, slots, ['crc32']), slots, large), digestsOf(large, ['crc32']));
      assert.equal(fresh.threads, 1, 'a worker hashed the large body');
      assert.deepEqual(fresh.stats(), { size: 1, threads: 1, busy: 0, jobs: 0, queued: 0 }, 'idle again once the body is hashed');
    } finally {
      await fresh.close();
    }
  });

  it('acknowledge the slots of an abandoned job, and keep serving', { timeout: 30_000 }, async () => {
    for (let i = 0; i < 20; i++) {
      const abandoned = new BodyHasher(pool, slots, ['sha256']);
      const posted = [0, 1].map(async () => {
        const slot = await slots.acquire();
        randomBytes(SLOT_BYTES).copy(slots.view(slot));
        const hashed = abandoned.hash(slot, SLOT_BYTES);
        abandoned.abandon();
        await hashed;
        slots.release(slot);
      });
      await Promise.all(posted);
    }
    const body = randomBytes(3 * SLOT_BYTES + 5);
    assert.deepEqual(await hashWith(new BodyHasher(pool, slots, ['sha256']), slots, body), digestsOf(body, ['sha256']));
  });

  it('report their threads, busy threads, jobs and queued slots (for metrics)', async () => {
    const counted = new HashPool(2, slots);
    try {
      assert.deepEqual(counted.stats(), { size: 2, threads: 0, busy: 0, jobs: 0, queued: 0 });
      const first = new BodyHasher(counted, slots, ['sha256']);
      const second = new BodyHasher(counted, slots, ['sha256']);
      const taken = await Promise.all([0, 1, 2].map(() => slots.acquire()));
      for (const slot of taken) randomBytes(SLOT_BYTES).copy(slots.view(slot));
      // Posted, not yet answered: the stats are read before the event loop lets an ack in.
      const hashed = [first.hash(taken[0]!, SLOT_BYTES), first.hash(taken[1]!, SLOT_BYTES), second.hash(taken[2]!, SLOT_BYTES)];
      assert.deepEqual(counted.stats(), { size: 2, threads: 2, busy: 2, jobs: 2, queued: 3 });
      await Promise.all(hashed);
      assert.deepEqual(counted.stats(), { size: 2, threads: 2, busy: 2, jobs: 2, queued: 0 }, 'hashed, the jobs still open');
      await Promise.all([first.digests(), second.digests()]);
      assert.deepEqual(counted.stats(), { size: 2, threads: 2, busy: 0, jobs: 0, queued: 0 });
      taken.forEach((slot) => slots.release(slot));
    } finally {
      await counted.close();
    }
  });

  it('fail the jobs and slots of a worker that dies instead of hanging them', async () => {
    const lonely = new HashPool(1, slots);
    try {
      const hasher = new BodyHasher(lonely, slots, []);
      const slot = await slots.acquire();
      await hasher.hash(slot, SLOT_BYTES);
      const stuck = hasher.hash(slot, SLOT_BYTES);
      await lonely.close();
      await assert.rejects(Promise.resolve(stuck).then(() => hasher.digests()));
      await assert.rejects(hasher.digests());
      slots.release(slot);
    } finally {
      await lonely.close();
    }
  });
});

describe('slot pool', () => {
  it('hands out distinct slots, grows an arena at a time, and starts each arena where align says', async () => {
    const seen: Buffer[] = [];
    const slots = new SlotPool({ budgetBytes: 4 * SLOTS_PER_ARENA * SLOT_BYTES, align: async (memory) => {
      seen.push(memory);
      return 512;
    } });
    const count = 2 * SLOTS_PER_ARENA + 3;
    const taken = await Promise.all(Array.from({ length: count }, () => slots.acquire()));
    assert.equal(new Set(taken).size, count);
    assert.equal(slots.arenas.length, 3);
    assert.equal(seen.length, 3);
    for (const arena of slots.arenas) assert.equal(arena.base, 512);
    // Each slot is its own SLOT_BYTES: writing one slot leaves every other slot as it was.
    for (const slot of taken) slots.view(slot).fill(slot & 0xff);
    for (const slot of taken) assert.ok(slots.view(slot).equals(Buffer.alloc(SLOT_BYTES, slot & 0xff)), `slot ${slot}`);
    const probe = taken[SLOTS_PER_ARENA + 1]!;
    const { arena, offset } = slots.locate(probe);
    assert.equal(arena, 1);
    assert.equal(Buffer.from(slots.arenas[arena]!.memory, offset, SLOT_BYTES).compare(slots.view(probe)), 0);
    taken.forEach((slot) => slots.release(slot));
    assert.equal(await slots.acquire(), 0, 'the lowest free slot is handed out first');
    slots.close();
  });

  it('stays within its budget: past it, acquire waits (first come, first served) for a release', async () => {
    const slots = new SlotPool({ budgetBytes: SLOTS_PER_ARENA * SLOT_BYTES });
    const taken = await Promise.all(Array.from({ length: SLOTS_PER_ARENA }, () => slots.acquire()));
    assert.equal(slots.bytes, SLOTS_PER_ARENA * SLOT_BYTES);
    const order: number[] = [];
    const first = slots.acquire().then((slot) => (order.push(1), slot));
    const second = slots.acquire().then((slot) => (order.push(2), slot));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(order, [], 'nothing is free: both wait');
    assert.equal(slots.stats().waiting, 2);
    assert.equal(slots.bytes, SLOTS_PER_ARENA * SLOT_BYTES, 'the pool did not grow past its budget');
    slots.release(taken[3]!);
    assert.equal(await first, taken[3]);
    slots.release(taken[5]!);
    assert.equal(await second, taken[5]);
    assert.deepEqual(order, [1, 2]);
    assert.equal(slots.stats().waited, 2);
    slots.close();
  });

  it('asks a slot back from a filler that stopped adding to it while others wait', async () => {
    const slots = new SlotPool({ budgetBytes: SLOTS_PER_ARENA * SLOT_BYTES, reclaimAfterMs: 50 });
    const held = await Promise.all(Array.from({ length: SLOTS_PER_ARENA }, () => slots.acquire()));
    const leases = held.map(() => slots.lease());
    let asked = -1;
    leases.forEach((lease, i) => (lease.onAsked = () => (asked = i)));
    // Every lease but the fourth keeps being touched: only the fourth is idle.
    const keepBusy = setInterval(() => leases.forEach((lease, i) => i !== 3 && lease.touch()), 10);
    try {
      const waiting = slots.acquire();
      await new Promise((resolve) => setTimeout(resolve, 200));
      assert.equal(asked, 3, 'the idle slot is the one asked back');
      assert.equal(slots.stats().reclaimed, 1);
      slots.unlease(leases[3]!);
      slots.release(held[3]!);
      assert.equal(await waiting, held[3]);
    } finally {
      clearInterval(keepBusy);
      slots.close();
    }
  });

  it('lets its top arena go once it has been free for a while, and grows again on demand', async () => {
    const slots = new SlotPool({ budgetBytes: 4 * SLOTS_PER_ARENA * SLOT_BYTES, shrinkAfterMs: 80 });
    const taken = await Promise.all(Array.from({ length: 2 * SLOTS_PER_ARENA + 1 }, () => slots.acquire()));
    assert.equal(slots.arenas.length, 3);
    for (const slot of taken) slots.release(slot);
    const kept = await slots.acquire();
    assert.equal(kept, 0);
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(slots.arenas.length, 1, 'the arenas above the slot still in use were let go');
    assert.equal(slots.bytes, SLOTS_PER_ARENA * SLOT_BYTES);
    assert.equal(slots.stats().peakBytes, 3 * SLOTS_PER_ARENA * SLOT_BYTES);
    const again = await Promise.all(Array.from({ length: SLOTS_PER_ARENA }, () => slots.acquire()));
    assert.equal(new Set([kept, ...again]).size, SLOTS_PER_ARENA + 1);
    assert.equal(slots.arenas.length, 2);
    slots.close();
  });
});
