/**
 * The users and access_keys tables (migration 8) and the managed policies' (migration 12) on both
 * metadata backends: what the admin API's engine modules (src/core/identities.ts,
 * src/core/user-policies.ts) rely on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { onEachBackend } from '../helpers/metadata.js';
import type { Metadata, StoredAccessKey } from '../../src/core/metadata/types.js';

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000);
const key = (accessKeyId: string, userId: string, created: number): StoredAccessKey => ({
  accessKeyId,
  sealedSecret: `v1.sealed.${accessKeyId}`,
  userId,
  enabled: true,
  created: at(created),
});

function scenario(name: string, open: () => Promise<{ meta: Metadata; cleanup: () => Promise<void> }>): void {
  describe(`users and access keys: ${name}`, () => {
    let meta: Metadata;
    let cleanup: () => Promise<void>;
    before(async () => ({ meta, cleanup } = await open()));
    after(async () => cleanup?.());

    it('inserts, refuses a taken id, lists in creation order, enables and disables, removes a user with their keys', async () => {
      assert.equal(await meta.insertUser({ id: 'bob', displayName: 'Bob', enabled: true, admin: false, created: at(2) }), true);
      assert.equal(await meta.insertUser({ id: 'alice', displayName: 'Alice', enabled: true, admin: true, created: at(1) }), true);
      assert.equal(await meta.insertUser({ id: 'alice', displayName: 'Other', enabled: true, admin: false, created: at(3) }), false);
      assert.deepEqual(await meta.listUsers(), [
        { id: 'alice', displayName: 'Alice', enabled: true, admin: true, created: at(1) },
        { id: 'bob', displayName: 'Bob', enabled: true, admin: false, created: at(2) },
      ]);
      assert.equal(await meta.insertAccessKey(key('TKALICE1', 'alice', 5)), true);
      assert.equal(await meta.insertAccessKey(key('TKALICE2', 'alice', 6)), true);
      assert.equal(await meta.insertAccessKey(key('TKBOB1', 'bob', 4)), true);
      assert.equal(await meta.insertAccessKey(key('TKNOONE', 'nobody', 7)), false, 'no key for a user who does not exist');
      assert.equal(await meta.insertAccessKey(key('TKALICE1', 'bob', 8)), false, 'a taken key id');
      assert.deepEqual((await meta.listAccessKeys()).map((one) => [one.accessKeyId, one.userId]), [
        ['TKBOB1', 'bob'],
        ['TKALICE1', 'alice'],
        ['TKALICE2', 'alice'],
      ]);

      assert.equal(await meta.setAccessKeyEnabled('alice', 'TKALICE1', false), true);
      assert.equal(await meta.setAccessKeyEnabled('bob', 'TKALICE2', false), false, "another user's key is not theirs to change");
      assert.equal(await meta.setUserEnabled('bob', false), true);
      assert.equal(await meta.setUserEnabled('nobody', false), false);
      assert.deepEqual((await meta.listAccessKeys()).map((one) => [one.accessKeyId, one.enabled]), [
        ['TKBOB1', true],
        ['TKALICE1', false],
        ['TKALICE2', true],
      ]);
      assert.equal((await meta.listUsers()).find((user) => user.id === 'bob')?.enabled, false);
      assert.deepEqual(await meta.getAccessKey('TKALICE1'), { ...key('TKALICE1', 'alice', 5), enabled: false });
      assert.equal(await meta.getAccessKey('TKNOONE'), undefined);

      assert.equal(await meta.deleteAccessKey('bob', 'TKALICE2'), false);
      assert.equal(await meta.deleteAccessKey('alice', 'TKALICE2'), true);
      assert.equal(await meta.deleteUser('alice'), true);
      assert.equal(await meta.deleteUser('alice'), false);
      assert.deepEqual((await meta.listUsers()).map((user) => user.id), ['bob']);
      assert.deepEqual((await meta.listAccessKeys()).map((one) => one.accessKeyId), ['TKBOB1'], "alice's keys went with her");
    });

    it('managed policies (migration 12): put and replace, attach (again: no change), refuse deleting an attached one, detach; a removed user loses their attachments', async () => {
      assert.equal(await meta.insertUser({ id: 'carl', displayName: 'Carl', enabled: true, admin: false, created: at(10) }), true);
      await meta.putPolicy({ name: 'read', document: '{"v":1}', created: at(11), updated: at(11) });
      await meta.putPolicy({ name: 'write', document: '{"w":1}', created: at(12), updated: at(12) });
      await meta.putPolicy({ name: 'read', document: '{"v":2}', created: at(13), updated: at(13) });
      assert.deepEqual(await meta.listPolicies(), [
        { name: 'read', document: '{"v":2}', created: at(11), updated: at(13) },
        { name: 'write', document: '{"w":1}', created: at(12), updated: at(12) },
      ]);

      assert.equal(await meta.attachPolicy({ userId: 'carl', policyName: 'read', created: at(14) }), true);
      assert.equal(await meta.attachPolicy({ userId: 'carl', policyName: 'read', created: at(15) }), true, 'attached again: no change');
      // A config-file user is not in the users table: attached by id.
      assert.equal(await meta.attachPolicy({ userId: 'fixed', policyName: 'read', created: at(16) }), true);
      assert.equal(await meta.attachPolicy({ userId: 'carl', policyName: 'nothing', created: at(17) }), false, 'no such policy');
      assert.deepEqual(await meta.listPolicyAttachments(), [
        { userId: 'carl', policyName: 'read', created: at(14) },
        { userId: 'fixed', policyName: 'read', created: at(16) },
      ]);

      assert.equal(await meta.deletePolicy('read'), 'attached');
      assert.equal(await meta.deletePolicy('nothing'), 'missing');
      assert.equal(await meta.deletePolicy('write'), 'deleted');
      assert.equal(await meta.detachPolicy('fixed', 'read'), true);
      assert.equal(await meta.detachPolicy('fixed', 'read'), false);
      assert.equal(await meta.deletePolicy('read'), 'attached', 'still attached to carl');
      assert.equal(await meta.deleteUser('carl'), true);
      assert.deepEqual(await meta.listPolicyAttachments(), [], "carl's attachment went with him");
      assert.equal(await meta.deletePolicy('read'), 'deleted');
      assert.deepEqual(await meta.listPolicies(), []);
    });
  });
}

onEachBackend('tessera-identities-', scenario);
