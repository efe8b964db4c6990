import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Lease } from '../../src/core/leases.js';
import { SqliteMetadata } from '../../src/core/metadata/sqlite.js';
import type { UploadSession } from '../../src/core/metadata/types.js';
import { Storage } from '../../src/core/storage.js';
import type { Actor } from '../../src/core/types.js';
import { sliceSource } from '../../src/dialects/pan/completion.js';
import { Drive } from '../../src/dialects/pan/drive.js';
import { SharedHasher, type SliceSource } from '../../src/dialects/pan/hasher.js';

const alice: Actor = { userId: 'alice', root: false };
const BUCKET = 'hasher';
const SLICE = 4096;

function digest(algorithm: 'md5' | 'sha1', ...parts: Buffer[]): string {
  const hash = createHash(algorithm);
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

async function* chunks(data: Buffer): AsyncGenerator<Buffer> {
  // Several chunks per slice, as a socket delivers them.
  for (let offset = 0; offset < data.length; offset += 1000) yield data.subarray(offset, offset + 1000);
}

/**
 * Two "nodes" of a cluster: each its own connection to the same metadata file and its own
 * hasher, over one engine (the shared blob directory). The engine writes through node A's.
 */
describe('pan shared hasher (hash state in the metadata store)', () => {
  let dir: string;
  let metaA: SqliteMetadata;
  let metaB: SqliteMetadata;
  let storage: Storage;
  let drive: Drive;
  let nodeA: SharedHasher;
  let nodeB: SharedHasher;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-pan-hasher-'));
    metaA = SqliteMetadata.open(join(dir, 'meta.db'));
    metaB = SqliteMetadata.open(join(dir, 'meta.db'));
    storage = await Storage.open(dir, { metadata: metaA, minPartSize: 0, uploadExpiryMs: 3600_000 });
    await storage.createBucket(alice, BUCKET);
    drive = new Drive(storage, metaA, alice, BUCKET);
    nodeA = new SharedHasher(metaA, 'node-a', 60_000);
    nodeB = new SharedHasher(metaB, 'node-b', 60_000);
  });

  after(async () => {
    await storage.close();
    await metaA.close();
    await metaB.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh upload: its id (as the session id), its slices as the hasher reads them, and reads counted per slice. */
  async function upload(name: string) {
    const { uploadId } = await storage.uploads.create(alice, BUCKET, name, { headers: {}, userMeta: {} });
    const id = `session-${name}`;
    const pre = { id, key: name, uploadId } as UploadSession;
    const real = sliceSource(drive, pre);
    const reads = new Map<number, number>();
    const slices: SliceSource = {
      etagOf: (sliceNo) => real.etagOf(sliceNo),
      open: async (sliceNo) => {
        const slice = await real.open(sliceNo);
        if (slice) reads.set(sliceNo, (reads.get(sliceNo) ?? 0) + 1);
        return slice;
      },
    };
    /** Stores slice `sliceNo` through `node` as upload.ts does: hashed on the way in when it is the next one. */
    const put = async (node: SharedHasher, sliceNo: number, data: Buffer): Promise<{ etag: string; hashed: boolean }> => {
      const fork = await node.fork(id, sliceNo);
      const body = (async function* () {
        for await (const chunk of chunks(data)) {
          fork?.update(chunk);
          yield chunk;
        }
      })();
      const part = await storage.uploads.uploadPart(alice, BUCKET, name, uploadId, sliceNo, body);
      return { etag: part.etag, hashed: fork !== undefined && (await fork.commit(part.etag)) };
    };
    const storedEtags = async () => (await storage.uploads.allParts(alice, BUCKET, name, uploadId)).map((part) => part.etag);
    return { id, uploadId, slices, reads, put, storedEtags };
  }

  it('slices in order, each on another node, are hashed on the way in and never read back', async () => {
    const u = await upload('in-order');
    const data = [1, 2, 3, 4].map(() => randomBytes(SLICE));
    for (const [i, slice] of data.entries()) {
      const { hashed } = await u.put(i % 2 === 0 ? nodeA : nodeB, i + 1, slice);
      assert.equal(hashed, true, `slice ${i + 1} hashed on its way in`);
    }
    const hashed = await nodeB.catchUp(u.id, u.slices, await u.storedEtags());
    assert.ok(hashed && hashed !== 'busy');
    assert.equal(hashed.md5, digest('md5', ...data));
    assert.equal(hashed.sha1, digest('sha1', ...data));
    assert.equal(hashed.size, 4 * SLICE);
    assert.equal(u.reads.size, 0);
  });

  it('two nodes racing with the same next slice: the compare-and-set takes exactly one', async () => {
    const u = await upload('race-same');
    const [one, two] = [randomBytes(SLICE), randomBytes(SLICE)];
    const forkA = await nodeA.fork(u.id, 1);
    const forkB = await nodeB.fork(u.id, 1);
    assert.ok(forkA && forkB);
    for await (const chunk of chunks(one)) {
      forkA.update(chunk);
      forkB.update(chunk);
    }
    const part = await storage.uploads.uploadPart(alice, BUCKET, 'race-same', u.uploadId, 1, chunks(one));
    const saved = await Promise.all([forkA.commit(part.etag), forkB.commit(part.etag)]);
    assert.deepEqual(saved.sort(), [false, true]);
    assert.equal((await metaA.getHashState(u.id))?.next, 2);
    assert.equal((await u.put(nodeB, 2, two)).hashed, true);
    const hashed = await nodeA.catchUp(u.id, u.slices, await u.storedEtags());
    assert.ok(hashed && hashed !== 'busy');
    assert.equal(hashed.md5, digest('md5', one, two));
  });

  it('two nodes racing with different bytes for one slice: the stored one wins, the hash starts over', async () => {
    const u = await upload('race-other');
    const [x, y, two] = [randomBytes(SLICE), randomBytes(SLICE), randomBytes(SLICE)];
    const forkA = await nodeA.fork(u.id, 1);
    const forkB = await nodeB.fork(u.id, 1);
    assert.ok(forkA && forkB);
    for await (const chunk of chunks(x)) forkA.update(chunk);
    for await (const chunk of chunks(y)) forkB.update(chunk);
    const partX = await storage.uploads.uploadPart(alice, BUCKET, 'race-other', u.uploadId, 1, chunks(x));
    const partY = await storage.uploads.uploadPart(alice, BUCKET, 'race-other', u.uploadId, 1, chunks(y));
    // A's slice was replaced by B's, but A saves first: the state hashed bytes no longer stored.
    assert.equal(await forkA.commit(partX.etag), true);
    assert.equal(await forkB.commit(partY.etag), false);
    await nodeB.checkReplaced(u.id, 1, u.slices);
    assert.equal(await metaA.getHashState(u.id), undefined, 'the state started over');
    assert.equal((await u.put(nodeA, 2, two)).hashed, false, 'slice 2 waits on disk for slice 1');
    assert.equal(await nodeA.pump(u.id, u.slices), 'idle');
    const hashed = await nodeB.catchUp(u.id, u.slices, await u.storedEtags());
    assert.ok(hashed && hashed !== 'busy');
    assert.equal(hashed.md5, digest('md5', y, two));
    assert.equal(hashed.sha1, digest('sha1', y, two));
  });

  it('slices that came early are read back once, by the node that fills the gap; another node finds it busy', async () => {
    const u = await upload('gap');
    const data = [1, 2, 3, 4].map(() => randomBytes(SLICE));
    for (const sliceNo of [3, 4, 2]) assert.equal((await u.put(nodeB, sliceNo, data[sliceNo - 1]!)).hashed, false);
    assert.equal(await nodeB.pump(u.id, u.slices), 'idle');
    assert.equal(await metaA.getHashState(u.id), undefined, 'nothing to hash before slice 1');
    assert.equal((await u.put(nodeA, 1, data[0]!)).hashed, true);
    const results = await Promise.all([nodeA.pump(u.id, u.slices), nodeB.pump(u.id, u.slices)]);
    assert.deepEqual(results.sort(), ['busy', 'idle']);
    assert.equal((await metaA.getHashState(u.id))?.next, 5);
    assert.deepEqual([...u.reads.entries()].sort(), [
      [2, 1],
      [3, 1],
      [4, 1],
    ]);
    const hashed = await nodeB.catchUp(u.id, u.slices, await u.storedEtags());
    assert.ok(hashed && hashed !== 'busy');
    assert.equal(hashed.md5, digest('md5', ...data));
  });

  it("a dead node's hashing lease keeps others out until it expires; then any node takes over", async () => {
    const u = await upload('dead-pump');
    const data = [1, 2, 3].map(() => randomBytes(SLICE));
    const now = new Date();
    assert.equal(await metaA.acquireLease(`pan-hash:${u.id}`, 'dead-node', new Date(now.getTime() + 3600_000), now), true);
    for (const sliceNo of [3, 2, 1]) await u.put(nodeA, sliceNo, data[sliceNo - 1]!);
    assert.equal(await nodeB.pump(u.id, u.slices), 'busy');
    assert.equal(await nodeB.catchUp(u.id, u.slices, await u.storedEtags()), 'busy');
    assert.equal((await metaA.getHashState(u.id))?.next, 2, 'only slice 1, hashed on its way in');
    // The node died: its lease ran out.
    assert.equal(await metaA.acquireLease(`pan-hash:${u.id}`, 'dead-node', new Date(Date.now() - 1000), new Date()), true);
    const hashed = await nodeB.catchUp(u.id, u.slices, await u.storedEtags());
    assert.ok(hashed && hashed !== 'busy');
    assert.equal(hashed.md5, digest('md5', ...data));
  });

  it('a fork taken before a slice was replaced cannot slip the old bytes into the hash (same next, other ETags)', async () => {
    const u = await upload('aba');
    const [one, two, three, other] = [1, 2, 3, 4].map(() => randomBytes(SLICE));
    await u.put(nodeA, 1, one!);
    await u.put(nodeA, 2, two!);
    // Node A starts hashing slice 3 on its way in...
    const fork = await nodeA.fork(u.id, 3);
    assert.ok(fork);
    for await (const chunk of chunks(three!)) fork.update(chunk);
    // ...while slice 2 is replaced on node B, and the hash starts over and catches up to slice 3 again.
    assert.equal((await u.put(nodeB, 2, other!)).hashed, false);
    await nodeB.checkReplaced(u.id, 2, u.slices);
    assert.equal(await nodeB.pump(u.id, u.slices), 'idle');
    assert.equal((await metaA.getHashState(u.id))?.next, 3);
    // Node A's save finds `next` where it expected it: the state now holds the old slice 2.
    const part3 = await storage.uploads.uploadPart(alice, BUCKET, 'aba', u.uploadId, 3, chunks(three!));
    assert.equal(await fork.commit(part3.etag), true);
    // The saved ETags say so: the completion's catch-up starts over rather than trust it.
    const hashed = await nodeA.catchUp(u.id, u.slices, await u.storedEtags());
    assert.ok(hashed && hashed !== 'busy');
    assert.equal(hashed.md5, digest('md5', one!, other!, three!));
  });

  it('the state outlives the node: a new hasher (a restarted process) carries on from the store', async () => {
    const u = await upload('restart');
    const data = [1, 2, 3].map(() => randomBytes(SLICE));
    await u.put(nodeA, 1, data[0]!);
    await u.put(nodeA, 2, data[1]!);
    const restarted = new SharedHasher(metaB, 'node-c', 60_000);
    assert.equal((await u.put(restarted, 3, data[2]!)).hashed, true);
    const hashed = await restarted.catchUp(u.id, u.slices, await u.storedEtags());
    assert.ok(hashed && hashed !== 'busy');
    assert.equal(hashed.md5, digest('md5', ...data));
    assert.equal(hashed.sha1, digest('sha1', ...data));
    assert.equal(u.reads.size, 0);
  });

  it('a lease: one holder at a time; a holder that stalled past the expiry finds it lost and leaves the new one alone', async () => {
    const first = await Lease.take(metaA, 'job', 'node-a', 60_000);
    assert.ok(first);
    assert.equal(await Lease.take(metaB, 'job', 'node-b', 60_000), undefined);
    await first.release();
    const second = await Lease.take(metaB, 'job', 'node-b', 60_000);
    assert.ok(second);
    // node-b stalls; its lease runs out and node-a takes the job.
    assert.equal(await metaA.acquireLease('job', 'node-b', new Date(Date.now() - 1000), new Date()), true);
    const third = await Lease.take(metaA, 'job', 'node-a', 60_000);
    assert.ok(third);
    assert.equal(await second.renew(), false);
    assert.equal(second.lost, true);
    await second.release();
    assert.deepEqual(
      (await metaA.listLeases('job')).map((lease) => lease.holder),
      ['node-a'],
    );
    await third.release();
    assert.deepEqual(await metaA.listLeases('job'), []);
  });
});
