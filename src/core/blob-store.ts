import { constants, createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { errors } from './errors.js';
import { BatchHasher, HashPool } from './hash-pool.js';
import { newBlobId } from './ids.js';
import type { Digests, ExtraDigest, Segment } from './types.js';

export interface BlobStoreOptions {
  /** Worker threads hashing bodies of a write batch or more; 0 hashes everything on the event loop. */
  hashThreads: number;
}

/** Small network chunks are gathered into writes of this size: fewer syscalls, same memory bound. */
const WRITE_BATCH_BYTES = 1 << 20;

/** A body that is on disk and durable but not yet visible under its final name. */
export interface StagedBlob {
  tempPath: string;
  digests: Digests;
}

/**
 * Bytes live in files named by random ids (`blobs/ab/<id>`), never by user input,
 * so no key can reach outside the data directory. A blob is written to `tmp/`,
 * fsynced, and only then renamed into place; metadata is committed after that, so
 * a crash leaves at worst an unreferenced file, which `sweepOrphans` removes.
 */
export class BlobStore {
  private readonly blobDir: string;
  private readonly tempDir: string;
  private readonly hashPool?: HashPool;

  private constructor(root: string, options: BlobStoreOptions) {
    this.blobDir = join(root, 'blobs');
    this.tempDir = join(root, 'tmp');
    if (options.hashThreads > 0) this.hashPool = new HashPool(options.hashThreads);
  }

  static async open(root: string, options: BlobStoreOptions): Promise<BlobStore> {
    const store = new BlobStore(root, options);
    // Leftovers of writes a crash interrupted: never committed, never visible.
    await rm(store.tempDir, { recursive: true, force: true });
    await mkdir(store.tempDir, { recursive: true });
    await Promise.all(
      Array.from({ length: 256 }, (_, i) => mkdir(join(store.blobDir, i.toString(16).padStart(2, '0')), { recursive: true })),
    );
    return store;
  }

  pathOf(blobId: string): string {
    if (!/^[0-9a-f]{32}$/.test(blobId)) throw new Error(`not a blob id: ${blobId}`);
    return join(this.blobDir, blobId.slice(0, 2), blobId);
  }

  /** Streams `body` to a temp file, hashing as it goes, and fsyncs it. */
  async stage(body: AsyncIterable<Buffer>, extra: ExtraDigest[] = [], expectedSize?: number): Promise<StagedBlob> {
    const tempPath = join(this.tempDir, newBlobId());
    const hasher = new BatchHasher(this.hashPool, extra, WRITE_BATCH_BYTES);
    const file = await open(tempPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    let digests: Digests;
    try {
      let batch: Buffer[] = [];
      let batchBytes = 0;
      // One writev per batch: no copy into a joint buffer (the copies cost ~7% of a large upload's CPU).
      // The batch is hashed while it is written: on a worker when the body is large.
      const flush = async () => {
        if (batchBytes === 0) return;
        const buffers = batch;
        const expected = batchBytes;
        batch = [];
        batchBytes = 0;
        const write = async () => {
          const { bytesWritten } = await file.writev(buffers);
          if (bytesWritten < expected) {
            // A short write (rare on files): write what is left plainly.
            const rest = Buffer.concat(buffers, expected).subarray(bytesWritten);
            for (let offset = 0; offset < rest.length; ) offset += (await file.write(rest, offset)).bytesWritten;
          }
        };
        await Promise.all([hasher.add(buffers, expected), write()]);
      };
      for await (const chunk of body) {
        batch.push(chunk);
        batchBytes += chunk.length;
        if (batchBytes >= WRITE_BATCH_BYTES) await flush();
      }
      await flush();
      [digests] = await Promise.all([hasher.digests(), file.sync()]);
      if (expectedSize !== undefined && digests.size !== expectedSize) throw errors.incompleteBody();
    } catch (err) {
      hasher.abandon();
      await file.close().catch(() => {});
      await unlink(tempPath).catch(() => {});
      throw err;
    }
    await file.close();
    return { tempPath, digests };
  }

  async close(): Promise<void> {
    await this.hashPool?.close();
  }

  /** Moves a staged blob into place durably and returns its id. */
  async promote(staged: StagedBlob): Promise<string> {
    const blobId = newBlobId();
    const dir = join(this.blobDir, blobId.slice(0, 2));
    await rename(staged.tempPath, join(dir, blobId));
    await fsyncDirectory(dir);
    return blobId;
  }

  async discard(staged: StagedBlob): Promise<void> {
    await unlink(staged.tempPath).catch(() => {});
  }

  async remove(blobIds: Iterable<string>): Promise<void> {
    await Promise.all([...blobIds].map((id) => unlink(this.pathOf(id)).catch(() => {})));
  }

  /**
   * Streams bytes [start, end] (inclusive) of an object made of `segments`,
   * one file after another, opening each only when its turn comes.
   */
  read(segments: Segment[], start: number, end: number): Readable {
    const self = this;
    async function* generate(): AsyncGenerator<Buffer> {
      for (const segment of segments) {
        const segEnd = segment.offset + segment.size - 1;
        if (segEnd < start || segment.offset > end || segment.size === 0) continue;
        const from = Math.max(start, segment.offset) - segment.offset;
        const to = Math.min(end, segEnd) - segment.offset;
        yield* createReadStream(self.pathOf(segment.blobId), { start: from, end: to, highWaterMark: 256 * 1024 });
      }
    }
    return Readable.from(generate(), { objectMode: false });
  }

  /**
   * Deletes blob files no metadata refers to: left by a crash between rename and
   * commit, or between a delete's commit and its unlink. Only files older than
   * `olderThan` are touched, so writes in flight are safe.
   */
  async sweepOrphans(isReferenced: (blobId: string) => boolean, olderThan: Date): Promise<number> {
    let removed = 0;
    for (const dir of await readdir(this.blobDir)) {
      const dirPath = join(this.blobDir, dir);
      for (const name of await readdir(dirPath)) {
        if (isReferenced(name)) continue;
        const path = join(dirPath, name);
        const info = await stat(path).catch(() => undefined);
        if (info && info.mtime < olderThan && !isReferenced(name)) {
          await unlink(path).catch(() => {});
          removed++;
        }
      }
    }
    return removed;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, constants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
