import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BlobStore } from '../../src/core/blob-store.js';
import { Coordination } from '../../src/core/coordination.js';
import type { LifecycleWorker } from '../../src/core/lifecycle-worker.js';
import { Maintenance } from '../../src/core/maintenance.js';
import type { Metadata } from '../../src/core/metadata/types.js';
import { tempSqliteMetadata } from '../helpers/metadata.js';

// Found by the chaos soak (issue #18) in cluster mode: a node restarted while another node swept
// the temp directories of gone nodes lost its own temp directory right after its start, and then
// answered 500 to every body it received. The sweeper had read the node leases before listing
// tmp/: the new node announced itself and made its directory in between, so its directory was
// listed with no lease for it in what had been read.

describe('the sweep of gone nodes\' temp directories', () => {
  let meta: Metadata;
  let cleanup: () => Promise<void>;
  let dataDir: string;
  before(async () => {
    ({ meta, cleanup } = await tempSqliteMetadata('tessera-temp-sweep-'));
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-temp-sweep-data-'));
  });
  after(async () => {
    await cleanup();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('leaves alone a node that announces itself and makes its directory while the sweep runs; removes a dead node\'s', async () => {
    const starting = new Coordination(meta);
    let startingDir: string | undefined;
    /** The sweeping node's coordination: when the sweep reads the leases, the other node starts (after the read). */
    class Sweeper extends Coordination {
      override async nodes(): Promise<Map<string, Date>> {
        const read = await super.nodes();
        if (!startingDir) {
          // Announced, then its directory made: what Storage.open does.
          await starting.start();
          await BlobStore.open(dataDir, { hashThreads: 0, nodeId: starting.nodeId });
          startingDir = join(dataDir, 'tmp', starting.nodeId);
        }
        return read;
      }
    }
    const sweeper = new Sweeper(meta, 1000);
    await sweeper.start();
    const blobs = await BlobStore.open(dataDir, { hashThreads: 0, nodeId: sweeper.nodeId });
    // A node that died: a directory, no lease.
    const dead = join(dataDir, 'tmp', 'vm-1-dead');
    await mkdir(join(dead, 'sub'), { recursive: true });
    const maintenance = new Maintenance(meta, blobs, sweeper, true, 3600_000, { goneNodeGraceMs: 1000, tempSweepIntervalMs: 250 }, undefined as unknown as LifecycleWorker);
    try {
      // As if the sweeper had renewed its lease for a whole period.
      const removed = await maintenance.sweepTempOfGoneNodes(new Date(Date.now() + 1500));
      assert.deepEqual(removed, ['vm-1-dead']);
      assert.ok(!existsSync(dead), 'the dead node\'s directory went');
      assert.ok(startingDir && existsSync(startingDir), 'the node that started during the sweep keeps its directory');
      assert.ok(existsSync(join(dataDir, 'tmp', sweeper.nodeId)), 'the sweeper keeps its own');
    } finally {
      await sweeper.stop();
      await starting.stop();
    }
  });
});
