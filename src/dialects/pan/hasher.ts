import { createMD5, createSHA1, type IHasher } from 'hash-wasm';
import { Lease } from '../../core/leases.js';
import type { HashState, Metadata } from '../../core/metadata/types.js';

/** A stored slice: its ETag and its bytes, read from one and the same part. */
export interface StoredSlice {
  etag: string;
  body: AsyncIterable<Buffer>;
}

/** What the hasher needs from the engine: the slices stored so far. */
export interface SliceSource {
  /** The ETag of stored slice `sliceNo`; undefined when it is not stored. */
  etagOf(sliceNo: number): Promise<string | undefined>;
  /** Stored slice `sliceNo`; undefined when it is not stored. */
  open(sliceNo: number): Promise<StoredSlice | undefined>;
}

/** The whole-file digests of slices that cover the upload. */
export interface Hashed {
  md5: string;
  sha1: string;
  size: number;
  etags: string[];
}

/**
 * A running hash loaded from its saved state (hash-wasm's MD5 and SHA-1 can save and resume
 * theirs; node:crypto's cannot), fed one more slice, then saved as the state after it.
 */
class Running {
  private constructor(
    /** The `next` of the stored state this started from (undefined: none was stored). */
    readonly from: number | undefined,
    readonly next: number,
    private size: number,
    private readonly etags: string[],
    private readonly md5: IHasher,
    private readonly sha1: IHasher,
  ) {}

  static async load(state: HashState | undefined): Promise<Running> {
    const [md5, sha1] = await Promise.all([createMD5(), createSHA1()]);
    if (state) {
      md5.load(state.md5);
      sha1.load(state.sha1);
      return new Running(state.next, state.next, state.size, state.etags.slice(0, state.next - 1), md5, sha1);
    }
    md5.init();
    sha1.init();
    return new Running(undefined, 1, 0, [], md5, sha1);
  }

  update(chunk: Buffer): void {
    this.md5.update(chunk);
    this.sha1.update(chunk);
    this.size += chunk.length;
  }

  /** The state once slice `next` (with `etag`) has been fed in. */
  advance(etag: string): HashState {
    return { next: this.next + 1, size: this.size, md5: this.md5.save(), sha1: this.sha1.save(), etags: [...this.etags, etag] };
  }

  digests(): Hashed {
    return { md5: this.md5.digest('hex'), sha1: this.sha1.digest('hex'), size: this.size, etags: this.etags };
  }
}

/** The hash of one slice on its way in, from the stored state that expects it next. */
export interface Fork {
  readonly sliceNo: number;
  update(chunk: Buffer): void;
  /** The slice is stored with `etag`: saves the state after it, unless another writer moved the state meanwhile. */
  commit(etag: string): Promise<boolean>;
}

/** How a catch-up from disk ended. */
export type PumpResult = 'idle' | 'busy';

/** Whether `state` holds exactly the slices whose stored ETags are `etags`, in order. */
function covers(state: HashState | undefined, etags: string[]): state is HashState {
  return state !== undefined && state.next === etags.length + 1 && state.etags.length === etags.length && etags.every((etag, i) => state.etags[i] === etag);
}

/** Whether every slice `state` hashed is still the slice stored now. */
function consistent(state: HashState, etags: string[]): boolean {
  return state.etags.every((etag, i) => etags[i] === etag);
}

/**
 * The running whole-file MD5 and SHA-1 of each upload session, kept in the metadata store (the
 * store is the truth, so any node of a cluster carries on where another stopped, and a restart
 * loses nothing):
 *
 * - A slice that arrives when it is the next one (per the stored state) is hashed on its way to
 *   disk, its bytes read once; once its part is stored, the state after it is saved with a
 *   compare-and-set on `next`. Of two nodes racing, one wins; the other catches up from disk.
 * - Slices that came early are read back from disk ("pumped") by whichever node stores the slice
 *   that fills the gap, or by the completion. One node pumps an upload at a time (a lease).
 * - Every hashed slice's ETag is saved with the state: a slice replaced by other bytes after it
 *   was hashed no longer matches, and the hash starts over from slice 1. The completion takes the
 *   hash only when the saved ETags are exactly those of the stored slices.
 */
export class SharedHasher {
  /** This node's pumps, by session: a call while one runs asks it to look again, and joins it. */
  private readonly pumps = new Map<string, { again: boolean; done: Promise<PumpResult> }>();
  private closed = false;

  constructor(
    private readonly store: Metadata,
    private readonly node: string,
    private readonly leaseMs: number,
  ) {}

  /** A fork for slice `sliceNo` when the stored state expects it next; undefined otherwise. */
  async fork(id: string, sliceNo: number): Promise<Fork | undefined> {
    const state = await this.store.getHashState(id);
    if ((state?.next ?? 1) !== sliceNo) return undefined;
    const running = await Running.load(state);
    return {
      sliceNo,
      update: (chunk) => running.update(chunk),
      commit: (etag) => this.store.saveHashState(id, running.from, running.advance(etag)),
    };
  }

  /** Slice `sliceNo` was stored again: when the state hashed other bytes for it, it starts over. */
  async checkReplaced(id: string, sliceNo: number, slices: SliceSource): Promise<void> {
    const state = await this.store.getHashState(id);
    if (!state || sliceNo >= state.next) return;
    const stored = await slices.etagOf(sliceNo);
    if (stored !== undefined && stored !== state.etags[sliceNo - 1]) await this.store.deleteHashState(id);
  }

  /** The upload is done (or failed): its state goes. */
  forget(id: string): Promise<void> {
    return this.store.deleteHashState(id);
  }

  /**
   * Brings the hash up to the stored slices `etags` (1..n): starts over if a hashed slice was
   * replaced, reads what is missing from disk. The digests when they cover exactly those
   * slices; 'busy' when another node is reading them now; undefined when they changed meanwhile.
   */
  async catchUp(id: string, slices: SliceSource, etags: string[]): Promise<Hashed | 'busy' | undefined> {
    let state = await this.store.getHashState(id);
    if (state && !consistent(state, etags)) {
      await this.store.deleteHashState(id);
      state = undefined;
    }
    if (!covers(state, etags)) {
      if ((await this.pump(id, slices)) === 'busy') return 'busy';
      state = await this.store.getHashState(id);
      if (!covers(state, etags)) return undefined;
    }
    return (await Running.load(state)).digests();
  }

  /**
   * Reads stored slices from the state's `next` on, in order, while they are there, saving the
   * state after each. 'busy' when another node holds the upload's hashing lease (it looks again
   * for new slices before it lets go, so none is left behind).
   */
  pump(id: string, slices: SliceSource): Promise<PumpResult> {
    const running = this.pumps.get(id);
    if (running) {
      running.again = true;
      return running.done;
    }
    const entry = { again: false, done: Promise.resolve<PumpResult>('idle') };
    // Leaves the map in the same step as it decides to stop: a caller coming later starts anew,
    // one coming before has asked this pump to look again.
    const end = (result: PumpResult) => {
      this.pumps.delete(id);
      return result;
    };
    entry.done = (async (): Promise<PumpResult> => {
      try {
        do {
          entry.again = false;
          const lease = await Lease.take(this.store, `pan-hash:${id}`, this.node, this.leaseMs);
          if (!lease) return end('busy');
          let atGap = false;
          try {
            atGap = await this.readForward(id, slices, lease);
          } finally {
            await lease.release();
          }
          // A slice stored while the lease was held found it taken and left the reading to this
          // node: look once more now that it is released.
          if (atGap && !entry.again) entry.again = await this.nextIsStored(id, slices);
        } while (entry.again && !this.closed);
        return end('idle');
      } catch (err) {
        end('idle');
        throw err;
      }
    })();
    this.pumps.set(id, entry);
    return entry.done;
  }

  /** Stops reading slices (the server is closing); a pump in progress stops after its current slice. */
  close(): void {
    this.closed = true;
  }

  /** Pumps slices while they are there; true when it stopped at one that is not stored yet. */
  private async readForward(id: string, slices: SliceSource, lease: Lease): Promise<boolean> {
    let failures = 0;
    while (!this.closed && !lease.lost) {
      const state = await this.store.getHashState(id);
      const next = state?.next ?? 1;
      const slice = await slices.open(next);
      if (!slice) return true;
      const running = await Running.load(state);
      try {
        for await (const chunk of slice.body) running.update(chunk);
      } catch (err) {
        // The part was replaced (its blob removed) before it could be read: look again. Not
        // readable three times over, the slice is lost.
        if (++failures < 3) continue;
        throw new Error(`slice ${next} could not be read back (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
      }
      // False when another node moved the state meanwhile: the next round starts from where it is.
      await this.store.saveHashState(id, running.from, running.advance(slice.etag));
    }
    return false;
  }

  private async nextIsStored(id: string, slices: SliceSource): Promise<boolean> {
    const state = await this.store.getHashState(id);
    return (await slices.etagOf(state?.next ?? 1)) !== undefined;
  }
}
