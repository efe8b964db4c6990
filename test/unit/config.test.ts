import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/server/config.js';

/** Config files written by the tests, in one temp directory removed at the end. */
let dir: string | undefined;
after(() => (dir ? rm(dir, { recursive: true, force: true }) : undefined));

async function withFile(content: Record<string, unknown>): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), 'tessera-config-'));
  const path = join(dir, `${Math.random().toString(36).slice(2)}.json`);
  await writeFile(path, JSON.stringify(content));
  return path;
}

describe('config: directIo and hashThreads', () => {
  it('is off by default', async () => {
    assert.equal((await loadConfig({}, {})).directIo, false);
  });

  it('is set by the config file, and by TESSERA_DIRECT_IO over the file (as every environment variable)', async () => {
    assert.equal((await loadConfig({ config: await withFile({ directIo: true }) }, {})).directIo, true);
    assert.equal((await loadConfig({ config: await withFile({ directIo: false }) }, {})).directIo, false);
    assert.equal((await loadConfig({ config: await withFile({ directIo: true }) }, { TESSERA_DIRECT_IO: '0' })).directIo, false);
    assert.equal((await loadConfig({}, { TESSERA_DIRECT_IO: 'false' })).directIo, false);
    assert.equal((await loadConfig({}, { TESSERA_DIRECT_IO: '1' })).directIo, true);
    assert.equal((await loadConfig({ config: await withFile({ directIo: false }) }, { TESSERA_DIRECT_IO: '1' })).directIo, true);
  });

  it('hashThreads: the environment wins over the file', async () => {
    assert.equal((await loadConfig({ config: await withFile({ hashThreads: 3 }) }, {})).hashThreads, 3);
    assert.equal((await loadConfig({ config: await withFile({ hashThreads: 3 }) }, { TESSERA_HASH_THREADS: '0' })).hashThreads, 0);
  });

  it('stagingMemoryMiB: 32 MiB by default, set by the file or TESSERA_STAGING_MEMORY_MIB, whole arenas of 16 MiB only', async () => {
    assert.equal((await loadConfig({}, {})).stagingBudgetBytes, 32 * 1024 * 1024);
    assert.equal((await loadConfig({ config: await withFile({ stagingMemoryMiB: 32 }) }, {})).stagingBudgetBytes, 32 * 1024 * 1024);
    assert.equal((await loadConfig({ config: await withFile({ stagingMemoryMiB: 32 }) }, { TESSERA_STAGING_MEMORY_MIB: '128' })).stagingBudgetBytes, 128 * 1024 * 1024);
    for (const bad of [0, 8, 24, -16, 1.5, 'lots']) {
      await assert.rejects(loadConfig({ config: await withFile({ stagingMemoryMiB: bad }) }, {}), /stagingMemoryMiB must be/);
    }
    assert.equal((await loadConfig({}, {})).stagingReclaimAfterMs, 1000);
    assert.equal((await loadConfig({}, { TESSERA_STAGING_RECLAIM_MS: '200' })).stagingReclaimAfterMs, 200);
  });

  it('refuses anything but a boolean, naming the setting', async () => {
    await assert.rejects(loadConfig({ config: await withFile({ directIo: 'yes' }) }, {}), /directIo must be true or false/);
    await assert.rejects(loadConfig({}, { TESSERA_DIRECT_IO: 'sometimes' }), /directIo must be true or false/);
  });
});

describe('config: metadata (cluster mode)', () => {
  it('is absent by default: SQLite in the data directory', async () => {
    assert.equal((await loadConfig({}, {})).metadataUrl, undefined);
  });

  it('takes postgres:// and postgresql:// URLs from the flag, the environment and the file, the flag first', async () => {
    const url = 'postgres://tessera:s3cret@db.internal:5432/tessera';
    assert.equal((await loadConfig({ metadata: url }, {})).metadataUrl, url);
    assert.equal((await loadConfig({}, { TESSERA_METADATA: 'postgresql://db/tessera' })).metadataUrl, 'postgresql://db/tessera');
    assert.equal((await loadConfig({ config: await withFile({ metadata: url }) }, {})).metadataUrl, url);
    const file = await withFile({ metadata: 'postgres://file/db' });
    assert.equal((await loadConfig({ config: file }, { TESSERA_METADATA: 'postgres://env/db' })).metadataUrl, 'postgres://env/db');
    assert.equal((await loadConfig({ config: file, metadata: 'postgres://flag/db' }, { TESSERA_METADATA: 'postgres://env/db' })).metadataUrl, 'postgres://flag/db');
  });

  it('refuses anything but a PostgreSQL URL, without repeating the URL (it may hold a password)', async () => {
    const refused: Array<[string, RegExp]> = [
      ['mysql://root:hunter2@db/tessera', /metadata: the scheme "mysql" is not PostgreSQL's; expected postgres:\/\/USER:PASS@HOST:PORT\/DB/],
      ['sqlite:meta.db', /metadata: the scheme "sqlite" is not PostgreSQL's/],
      ['postgres:hunter2@db', /metadata: not a URL; expected postgres:\/\//],
      ['db.internal:5432', /metadata: the scheme "db.internal" is not PostgreSQL's/],
      ['hunter2 and spaces', /metadata: not a URL/],
      ['', /metadata: must be a non-empty string/],
    ];
    for (const [value, message] of refused) {
      const error = await loadConfig({ metadata: value }, {}).then(
        () => assert.fail(`${JSON.stringify(value)} was accepted`),
        (err: Error) => err,
      );
      assert.match(error.message, message, value);
      assert.doesNotMatch(error.message, /hunter2/, 'the password is not repeated');
    }
    await assert.rejects(loadConfig({}, { TESSERA_METADATA: 'redis://cache' }), /metadata: the scheme "redis"/);
    await assert.rejects(loadConfig({ config: await withFile({ metadata: 5432 }) }, {}), /metadata: must be a non-empty string/);
  });
});

describe('config: cluster timings (environment knobs)', () => {
  it('default to a 30 s node lease, a 2 min grace for gone nodes and a 1 min temp sweep', async () => {
    assert.deepEqual((await loadConfig({}, {})).cluster, { nodeLeaseMs: 30_000, goneNodeGraceMs: 120_000, tempSweepIntervalMs: 60_000 });
  });

  it('are set by TESSERA_NODE_LEASE_MS, TESSERA_GONE_NODE_GRACE_MS and TESSERA_TEMP_SWEEP_INTERVAL_MS', async () => {
    const env = { TESSERA_NODE_LEASE_MS: '1500', TESSERA_GONE_NODE_GRACE_MS: '1000', TESSERA_TEMP_SWEEP_INTERVAL_MS: '250' };
    assert.deepEqual((await loadConfig({}, env)).cluster, { nodeLeaseMs: 1500, goneNodeGraceMs: 1000, tempSweepIntervalMs: 250 });
    assert.equal((await loadConfig({}, { TESSERA_NODE_LEASE_MS: '900' })).cluster.goneNodeGraceMs, 120_000, 'each on its own');
  });

  it('refuses anything but whole milliseconds, naming the variable', async () => {
    for (const value of ['0', '-5', '1.5', '2s', '', '99999999999']) {
      await assert.rejects(loadConfig({}, { TESSERA_GONE_NODE_GRACE_MS: value }), /TESSERA_GONE_NODE_GRACE_MS must be a whole number of milliseconds/, value);
    }
  });
});

describe('config: metricsToken', () => {
  it('is unset by default: /-/metrics is open', async () => {
    assert.equal((await loadConfig({}, {})).metricsToken, undefined);
  });

  it('comes from the config file, and from TESSERA_METRICS_TOKEN over the file', async () => {
    assert.equal((await loadConfig({ config: await withFile({ metricsToken: 'from-file' }) }, {})).metricsToken, 'from-file');
    assert.equal((await loadConfig({}, { TESSERA_METRICS_TOKEN: 'from-env' })).metricsToken, 'from-env');
    assert.equal((await loadConfig({ config: await withFile({ metricsToken: 'from-file' }) }, { TESSERA_METRICS_TOKEN: 'from-env' })).metricsToken, 'from-env');
  });

  it('refuses an empty token, spaces or a non-string, without repeating it', async () => {
    for (const bad of ['', 'has space', 'tab\there', 42]) {
      await assert.rejects(loadConfig({ config: await withFile({ metricsToken: bad }) }, {}), (err: Error) => {
        assert.match(err.message, /metricsToken/);
        if (typeof bad === 'string' && bad !== '') assert.ok(!err.message.includes(bad), 'the token is not repeated');
        return true;
      });
    }
    await assert.rejects(loadConfig({}, { TESSERA_METRICS_TOKEN: '' }), /TESSERA_METRICS_TOKEN/);
  });
});

describe('config: the background scrub and GET verification (docs/reliability.md)', () => {
  it('scrubs never and verifies full GETs by default', async () => {
    const config = await loadConfig({}, {});
    assert.deepEqual([config.scrubIntervalMs, config.scrubRateBytesPerSecond, config.verifyGets], [0, 0, true]);
  });

  it('takes scrubIntervalHours, scrubRateMBps and verifyGets from the file', async () => {
    const config = await loadConfig({ config: await withFile({ scrubIntervalHours: 0.5, scrubRateMBps: 20, verifyGets: false }) }, {});
    assert.deepEqual([config.scrubIntervalMs, config.scrubRateBytesPerSecond, config.verifyGets], [30 * 60 * 1000, 20 * 1024 * 1024, false]);
  });

  it('refuses a negative or non-numeric interval or rate, and a non-boolean verifyGets', async () => {
    await assert.rejects(loadConfig({ config: await withFile({ scrubIntervalHours: -1 }) }, {}), /scrubIntervalHours must be a number, 0 or more/);
    await assert.rejects(loadConfig({ config: await withFile({ scrubRateMBps: 'fast' }) }, {}), /scrubRateMBps must be a number, 0 or more/);
    await assert.rejects(loadConfig({ config: await withFile({ verifyGets: 'yes' }) }, {}), /verifyGets must be true or false/);
  });
});
