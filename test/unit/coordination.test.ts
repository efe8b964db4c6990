import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Coordination } from '../../src/core/coordination.js';
import type { Metadata } from '../../src/core/metadata/types.js';
import { tempSqliteMetadata } from '../helpers/metadata.js';

describe('Coordination.runAlone', () => {
  let meta: Metadata;
  let cleanup: () => Promise<void>;
  before(async () => ({ meta, cleanup } = await tempSqliteMetadata('tessera-coordination-')));
  after(async () => cleanup());

  const otherNodeTakes = (name: string) => {
    const now = new Date();
    return meta.acquireLease(`job:${name}`, 'other-node', new Date(now.getTime() + 60_000), now);
  };

  it('does not start a job on a node that runs it already, and keeps the lease until the running one ends', async () => {
    const coordination = new Coordination(meta);
    let finish!: () => void;
    const firstRunning = new Promise<void>((resolve) => (finish = resolve));
    let started!: () => void;
    const firstStarted = new Promise<void>((resolve) => (started = resolve));
    let runs = 0;
    const job = async () => {
      runs++;
      started();
      await firstRunning;
    };
    const first = coordination.runAlone('sweep', 60_000, job);
    await firstStarted;
    // Due again while the first run goes on (a sweep slower than its interval).
    assert.equal(await coordination.runAlone('sweep', 60_000, job), false);
    assert.equal(runs, 1, 'the second call did not run the job');
    assert.equal(await otherNodeTakes('sweep'), false, 'another node cannot take the lease while the first run goes on');
    finish();
    assert.equal(await first, true);
    assert.equal(await otherNodeTakes('sweep'), true, 'the lease is free once the run ended');
  });

  it('runs the job again once the previous run ended, even when that run failed', async () => {
    const coordination = new Coordination(meta);
    await assert.rejects(coordination.runAlone('failing', 60_000, async () => Promise.reject(new Error('disk gone'))), /disk gone/);
    let ran = false;
    assert.equal(await coordination.runAlone('failing', 60_000, async () => void (ran = true)), true);
    assert.ok(ran);
  });
});
