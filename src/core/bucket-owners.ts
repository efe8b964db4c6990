/**
 * Bucket owners recently seen by this node, for the checks a write makes before it reads a body
 * (a PUT must not stream gigabytes into a bucket that does not exist). Those checks are advisory:
 * the write itself checks the bucket and its owner again in the statement that stores the object,
 * so a stale entry (the bucket deleted, or deleted and created again, on another node) costs at
 * most a body read before the same error. Only a passing check is taken from here; one that would
 * fail asks the database, so a stale entry never refuses anybody. In cluster mode this saves a
 * PostgreSQL round trip per small PUT.
 */
export class BucketOwners {
  private readonly seen = new Map<string, { owner: string; until: number }>();

  constructor(
    private readonly ttlMs = 5000,
    private readonly maxEntries = 10_000,
  ) {}

  /** The owner seen for `bucket` within the last ttlMs, if any. */
  recent(bucket: string, now = Date.now()): string | undefined {
    const entry = this.seen.get(bucket);
    if (!entry) return undefined;
    if (entry.until > now) return entry.owner;
    this.seen.delete(bucket);
    return undefined;
  }

  remember(bucket: string, owner: string, now = Date.now()): void {
    if (this.seen.size >= this.maxEntries) this.seen.clear();
    this.seen.set(bucket, { owner, until: now + this.ttlMs });
  }

  forget(bucket: string): void {
    this.seen.delete(bucket);
  }
}
