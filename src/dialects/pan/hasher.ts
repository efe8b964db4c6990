import { createHash, type Hash } from 'node:crypto';
import type { Readable } from 'node:stream';

/** What the hasher needs from the engine: a stored part's etag, and its bytes. */
export interface PartSource {
  etagOf(partNumber: number): Promise<string | undefined>;
  open(partNumber: number): Promise<Readable>;
}

/** A running MD5 and SHA-1 of slices 1..next-1, in order, with the etag each slice had when hashed. */
export class RunningHash {
  next = 1;
  size = 0;
  md5: Hash = createHash('md5');
  sha1: Hash = createHash('sha1');
  etags: string[] = [];
  /** A slice is being fed in (on the wire or from disk). */
  busy = false;
  pumping?: Promise<void>;
  again = false;

  /** Whether slices 1..count are hashed and still the parts stored now. */
  covers(count: number, etags: string[]): boolean {
    return !this.busy && this.next === count + 1 && etags.length === count && etags.every((etag, i) => this.etags[i] === etag);
  }

  digests(): { md5: string; sha1: string } {
    return { md5: this.md5.copy().digest('hex'), sha1: this.sha1.copy().digest('hex') };
  }
}

/** The hash of one slice on its way in: a fork of the running hash, kept only if the slice is stored. */
export interface Fork {
  /** The running hash forked: a reset meanwhile leaves it behind, and the new one untouched. */
  state: RunningHash;
  sliceNo: number;
  md5: Hash;
  sha1: Hash;
  size: number;
  update(chunk: Buffer): void;
}

/**
 * Hashes each upload's slices in order, as they arrive: a slice that comes when it is the next
 * one is hashed on its way to disk (its bytes are read once); slices that came early are read
 * back from disk as soon as the gap before them fills. So when the last slice is in, the
 * whole-file MD5 is (nearly always) known already, and completion needs no second pass.
 * State is in memory: lost on restart, rebuilt from the stored parts when needed.
 */
export class HashTracker {
  private readonly states = new Map<string, RunningHash>();

  state(id: string): RunningHash {
    let state = this.states.get(id);
    if (!state) {
      state = new RunningHash();
      this.states.set(id, state);
    }
    return state;
  }

  forget(id: string): void {
    this.states.delete(id);
  }

  /** A fork for slice `sliceNo` if it is the next one and nothing else is being hashed. */
  fork(id: string, sliceNo: number): Fork | undefined {
    const state = this.state(id);
    if (state.busy || state.next !== sliceNo) return undefined;
    state.busy = true;
    const md5 = state.md5.copy();
    const sha1 = state.sha1.copy();
    const fork: Fork = {
      state,
      sliceNo,
      md5,
      sha1,
      size: 0,
      update(chunk) {
        md5.update(chunk);
        sha1.update(chunk);
        fork.size += chunk.length;
      },
    };
    return fork;
  }

  /** The forked slice is stored with `etag`: it becomes part of the running hash. */
  commit(fork: Fork, etag: string): void {
    const { state } = fork;
    state.md5 = fork.md5;
    state.sha1 = fork.sha1;
    state.size += fork.size;
    state.etags[fork.sliceNo - 1] = etag;
    state.next = fork.sliceNo + 1;
    state.busy = false;
  }

  drop(fork: Fork): void {
    fork.state.busy = false;
  }

  /** Starts over (a hashed slice was replaced, or the hash has to be checked from scratch). */
  reset(id: string): RunningHash {
    const fresh = new RunningHash();
    this.states.set(id, fresh);
    return fresh;
  }

  /**
   * Reads stored parts from `next` on, in order, while they exist. One pump per upload: a call
   * while one runs asks it to look again when it finishes, and returns the running pump.
   */
  pump(id: string, parts: PartSource): Promise<void> {
    const state = this.state(id);
    if (state.pumping) {
      state.again = true;
      return state.pumping;
    }
    state.pumping = (async () => {
      do {
        state.again = false;
        while (!state.busy) {
          const next = state.next;
          const etag = await parts.etagOf(next);
          if (etag === undefined) break;
          // A slice arriving in order may have been hashed meanwhile: look again.
          if (state.busy || state.next !== next) continue;
          state.busy = true;
          const md5 = state.md5.copy();
          const sha1 = state.sha1.copy();
          let size = 0;
          try {
            for await (const chunk of (await parts.open(state.next)) as AsyncIterable<Buffer>) {
              md5.update(chunk);
              sha1.update(chunk);
              size += chunk.length;
            }
          } catch {
            // The part went away (replaced, aborted): leave the hash where it was.
            state.busy = false;
            return;
          }
          state.md5 = md5;
          state.sha1 = sha1;
          state.size += size;
          state.etags[state.next - 1] = etag;
          state.next++;
          state.busy = false;
        }
      } while (state.again);
    })().finally(() => {
      state.pumping = undefined;
    });
    return state.pumping;
  }
}
