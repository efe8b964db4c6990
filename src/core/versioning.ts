import { randomBytes } from 'node:crypto';
import { ServiceError, errors } from './errors.js';
import { commonPrefixOf, ListingBatch, prefixUpperBound } from './listing.js';
import type { MetadataQueries, NewObject, StoredObject, StoredVersion } from './metadata/types.js';
import type { BucketInfo } from './types.js';
import { checkWormOverwrite } from './object-lock.js';

/**
 * Bucket versioning, as S3 defines it (OSS is the same model). The store keeps each key's current
 * version in `objects` (what ListObjects reads, unchanged) and its history — noncurrent versions and
 * delete markers — in `object_versions`, ordered within the key by `seq` (newest highest). An
 * unversioned bucket never touches the history: its paths run exactly the queries they ran before.
 * Every function here takes the queries of the caller's transaction, so each step is atomic.
 */

export type VersioningStatus = NonNullable<BucketInfo['versioning']>;

/** The `null` version: objects of unversioned buckets and writes of suspended ones. */
export const NULL_VERSION = 'null';

/** A version id: 32 URL-safe characters, random (unique without coordination between nodes). */
export function newVersionId(): string {
  return randomBytes(24).toString('base64url');
}

const VERSION_ID = /^[A-Za-z0-9_-]{32}$/;

/** A client's version id, checked: `null` or one this store could have made; anything else is S3's InvalidArgument. */
export function parseVersionId(value: string, argumentName = 'versionId'): string {
  if (value === NULL_VERSION || VERSION_ID.test(value)) return value;
  throw errors.invalidArgument('Invalid version id specified', argumentName, value);
}

export function noSuchVersion(key: string, versionId: string): ServiceError {
  return new ServiceError('NoSuchVersion', 'The specified version does not exist.', 404, { Key: key, VersionId: versionId });
}

/** The stored document of kind 'versioning' is the status itself. */
export function parseStatus(document: string | undefined): VersioningStatus | undefined {
  return document === 'Enabled' || document === 'Suspended' ? document : undefined;
}

/** The id an answer names for a version of a bucket in this state (none in an unversioned bucket). */
export function labelled<T extends StoredObject>(object: T, status: VersioningStatus | undefined): T {
  if (status === undefined || object.versionId !== undefined) return object;
  return { ...object, versionId: NULL_VERSION };
}

const toNullable = (versionId: string): string | null => (versionId === NULL_VERSION ? null : versionId);
const isCurrent = (object: StoredObject, versionId: string): boolean => (object.versionId ?? NULL_VERSION) === versionId;

/**
 * A write of the key: in an Enabled bucket a new version (the current one becomes noncurrent); in a
 * Suspended one the `null` version, replacing any earlier `null` version wherever it is.
 */
export async function writeVersion(
  tx: MetadataQueries,
  object: NewObject,
  /** The bucket as read in this transaction: its versioning and its WORM policy. */
  bucket: BucketInfo,
): Promise<{ stored: StoredObject; released: string[] }> {
  const status = bucket.versioning;
  // OSS's bucket WORM: the null version this write would replace may be kept.
  if (status !== 'Enabled') await checkWormOverwrite(tx, bucket, object.key, new Date());
  if (status === undefined) return tx.putObject(object);
  const now = new Date();
  if (status === 'Enabled') {
    await retireLatest(tx, object.bucket, object.key, now);
    const { stored, released } = await tx.putObject({ ...object, versionId: newVersionId() });
    return { stored, released };
  }
  const released = await makeRoomForNull(tx, object.bucket, object.key, now);
  const outcome = await tx.putObject({ ...object, versionId: undefined });
  return { stored: labelled(outcome.stored, status), released: [...released, ...outcome.released] };
}

/**
 * A new version goes on top of the key: the current object moves to the history, or, when the
 * latest is a delete marker, the marker becomes noncurrent. Both are noncurrent from `at` on
 * (lifecycle's NoncurrentDays count from it).
 */
export async function retireLatest(tx: MetadataQueries, bucket: string, key: string, at: Date): Promise<void> {
  if (!(await tx.archiveCurrent(bucket, key, at))) await tx.markNewestNoncurrent(bucket, key, at);
}

/** Suspended: the current version is archived unless it is the null one; a noncurrent null version or marker goes. */
async function makeRoomForNull(tx: MetadataQueries, bucket: string, key: string, at: Date): Promise<string[]> {
  const current = await tx.getObject(bucket, key);
  if (current?.versionId !== undefined) await tx.archiveCurrent(bucket, key, at);
  else if (!current) await tx.markNewestNoncurrent(bucket, key, at);
  const old = await tx.getNoncurrent(bucket, key, null);
  return old ? tx.deleteNoncurrent(bucket, key, old.seq) : [];
}

export interface DeleteOutcome {
  /** The version the answer names: the delete marker made, or the version deleted. */
  versionId?: string;
  /** True when a delete marker was made, or the deleted version was one. */
  deleteMarker: boolean;
  released: string[];
}

/** DELETE without a version id: a delete marker in a versioned bucket, the object itself otherwise. */
export async function deleteLatest(tx: MetadataQueries, bucket: string, key: string, status: VersioningStatus | undefined): Promise<DeleteOutcome> {
  if (status === undefined) return { deleteMarker: false, released: await tx.deleteObject(bucket, key) };
  const now = new Date();
  if (status === 'Enabled') {
    await retireLatest(tx, bucket, key, now);
    const versionId = newVersionId();
    await tx.insertDeleteMarker(bucket, key, versionId, now);
    return { versionId, deleteMarker: true, released: [] };
  }
  const current = await tx.getObject(bucket, key);
  const released = current && current.versionId === undefined ? await tx.deleteObject(bucket, key) : [];
  released.push(...(await makeRoomForNull(tx, bucket, key, now)));
  await tx.insertDeleteMarker(bucket, key, null, now);
  return { versionId: NULL_VERSION, deleteMarker: true, released };
}

/**
 * DELETE of one version: it is gone for good (its bytes freed). When it was the latest, the next
 * newest becomes current (a delete marker stays in the history, where it makes the key read as deleted).
 * A version that does not exist deletes nothing, as S3 answers.
 */
export async function deleteVersion(tx: MetadataQueries, bucket: string, key: string, versionId: string): Promise<DeleteOutcome> {
  const current = await tx.getObject(bucket, key);
  if (current && isCurrent(current, versionId)) {
    const released = await tx.deleteObject(bucket, key);
    await promoteNewest(tx, bucket, key);
    return { versionId, deleteMarker: false, released };
  }
  const version = await tx.getNoncurrent(bucket, key, toNullable(versionId));
  if (!version) return { versionId, deleteMarker: false, released: [] };
  const wasLatest = !current && (await tx.newestNoncurrent(bucket, key))?.seq === version.seq;
  const released = await tx.deleteNoncurrent(bucket, key, version.seq);
  if (wasLatest) await promoteNewest(tx, bucket, key);
  return { versionId, deleteMarker: version.deleteMarker, released };
}

async function promoteNewest(tx: MetadataQueries, bucket: string, key: string): Promise<void> {
  const newest = await tx.newestNoncurrent(bucket, key);
  if (!newest) return;
  if (!newest.deleteMarker) await tx.restoreNoncurrent(bucket, key, newest.seq);
  // A marker left on top is the key's latest again, noncurrent no more.
  else if (newest.noncurrentSince) await tx.markLatest(bucket, key, newest.seq);
}

/** One version by id: the current object, a noncurrent one, or a delete marker. */
export async function readVersion(
  meta: MetadataQueries,
  bucket: string,
  key: string,
  versionId: string,
): Promise<(StoredObject & { deleteMarker?: boolean }) | undefined> {
  const current = await meta.getObject(bucket, key);
  if (current && isCurrent(current, versionId)) return current;
  return meta.getNoncurrent(bucket, key, toNullable(versionId));
}

/** The key's latest version when it is a delete marker (a GET of the key then answers 404 naming it). */
export async function latestDeleteMarker(meta: MetadataQueries, bucket: string, key: string): Promise<StoredVersion | undefined> {
  const newest = await meta.newestNoncurrent(bucket, key);
  return newest?.deleteMarker ? newest : undefined;
}

// ListObjectVersions

export interface VersionEntry {
  object: StoredObject;
  versionId: string;
  isLatest: boolean;
  deleteMarker: boolean;
}

export interface VersionsQuery {
  prefix: string;
  delimiter?: string;
  keyMarker?: string;
  versionIdMarker?: string;
  maxKeys: number;
}

export interface VersionsPage {
  entries: VersionEntry[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
}

/** A place in the (key ascending, newest first) order: the current version has rank +∞, a noncurrent one its seq. */
interface Position {
  key: string;
  rank: number;
}

const CURRENT_RANK = Number.MAX_SAFE_INTEGER;

/**
 * A page of versions: the current objects and the history merged in (key, newest first) order,
 * both read by index seeks from the position, so a page costs its own size wherever it starts.
 * An unversioned bucket has no history: only its objects are read.
 */
export async function listVersions(meta: MetadataQueries, bucket: BucketInfo, query: VersionsQuery): Promise<VersionsPage> {
  const { prefix, delimiter, maxKeys } = query;
  const page: VersionsPage = { entries: [], commonPrefixes: [], isTruncated: false };
  if (query.versionIdMarker !== undefined && !query.keyMarker) {
    throw errors.invalidArgument('A version-id marker cannot be specified without a key marker.', 'version-id-marker', query.versionIdMarker);
  }
  const upper = prefixUpperBound(prefix);
  let lower = prefix;
  let position: Position = { key: '', rank: CURRENT_RANK };
  if (query.keyMarker) {
    position = { key: query.keyMarker, rank: 0 };
    if (query.versionIdMarker !== undefined) position.rank = await rankOf(meta, bucket.name, query.keyMarker, query.versionIdMarker);
    // A marker inside a common prefix means that prefix was already returned.
    const skipped = delimiter ? commonPrefixOf(query.keyMarker, prefix, delimiter) : undefined;
    if (skipped !== undefined) {
      const past = prefixUpperBound(skipped);
      if (past === undefined) return page;
      if (past > lower) lower = past;
    }
  }
  if (maxKeys === 0) return page;
  let count = 0;
  let last: { key: string; versionId?: string } | undefined;
  // The key of the entry before the next one (a noncurrent entry is latest only as its key's first).
  let previousKey = position.rank === 0 ? undefined : position.key;
  const sizer = new ListingBatch(delimiter !== undefined);
  for (;;) {
    const wanted = sizer.next(maxKeys - count + 1);
    const batch = await fetchMerged(meta, bucket, position, lower, upper, wanted);
    if (batch.length === 0) return page;
    let skippedPrefix = false;
    for (const entry of batch) {
      if (count === maxKeys) {
        page.isTruncated = true;
        page.nextKeyMarker = last!.key;
        page.nextVersionIdMarker = last!.versionId;
        return page;
      }
      const key = entry.object.key;
      const common = delimiter ? commonPrefixOf(key, prefix, delimiter) : undefined;
      if (common !== undefined) {
        page.commonPrefixes.push(common);
        count++;
        last = { key: common };
        const past = prefixUpperBound(common);
        if (past === undefined) return page;
        lower = past;
        position = { key: '', rank: CURRENT_RANK };
        previousKey = undefined;
        skippedPrefix = true;
        break;
      }
      const isLatest = entry.current || (!entry.current && previousKey !== key);
      page.entries.push({ object: entry.object, versionId: entry.versionId, isLatest, deleteMarker: entry.deleteMarker });
      count++;
      last = { key, versionId: entry.versionId };
      previousKey = key;
      position = { key, rank: entry.rank };
    }
    if (skippedPrefix) sizer.reseeked();
    else if (batch.length < wanted) return page;
    else sizer.used();
  }
}

interface MergedEntry {
  object: StoredObject;
  versionId: string;
  current: boolean;
  deleteMarker: boolean;
  rank: number;
}

async function fetchMerged(
  meta: MetadataQueries,
  bucket: BucketInfo,
  position: Position,
  lower: string,
  upper: string | undefined,
  limit: number,
): Promise<MergedEntry[]> {
  // Current objects come first within their key: those after the position are the later keys'.
  const [currents, history] = await Promise.all([
    meta.listObjects(bucket.name, position.key, lower, upper, limit),
    bucket.versioning ? meta.listNoncurrent(bucket.name, position.key, position.rank, lower, upper, limit) : Promise.resolve([]),
  ]);
  const merged: MergedEntry[] = [];
  let i = 0;
  let j = 0;
  while (merged.length < limit && (i < currents.length || j < history.length)) {
    const current = currents[i];
    const old = history[j];
    if (current && (!old || current.key <= old.key)) {
      merged.push({ object: current, versionId: current.versionId ?? NULL_VERSION, current: true, deleteMarker: false, rank: CURRENT_RANK });
      i++;
    } else {
      merged.push({ object: old!, versionId: old!.versionId, current: false, deleteMarker: old!.deleteMarker, rank: old!.seq });
      j++;
    }
  }
  return merged;
}

/** Where a version-id-marker stands in its key's history. */
async function rankOf(meta: MetadataQueries, bucket: string, key: string, versionIdMarker: string): Promise<number> {
  const versionId = parseVersionId(versionIdMarker, 'version-id-marker');
  const current = await meta.getObject(bucket, key);
  if (current && isCurrent(current, versionId)) return CURRENT_RANK;
  const version = await meta.getNoncurrent(bucket, key, toNullable(versionId));
  if (!version) throw errors.invalidArgument('Invalid version id specified', 'version-id-marker', versionIdMarker);
  return version.seq;
}
