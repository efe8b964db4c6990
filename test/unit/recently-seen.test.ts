import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RecentlySeen } from '../../src/core/recently-seen.js';

describe('RecentlySeen', () => {
  it('answers from memory until the TTL passes, then reads again; forget drops an entry at once', async () => {
    const recent = new RecentlySeen<string | undefined>(1000);
    let reads = 0;
    const read = async () => {
      reads++;
      return reads === 1 ? undefined : `read ${reads}`;
    };
    // An undefined value is remembered too (a bucket without rules is not read on every request).
    assert.equal(await recent.through('b', read, 0), undefined);
    assert.equal(await recent.through('b', read, 999), undefined);
    assert.equal(reads, 1);
    assert.equal(await recent.through('b', read, 1000), 'read 2');
    assert.equal(reads, 2);
    recent.forget('b');
    assert.equal(recent.get('b', 1001), undefined);
    assert.equal(await recent.through('b', read, 1001), 'read 3');
  });

  it('holds at most maxEntries, starting over when full', () => {
    const recent = new RecentlySeen<number>(1000, 2);
    recent.set('a', 1, 0);
    recent.set('b', 2, 0);
    recent.set('c', 3, 0);
    assert.equal(recent.get('a', 1), undefined);
    assert.deepEqual(recent.get('c', 1), { value: 3 });
  });
});
