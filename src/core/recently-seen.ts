/**
 * Values this node read a few seconds ago, per key: for answers that may be that old. A caller
 * says why staleness is harmless where it uses one; an entry past its time is read again.
 */
export class RecentlySeen<T> {
  private readonly seen = new Map<string, { value: T; until: number }>();

  constructor(
    private readonly ttlMs = 5000,
    private readonly maxEntries = 10_000,
  ) {}

  /** The value remembered for `key` within the last ttlMs; undefined when there is none. */
  get(key: string, now = Date.now()): { value: T } | undefined {
    const entry = this.seen.get(key);
    if (!entry) return undefined;
    if (entry.until > now) return { value: entry.value };
    this.seen.delete(key);
    return undefined;
  }

  set(key: string, value: T, now = Date.now()): void {
    if (this.seen.size >= this.maxEntries) this.seen.clear();
    this.seen.set(key, { value, until: now + this.ttlMs });
  }

  /** Reads through: the remembered value, or `read`'s (then remembered). */
  async through(key: string, read: () => Promise<T>, now = Date.now()): Promise<T> {
    const hit = this.get(key, now);
    if (hit) return hit.value;
    const value = await read();
    this.set(key, value, now);
    return value;
  }

  forget(key: string): void {
    this.seen.delete(key);
  }
}
