/**
 * The master key and sealed secrets (src/core/secret-box.ts): AES-256-GCM with the key's id in
 * the sealed text, the key from TESSERA_MASTER_KEY or a 0600 `master.key` made once per data
 * directory (the same for every node starting on it at once).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMasterKey, MASTER_KEY_FILE, parseMasterKey, SecretBox } from '../../src/core/secret-box.js';

async function withDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-master-key-'));
  try {
    await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('sealed secrets', () => {
  const box = new SecretBox(randomBytes(32));

  it('seals to text that neither holds the secret nor repeats, and opens to it again', () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const sealed = box.seal(secret, 'TKEXAMPLE');
    assert.match(sealed, new RegExp(`^v1\\.${box.keyId}\\.[A-Za-z0-9_-]+$`));
    assert.ok(!sealed.includes(secret) && !sealed.includes(Buffer.from(secret).toString('base64')));
    assert.notEqual(box.seal(secret, 'TKEXAMPLE'), sealed, 'a fresh nonce every time');
    assert.equal(box.open(sealed, 'TKEXAMPLE'), secret);
  });

  it('refuses a sealed secret that was altered, moved to another key id, or opened under another master key', () => {
    const sealed = box.seal('the secret', 'TKONE');
    const [format, keyId, payload] = sealed.split('.') as [string, string, string];
    const bytes = Buffer.from(payload, 'base64url');
    for (const index of [0, 12, bytes.length - 1]) {
      const altered = Buffer.from(bytes);
      altered[index]! ^= 1;
      assert.throws(() => box.open(`${format}.${keyId}.${altered.toString('base64url')}`, 'TKONE'), /integrity/, `byte ${index}`);
    }
    assert.throws(() => box.open(sealed, 'TKTWO'), /integrity/, 'bound to what it is the secret of');
    assert.throws(() => new SecretBox(randomBytes(32)).open(sealed, 'TKONE'), /sealed under master key/);
    assert.throws(() => box.open('plain text', 'TKONE'), /not a sealed secret/);
    assert.throws(() => box.open(`v1.${keyId}.AAAA`, 'TKONE'), /too short/);
  });
});

describe('the master key', () => {
  const key = randomBytes(32);

  it('TESSERA_MASTER_KEY: 64 hex digits or base64 of 32 bytes; anything else refused with what is expected', async () => {
    assert.deepEqual(parseMasterKey(key.toString('hex')), key);
    assert.deepEqual(parseMasterKey(key.toString('base64')), key);
    assert.deepEqual(parseMasterKey(key.toString('base64url')), key);
    for (const bad of ['', 'short', key.subarray(0, 16).toString('hex'), key.toString('hex') + '00', randomBytes(33).toString('base64'), 'z'.repeat(64)]) {
      assert.throws(() => parseMasterKey(bad), /TESSERA_MASTER_KEY must be 32 bytes/, JSON.stringify(bad));
    }
    await withDir(async (dir) => {
      const fromEnv = await loadMasterKey(dir, { TESSERA_MASTER_KEY: key.toString('base64') });
      assert.equal(fromEnv.keyId, new SecretBox(key).keyId);
      await assert.rejects(stat(join(dir, MASTER_KEY_FILE)), { code: 'ENOENT' }, 'no file when the environment gives the key');
      await assert.rejects(loadMasterKey(dir, { TESSERA_MASTER_KEY: 'not a key' }), /TESSERA_MASTER_KEY must be 32 bytes/);
    });
  });

  it('without it: master.key is made once, mode 0600, and read back on the next start', async () => {
    await withDir(async (dir) => {
      const first = await loadMasterKey(dir, {});
      const file = join(dir, MASTER_KEY_FILE);
      assert.equal((await stat(file)).mode & 0o777, 0o600);
      assert.match(await readFile(file, 'utf8'), /^[0-9a-f]{64}\n$/);
      const again = await loadMasterKey(dir, {});
      assert.equal(again.keyId, first.keyId);
      assert.equal(again.open(first.seal('s', 'c'), 'c'), 's');
    });
  });

  it('nodes starting at once on one directory agree on one key', async () => {
    await withDir(async (dir) => {
      const boxes = await Promise.all(Array.from({ length: 8 }, () => loadMasterKey(dir, {})));
      assert.equal(new Set(boxes.map((one) => one.keyId)).size, 1);
    });
  });

  it('refuses a master.key others can read, and one that holds no key', async () => {
    await withDir(async (dir) => {
      await loadMasterKey(dir, {});
      const file = join(dir, MASTER_KEY_FILE);
      await chmod(file, 0o644);
      await assert.rejects(loadMasterKey(dir, {}), /readable by others \(mode 644\): run chmod 600/);
      await chmod(file, 0o640);
      await assert.rejects(loadMasterKey(dir, {}), /readable by others/);
      await writeFile(file, 'garbage\n', { mode: 0o600 });
      await chmod(file, 0o600);
      await assert.rejects(loadMasterKey(dir, {}), /does not hold a master key/);
    });
  });
});
