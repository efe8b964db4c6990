/**
 * Each full slot costs a message to a hash worker and back and a write through the
 * thread pool, so fewer, larger slots cost less CPU; memory is a body's slots times
 * the bodies being received (see SLOTS_IN_FLIGHT_PER_BODY in blob-store.ts), up to the budget.
 */
export const SLOT_BYTES = 2 << 20;
/**
 * A body of at least this many bytes is large: hashed on a worker (a message round trip
 * costs more than hashing a few KiB inline) and written with O_DIRECT where allowed.
 */
export const LARGE_BODY_BYTES = 1 << 20;
/** Slots an arena (one SharedArrayBuffer) holds: the pool grows and shrinks by this many. */
export const SLOTS_PER_ARENA = 8;
/** Enough room to move the first slot to any alignment a block device asks for. */
const ALIGNMENT_ROOM = 4096;
/** The default staging budget: 32 MiB, 16 slots (8 bodies filling one slot while writing another); at 256 parts of 16 MiB in flight 64 MiB put the server at 284 MB of RSS. */
export const DEFAULT_STAGING_BUDGET_BYTES = 32 << 20;
/** A slot its holder has not added to for this long is asked back while others wait (default). */
export const DEFAULT_RECLAIM_AFTER_MS = 1_000;
/** The top arena is let go once all its slots have been free for this long (default). */
export const DEFAULT_SHRINK_AFTER_MS = 10_000;

export interface Arena {
  memory: SharedArrayBuffer;
  /** Byte offset of the arena's first slot in `memory`. */
  base: number;
}

/** Finds the offset in `memory` (below ALIGNMENT_ROOM) where direct I/O may start. */
export type AlignArena = (memory: Buffer) => Promise<number>;

export interface SlotPoolOptions {
  /** Finds where direct I/O may start in an arena (set when the blob store writes with O_DIRECT). */
  align?: AlignArena;
  /** The most memory the slots may hold, in bytes: at least one arena (16 MiB); default 32 MiB. */
  budgetBytes?: number;
  /** While a body waits for a slot, a slot its filler has not added to for this long is asked back. */
  reclaimAfterMs?: number;
  /** An arena all of whose slots have been free this long is let go. */
  shrinkAfterMs?: number;
}

/**
 * A slot being filled, as its filler holds it: `touch()` each time bytes go in. When the pool wants
 * the slot back (others wait and this one has not been added to for a while), `wasAsked` is set and
 * `onAsked` called if the filler set it (while it waits for bytes); the filler then writes out what
 * it holds and releases the slot.
 */
export class SlotLease {
  touchedAt = Date.now();
  wasAsked = false;
  /** Set by the filler while it waits for its body's next bytes; cleared when they come. */
  onAsked?: () => void;

  touch(): void {
    this.touchedAt = Date.now();
  }

  /** The pool's side: asks the slot back. */
  request(): void {
    if (this.wasAsked) return;
    this.wasAsked = true;
    this.onAsked?.();
  }
}

/**
 * Fixed 2 MiB slots of shared memory that bodies are staged through: a body's bytes
 * are copied once into a slot, which is then written to its file and hashed (by a
 * worker thread, which reads the same memory) before the slot is reused. The lowest free
 * slot is handed out first, so the memory touched stays as small as the work in flight and the
 * top arenas go free when the load drops; an arena free for `shrinkAfterMs` is let go (all but the first).
 *
 * The pool grows an arena at a time up to its budget. Past it, `acquire` waits (first come, first
 * served) until a slot is released: the body waiting reads nothing more, so its socket fills and TCP
 * holds its client back; no byte is copied elsewhere. So that slow clients cannot hold every slot,
 * each slot being filled has a lease: while bodies wait, a slot not added to for
 * `reclaimAfterMs` is asked back, and its filler writes out what it has and lets it go.
 *
 * When the blob store writes with O_DIRECT, each arena's slots start at an offset the device
 * accepts for direct I/O: JavaScript cannot see an address, so `align` finds it by trying.
 */
export class SlotPool {
  readonly arenas: Arena[] = [];
  private readonly views: Buffer[] = [];
  /** Whether each slot is free, by number. */
  private readonly freeSlots: boolean[] = [];
  private freeCount = 0;
  private readonly waiters: Array<(slot: number) => void> = [];
  /** Told the index of each arena let go (the hash workers drop their reference to its memory). */
  readonly onShrink: Array<(arena: number) => void> = [];
  private readonly leases = new Set<SlotLease>();
  private readonly maxArenas: number;
  private readonly reclaimAfterMs: number;
  private readonly shrinkAfterMs: number;
  private growing?: Promise<void>;
  private timer?: NodeJS.Timeout;
  /** When the top arena last had a slot in use. */
  private topBusyAt = Date.now();
  private peak = 0;
  private waitedCount = 0;
  private reclaimedCount = 0;

  constructor(options: SlotPoolOptions = {}) {
    this.align = options.align;
    this.maxArenas = Math.max(1, Math.floor((options.budgetBytes ?? DEFAULT_STAGING_BUDGET_BYTES) / (SLOTS_PER_ARENA * SLOT_BYTES)));
    this.reclaimAfterMs = options.reclaimAfterMs ?? DEFAULT_RECLAIM_AFTER_MS;
    this.shrinkAfterMs = options.shrinkAfterMs ?? DEFAULT_SHRINK_AFTER_MS;
  }

  private readonly align?: AlignArena;

  /** The lowest free slot's number; adds an arena when none is free, waits when the budget is spent. */
  async acquire(): Promise<number> {
    while (this.freeCount === 0 && this.waiters.length === 0 && this.arenas.length < this.maxArenas) {
      this.growing ??= this.grow().finally(() => (this.growing = undefined));
      await this.growing;
    }
    if (this.freeCount > 0 && this.waiters.length === 0) return this.take(this.lowestFree());
    this.waitedCount++;
    const slot = new Promise<number>((resolve) => this.waiters.push(resolve));
    this.schedule(); // after the push: the timer runs while bodies wait
    return slot;
  }

  /** A lease for a slot being filled, so the pool can ask it back (see the class); end it with `unlease`. */
  lease(): SlotLease {
    const lease = new SlotLease();
    this.leases.add(lease);
    return lease;
  }

  unlease(lease: SlotLease): void {
    this.leases.delete(lease);
  }

  release(slot: number): void {
    const waiter = this.waiters.shift();
    if (waiter) {
      waiter(slot); // handed over as it is: still taken
      return;
    }
    this.freeSlots[slot] = true;
    this.freeCount++;
    this.schedule();
  }

  /** Memory the pool holds now. */
  get bytes(): number {
    return this.arenas.length * SLOTS_PER_ARENA * SLOT_BYTES;
  }

  /** The most memory the pool may hold. */
  get budgetBytes(): number {
    return this.maxArenas * SLOTS_PER_ARENA * SLOT_BYTES;
  }

  /** Numbers for metrics: the most memory held since start, bodies that had to wait, slots asked back. */
  stats(): { peakBytes: number; waiting: number; waited: number; reclaimed: number; inUse: number } {
    return {
      peakBytes: this.peak,
      waiting: this.waiters.length,
      waited: this.waitedCount,
      reclaimed: this.reclaimedCount,
      inUse: this.arenas.length * SLOTS_PER_ARENA - this.freeCount,
    };
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

  /** Stops the pool's timer (the store is closing). */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  private take(slot: number): number {
    this.freeSlots[slot] = false;
    this.freeCount--;
    if (slot >= (this.arenas.length - 1) * SLOTS_PER_ARENA) this.topBusyAt = Date.now();
    return slot;
  }

  private lowestFree(): number {
    for (let slot = 0; slot < this.freeSlots.length; slot++) if (this.freeSlots[slot]) return slot;
    throw new Error('no free slot');
  }

  private async grow(): Promise<void> {
    const memory = new SharedArrayBuffer(SLOTS_PER_ARENA * SLOT_BYTES + (this.align ? ALIGNMENT_ROOM : 0));
    const base = this.align ? await this.align(Buffer.from(memory)) : 0;
    const first = this.arenas.length * SLOTS_PER_ARENA;
    this.arenas.push({ memory, base });
    for (let i = 0; i < SLOTS_PER_ARENA; i++) {
      this.views[first + i] = Buffer.from(memory, base + i * SLOT_BYTES, SLOT_BYTES);
      this.freeSlots[first + i] = true;
    }
    this.freeCount += SLOTS_PER_ARENA;
    this.peak = Math.max(this.peak, this.bytes);
    this.topBusyAt = Date.now();
  }

  /** One timer, running only while bodies wait or an arena could be let go. */
  private schedule(): void {
    if (this.timer || (this.waiters.length === 0 && this.arenas.length <= 1)) return;
    const period = Math.max(20, Math.min(250, this.reclaimAfterMs / 4, this.shrinkAfterMs / 4));
    this.timer = setInterval(() => this.tick(), period);
    this.timer.unref();
  }

  private tick(): void {
    const now = Date.now();
    if (this.waiters.length > 0) {
      // Ask back as many idle slots as bodies wait, the longest idle first.
      const idle = [...this.leases].filter((lease) => !lease.wasAsked && now - lease.touchedAt >= this.reclaimAfterMs);
      idle.sort((a, b) => a.touchedAt - b.touchedAt);
      for (const lease of idle.slice(0, this.waiters.length)) {
        this.reclaimedCount++;
        lease.request();
      }
      return;
    }
    this.shrink(now);
    if (this.arenas.length <= 1) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /**
   * Lets the top arena go once every slot of it has been free for shrinkAfterMs. The first stays:
   * 16 MiB kept spares a server with an upload now and then a new arena and its alignment probe each time.
   */
  private shrink(now: number): void {
    if (this.arenas.length <= 1 || this.growing) return;
    const first = (this.arenas.length - 1) * SLOTS_PER_ARENA;
    for (let slot = first; slot < first + SLOTS_PER_ARENA; slot++) {
      if (!this.freeSlots[slot]) {
        this.topBusyAt = now;
        return;
      }
    }
    if (now - this.topBusyAt < this.shrinkAfterMs) return;
    this.arenas.pop();
    for (const listener of this.onShrink) listener(this.arenas.length);
    this.views.length = first;
    this.freeSlots.length = first;
    this.freeCount -= SLOTS_PER_ARENA;
    this.topBusyAt = now;
  }
}
