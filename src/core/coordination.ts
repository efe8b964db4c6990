import { Lease, newNodeId } from './leases.js';
import type { Metadata } from './metadata/types.js';

const NODE_PREFIX = 'node:';
const JOB_PREFIX = 'job:';

/**
 * How the nodes of a cluster judge each other alive, and how soon a gone node's temp files go.
 * Operations (and tests) may shorten them: `TESSERA_NODE_LEASE_MS`, `TESSERA_GONE_NODE_GRACE_MS`,
 * `TESSERA_TEMP_SWEEP_INTERVAL_MS` (src/server/config.ts).
 */
export interface ClusterTimings {
  /** A node counts as alive this long after its last renewal; it renews every third of that. */
  nodeLeaseMs: number;
  /** A node whose lease ran out this long ago is gone: its temp files are removed. */
  goneNodeGraceMs: number;
  /** How often each node looks for the temp files of gone nodes. */
  tempSweepIntervalMs: number;
}

export const DEFAULT_CLUSTER_TIMINGS: Readonly<ClusterTimings> = {
  nodeLeaseMs: 30_000,
  goneNodeGraceMs: 2 * 60_000,
  tempSweepIntervalMs: 60_000,
};

/**
 * What the nodes sharing one metadata store agree on, through leases in that store: which nodes
 * are alive (each renews a lease named after itself) and which one runs a background job now (a
 * lease per job). With the embedded store there is one node, and the same calls always succeed.
 */
export class Coordination {
  readonly nodeId = newNodeId();
  private timer?: NodeJS.Timeout;
  /** Since when every renewal of this node's lease has succeeded (undefined after one failed). */
  private renewingSince?: number;
  /** The jobs this node runs now: a lease is its holder's, so the node itself must not start a job twice. */
  private readonly running = new Set<string>();

  constructor(
    private readonly meta: Metadata,
    /** How long a node counts as alive after its last renewal; it renews every third of that. */
    readonly leaseMs = DEFAULT_CLUSTER_TIMINGS.nodeLeaseMs,
  ) {}

  /** Announces this node and keeps renewing; the first renewal is awaited (it fails if the store is unreachable). */
  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => void this.renew().catch(() => {}), this.leaseMs / 3);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.meta.releaseLease(`${NODE_PREFIX}${this.nodeId}`, this.nodeId).catch(() => {});
  }

  private async renew(): Promise<boolean> {
    const now = new Date();
    try {
      const held = await this.meta.acquireLease(`${NODE_PREFIX}${this.nodeId}`, this.nodeId, new Date(now.getTime() + this.leaseMs), now);
      this.renewingSince ??= now.getTime();
      return held;
    } catch (err) {
      this.renewingSince = undefined;
      throw err;
    }
  }

  /**
   * Whether this node has renewed its lease without a break for a whole lease period: only then
   * does another node's lease that ran out mean that node is gone. Right after the store was
   * unreachable every node's lease has run out, and the live ones renew within a third of a period.
   */
  renewedForAWholeLease(now = Date.now()): boolean {
    return this.renewingSince !== undefined && now - this.renewingSince >= this.leaseMs;
  }

  /** Every node that announced itself, with the time its lease runs out (past for a node that stopped renewing). */
  async nodes(): Promise<Map<string, Date>> {
    const leases = await this.meta.listLeases(NODE_PREFIX);
    return new Map(leases.map((lease) => [lease.name.slice(NODE_PREFIX.length), lease.until]));
  }

  /** Forgets a dead node's lease (after its leftovers were cleaned up). */
  async forgetNode(nodeId: string): Promise<void> {
    await this.meta.releaseLease(`${NODE_PREFIX}${nodeId}`, nodeId);
  }

  /**
   * Runs `job` here unless another node runs it now: true when it ran. The lease is renewed while
   * the job runs and outlives a crashed runner by `ttlMs` at most. A run still going here when the
   * next is due is left to finish: taking the lease again would succeed (this node holds it), and
   * the first run's release would then free it while the second still runs.
   */
  async runAlone(name: string, ttlMs: number, job: () => Promise<void>): Promise<boolean> {
    if (this.running.has(name)) return false;
    this.running.add(name);
    try {
      const lease = await Lease.take(this.meta, `${JOB_PREFIX}${name}`, this.nodeId, ttlMs);
      if (!lease) return false;
      try {
        await job();
      } finally {
        await lease.release().catch(() => {});
      }
      return true;
    } finally {
      this.running.delete(name);
    }
  }
}
