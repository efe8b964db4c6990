import type { BlobStore } from './blob-store.js';
import { earliestNoncurrentDue, expiredMarkerDue, noncurrentVersionDue, type LifecycleClock, type LifecycleConfiguration } from './lifecycle.js';
import { prefixUpperBound } from './listing.js';
import type { Metadata, StoredVersion } from './metadata/types.js';
import { isProtected, wormOf, wormProtects } from './object-lock.js';

/**
 * The lifecycle actions on a versioned bucket's history (object_versions): NoncurrentVersionExpiration
 * deletes noncurrent versions for good, ExpiredObjectDeleteMarker (or an Expiration in Days) removes
 * a delete marker left alone on its key. The worker (core/lifecycle-worker.ts) calls it per bucket.
 * What it deletes is decided again in the deleting transaction, so a version written or deleted
 * meanwhile is left alone.
 */

const PAGE = 1000;

export interface HistoryRun {
  /** Noncurrent versions and noncurrent delete markers deleted for good. */
  noncurrentExpired: number;
  /** Expired object delete markers removed. */
  markersRemoved: number;
}

export async function expireHistory(
  meta: Metadata,
  blobs: BlobStore,
  bucket: string,
  config: LifecycleConfiguration,
  clock: LifecycleClock,
  now: Date,
): Promise<HistoryRun> {
  const noncurrentExpired = await expireNoncurrentVersions(meta, blobs, bucket, config, clock, now);
  // After the noncurrent versions: a marker whose versions just went is alone now.
  const markersRemoved = await removeExpiredMarkers(meta, bucket, config, clock, now);
  return { noncurrentExpired, markersRemoved };
}

/** What the walk knows of the key it is in, across pages. */
interface KeyWalk {
  key: string;
  /** Per rule, the noncurrent versions newer than the next one that the rule covers. */
  newer: Map<string, number>;
}

/**
 * NoncurrentVersionExpiration. Nothing is read past one index seek while the bucket's oldest
 * noncurrent version is not yet due under the shortest rule; otherwise the history is read in
 * (key, newest first) pages by its key index, a key's versions counted newest first for
 * NewerNoncurrentVersions.
 */
async function expireNoncurrentVersions(
  meta: Metadata,
  blobs: BlobStore,
  bucket: string,
  config: LifecycleConfiguration,
  clock: LifecycleClock,
  now: Date,
): Promise<number> {
  const rules = config.rules.filter((rule) => rule.enabled && rule.noncurrentVersionExpiration);
  if (rules.length === 0) return 0;
  const oldest = await meta.oldestNoncurrentSince(bucket);
  const earliest = oldest && earliestNoncurrentDue(config, oldest, clock);
  if (!earliest || earliest.getTime() > now.getTime()) return 0;
  let expired = 0;
  for (const prefix of narrowest(new Set(rules.map((rule) => rule.filter.prefix)))) {
    const upper = prefixUpperBound(prefix);
    let walk: KeyWalk | undefined;
    let after = { key: '', seq: 0 };
    for (;;) {
      const page = await meta.listNoncurrent(bucket, after.key, after.seq, prefix, upper, PAGE);
      for (const version of page) {
        if (walk?.key !== version.key) walk = { key: version.key, newer: new Map() };
        const since = version.noncurrentSince;
        // The key's latest (a delete marker): not noncurrent.
        if (!since) continue;
        const facts = { key: version.key, size: version.size, lastModified: version.lastModified, tags: version.tags, noncurrentSince: since };
        if (noncurrentVersionDue(config, facts, walk.newer, clock, now) && (await deleteNoncurrentVersion(meta, blobs, bucket, version))) expired++;
      }
      if (page.length < PAGE) break;
      const last = page[page.length - 1]!;
      after = { key: last.key, seq: last.seq };
    }
  }
  return expired;
}

/** Deletes a noncurrent version for good (its bytes released) if it is still there and still noncurrent. */
async function deleteNoncurrentVersion(meta: Metadata, blobs: BlobStore, bucket: string, version: StoredVersion): Promise<boolean> {
  const released = await meta.transaction(async (tx) => {
    const still = await tx.getNoncurrent(bucket, version.key, nullable(version.versionId));
    if (!still || still.seq !== version.seq || !still.noncurrentSince) return undefined;
    // Object Lock: a version under retention or legal hold stays, whatever the rules say (no bypass here).
    if (isProtected(still.lock, false, new Date())) return undefined;
    // OSS's bucket WORM: a version younger than the policy's period stays too.
    if (wormProtects(await wormOf(tx, bucket, new Date()), still, new Date())) return undefined;
    return tx.unreferenced(await tx.deleteNoncurrent(bucket, version.key, version.seq));
  });
  if (released === undefined) return false;
  await blobs.remove(released);
  return true;
}

/**
 * Expired object delete markers: only the keys' latest markers are read (an index of them), and
 * only a due one costs a look behind it.
 */
async function removeExpiredMarkers(meta: Metadata, bucket: string, config: LifecycleConfiguration, clock: LifecycleClock, now: Date): Promise<number> {
  const rules = config.rules.filter((rule) => rule.enabled && (rule.expiration?.expiredObjectDeleteMarker === true || rule.expiration?.days !== undefined));
  if (rules.length === 0) return 0;
  let removed = 0;
  for (const prefix of narrowest(new Set(rules.map((rule) => rule.filter.prefix)))) {
    const upper = prefixUpperBound(prefix);
    let after = '';
    for (;;) {
      const page = await meta.listLatestMarkers(bucket, after, prefix, upper, PAGE);
      for (const marker of page) {
        if (marker.deleteMarker && expiredMarkerDue(config, marker, clock, now) && (await removeExpiredMarker(meta, bucket, marker))) removed++;
      }
      if (page.length < PAGE) break;
      after = page[page.length - 1]!.key;
    }
  }
  return removed;
}

/** Removes a delete marker if it is still its key's only version (no current object, nothing behind it). */
async function removeExpiredMarker(meta: Metadata, bucket: string, marker: StoredVersion): Promise<boolean> {
  return meta.transaction(async (tx) => {
    const newest = await tx.newestNoncurrent(bucket, marker.key);
    if (!newest || newest.seq !== marker.seq || !newest.deleteMarker || newest.noncurrentSince) return false;
    if (await tx.getObject(bucket, marker.key)) return false;
    const behind = await tx.listNoncurrent(bucket, marker.key, marker.seq, marker.key, undefined, 1);
    if (behind[0]?.key === marker.key) return false;
    await tx.deleteNoncurrent(bucket, marker.key, marker.seq);
    return true;
  });
}

const nullable = (versionId: string): string | null => (versionId === 'null' ? null : versionId);

/** The prefixes to scan: one that another one starts with is covered by that one's scan. */
export function narrowest(prefixes: Set<string>): string[] {
  const all = [...prefixes].sort();
  return all.filter((prefix) => !all.some((other) => other !== prefix && prefix.startsWith(other)));
}
