import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/server/config.js';

describe('config: directIo and hashThreads', () => {
  let dir: string | undefined;
  after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

  async function withFile(content: Record<string, unknown>): Promise<string> {
    dir ??= await mkdtemp(join(tmpdir(), 'tessera-config-'));
    const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
    await writeFile(path, JSON.stringify(content));
    return path;
  }

  it('is on by default', async () => {
    assert.equal((await loadConfig({}, {})).directIo, true);
  });

  it('is set by the config file, and by TESSERA_DIRECT_IO over the file (as every environment variable)', async () => {
    assert.equal((await loadConfig({ config: await withFile({ directIo: false }) }, {})).directIo, false);
    assert.equal((await loadConfig({}, { TESSERA_DIRECT_IO: '0' })).directIo, false);
    assert.equal((await loadConfig({}, { TESSERA_DIRECT_IO: 'false' })).directIo, false);
    assert.equal((await loadConfig({}, { TESSERA_DIRECT_IO: '1' })).directIo, true);
    assert.equal((await loadConfig({ config: await withFile({ directIo: false }) }, { TESSERA_DIRECT_IO: '1' })).directIo, true);
  });

  it('hashThreads: the environment wins over the file', async () => {
    assert.equal((await loadConfig({ config: await withFile({ hashThreads: 3 }) }, {})).hashThreads, 3);
    assert.equal((await loadConfig({ config: await withFile({ hashThreads: 3 }) }, { TESSERA_HASH_THREADS: '0' })).hashThreads, 0);
  });

  it('refuses anything but a boolean, naming the setting', async () => {
    await assert.rejects(loadConfig({ config: await withFile({ directIo: 'yes' }) }, {}), /directIo must be true or false/);
    await assert.rejects(loadConfig({}, { TESSERA_DIRECT_IO: 'sometimes' }), /directIo must be true or false/);
  });
});
