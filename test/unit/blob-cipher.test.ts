import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CHUNK_BYTES, sealedSize } from '../../src/core/blob-cipher.js';
import { BlobStore } from '../../src/core/blob-store.js';
import { chunked } from '../helpers/chunked.js';
import { SLOT_BYTES } from '../../src/core/slot-pool.js';

// Encrypted blobs (server-side encryption): what is on disk is not the body, every range reads
// back exactly, and a file altered on disk is an error, never wrong bytes.

const SIZES = [0, 1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, SLOT_BYTES - 1, SLOT_BYTES, SLOT_BYTES + CHUNK_BYTES + 5, 3 * SLOT_BYTES + 7];


async function collect(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('encrypted blobs', () => {
  let root: string;
  let store: BlobStore;
  const kek = randomBytes(32);
  const keys = () => kek;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tessera-sealed-'));
    store = await BlobStore.open(root, { hashThreads: 2, directIo: true });
  });
  after(async () => {
    await store.close();
    await rm(root, { recursive: true, force: true });
  });

  async function put(body: Buffer): Promise<string> {
    return store.promote(await store.stage(chunked(body), ['sha256'], body.length, kek));
  }
  const read = (blobId: string, size: number, start: number, end: number, withKeys = keys) =>
    collect(store.read([{ blobId, offset: 0, size, partNumber: 1 }], start, end, withKeys));

  for (const size of SIZES) {
    it(`${size} bytes: stored sealed, digests of the plaintext, read back whole and in ranges across records`, async () => {
      const body = randomBytes(size);
      const staged = await store.stage(chunked(body), ['sha256'], size, kek);
      assert.equal(staged.digests.size, size);
      assert.deepEqual(staged.digests.md5, createHash('md5').update(body).digest());
      assert.deepEqual(staged.digests.sha256, createHash('sha256').update(body).digest());
      const blobId = await store.promote(staged);
      const onDisk = await readFile(store.pathOf(blobId));
      assert.equal(onDisk.length, sealedSize(size));
      if (size >= 16) assert.equal(onDisk.includes(body.subarray(0, 16)), false, 'the plaintext is not on disk');
      if (size === 0) return;
      assert.ok((await read(blobId, size, 0, size - 1)).equals(body));
      const ranges: Array<[number, number]> = [
        [0, 0],
        [size - 1, size - 1],
        [Math.floor(size / 3), Math.floor((2 * size) / 3)],
        [Math.max(0, CHUNK_BYTES - 3), Math.min(size - 1, CHUNK_BYTES + 2)],
        [Math.min(size - 1, 5 * CHUNK_BYTES + 11), size - 1],
      ];
      for (const [start, end] of ranges) {
        assert.ok((await read(blobId, size, start, end)).equals(body.subarray(start, end + 1)), `bytes ${start}-${end}`);
      }
    });
  }

  it('a read given up half way (the client went away, a read ahead in flight) leaves no descriptor open', async () => {
    const size = 3 * SLOT_BYTES + 7;
    const blobId = await put(randomBytes(size));
    const openFiles = async () => (await readdir('/proc/self/fd')).length;
    const before = await openFiles();
    for (let i = 0; i < 20; i++) {
      const stream = store.read([{ blobId, offset: 0, size, partNumber: 1 }], 0, size - 1, keys);
      for await (const chunk of stream) {
        assert.ok((chunk as Buffer).length > 0);
        break; // destroys the stream: the generator's finally runs with the next read in flight
      }
    }
    // Closing is asynchronous: give the last ones a moment.
    for (let tries = 0; tries < 50 && (await openFiles()) > before; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(await openFiles(), before, 'no descriptor left open');
  });

  it('a flipped bit, a cut-short file, a swapped file or another key is an error, never wrong bytes', async () => {
    const size = 3 * CHUNK_BYTES + 100;
    const body = randomBytes(size);
    const flip = async (blobId: string, at: number) => {
      const file = await open(store.pathOf(blobId), 'r+');
      const byte = Buffer.alloc(1);
      await file.read(byte, 0, 1, at);
      byte[0]! ^= 0x01;
      await file.write(byte, 0, 1, at);
      await file.close();
    };
    const fails = async (blobId: string, start = 0, end = size - 1, withKeys = keys) =>
      assert.rejects(read(blobId, size, start, end, withKeys), (err: Error & { code?: string }) => err.message.includes('integrity check'));

    // A bit of the second record: a read of it fails; a read of the first record alone still works.
    const inRecord = await put(body);
    await flip(inRecord, 64 + CHUNK_BYTES + 16 + 10);
    await fails(inRecord);
    await fails(inRecord, CHUNK_BYTES + 5, CHUNK_BYTES + 5);
    assert.ok((await read(inRecord, size, 0, 99)).equals(body.subarray(0, 100)));

    // The sealed data key in the header.
    const inHeader = await put(body);
    await flip(inHeader, 20);
    await fails(inHeader, 0, 0);

    // Cut short: the last record is missing.
    const cut = await put(body);
    await truncate(store.pathOf(cut), sealedSize(size) - 50);
    await fails(cut);

    // One blob's file copied over another's: its key is sealed for its own id.
    const [a, b] = [await put(body), await put(randomBytes(size))];
    await writeFile(store.pathOf(b), await readFile(store.pathOf(a)));
    await fails(b, 0, 0);

    // Another key-encryption key.
    await fails(a, 0, 0, () => randomBytes(32));
    assert.equal((await stat(store.pathOf(a))).size, sealedSize(size));
  });
});
