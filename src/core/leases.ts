import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { MetadataQueries } from './metadata/types.js';

/**
 * This process's name as a lease holder and its temp directory's name: host, pid and a random
 * part, so it reads well in `listLeases` and a restarted node is a new one.
 */
export function newNodeId(): string {
  return `${hostname().replace(/[^A-Za-z0-9.-]/g, '_')}-${process.pid}-${randomBytes(4).toString('hex')}`;
}

type LeaseStore = Pick<MetadataQueries, 'acquireLease' | 'releaseLease'>;

/**
 * A held lease on a background job (one node of a cluster runs it at a time). It is renewed
 * every third of its time to live while held; a node that dies stops renewing, so the lease
 * expires and another node may take the job over. `lost` turns true when a renewal finds the
 * lease taken (this node stalled past the expiry): the job should then stop at its next step.
 */
export class Lease {
  private timer?: NodeJS.Timeout;
  private renewing?: Promise<boolean>;
  private released = false;
  lost = false;

  private constructor(
    private readonly store: LeaseStore,
    readonly name: string,
    readonly holder: string,
    private readonly ttlMs: number,
  ) {}

  /** The lease if it was free, expired, or already this holder's; undefined when another holder has it. */
  static async take(store: LeaseStore, name: string, holder: string, ttlMs: number): Promise<Lease | undefined> {
    const now = new Date();
    if (!(await store.acquireLease(name, holder, new Date(now.getTime() + ttlMs), now))) return undefined;
    const lease = new Lease(store, name, holder, ttlMs);
    lease.timer = setInterval(() => void lease.renew(), Math.max(1, Math.floor(ttlMs / 3)));
    lease.timer.unref();
    return lease;
  }

  /** Extends the lease; false (and `lost`) when another holder took it meanwhile. */
  renew(): Promise<boolean> {
    if (this.released || this.lost) return Promise.resolve(!this.lost && !this.released);
    this.renewing ??= (async () => {
      const now = new Date();
      try {
        if (!(await this.store.acquireLease(this.name, this.holder, new Date(now.getTime() + this.ttlMs), now))) this.lost = true;
      } catch {
        // The store is unreachable: keep going; the next renewal tries again, and the expiry decides.
      }
      return !this.lost;
    })().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  /** Stops renewing and frees the lease for others (unless it was lost to one already). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await this.renewing;
    if (!this.lost) await this.store.releaseLease(this.name, this.holder);
  }
}
