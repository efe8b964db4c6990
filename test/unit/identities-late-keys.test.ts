/**
 * A key made on one node is usable on another at once, before the other hears of it (core/identities.ts
 * `learn`, core/users.ts `find`): two Identities over one store stand for two nodes, neither started,
 * so no notification and no timed reload ever reaches them. A lookup of a key the store does not hold
 * never reloads, a flood of them makes only a few lookups at once, and a stored key that a reload
 * cannot make usable (a disabled user) is not reloaded for again at once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Identities, KEY_LOOKUPS_AT_ONCE } from '../../src/core/identities.js';
import type { Metadata } from '../../src/core/metadata/types.js';
import { SecretBox } from '../../src/core/secret-box.js';
import type { User } from '../../src/core/users.js';
import { onEachBackend } from '../helpers/metadata.js';

const ROOT: User = { id: 'root', displayName: 'root', accessKey: 'ROOTKEY', secretKey: 'root-secret', root: true };

/** The store, counting full reloads (each reads every user) and lookups of one key. */
function counting(meta: Metadata): { meta: Metadata; reloads: () => number; lookups: () => number } {
  let reloads = 0;
  let lookups = 0;
  const counted = new Proxy(meta, {
    get(target, name) {
      const value = Reflect.get(target, name) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (name === 'listUsers') reloads++;
        if (name === 'getAccessKey') lookups++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { meta: counted, reloads: () => reloads, lookups: () => lookups };
}

function scenario(name: string, open: () => Promise<{ meta: Metadata; cleanup: () => Promise<void> }>): void {
  describe(`keys made on another node: ${name}`, () => {
    let store: { meta: Metadata; cleanup: () => Promise<void> };
    let nodeA: Identities;
    let nodeB: Identities;
    let reloadsOnB: () => number;
    let lookupsOnB: () => number;

    before(async () => {
      store = await open();
      const box = new SecretBox(randomBytes(32));
      nodeA = await Identities.open(store.meta, box, [ROOT]);
      const watched = counting(store.meta);
      reloadsOnB = watched.reloads;
      lookupsOnB = watched.lookups;
      nodeB = await Identities.open(watched.meta, box, [ROOT]);
    });
    after(async () => {
      await nodeA?.close();
      await nodeB?.close();
      await store?.cleanup();
    });

    it('a key made on A is found on B at its first use, with its secret and its user', async () => {
      await nodeA.createUser({ id: 'erin' });
      const key = await nodeA.createKey('erin');
      assert.equal(nodeB.directory.byKey(key.accessKeyId), undefined, 'B has not heard of the key: nothing told it');
      const found = await nodeB.directory.find(key.accessKeyId);
      assert.equal(found?.id, 'erin');
      assert.equal(found?.secretKey, key.secretAccessKey);
      assert.equal(nodeB.directory.byKey(key.accessKeyId)?.id, 'erin', 'learned once, kept');
    });

    it('an unknown key costs a lookup, never a reload', async () => {
      const [reloads, lookups] = [reloadsOnB(), lookupsOnB()];
      for (let i = 0; i < 5; i++) assert.equal(await nodeB.directory.find(`TKNOSUCHKEY${i}`), undefined);
      assert.equal(await nodeB.directory.find(''), undefined);
      assert.equal(reloadsOnB(), reloads);
      assert.equal(lookupsOnB(), lookups + 5, 'one each; none for the empty id');
    });

    it(`a flood of made-up keys: at most ${KEY_LOOKUPS_AT_ONCE} looked up at once, the rest refused unlooked-up`, async () => {
      const lookups = lookupsOnB();
      const found = await Promise.all(Array.from({ length: 40 }, (_, i) => nodeB.directory.find(`TKFLOOD${i}`)));
      assert.deepEqual(new Set(found), new Set([undefined]));
      assert.equal(lookupsOnB(), lookups + KEY_LOOKUPS_AT_ONCE);
      // Once they are answered, the next unknown key is looked up again.
      await nodeB.directory.find('TKAFTERFLOOD');
      assert.equal(lookupsOnB(), lookups + KEY_LOOKUPS_AT_ONCE + 1);
    });

    it("a disabled key, or an enabled key of a disabled user, stays refused; the latter reloads once, not at every request", async () => {
      await nodeA.createUser({ id: 'frank' });
      const disabledKey = await nodeA.createKey('frank');
      await nodeA.setKeyEnabled('frank', disabledKey.accessKeyId, false);
      const before = reloadsOnB();
      assert.equal(await nodeB.directory.find(disabledKey.accessKeyId), undefined);
      assert.equal(reloadsOnB(), before, 'a disabled key is not worth a reload');

      const key = await nodeA.createKey('frank');
      await nodeA.setUserEnabled('frank', false);
      for (let i = 0; i < 3; i++) assert.equal(await nodeB.directory.find(key.accessKeyId), undefined);
      assert.equal(reloadsOnB(), before + 1);
    });
  });
}

onEachBackend('tessera-late-keys-', scenario);
