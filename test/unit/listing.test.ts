import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { commonPrefixOf, listByPrefix } from '../../src/core/listing.js';

/** Keys in byte order, read through a counter: what a listing costs is the rows it reads. */
function source(keys: string[]) {
  const sorted = [...keys].sort();
  const read = { rows: 0, calls: 0 };
  const fetch = async (after: string, lower: string, upper: string | undefined, limit: number) => {
    read.calls++;
    const rows = sorted.filter((key) => key > after && key >= lower && (upper === undefined || key < upper)).slice(0, limit);
    read.rows += rows.length;
    return rows;
  };
  return { sorted, read, fetch };
}

/** The page as the definition says: every key after the marker, rolled into common prefixes, cut at max. */
function expected(sorted: string[], prefix: string, delimiter: string | undefined, after: string, max: number) {
  const entries: Array<{ key?: string; prefix?: string }> = [];
  const seen = new Set<string>();
  for (const key of sorted) {
    if (!key.startsWith(prefix) || key <= after) continue;
    const common = delimiter ? commonPrefixOf(key, prefix, delimiter) : undefined;
    if (common !== undefined) {
      // A marker inside a prefix means that prefix was returned already.
      if (seen.has(common) || after.startsWith(common)) continue;
      seen.add(common);
      entries.push({ prefix: common });
    } else entries.push({ key });
  }
  return { page: entries.slice(0, max), truncated: entries.length > max };
}

describe('listByPrefix', () => {
  // 200 directories of 300 keys each, with loose keys between some of them.
  const keys: string[] = [];
  for (let d = 0; d < 200; d++) {
    for (let k = 0; k < 300; k++) keys.push(`dir${String(d).padStart(3, '0')}/file${String(k).padStart(3, '0')}`);
    if (d % 7 === 0) for (let k = 0; k < 40; k++) keys.push(`dir${String(d).padStart(3, '0')}.loose${String(k).padStart(2, '0')}`);
  }

  it('pages through prefixes and keys as the definition says, from any marker', async () => {
    const { sorted, fetch } = source(keys);
    for (const [delimiter, max] of [['/', 1000], ['/', 7], ['/', 1], [undefined, 500], ['.', 50]] as const) {
      let after = '';
      let pages = 0;
      for (;;) {
        const page = await listByPrefix<string>({ prefix: '', delimiter, after, max, keyOf: (key) => key, fetch });
        const want = expected(sorted, '', delimiter, after, max);
        const got = [...page.items.map((key) => ({ key })), ...page.commonPrefixes.map((prefix) => ({ prefix }))];
        const order = (e: { key?: string; prefix?: string }) => (e.key ?? e.prefix)!;
        assert.deepEqual(got.sort((a, b) => (order(a) < order(b) ? -1 : 1)), want.page, `delimiter ${delimiter}, max ${max}, after ${after}`);
        assert.equal(page.isTruncated, want.truncated);
        if (!page.isTruncated) break;
        after = page.nextMarker!;
        if (++pages > 100_000) throw new Error('does not end');
      }
    }
  });

  it('reads about the page, not a thousand rows per common prefix', async () => {
    const { read, fetch } = source(keys);
    const page = await listByPrefix<string>({ prefix: '', delimiter: '/', max: 1000, keyOf: (key) => key, fetch });
    assert.equal(page.commonPrefixes.length + page.items.length, 1000);
    assert.ok(page.commonPrefixes.length > 100);
    // Over a hundred prefixes: a full batch per prefix would read over 100,000 rows.
    assert.ok(read.rows < 10_000, `${read.rows} rows read in ${read.calls} reads`);
    const flat = source(keys);
    await listByPrefix<string>({ prefix: '', max: 1000, keyOf: (key) => key, fetch: flat.fetch });
    assert.equal(flat.read.rows, 1001);
    assert.ok(flat.read.calls <= 2);
  });
});
