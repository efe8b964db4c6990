import type { BlobStore } from './blob-store.js';
import type { ClusterTimings, Coordination } from './coordination.js';
import { abortOf } from './lifecycle.js';
import type { LifecycleWorker } from './lifecycle-worker.js';
import type { Metadata } from './metadata/types.js';

/**
 * With nodes sharing the store, a blob file nothing refers to may be one another node has just
 * written and is about to commit: only files older than this are orphans.
 */
const ORPHAN_GRACE_MS = 60 * 60 * 1000;

/**
 * The engine's background work: applying buckets' lifecycle rules, aborting stale uploads, deleting orphan blob files, and (when
 * nodes share the store) removing the temp files of nodes that are gone. Each job runs on one
 * node at a time; each is safe to run twice, since what it deletes is decided in a transaction.
 */
export class Maintenance {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly stopping = new AbortController();

  constructor(
    private readonly meta: Metadata,
    private readonly blobs: BlobStore,
    private readonly coordination: Coordination,
    private readonly shared: boolean,
    private readonly uploadExpiryMs: number,
    private readonly timings: Pick<ClusterTimings, 'goneNodeGraceMs' | 'tempSweepIntervalMs'>,
    readonly lifecycle: LifecycleWorker,
  ) {}

  /** Runs each job now and then every `intervalMs` (temp files of gone nodes: every `tempSweepIntervalMs`). */
  start(intervalMs: number): void {
    this.every(intervalMs, () => this.coordination.runAlone('stale-uploads', 10 * 60 * 1000, async () => void (await this.sweepStaleUploads())));
    this.every(intervalMs, () => this.coordination.runAlone('lifecycle', 10 * 60 * 1000, async () => void (await this.lifecycle.run())));
    if (this.shared) {
      this.every(intervalMs, () =>
        this.coordination.runAlone('orphan-blobs', ORPHAN_GRACE_MS, async () => {
          await this.sweepOrphans(new Date(Date.now() - ORPHAN_GRACE_MS));
        }),
      );
      this.every(this.timings.tempSweepIntervalMs, () => this.sweepTempOfGoneNodes());
    }
  }

  stop(): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    this.stopping.abort();
  }

  /** Aborted by stop(): a long job (the scrub) stops at its next step. */
  get signal(): AbortSignal {
    return this.stopping.signal;
  }

  /** Runs `work` now and every `ms` until stop(). */
  every(ms: number, work: () => Promise<unknown>): void {
    void work().catch(() => {});
    const timer = setInterval(() => void work().catch(() => {}), ms);
    timer.unref();
    this.timers.push(timer);
  }

  /**
   * Aborts uploads older than the expiry and forgets old completion records. The expiry is the
   * server-wide default: an upload in progress that a bucket's AbortIncompleteMultipartUpload rule
   * covers is the rule's to abort (the lifecycle worker's), sooner or later than the default.
   */
  async sweepStaleUploads(now = new Date()): Promise<number> {
    const cutoff = new Date(now.getTime() - this.uploadExpiryMs);
    const stale = await this.meta.staleUploadIds(cutoff, cutoff);
    const rules = stale.length > 0 ? await this.lifecycle.bucketRules() : new Map();
    let swept = 0;
    for (const uploadId of stale) {
      const released = await this.meta.transaction(async (tx) => {
        // Looked at again in the deleting transaction: a Complete (on any node) may have committed
        // since the list was read, and its object's bytes are this upload's parts. An upload that
        // was open then and is completed now is not stale; one still open, or completed before the
        // cutoff (then unreferenced, which it stays), is.
        const upload = await tx.getUpload(uploadId);
        if (!upload || (upload.completed && upload.completed.at.getTime() >= cutoff.getTime())) return undefined;
        const bucketRules = rules.get(upload.bucket);
        if (!upload.completed && bucketRules && abortOf(bucketRules, upload.key, upload.initiated, this.lifecycle.clock)) return undefined;
        return tx.unreferenced(await tx.deleteUpload(uploadId));
      });
      if (released === undefined) continue;
      await this.blobs.remove(released);
      swept++;
    }
    return swept;
  }

  /** Deletes blob files older than `olderThan` that nothing refers to. */
  async sweepOrphans(olderThan: Date): Promise<number> {
    const referenced = await this.meta.allBlobIds();
    return this.blobs.sweepOrphans(async (id) => referenced.has(id) || (await this.meta.isBlobReferenced(id)), olderThan);
  }

  /** Removes the temp files of nodes whose lease ran out `goneNodeGraceMs` ago (or that stopped), then forgets them. */
  async sweepTempOfGoneNodes(now = new Date()): Promise<string[]> {
    // After an outage of the store, the others' leases ran out too: wait until they could renew.
    if (!this.coordination.renewedForAWholeLease(now.getTime())) return [];
    const cutoff = now.getTime() - this.timings.goneNodeGraceMs;
    // The leases are read once the temp directories are listed, never before: a node announces
    // itself before it makes its directory, so every directory listed has its lease in what is read
    // after. Read before, a node starting in between would have a directory and no lease yet, and
    // lose its directory while it serves (every body it then receives fails).
    let nodes: Map<string, Date> | undefined;
    const gone = async (id: string) => {
      nodes ??= await this.coordination.nodes();
      const until = nodes.get(id);
      return until === undefined || until.getTime() < cutoff;
    };
    const removed = await this.blobs.sweepTempOfGoneNodes(gone);
    for (const [id, until] of nodes ?? (await this.coordination.nodes())) {
      if (until.getTime() < cutoff) await this.coordination.forgetNode(id);
    }
    return removed;
  }
}
