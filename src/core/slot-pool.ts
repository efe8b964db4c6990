/**
 * Each full slot costs a message to a hash worker and back and a write through the
 * thread pool, so fewer, larger slots cost less CPU; memory is a body's slots times
 * the bodies being received (see SLOTS_IN_FLIGHT_PER_BODY in blob-store.ts).
 */
export const SLOT_BYTES = 2 << 20;
/**
 * A body of at least this many bytes is large: hashed on a worker (a message round trip
 * costs more than hashing a few KiB inline) and written with O_DIRECT where allowed.
 */
export const LARGE_BODY_BYTES = 1 << 20;
/** Slots an arena (one SharedArrayBuffer) holds: the pool grows by this many. */
export const SLOTS_PER_ARENA = 8;
/** Enough room to move the first slot to any alignment a block device asks for. */
const ALIGNMENT_ROOM = 4096;

export interface Arena {
  memory: SharedArrayBuffer;
  /** Byte offset of the arena's first slot in `memory`. */
  base: number;
}

/** Finds the offset in `memory` (below ALIGNMENT_ROOM) where direct I/O may start. */
export type AlignArena = (memory: Buffer) => Promise<number>;

/**
 * Fixed 2 MiB slots of shared memory that bodies are staged through: a body's bytes
 * are copied once into a slot, which is then written to its file and hashed (by a
 * worker thread, which reads the same memory) before the slot is reused. Slots are
 * reused last-freed first, so the memory touched stays as small as the work in flight.
 *
 * The pool grows an arena at a time when every slot is busy (so a slow client holding
 * a slot never starves the others) and never shrinks. When the blob store writes with
 * O_DIRECT, each arena's slots start at an offset the device accepts for direct I/O:
 * JavaScript cannot see an address, so `align` finds it by trying.
 */
export class SlotPool {
  readonly arenas: Arena[] = [];
  private readonly views: Buffer[] = [];
  private readonly free: number[] = [];
  private growing?: Promise<void>;

  constructor(private readonly align?: AlignArena) {}

  /** A free slot's number; adds an arena when none is free. */
  async acquire(): Promise<number> {
    while (this.free.length === 0) {
      this.growing ??= this.grow().finally(() => (this.growing = undefined));
      await this.growing;
    }
    return this.free.pop()!;
  }

  release(slot: number): void {
    this.free.push(slot);
  }

  /** Memory the pool holds (it never shrinks). */
  get bytes(): number {
    return this.arenas.length * SLOTS_PER_ARENA * SLOT_BYTES;
  }

  /** The slot's memory (all SLOT_BYTES of it, or the first `length`). */
  view(slot: number, length = SLOT_BYTES): Buffer {
    const whole = this.views[slot]!;
    return length === SLOT_BYTES ? whole : whole.subarray(0, length);
  }

  /** Where a slot lives: its arena's number and its byte offset in that arena's memory. */
  locate(slot: number): { arena: number; offset: number } {
    const arena = Math.floor(slot / SLOTS_PER_ARENA);
    return { arena, offset: this.arenas[arena]!.base + (slot % SLOTS_PER_ARENA) * SLOT_BYTES };
  }

  private async grow(): Promise<void> {
    const memory = new SharedArrayBuffer(SLOTS_PER_ARENA * SLOT_BYTES + (this.align ? ALIGNMENT_ROOM : 0));
    const base = this.align ? await this.align(Buffer.from(memory)) : 0;
    const first = this.arenas.length * SLOTS_PER_ARENA;
    this.arenas.push({ memory, base });
    for (let i = 0; i < SLOTS_PER_ARENA; i++) this.views.push(Buffer.from(memory, base + i * SLOT_BYTES, SLOT_BYTES));
    // Pushed in reverse so that pop() hands out the arena's slots in order.
    for (let i = SLOTS_PER_ARENA - 1; i >= 0; i--) this.free.push(first + i);
  }
}
