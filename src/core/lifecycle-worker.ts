import { deleteLatest } from './versioning.js';
import { wormOf, wormProtects } from './object-lock.js';
import type { BlobStore } from './blob-store.js';
import { expireHistory, narrowest } from './lifecycle-history.js';
import { abortOf, expirationOf, parseStoredLifecycle, type LifecycleClock, type LifecycleConfiguration } from './lifecycle.js';
import { prefixUpperBound } from './listing.js';
import type { Metadata } from './metadata/types.js';

const PAGE = 1000;

export interface LifecycleRun {
  /** Current objects deleted because a rule's Expiration came. */
  expired: number;
  /** Uploads in progress aborted by a rule's AbortIncompleteMultipartUpload. */
  aborted: number;
  /** Noncurrent versions deleted for good by a rule's NoncurrentVersionExpiration. */
  noncurrentExpired: number;
  /** Expired object delete markers removed. */
  markersRemoved: number;
}

/**
 * Applies every bucket's lifecycle rules once: expires the objects, deletes the noncurrent
 * versions and expired delete markers (core/lifecycle-history.ts) and aborts the uploads in
 * progress whose due date (core/lifecycle.ts) has passed. Maintenance runs it on one node of a
 * cluster at a time. What it deletes is decided again in the deleting transaction: an object
 * written again since the listing, or an upload completed meanwhile, is left alone.
 */
export class LifecycleWorker {
  constructor(
    private readonly meta: Metadata,
    private readonly blobs: BlobStore,
    readonly clock: LifecycleClock,
  ) {}

  async run(now = new Date()): Promise<LifecycleRun> {
    const total: LifecycleRun = { expired: 0, aborted: 0, noncurrentExpired: 0, markersRemoved: 0 };
    for (const [bucket, config] of await this.bucketRules()) {
      total.expired += await this.expireObjects(bucket, config, now);
      // After the current versions: a marker just written over an expired object is not alone.
      const history = await expireHistory(this.meta, this.blobs, bucket, config, this.clock, now);
      total.noncurrentExpired += history.noncurrentExpired;
      total.markersRemoved += history.markersRemoved;
      total.aborted += await this.abortUploads(bucket, config, now);
    }
    return total;
  }

  /** Every bucket's rules (the buckets without any left out): for the server-wide upload expiry to leave covered uploads alone, too. */
  async bucketRules(): Promise<Map<string, LifecycleConfiguration>> {
    const rules = new Map<string, LifecycleConfiguration>();
    for (const bucket of await this.meta.listBuckets()) {
      const document = await this.meta.getBucketConfig(bucket.name, 'lifecycle');
      if (document !== undefined) rules.set(bucket.name, parseStoredLifecycle(document));
    }
    return rules;
  }

  private async expireObjects(bucket: string, config: LifecycleConfiguration, now: Date): Promise<number> {
    const prefixes = new Set(config.rules.filter((rule) => rule.enabled && rule.expiration && rule.expiration.expiredObjectDeleteMarker === undefined).map((rule) => rule.filter.prefix));
    let expired = 0;
    for (const prefix of narrowest(prefixes)) {
      let after = '';
      for (;;) {
        const page = await this.meta.listObjects(bucket, after, prefix, prefixUpperBound(prefix), PAGE);
        for (const object of page) {
          const due = expirationOf(config, object, this.clock);
          if (!due || due.date.getTime() > now.getTime()) continue;
          const released = await this.meta.transaction(async (tx) => {
            // Written again since the listing: that is a new object, judged on the next run.
            const current = await tx.getObject(bucket, object.key);
            if (!current || current.id !== object.id) return [];
            // A versioned bucket keeps the expired version behind a delete marker, as S3 does.
            const status = (await tx.getBucket(bucket))?.versioning;
            // Elsewhere the current (null) version goes for good: not while OSS's bucket WORM keeps it.
            if (status !== 'Enabled' && wormProtects(await wormOf(tx, bucket, now), current, now)) return undefined;
            return tx.unreferenced((await deleteLatest(tx, bucket, object.key, status)).released);
          });
          if (released === undefined) continue;
          await this.blobs.remove(released);
          expired++;
        }
        if (page.length < PAGE) break;
        after = page[page.length - 1]!.key;
      }
    }
    return expired;
  }

  private async abortUploads(bucket: string, config: LifecycleConfiguration, now: Date): Promise<number> {
    const prefixes = new Set(config.rules.filter((rule) => rule.enabled && rule.abortIncompleteMultipartUpload).map((rule) => rule.filter.prefix));
    let aborted = 0;
    for (const prefix of narrowest(prefixes)) {
      let cursor = { key: '', uploadId: '' };
      for (;;) {
        const page = await this.meta.listUploadsAfter(bucket, cursor, prefix, prefixUpperBound(prefix), PAGE);
        for (const upload of page) {
          const due = abortOf(config, upload.key, upload.initiated, this.clock);
          if (!due || due.date.getTime() > now.getTime()) continue;
          const released = await this.meta.transaction(async (tx) => {
            // Completed (or aborted) since the listing: its parts are an object's bytes now.
            const current = await tx.getUpload(upload.uploadId);
            if (!current || current.completed) return undefined;
            return tx.unreferenced(await tx.deleteUpload(upload.uploadId));
          });
          if (released === undefined) continue;
          await this.blobs.remove(released);
          aborted++;
        }
        if (page.length < PAGE) break;
        const last = page[page.length - 1]!;
        cursor = { key: last.key, uploadId: last.uploadId };
      }
    }
    return aborted;
  }
}
