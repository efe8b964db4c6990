import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { BlobStore } from '../../src/core/blob-store.js';
import { chunked } from '../helpers/chunked.js';
import { digestsOf } from '../../src/core/digests.js';
import { LARGE_BODY_BYTES, SLOT_BYTES } from '../../src/core/slot-pool.js';

const KiB = 1024;
/** Around the direct-I/O block, the large-body threshold (worker hashing, O_DIRECT) and the slot. */
const SIZES = [
  ...[0, 1, 4095, 4096, 4097, 64 * KiB],
  ...[LARGE_BODY_BYTES - 1, LARGE_BODY_BYTES, LARGE_BODY_BYTES + 4097],
  ...[SLOT_BYTES - 1, SLOT_BYTES, SLOT_BYTES + 1, 2 * SLOT_BYTES + 12_345, 3.5 * SLOT_BYTES, 4 * SLOT_BYTES],
];


async function* failingAfter(body: Buffer, bytes: number): AsyncGenerator<Buffer> {
  yield body.subarray(0, bytes);
  throw new Error('client went away');
}

const roots: string[] = [];
after(async () => {
  for (const root of roots) await rm(root, { recursive: true, force: true });
});

for (const { directIo, hashThreads } of [
  { directIo: true, hashThreads: 2 },
  { directIo: true, hashThreads: 0 },
  { directIo: false, hashThreads: 2 },
]) {
  describe(`staging bodies (directIo: ${directIo}, hashThreads: ${hashThreads})`, () => {
    let store: BlobStore;
    let root: string;
    const open = async () => {
      root = await mkdtemp(join(tmpdir(), 'tessera-blobs-'));
      roots.push(root);
      store = await BlobStore.open(root, { hashThreads, directIo });
    };
    after(() => store?.close());

    it(`writes large bodies ${directIo ? 'with O_DIRECT (this filesystem takes it)' : 'through the page cache, as asked'}`, async () => {
      await open();
      // Linux filesystems a data directory sits on (ext4, xfs, btrfs, tmpfs since 6.6) take O_DIRECT.
      assert.equal(store.directIo, directIo && process.platform === 'linux');
    });

    it('keeps every byte and computes every digest, whatever the size and chunking', async () => {
      for (const size of SIZES) {
        const body = randomBytes(size);
        const staged = await store.stage(chunked(body), ['sha256', 'crc32'], size);
        assert.equal((await stat(staged.path)).size, size, `size ${size}`);
        assert.ok((await readFile(staged.path)).equals(body), `bytes of a ${size}-byte body`);
        // CRC32C always comes too: it is recorded for every blob and checked by full GETs.
        assert.deepEqual(staged.digests, digestsOf(body, ['sha256', 'crc32', 'crc32c']), `digests of a ${size}-byte body`);
        await store.discard(staged);
      }
    });

    it('stages many bodies at once, each intact', async () => {
      const bodies = Array.from({ length: 12 }, (_, i) => randomBytes(2 * SLOT_BYTES + i * 4099));
      const staged = await Promise.all(bodies.map((body) => store.stage(chunked(body), ['crc32'])));
      for (const [i, one] of staged.entries()) {
        assert.ok((await readFile(one.path)).equals(bodies[i]!), `body ${i}`);
        assert.deepEqual(one.digests, digestsOf(bodies[i]!, ['crc32', 'crc32c']));
        await store.discard(one);
      }
    });

    it('a body that fails half way leaves no file behind and gives its slots back', async () => {
      const body = randomBytes(3 * SLOT_BYTES);
      const before = store.stagingMemoryBytes;
      for (let i = 0; i < 40; i++) {
        await assert.rejects(store.stage(failingAfter(body, SLOT_BYTES + SLOT_BYTES / 2 + i)), /client went away/);
      }
      await assert.rejects(store.stage(chunked(body), [], body.length + 1), { code: 'IncompleteBody' });
      assert.deepEqual(await readdir(join(root, 'tmp')), []);
      // 40 failures holding a slot or two each would have outgrown the memory the pool had, had they kept them.
      assert.equal(store.stagingMemoryBytes, before);
    });

    it('writes a body that arrived whole within one slot in place; a longer one in tmp/, renamed by promote', async () => {
      const blobFiles = async () => (await Promise.all((await readdir(join(root, 'blobs'))).map((dir) => readdir(join(root, 'blobs', dir))))).flat();
      for (const size of [0, 64 * KiB, SLOT_BYTES, SLOT_BYTES + 1, 3 * SLOT_BYTES]) {
        const body = randomBytes(size);
        const staged = await store.stage(chunked(body), [], size);
        // A body of exactly one slot fills it before its end is seen: it goes through tmp/.
        const inPlace = size < SLOT_BYTES;
        assert.equal(staged.placed, inPlace, `size ${size}`);
        assert.equal(staged.path, inPlace ? store.pathOf(staged.id) : join(root, 'tmp', staged.id), `size ${size}`);
        const id = await store.promote(staged);
        assert.equal(id, staged.id);
        assert.ok((await readFile(store.pathOf(id))).equals(body), `size ${size} reads back under its id`);
        assert.deepEqual(await readdir(join(root, 'tmp')), [], `size ${size}: nothing left in tmp/`);
        await store.remove([id]);
      }
      // A placed body refused after it ended (too short), and one discarded, leave no file in the blob directories.
      await assert.rejects(store.stage(chunked(randomBytes(100)), [], 101), { code: 'IncompleteBody' });
      await store.discard(await store.stage(chunked(randomBytes(100))));
      assert.deepEqual(await blobFiles(), []);
    });

    it('puts blobs staged one after another in the same directory, moving on to the next after 64', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 130; i++) ids.push((await store.stage(chunked(randomBytes(10)))).id);
      assert.equal(new Set(ids).size, ids.length, 'ids are unique');
      const dirs = ids.map((id) => parseInt(id.slice(0, 2), 16));
      const changes = dirs.flatMap((dir, i) => (i > 0 && dir !== dirs[i - 1] ? [i] : []));
      assert.ok(changes.length === 2 || changes.length === 3, `the directory changed ${changes.length} times in 130 blobs`);
      assert.ok(changes.every((at) => dirs[at] === (dirs[at - 1]! + 1) % 256), 'it moves to the next directory');
      assert.ok(changes.slice(1).every((at, i) => at - changes[i]! === 64), `every 64 blobs (${changes.join(', ')})`);
      for (const id of ids) await store.remove([id]);
    });
  });
}
