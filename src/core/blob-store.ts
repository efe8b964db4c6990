import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { DIRECT_BLOCK, O_DIRECT, probeDirectIo, roundUpToBlock } from './direct-io.js';
import { errors } from './errors.js';
import { GroupSync } from './group-sync.js';
import { BodyHasher, HashPool, type HashPoolStats } from './hash-pool.js';
import { CHUNK_BYTES, HEADER_BYTES, newBlobKey, openBlobKey, openRecord, RECORD_BYTES, recordSpan, sealedSize, sealRecords, tamperedBlob } from './blob-cipher.js';
import { newBlobId } from './ids.js';
import { PieceStream, READ_CHUNK_BYTES, type FilePiece, type PieceHooks } from './plain-read.js';
import { LARGE_BODY_BYTES, SLOT_BYTES, SlotPool, type AlignArena, type SlotLease } from './slot-pool.js';
import type { Digests, ExtraDigest, Segment } from './types.js';

export interface BlobStoreOptions {
  /** Worker threads hashing bodies of LARGE_BODY_BYTES (1 MiB) or more; 0 hashes everything on the event loop. */
  hashThreads: number;
  /** Write bodies of LARGE_BODY_BYTES or more with O_DIRECT where the filesystem takes it (default false). */
  directIo?: boolean;
  /**
   * Set when several nodes share the directory: this node writes its temp files in `tmp/<nodeId>/`
   * and leaves the other nodes' alone. Unset (one node), temp files go in `tmp/` and whatever is
   * there at start is a crash's leftovers.
   */
  nodeId?: string;
  /** The most memory the staging slots may hold (default 32 MiB; at least 16 MiB): bodies past it wait, their sockets unread. */
  stagingBudgetBytes?: number;
  /** While bodies wait for a slot, a slot its body has not added to for this long is written out and given back (default 1 s). */
  stagingReclaimAfterMs?: number;
}

/**
 * Slots of one body being written and hashed while the next one fills: one (double
 * buffering) keeps a body at 2 slots, 4 MiB. Against 1 MiB slots with 2 in flight
 * (3 MiB a body), row 1 of the benchmark cost the server 0.25–0.35 CPU s/GiB less.
 */
const SLOTS_IN_FLIGHT_PER_BODY = 1;

/** Sealed records per read of an encrypted blob (BlobStore.readSealed): as many as a plain read's bytes (16). */
const SEALED_RECORDS_PER_READ = READ_CHUNK_BYTES / CHUNK_BYTES;

/** How many new blobs in a row go to the same directory (BlobStore.nextBlobId). */
const BLOBS_PER_DIRECTORY_TURN = 64;

/** What the readiness probe writes: a disk block's worth, so a full disk fails it. */
const PROBE_BYTES = Buffer.alloc(4096);


/** The staging slots' numbers, for metrics. */
export interface StagingStats {
  budgetBytes: number;
  /** The most memory the slots held at once since start. */
  peakBytes: number;
  /** Bodies waiting for a slot now. */
  waiting: number;
  /** Bodies that have had to wait for a slot, since start. */
  waited: number;
  /** Slots asked back from bodies whose clients had paused, since start. */
  reclaimed: number;
}

/** A body that is on disk and durable, not yet referenced by any metadata. */
export interface StagedBlob {
  /** The blob's id once promoted (an encrypted blob's key is sealed for it). */
  id: string;
  /** Where the file is: in `tmp/`, or already under its final name (`placed`). */
  path: string;
  /**
   * A body that had all arrived before its file was opened (under one 2 MiB slot) is written
   * straight under its final name, and its directory fsynced beside the file rather than after a
   * rename. Unreferenced until its metadata is committed, like any blob.
   */
  placed: boolean;
  digests: Digests;
}

/** The key-encryption key of each encrypted blob read; a blob it gives none for is plaintext. */
export type BlobKeys = (blobId: string) => Buffer | undefined;

/**
 * Bytes live in files named by random ids (`blobs/ab/<id>`), never by user input,
 * so no key can reach outside the data directory. A blob is written to `tmp/`,
 * fsynced, and only then renamed into place (a small body that had all arrived is written in
 * place: StagedBlob.placed); metadata is committed after that, so a crash leaves at worst an
 * unreferenced file, which `sweepOrphans` removes.
 */
export class BlobStore {
  private readonly blobDir: string;
  private readonly tempRoot: string;
  private readonly tempDir: string;
  private readonly nodeId?: string;
  private readonly slots: SlotPool;
  private readonly hashPool?: HashPool;
  /** The fsync of each blob directory (`blobs/ab`), shared by the renames into it made meanwhile. */
  private readonly directorySyncs = new Map<string, GroupSync>();
  /** New blobs go to one directory at a time (see nextBlobId). */
  private directoryTurn = Math.floor(Math.random() * 256 * BLOBS_PER_DIRECTORY_TURN);

  private constructor(root: string, options: BlobStoreOptions, private readonly alignForDirectIo?: AlignArena) {
    this.blobDir = join(root, 'blobs');
    this.tempRoot = join(root, 'tmp');
    this.tempDir = options.nodeId === undefined ? this.tempRoot : join(this.tempRoot, options.nodeId);
    this.nodeId = options.nodeId;
    this.slots = new SlotPool({ align: alignForDirectIo, budgetBytes: options.stagingBudgetBytes, reclaimAfterMs: options.stagingReclaimAfterMs });
    if (options.hashThreads > 0) this.hashPool = new HashPool(options.hashThreads, this.slots);
  }

  static async open(root: string, options: BlobStoreOptions): Promise<BlobStore> {
    const tempDir = options.nodeId === undefined ? join(root, 'tmp') : join(root, 'tmp', options.nodeId);
    // Leftovers of writes a crash interrupted: never committed, never visible. (Other nodes' are theirs.)
    await rm(tempDir, { recursive: true, force: true });
    await mkdir(tempDir, { recursive: true });
    const align = options.directIo === true ? await probeDirectIo(tempDir) : undefined;
    const store = new BlobStore(root, options, align);
    await Promise.all(
      Array.from({ length: 256 }, (_, i) => mkdir(join(store.blobDir, i.toString(16).padStart(2, '0')), { recursive: true })),
    );
    return store;
  }

  /**
   * A store that only reads, beside a server that may be running on the same directory (the scrub):
   * unlike `open`, it touches neither `tmp/` nor the blob directories.
   */
  static reader(root: string): BlobStore {
    return new BlobStore(root, { hashThreads: 0, directIo: false });
  }

  /** Every file in the blob directories, by name (an id, unless something else put it there). */
  async *files(): AsyncGenerator<{ name: string; path: string }> {
    for (const dir of (await readdir(this.blobDir).catch(() => [] as string[])).sort()) {
      const dirPath = join(this.blobDir, dir);
      const names = await readdir(dirPath).catch(() => [] as string[]);
      for (const name of names.sort()) yield { name, path: join(dirPath, name) };
    }
  }

  /** Whether large bodies (LARGE_BODY_BYTES or more) are written with O_DIRECT here. */
  get directIo(): boolean {
    return this.alignForDirectIo !== undefined;
  }

  /** Memory held by the staging slots: grows with the bodies being received at once up to the budget, and shrinks when idle. */
  get stagingMemoryBytes(): number {
    return this.slots.bytes;
  }

  /** The staging budget, the most memory held since start, bodies waiting for a slot, slots asked back from slow bodies. */
  get stagingStats(): StagingStats {
    const stats = this.slots.stats();
    return { budgetBytes: this.slots.budgetBytes, peakBytes: stats.peakBytes, waiting: stats.waiting, waited: stats.waited, reclaimed: stats.reclaimed };
  }

  /**
   * Whether bodies can be written now: a small file in this node's temp directory, written,
   * fsynced and removed (a full disk, a read-only remount, a directory gone all fail it). For
   * `/-/ready`.
   */
  async probeWritable(): Promise<void> {
    const path = join(this.tempDir, `ready-${newBlobId()}`);
    const file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await file.write(PROBE_BYTES);
      await file.sync();
    } finally {
      await file.close();
      await unlink(path);
    }
  }

  /** The hash worker pool's state now; undefined when bodies are hashed on the event loop (no threads). */
  get hashPoolStats(): HashPoolStats | undefined {
    return this.hashPool?.stats();
  }

  pathOf(blobId: string): string {
    if (!/^[0-9a-f]{32}$/.test(blobId)) throw new Error(`not a blob id: ${blobId}`);
    return join(this.blobDir, blobId.slice(0, 2), blobId);
  }

  /**
   * Streams `body` to a temp file (or in place: StagedBlob.placed), hashing as it goes, and fsyncs it.
   * Each network chunk is copied once into a 2 MiB slot; a full slot is written (O_DIRECT for
   * large bodies, if `directIo` and the filesystem allow) and hashed (on a worker for large bodies) while
   * the next one fills, and is reused once both are done. With `kek`, the file holds the body
   * encrypted (core/blob-cipher.ts) under a data key of its own sealed by `kek`; the digests are
   * the plaintext's, and always include its CRC32C (with the `extra` ones).
   */
  async stage(body: AsyncIterable<Buffer>, extra: ExtraDigest[] = [], expectedSize?: number, kek?: Buffer): Promise<StagedBlob> {
    const id = this.nextBlobId();
    let path = join(this.tempDir, id);
    /** Set once the whole body is in (see StagedBlob.placed). */
    let bodyEnded = false;
    let placed = false;
    // Records are 64 KiB + 16 on disk: not block-aligned, so an encrypted blob goes through the page cache.
    const sealing = kek && newBlobKey(kek, id);
    const slots = this.slots;
    // Every blob's CRC32C is kept, for reads to check cheaply (core/verified-read.ts).
    const hasher = new BodyHasher(this.hashPool, slots, extra.includes('crc32c') ? extra : [...extra, 'crc32c']);
    const inFlight: Array<Promise<void>> = [];
    const iterator = body[Symbol.asyncIterator]();
    let file: FileHandle | undefined;
    let direct = false;
    let slot = -1;
    let lease: SlotLease | undefined;
    /** What a slot given back while partly filled held past its last whole write unit (under 64 KiB). */
    let carry: Buffer | undefined;
    let filled = 0;
    let size = 0;
    /** A slot being given back while the body waits for its next bytes. */
    let reclaiming: Promise<void> | undefined;

    // Large bodies go direct; small ones through the page cache, where a write is cheapest.
    const openFile = async (large: boolean) => {
      direct = large && this.directIo && !sealing;
      placed = bodyEnded;
      if (placed) path = this.pathOf(id);
      file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (direct ? O_DIRECT : 0), 0o600);
      if (sealing) await writeAll(file, sealing.header, 0);
    };
    const takeSlot = async () => {
      slot = await slots.acquire();
      lease = slots.lease();
      if (carry) {
        copyInto(slots.view(slot), 0, carry);
        filled = carry.length;
        carry = undefined;
      }
    };
    const endLease = () => {
      if (lease) slots.unlease(lease);
      lease = undefined;
    };
    const dispatch = async () => {
      endLease();
      while (inFlight.length >= SLOTS_IN_FLIGHT_PER_BODY) await inFlight.shift();
      const current = slot;
      const length = filled;
      // The first slot dispatched is either full, the whole body, or what a slow body had when asked back.
      if (!file) await openFile(length >= LARGE_BODY_BYTES);
      slot = -1;
      filled = 0;
      const position = size;
      size += length;
      // Direct writes go in whole blocks: the padding is zeroed, and cut off by ftruncate at the end.
      const bytes = slots.view(current, direct ? roundUpToBlock(length) : length);
      if (bytes.length > length) bytes.fill(0, length);
      // A slot is whole records but for the body's last: it encrypts on its own, written where its records go.
      const written = sealing
        ? writevAll(file!, sealRecords(sealing.dataKey, position / CHUNK_BYTES, bytes), sealedSize(position))
        : writeAll(file!, bytes, position);
      const work = Promise.all([written, hasher.hash(current, length)]).then(
        () => slots.release(current),
        (err: unknown) => {
          slots.release(current);
          throw err;
        },
      );
      work.catch(() => {}); // awaited below; this only keeps an early failure from counting as unhandled
      inFlight.push(work);
    };
    /**
     * The pool asked the slot back (bodies wait, and this one's client has sent nothing for a while):
     * what it holds is written out up to its last whole write unit (a record when encrypting, a block
     * when direct, so later writes stay aligned) and the rest, under 64 KiB, kept aside for the next slot.
     */
    const giveBack = async () => {
      endLease();
      if (!file) await openFile(filled >= LARGE_BODY_BYTES);
      const unit = sealing ? CHUNK_BYTES : direct ? DIRECT_BLOCK : 1;
      const whole = filled - (filled % unit);
      if (whole < filled) carry = Buffer.from(slots.view(slot).subarray(whole, filled));
      if (whole > 0) {
        filled = whole;
        await dispatch();
      } else {
        slots.release(slot);
        slot = -1;
        filled = 0;
      }
    };

    let digests: Digests;
    try {
      for (;;) {
        // Only a slot being filled can be asked back; a body waiting for its bytes holds nothing else.
        // The slot is given back beside the wait, which then waits for that to finish. (Racing `next`
        // against a promise instead cost ~3 MiB of RSS per body: every chunk stayed reachable longer.)
        if (lease?.wasAsked) await giveBack();
        const held = lease;
        const next = iterator.next();
        if (held) {
          held.onAsked = () => {
            reclaiming = giveBack();
            reclaiming.catch(() => {}); // awaited once the bytes come; this only keeps it from counting as unhandled meanwhile
          };
        }
        const result = await next;
        if (held) held.onAsked = undefined;
        if (reclaiming) {
          const done = reclaiming;
          reclaiming = undefined;
          await done;
        }
        if (result.done) {
          bodyEnded = true;
          break;
        }
        const chunk = result.value;
        for (let offset = 0; offset < chunk.length; ) {
          if (slot < 0) await takeSlot();
          const take = Math.min(chunk.length - offset, SLOT_BYTES - filled);
          copyInto(slots.view(slot), filled, take === chunk.length ? chunk : chunk.subarray(offset, offset + take));
          filled += take;
          offset += take;
          if (filled === SLOT_BYTES) await dispatch();
        }
        lease?.touch();
      }
      if (carry) await takeSlot();
      if (slot >= 0) await dispatch();
      if (!file) await openFile(false);
      while (inFlight.length > 0) await inFlight.shift();
      if (direct && size % DIRECT_BLOCK !== 0) await file!.truncate(size);
      // A placed file's directory entry was made when it was opened: both fsyncs can run at once.
      [digests] = await Promise.all([hasher.digests(), file!.sync(), placed ? this.directorySync(id).durable() : undefined]);
      if (expectedSize !== undefined && digests.size !== expectedSize) throw errors.incompleteBody();
    } catch (err) {
      await reclaiming?.catch(() => {});
      endLease();
      if (slot >= 0) slots.release(slot);
      void iterator.return?.()?.catch(() => {});
      await Promise.allSettled(inFlight);
      hasher.abandon();
      await file?.close().catch(() => {});
      await unlink(path).catch(() => {});
      throw err;
    }
    await file!.close();
    return { id, path, placed, digests };
  }

  async close(): Promise<void> {
    this.slots.close();
    await this.hashPool?.close();
    for (const sync of this.directorySyncs.values()) {
      await sync.drain();
      sync.close();
    }
    this.directorySyncs.clear();
  }

  /**
   * Moves a staged blob into place durably and returns its id. The directory's fsync is shared
   * with the other renames into it made meanwhile, on a descriptor kept open (core/group-sync.ts).
   */
  async promote(staged: StagedBlob): Promise<string> {
    const blobId = staged.id;
    if (staged.placed) return blobId;
    await rename(staged.path, this.pathOf(blobId));
    await this.directorySync(blobId).durable();
    return blobId;
  }

  async discard(staged: StagedBlob): Promise<void> {
    await unlink(staged.path).catch(() => {});
  }

  /** The shared fsync of the directory `blobId` goes in. */
  private directorySync(blobId: string): GroupSync {
    const dir = join(this.blobDir, blobId.slice(0, 2));
    let sync = this.directorySyncs.get(dir);
    if (!sync) this.directorySyncs.set(dir, (sync = new GroupSync(dir)));
    return sync;
  }

  /**
   * A new blob id whose first two hex digits (its directory) stay the same for BLOBS_PER_DIRECTORY_TURN
   * blobs in a row, then move to the next directory: bodies written at the same time land in one
   * directory and share its fsync, where random directories gave nearly every small PUT one of its
   * own. Over time every directory gets its share. The other 30 digits are random.
   */
  private nextBlobId(): string {
    const dir = Math.floor(this.directoryTurn++ / BLOBS_PER_DIRECTORY_TURN) % 256;
    return dir.toString(16).padStart(2, '0') + newBlobId().slice(2);
  }

  async remove(blobIds: Iterable<string>): Promise<void> {
    await Promise.all([...blobIds].map((id) => unlink(this.pathOf(id)).catch(() => {})));
  }

  /**
   * Streams bytes [start, end] (inclusive) of an object made of `segments`,
   * one file after another, opening each only when its turn comes. Without `keys`, the blobs are
   * plaintext, read by core/plain-read.ts (`hooks` sees each chunk: core/verified-read.ts). A blob
   * `keys` gives a key for is decrypted, reading only the records the range touches.
   */
  read(segments: readonly Segment[], start: number, end: number, keys?: BlobKeys, hooks?: PieceHooks): Readable {
    if (!keys) return new PieceStream(this.pieces(segments, start, end), hooks);
    const self = this;
    async function* generate(): AsyncGenerator<Buffer> {
      for (const segment of segments) {
        const segEnd = segment.offset + segment.size - 1;
        if (segEnd < start || segment.offset > end || segment.size === 0) continue;
        const from = Math.max(start, segment.offset) - segment.offset;
        const to = Math.min(end, segEnd) - segment.offset;
        const kek = keys?.(segment.blobId);
        if (kek) yield* self.readSealed(segment.blobId, segment.size, from, to, kek);
        else yield* createReadStream(self.pathOf(segment.blobId), { start: from, end: to, highWaterMark: 256 * 1024 });
      }
    }
    return Readable.from(generate(), { objectMode: false });
  }

  /**
   * The files and bytes in them of bytes [start, end] of `segments`, one piece a segment the range
   * touches (segments of no bytes left out); PieceHooks' indexes are into this list.
   */
  pieces(segments: readonly Segment[], start: number, end: number): FilePiece[] {
    const pieces: FilePiece[] = [];
    for (const segment of segments) {
      const segEnd = segment.offset + segment.size - 1;
      if (segEnd < start || segment.offset > end || segment.size === 0) continue;
      pieces.push({ path: this.pathOf(segment.blobId), from: Math.max(start, segment.offset) - segment.offset, to: Math.min(end, segEnd) - segment.offset });
    }
    return pieces;
  }

  /**
   * A plaintext blob of `size` bytes whole, in chunks, and (the generator's return value) their MD5.
   * A blob of LARGE_BODY_BYTES or more is hashed on a hash worker when the store has them: each
   * 2 MiB slot read is hashed there while a copy of it goes out, with at most two slots in flight;
   * a smaller one, or without workers, on the event loop. A file shorter than `size` ends early (the caller counts).
   */
  async *readHashed(blobId: string, size: number): AsyncGenerator<Buffer, Buffer> {
    const pool = this.hashPool;
    if (!pool || size < LARGE_BODY_BYTES) {
      const hash = createHash('md5');
      for await (const chunk of createReadStream(this.pathOf(blobId), { highWaterMark: 256 * 1024 }) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        yield chunk;
      }
      return hash.digest();
    }
    const file = await open(this.pathOf(blobId), constants.O_RDONLY);
    const job = pool.begin([]);
    let previous: Promise<void> | undefined;
    try {
      for (let position = 0; position < size; ) {
        const slot = await this.slots.acquire();
        let length: number;
        try {
          ({ bytesRead: length } = await file.read(this.slots.view(slot), 0, Math.min(SLOT_BYTES, size - position), position));
        } catch (err) {
          this.slots.release(slot);
          throw err;
        }
        if (length === 0) {
          this.slots.release(slot);
          break;
        }
        const view = this.slots.view(slot, length);
        const out = Buffer.allocUnsafeSlow(length);
        copyInto(out, 0, view);
        // The slot goes back once the worker has hashed it, whether or not this read goes on.
        const hashed = job.update(slot, length).finally(() => this.slots.release(slot));
        hashed.catch(() => {});
        if (previous) await previous;
        previous = hashed;
        position += length;
        yield out;
      }
      if (previous) await previous;
      return (await job.digests()).md5;
    } finally {
      job.abandon();
      await file.close();
    }
  }

  /** Plaintext bytes [from, to] of an encrypted blob of `plainBytes`: its header, then the records of the range. */
  private async *readSealed(blobId: string, plainBytes: number, from: number, to: number, kek: Buffer): AsyncGenerator<Buffer> {
    const file = await open(this.pathOf(blobId), constants.O_RDONLY);
    try {
      const header = Buffer.alloc(HEADER_BYTES);
      if ((await file.read(header, 0, HEADER_BYTES, 0)).bytesRead !== HEADER_BYTES) throw tamperedBlob();
      const dataKey = openBlobKey(kek, blobId, header);
      const span = recordSpan(from, to, plainBytes);
      // Reads of SEALED_RECORDS_PER_READ records (about 1 MiB) into two buffers: the next read runs
      // while the records of the last are decrypted. Memory is the two buffers, whatever the range.
      const buffers = [Buffer.allocUnsafe(RECORD_BYTES * SEALED_RECORDS_PER_READ), Buffer.allocUnsafe(RECORD_BYTES * SEALED_RECORDS_PER_READ)];
      let turn = 0;
      let nextIndex = span.first;
      let nextPosition = span.start;
      const readNext = () => {
        if (nextPosition > span.end) return undefined;
        const lengths: number[] = [];
        let want = 0;
        for (let i = nextIndex; lengths.length < SEALED_RECORDS_PER_READ && nextPosition + want <= span.end; i++) {
          lengths.push(span.lengths(i));
          want += span.lengths(i);
        }
        const buffer = buffers[turn++ % 2]!;
        const read = file.read(buffer, 0, want, nextPosition);
        // Awaited in its turn; this only keeps a failure meanwhile (or after the reader gave up) from
        // counting as unhandled. FileHandle.close() waits for a read in flight.
        read.catch(() => {});
        const batch = { index: nextIndex, lengths, want, buffer, read };
        nextIndex += lengths.length;
        nextPosition += want;
        return batch;
      };
      let plainAt = span.first * CHUNK_BYTES;
      for (let batch = readNext(); batch; ) {
        // A file cut short is as altered as one with flipped bits.
        if ((await batch.read).bytesRead !== batch.want) throw tamperedBlob();
        const next = readNext();
        let offset = 0;
        let index = batch.index;
        for (const length of batch.lengths) {
          const plain = openRecord(dataKey, index, batch.buffer.subarray(offset, offset + length));
          const cutFrom = Math.max(from - plainAt, 0);
          const cutTo = Math.min(to - plainAt + 1, plain.length);
          yield cutFrom === 0 && cutTo === plain.length ? plain : plain.subarray(cutFrom, cutTo);
          offset += length;
          plainAt += plain.length;
          index++;
        }
        batch = next;
      }
    } finally {
      await file.close();
    }
  }

  /**
   * Deletes blob files no metadata refers to: left by a crash between rename and
   * commit, or between a delete's commit and its unlink. Only files older than
   * `olderThan` are touched, so writes in flight are safe.
   */
  async sweepOrphans(isReferenced: (blobId: string) => boolean | Promise<boolean>, olderThan: Date): Promise<number> {
    let removed = 0;
    for (const dir of await readdir(this.blobDir)) {
      const dirPath = join(this.blobDir, dir);
      for (const name of await readdir(dirPath)) {
        if (await isReferenced(name)) continue;
        const path = join(dirPath, name);
        const info = await stat(path).catch(() => undefined);
        if (info && info.mtime < olderThan && !(await isReferenced(name))) {
          await unlink(path).catch(() => {});
          removed++;
        }
      }
    }
    return removed;
  }

  /**
   * Removes the temp directories of nodes that are gone (`isGone(nodeId)`), with whatever half-written
   * bodies they left: never listed, never committed. Only when nodes share the directory.
   * `isGone` is asked only after the directory has been listed (the caller reads the leases then).
   */
  async sweepTempOfGoneNodes(isGone: (nodeId: string) => boolean | Promise<boolean>): Promise<string[]> {
    if (this.nodeId === undefined) return [];
    const removed: string[] = [];
    for (const entry of await readdir(this.tempRoot, { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === this.nodeId || !(await isGone(entry.name))) continue;
      await rm(join(this.tempRoot, entry.name), { recursive: true, force: true });
      removed.push(entry.name);
    }
    return removed;
  }
}

/**
 * Copies `source` to `target` at `offset`. Buffer#fill with a buffer of the range's
 * length is one memcpy; Buffer#copy into shared memory goes through V8's relaxed
 * (race-safe) memmove, which cost the event loop ~0.2 CPU s/GiB more in row 1.
 */
function copyInto(target: Buffer, offset: number, source: Buffer): void {
  target.fill(source, offset, offset + source.length);
}

/** Writes `pieces` one after another from `position`, however the kernel splits them. */
async function writevAll(file: FileHandle, pieces: Buffer[], position: number): Promise<void> {
  const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
  // IOV_MAX is 1024 on Linux: a 2 MiB slot is 64 pieces.
  const { bytesWritten } = await file.writev(pieces, position);
  if (bytesWritten < total) await writeAll(file, Buffer.concat(pieces).subarray(bytesWritten), position + bytesWritten);
}

/** Writes all of `data` at `position`, however the kernel splits it. */
async function writeAll(file: FileHandle, data: Buffer, position: number): Promise<void> {
  for (let offset = 0; offset < data.length; ) {
    const { bytesWritten } = await file.write(data, offset, data.length - offset, position + offset);
    if (bytesWritten === 0) throw new Error('write made no progress');
    offset += bytesWritten;
  }
}
