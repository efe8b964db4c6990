import { Worker } from 'node:worker_threads';
import { DigestSet } from './digests.js';
import { LARGE_BODY_BYTES, type SlotPool } from './slot-pool.js';
import type { Digests, ExtraDigest } from './types.js';

export type HashRequest =
  | { type: 'arena'; index: number; memory: SharedArrayBuffer }
  | { type: 'forget'; index: number }
  | { type: 'begin'; job: number; extra: ExtraDigest[] }
  | { type: 'update'; job: number; slot: number; arena: number; offset: number; length: number }
  | { type: 'finish'; job: number }
  | { type: 'drop'; job: number };

export type HashResponse =
  | { type: 'ack'; slot: number }
  | { type: 'digests'; job: number; digests: Digests };

interface Settle<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
}

/** A job's end: settled with its digests once `finish` has been posted and answered. */
interface JobState {
  done?: Settle<Digests>;
}

class PoolWorker {
  readonly jobs = new Map<number, JobState>();
  /** Slots posted and not yet hashed: each is acknowledged once the worker is done with it. */
  private readonly unacked = new Map<number, Settle<void>>();
  /** The arenas this worker has been sent, by index (the pool lets its top arenas go and grows new ones). */
  private readonly arenasSent: SharedArrayBuffer[] = [];
  private failure?: Error;
  readonly thread: Worker;

  constructor(
    private readonly slots: SlotPool,
    onExit: () => void,
  ) {
    this.thread = new Worker(new URL('./hash-worker.js', import.meta.url));
    this.thread.unref();
    this.thread.on('message', (message: HashResponse) => this.receive(message));
    const fail = (err: Error) => {
      this.failure ??= err;
      for (const job of this.jobs.values()) job.done?.reject(this.failure);
      this.jobs.clear();
      for (const ack of this.unacked.values()) ack.reject(this.failure);
      this.unacked.clear();
      onExit();
    };
    this.thread.on('error', fail);
    this.thread.on('exit', (code) => fail(new Error(`hash worker exited (${code})`)));
  }

  get failed(): Error | undefined {
    return this.failure;
  }

  /** Slots posted to the thread and not yet hashed. */
  get queued(): number {
    return this.unacked.size;
  }

  /** The pool let arena `index` go: the thread drops its reference, so the memory can be freed. */
  forget(index: number): void {
    if (this.arenasSent[index] === undefined || this.failure) return;
    this.arenasSent.length = index;
    this.post({ type: 'forget', index });
  }

  post(request: HashRequest): void {
    this.thread.postMessage(request);
  }

  /** Posts one slot of a job; resolves when the worker has hashed it (the slot may then be reused). */
  hash(job: number, slot: number, length: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const { arena, offset } = this.slots.locate(slot);
    const memory = this.slots.arenas[arena]!.memory;
    if (this.arenasSent[arena] !== memory) {
      this.arenasSent[arena] = memory;
      this.post({ type: 'arena', index: arena, memory });
    }
    return new Promise<void>((resolve, reject) => {
      this.unacked.set(slot, { resolve, reject });
      this.post({ type: 'update', job, slot, arena, offset, length });
    });
  }

  private receive(message: HashResponse): void {
    if (message.type === 'ack') {
      const ack = this.unacked.get(message.slot);
      this.unacked.delete(message.slot);
      ack?.resolve();
      return;
    }
    const job = this.jobs.get(message.job);
    if (!job) return;
    this.jobs.delete(message.job);
    job.done?.resolve(reviveDigests(message.digests));
  }
}

/** What a hash pool is doing now (read-only numbers, for metrics). */
export interface HashPoolStats {
  /** The most worker threads the pool starts. */
  size: number;
  /** Worker threads running. */
  threads: number;
  /** Threads with at least one body to hash. */
  busy: number;
  /** Bodies being hashed on the threads. */
  jobs: number;
  /** Slots posted to the threads and not yet hashed: the pool's queue. */
  queued: number;
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
 * Worker threads that hash large bodies while they are written: MD5 and the
 * SHA-256 and CRCs a client asks to be verified run beside the event loop, reading
 * the same shared slots the bytes are written from (no copy, no transfer).
 */
export class HashPool {
  private readonly workers: PoolWorker[] = [];
  private nextJob = 1;
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly slots: SlotPool,
  ) {
    slots.onShrink.push((index) => {
      for (const worker of this.workers) worker.forget(index);
    });
  }

  /** Starts hashing one body on the least busy worker. */
  begin(extra: readonly ExtraDigest[]): HashJob {
    if (this.closed) throw new Error('hash pool closed');
    const worker = this.pick();
    const job = this.nextJob++;
    const state: JobState = {};
    worker.jobs.set(job, state);
    worker.post({ type: 'begin', job, extra: [...extra] });
    return new HashJob(worker, job, state);
  }

  /** Worker threads running (they start on demand, up to the pool's size). */
  get threads(): number {
    return this.workers.length;
  }

  stats(): HashPoolStats {
    let busy = 0;
    let jobs = 0;
    let queued = 0;
    for (const worker of this.workers) {
      if (worker.jobs.size > 0) busy++;
      jobs += worker.jobs.size;
      queued += worker.queued;
    }
    return { size: this.size, threads: this.workers.length, busy, jobs, queued };
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.splice(0).map((worker) => worker.thread.terminate()));
  }

  private pick(): PoolWorker {
    if (this.workers.length < this.size) {
      const idle = this.workers.find((worker) => worker.jobs.size === 0);
      if (idle) return idle;
      const worker: PoolWorker = new PoolWorker(this.slots, () => {
        const index = this.workers.indexOf(worker);
        if (index >= 0) this.workers.splice(index, 1);
      });
      this.workers.push(worker);
      return worker;
    }
    return this.workers.reduce((best, worker) => (worker.jobs.size < best.jobs.size ? worker : best));
  }
}

/** One body's digests, being computed on a worker from slots posted in order. */
export class HashJob {
  private finished = false;

  constructor(
    private readonly worker: PoolWorker,
    private readonly job: number,
    private readonly state: JobState,
  ) {}

  update(slot: number, length: number): Promise<void> {
    return this.worker.hash(this.job, slot, length);
  }

  digests(): Promise<Digests> {
    const failure = this.worker.failed;
    if (failure) return Promise.reject(failure);
    this.finished = true;
    return new Promise((resolve, reject) => {
      this.state.done = { resolve, reject };
      this.worker.post({ type: 'finish', job: this.job });
    });
  }

  /** Forgets the job (the body failed); slots already posted are still acknowledged. Safe to call twice. */
  abandon(): void {
    if (this.finished || !this.worker.jobs.has(this.job)) return;
    this.finished = true;
    this.worker.jobs.delete(this.job);
    if (!this.worker.failed) this.worker.post({ type: 'drop', job: this.job });
  }
}

/**
 * Hashes a body slot by slot: on a worker when its first slot holds a large body's
 * worth (LARGE_BODY_BYTES), otherwise inline.
 */
export class BodyHasher {
  private inline?: DigestSet;
  private offloaded?: HashJob;

  constructor(
    private readonly pool: HashPool | undefined,
    private readonly slots: SlotPool,
    private readonly extra: readonly ExtraDigest[],
  ) {}

  /** Hashes `length` bytes of `slot`; the slot must stay untouched until the returned promise settles. */
  hash(slot: number, length: number): Promise<void> | undefined {
    if (!this.inline && !this.offloaded) {
      if (this.pool && length >= LARGE_BODY_BYTES) this.offloaded = this.pool.begin(this.extra);
      else this.inline = new DigestSet(this.extra);
    }
    if (this.offloaded) return this.offloaded.update(slot, length);
    this.inline!.update(this.slots.view(slot, length));
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
