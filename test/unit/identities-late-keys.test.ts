/**
 * A key made on one node is usable on another at once, before the other hears of it (core/identities.ts
 * `learn`, core/users.ts `find`): two Identities over one store stand for two nodes, neither started,
 * so no notification and no timed reload ever reaches them. A lookup of a key the store does not hold
 * never reloads, and a stored key that a reload cannot make usable (a disabled user) is not reloaded
 * for again at once.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Identities } from '../../src/core/identities.js';
import type { Metadata } from '../../src/core/metadata/types.js';
import { SecretBox } from '../../src/core/secret-box.js';
import type { User } from '../../src/core/users.js';
import { onEachBackend } from '../helpers/metadata.js';

const ROOT: User = { id: 'root', displayName: 'root', accessKey: 'ROOTKEY', secretKey: 'root-secret', root: true };

/** The store, counting full reloads (each reads every user). */
function counting(meta: Metadata): { meta: Metadata; reloads: () => number } {
  let reloads = 0;
  const counted = new Proxy(meta, {
    get(target, name) {
      const value = Reflect.get(target, name) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (name === 'listUsers') reloads++;
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { meta: counted, reloads: () => reloads };
}

function scenario(name: string, open: () => Promise<{ meta: Metadata; cleanup: () => Promise<void> }>): void {
  describe(`keys made on another node: ${name}`, () => {
    let store: { meta: Metadata; cleanup: () => Promise<void> };
    let nodeA: Identities;
    let nodeB: Identities;
    let reloadsOnB: () => number;

    before(async () => {
      store = await open();
      const box = new SecretBox(randomBytes(32));
      nodeA = await Identities.open(store.meta, box, [ROOT]);
      const watched = counting(store.meta);
      reloadsOnB = watched.reloads;
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
      const before = reloadsOnB();
      for (let i = 0; i < 5; i++) assert.equal(await nodeB.directory.find(`TKNOSUCHKEY${i}`), undefined);
      assert.equal(await nodeB.directory.find(''), undefined);
      assert.equal(reloadsOnB(), before);
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
