import { Worker } from 'node:worker_threads';
import { DigestSet } from './digests.js';
import type { Digests, ExtraDigest } from './types.js';

export type HashRequest =
  | { type: 'begin'; job: number; extra: ExtraDigest[] }
  | { type: 'update'; job: number; slot: number; length: number }
  | { type: 'finish'; job: number }
  | { type: 'drop'; job: number };

export type HashResponse =
  | { type: 'ack'; slot: number }
  | { type: 'digests'; job: number; digests: Digests };

/**
 * Each worker hashes out of a fixed arena of shared memory: bytes are copied into a
 * free slot and the slot's number is posted. A slot comes back when the worker has
 * hashed it, so memory stays flat and a job waits when the worker falls behind.
 * (Transferring a fresh buffer per batch instead cost more than the hashing saved:
 * page faults on every new buffer, GC, and a slow transfer.)
 */
export const SLOT_BYTES = 1 << 20;
const SLOTS_PER_WORKER = 8;

interface Job {
  done?: { resolve: (digests: Digests) => void; reject: (err: Error) => void };
}

class PoolWorker {
  readonly jobs = new Map<number, Job>();
  readonly arena = new SharedArrayBuffer(SLOTS_PER_WORKER * SLOT_BYTES);
  readonly bytes = new Uint8Array(this.arena);
  private readonly freeSlots = Array.from({ length: SLOTS_PER_WORKER }, (_, slot) => slot);
  private readonly slotWaiters: Array<(slot: number) => void> = [];
  private failure?: Error;
  readonly thread: Worker;

  constructor(onExit: () => void) {
    this.thread = new Worker(new URL('./hash-worker.js', import.meta.url), { workerData: { arena: this.arena, slotBytes: SLOT_BYTES } });
    this.thread.unref();
    this.thread.on('message', (message: HashResponse) => this.receive(message));
    const fail = (err: Error) => {
      this.failure ??= err;
      for (const job of this.jobs.values()) job.done?.reject(this.failure);
      this.jobs.clear();
      // Nobody will hand these slots back: wake their waiters to see the failure.
      for (const waiter of this.slotWaiters.splice(0)) waiter(-1);
      onExit();
    };
    this.thread.on('error', fail);
    this.thread.on('exit', (code) => fail(new Error(`hash worker exited (${code})`)));
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** A free slot of the arena; waits for the worker to hand one back when all are in use. */
  acquireSlot(): Promise<number> | number {
    const slot = this.freeSlots.pop();
    if (slot !== undefined) return slot;
    return new Promise((resolve) => this.slotWaiters.push(resolve));
  }

  /** Hands a slot back: to the first job waiting for one, else to the free list. */
  releaseSlot(slot: number): void {
    const waiter = this.slotWaiters.shift();
    if (waiter) waiter(slot);
    else this.freeSlots.push(slot);
  }

  private receive(message: HashResponse): void {
    if (message.type === 'ack') {
      this.releaseSlot(message.slot);
      return;
    }
    const job = this.jobs.get(message.job);
    if (!job) return;
    this.jobs.delete(message.job);
    job.done?.resolve(reviveDigests(message.digests));
  }
}

/** Buffers come back from a worker as plain Uint8Arrays. */
function reviveDigests(digests: Digests): Digests {
  const revived: Digests = { ...digests };
  for (const name of ['md5', 'sha256', 'sha1', 'crc32', 'crc32c', 'crc64nvme'] as const) {
    const value = digests[name] as Uint8Array | undefined;
    if (value) revived[name] = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  return revived;
}

/**
 * Worker threads that hash large bodies while they stream to disk. On the 2-core
 * benchmark machine hashing was 42% of the event loop's busy time during a 1 GiB
 * upload (MD5 + the signed SHA-256 + CRC32); here it runs on another core, and
 * the event loop only copies each batch once into shared memory.
 */
export class HashPool {
  private readonly workers: PoolWorker[] = [];
  private nextJob = 1;
  private closed = false;

  constructor(private readonly size: number) {}

  /** Starts hashing one body on the least busy worker. */
  begin(extra: readonly ExtraDigest[]): HashJob {
    if (this.closed) throw new Error('hash pool closed');
    const worker = this.pick();
    const job = this.nextJob++;
    const state: Job = {};
    worker.jobs.set(job, state);
    worker.thread.postMessage({ type: 'begin', job, extra: [...extra] } satisfies HashRequest);
    return new HashJob(worker, job, state);
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.splice(0).map((worker) => worker.thread.terminate()));
  }

  private pick(): PoolWorker {
    if (this.workers.length < this.size) {
      const idle = this.workers.find((worker) => worker.jobs.size === 0);
      if (idle) return idle;
      const worker: PoolWorker = new PoolWorker(() => {
        const index = this.workers.indexOf(worker);
        if (index >= 0) this.workers.splice(index, 1);
      });
      this.workers.push(worker);
      return worker;
    }
    return this.workers.reduce((best, worker) => (worker.jobs.size < best.jobs.size ? worker : best));
  }
}

/** One body's digests, being computed on a worker. */
export class HashJob {
  private finished = false;
  /** The slot being filled; posted when full, so a batch that straddles slots costs no extra message. */
  private slot = -1;
  private filled = 0;

  constructor(
    private readonly worker: PoolWorker,
    private readonly job: number,
    private readonly state: Job,
  ) {}

  /** Copies a batch into the worker's arena (the caller's buffers are still being written); not reentrant. */
  async update(buffers: readonly Buffer[]): Promise<void> {
    const arena = this.worker.bytes;
    for (const buffer of buffers) {
      for (let offset = 0; offset < buffer.length; ) {
        if (this.slot < 0) {
          const slot = await this.worker.acquireSlot();
          if (this.worker.failed) throw this.worker.failed;
          if (this.finished) {
            this.worker.releaseSlot(slot);
            return;
          }
          this.slot = slot;
        }
        const take = Math.min(buffer.length - offset, SLOT_BYTES - this.filled);
        arena.set(buffer.subarray(offset, offset + take), this.slot * SLOT_BYTES + this.filled);
        this.filled += take;
        offset += take;
        if (this.filled === SLOT_BYTES) this.post();
      }
    }
  }

  digests(): Promise<Digests> {
    const failure = this.worker.failed;
    if (failure) return Promise.reject(failure);
    if (this.slot >= 0) this.post();
    this.finished = true;
    return new Promise((resolve, reject) => {
      this.state.done = { resolve, reject };
      this.worker.thread.postMessage({ type: 'finish', job: this.job } satisfies HashRequest);
    });
  }

  /** Forgets the job (the body failed); safe to call more than once. */
  abandon(): void {
    if (this.slot >= 0) {
      this.worker.releaseSlot(this.slot);
      this.slot = -1;
      this.filled = 0;
    }
    if (this.finished || !this.worker.jobs.has(this.job)) return;
    this.finished = true;
    this.worker.jobs.delete(this.job);
    if (!this.worker.failed) this.worker.thread.postMessage({ type: 'drop', job: this.job } satisfies HashRequest);
  }

  private post(): void {
    this.worker.thread.postMessage({ type: 'update', job: this.job, slot: this.slot, length: this.filled } satisfies HashRequest);
    this.slot = -1;
    this.filled = 0;
  }
}

/**
 * Hashes a body batch by batch: inline while it is small (a message round trip
 * costs more than hashing a few KiB), on a worker once the first batch shows it
 * is large.
 */
export class BatchHasher {
  private inline?: DigestSet;
  private offloaded?: HashJob;

  constructor(
    private readonly pool: HashPool | undefined,
    private readonly extra: readonly ExtraDigest[],
    private readonly offloadFrom: number,
  ) {}

  add(buffers: readonly Buffer[], bytes: number): Promise<void> | undefined {
    if (!this.inline && !this.offloaded) {
      if (this.pool && bytes >= this.offloadFrom) this.offloaded = this.pool.begin(this.extra);
      else this.inline = new DigestSet(this.extra);
    }
    if (this.offloaded) return this.offloaded.update(buffers);
    for (const buffer of buffers) this.inline!.update(buffer);
    return undefined;
  }

  async digests(): Promise<Digests> {
    if (this.offloaded) return this.offloaded.digests();
    return (this.inline ?? new DigestSet(this.extra)).digests();
  }

  abandon(): void {
    this.offloaded?.abandon();
  }
}
