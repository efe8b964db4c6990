/**
 * Prefix/delimiter paging shared by object and upload listings. Rows come from
 * an index in UTF-8 byte order (which is code-point order); each common prefix
 * costs one seek past it instead of a scan of everything below it.
 */

const BATCH = 1000;
/** Rows read after a seek past a common prefix: most such seeks land in the next prefix at once. */
const AFTER_PREFIX_BATCH = 16;

/**
 * How many rows the next read of a listing asks for. A seek past a common prefix reads only a
 * few: where every key falls into a prefix, a full batch per prefix would read a thousand rows to
 * use one. A batch used up without meeting a prefix makes the next one four times larger, back to
 * the full batch.
 */
export class ListingBatch {
  private size: number;

  constructor(delimited: boolean) {
    this.size = delimited ? AFTER_PREFIX_BATCH : BATCH;
  }

  /** The rows to ask for when `wanted` more entries (plus one, to know whether the page is truncated) would fill the page. */
  next(wanted: number): number {
    return Math.min(this.size, wanted);
  }

  /** The last read ended in a seek past a common prefix. */
  reseeked(): void {
    this.size = AFTER_PREFIX_BATCH;
  }

  /** The last read was used whole. */
  used(): void {
    this.size = Math.min(BATCH, this.size * 4);
  }
}

export interface PrefixListing<T> {
  prefix: string;
  delimiter?: string;
  /** Exclusive marker: only keys after it. */
  after?: string;
  /** Items plus common prefixes on the page. */
  max: number;
  keyOf: (item: T) => string;
  /** Rows with `after < key` and `lower <= key < upper` (no upper bound when undefined), in key order. */
  fetch: (after: string, lower: string, upper: string | undefined, limit: number) => Promise<T[]>;
}

export interface PrefixPage<T> {
  items: T[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix on the page. */
  nextMarker?: string;
  lastWasCommonPrefix: boolean;
}

/**
 * Where a metadata backend's listing query starts: after the cursor's key, or from the lower bound
 * when that is past it (a seek beyond a common prefix). One bound per statement: SQLite seeks the
 * index on only one of `key > ? AND key >= ?`, and PostgreSQL starts at a row comparison
 * `(key, upload_id) > (…)` and only filters on `key >= lower`; either way a seek past a prefix
 * read the keys before the bound first (on PostgreSQL, a delimiter page at 100,000 uploads cost
 * 3× one at 10,000).
 */
export function startsFromLower(after: string, lower: string): boolean {
  return lower > after;
}

/** The smallest string greater than every string that starts with `prefix`; undefined if none. */
export function prefixUpperBound(prefix: string): string | undefined {
  const codePoints = [...prefix];
  while (codePoints.length > 0) {
    const last = codePoints.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      const next = last === 0xd7ff ? 0xe000 : last + 1;
      return codePoints.join('') + String.fromCodePoint(next);
    }
  }
  return undefined;
}

export async function listByPrefix<T>(listing: PrefixListing<T>): Promise<PrefixPage<T>> {
  const { prefix, delimiter, max, keyOf } = listing;
  const upper = prefixUpperBound(prefix);
  const page: PrefixPage<T> = { items: [], commonPrefixes: [], isTruncated: false, lastWasCommonPrefix: false };

  let after = listing.after ?? '';
  let lower = prefix;
  // A marker inside a common prefix means that prefix was already returned.
  let skipPrefix = delimiter && listing.after ? commonPrefixOf(listing.after, prefix, delimiter) : undefined;
  if (skipPrefix !== undefined) {
    const past = prefixUpperBound(skipPrefix);
    if (past === undefined) return page;
    if (past > lower) lower = past;
  }

  const batch = new ListingBatch(delimiter !== undefined);
  for (;;) {
    const limit = batch.next(max + 1 - page.items.length - page.commonPrefixes.length);
    const rows = await listing.fetch(after, lower, upper, limit);
    if (rows.length === 0) return page;
    let reseek = false;
    for (const row of rows) {
      const key = keyOf(row);
      after = key;
      const common = delimiter ? commonPrefixOf(key, prefix, delimiter) : undefined;
      if (common !== undefined && common === skipPrefix) continue;
      if (page.items.length + page.commonPrefixes.length >= max) {
        page.isTruncated = true;
        return page;
      }
      if (common !== undefined) {
        page.commonPrefixes.push(common);
        page.nextMarker = common;
        page.lastWasCommonPrefix = true;
        skipPrefix = common;
        const past = prefixUpperBound(common);
        if (past === undefined) return page;
        lower = past;
        reseek = true;
        break;
      }
      page.items.push(row);
      page.nextMarker = key;
      page.lastWasCommonPrefix = false;
    }
    if (reseek) batch.reseeked();
    else if (rows.length < limit) return page;
    else batch.used();
  }
}

export function commonPrefixOf(key: string, prefix: string, delimiter: string): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const index = key.indexOf(delimiter, prefix.length);
  return index < 0 ? undefined : key.slice(0, index + delimiter.length);
}
