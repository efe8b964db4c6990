import { ServiceError, errors } from './errors.js';
import type { MetadataQueries, StoredObject } from './metadata/types.js';
import type { BucketInfo, BucketWorm, ObjectLock, ObjectLockConfiguration, RetentionMode } from './types.js';

/**
 * S3 Object Lock (write once, read many), as AWS defines it, for every dialect. A bucket's
 * configuration (bucket_configs kind `object-lock`, read with the bucket row) says lock is enabled
 * and may give new versions a default retention. Each version carries its own retention (a mode
 * and a date, together) and legal hold. While a version is retained in COMPLIANCE mode, or under a
 * legal hold, nobody deletes it or shortens its retention; in GOVERNANCE mode only a caller who
 * asks to bypass governance does. Deletes without a version id still add delete markers: the
 * versions stay. A locked bucket is versioned (Enabled) for good.
 */

export const RETENTION_MODES: readonly RetentionMode[] = ['GOVERNANCE', 'COMPLIANCE'];

export type Retention = NonNullable<ObjectLock['retention']>;

const MAX_YEARS = 100;
const MAX_DAYS = 36_500;

/** The stored document (JSON) of kind 'object-lock'. */
export function parseLockConfiguration(document: string): ObjectLockConfiguration {
  const parsed = JSON.parse(document) as ObjectLockConfiguration;
  return parsed.defaultRetention ? { defaultRetention: parsed.defaultRetention } : {};
}

export function lockConfigurationDocument(config: ObjectLockConfiguration): string {
  return JSON.stringify(config);
}

export function missingLockConfiguration(): ServiceError {
  return new ServiceError('InvalidRequest', 'Bucket is missing Object Lock Configuration', 400);
}

function invalidBucketState(message: string): ServiceError {
  return new ServiceError('InvalidBucketState', message, 409);
}

/** A default retention's period: a whole number of days or years, one of them, more than zero. */
export function checkDefaultRetention(retention: { mode: RetentionMode; days?: number; years?: number }): void {
  const { days, years } = retention;
  // One of the two, as AWS answers a configuration naming both or neither.
  if ((days === undefined) === (years === undefined)) throw errors.malformedXML();
  const period = days ?? years!;
  const name = days !== undefined ? 'Days' : 'Years';
  if (!Number.isSafeInteger(period) || period <= 0) {
    throw errors.invalidArgument('Default retention period must be a positive integer value.', name, String(period));
  }
  // AWS's ceilings: 100 years, or as many days.
  if (period > (days !== undefined ? MAX_DAYS : MAX_YEARS)) {
    throw errors.invalidArgument(`Default retention period is too large.`, name, String(period));
  }
}

/** A retention a client sets on a version: its date must lie ahead. */
export function checkNewRetention(retention: Retention, now: Date): void {
  if (retention.until.getTime() <= now.getTime()) {
    throw errors.invalidArgument('The retain until date must be in the future!', 'RetainUntilDate', retention.until.toISOString());
  }
}

/** Whether the retention still holds at `now`. */
function inForce(retention: Retention | undefined, now: Date): retention is Retention {
  return retention !== undefined && retention.until.getTime() > now.getTime();
}

/**
 * The lock a new version gets: what the write asked for, with the bucket's default retention when
 * it asked for none. Asking for any lock in a bucket without Object Lock is S3's InvalidRequest.
 */
export function lockOfNewVersion(requested: ObjectLock | undefined, bucket: BucketInfo | undefined, now: Date): ObjectLock | undefined {
  const config = bucket?.objectLock;
  if (!config) {
    if (requested !== undefined) throw missingLockConfiguration();
    return undefined;
  }
  const lock: ObjectLock = { ...requested };
  const defaults = config.defaultRetention;
  if (!lock.retention && defaults) lock.retention = { mode: defaults.mode, until: addPeriod(now, defaults) };
  return lock.retention || lock.legalHold !== undefined ? lock : undefined;
}

function addPeriod(from: Date, period: { days?: number; years?: number }): Date {
  const until = new Date(from.getTime());
  if (period.years !== undefined) until.setUTCFullYear(until.getUTCFullYear() + period.years);
  else until.setTime(until.getTime() + (period.days ?? 0) * 24 * 3600 * 1000);
  return until;
}

export function lockNeedsIntegrity(): ServiceError {
  return new ServiceError('InvalidRequest', 'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters', 400);
}

/**
 * AWS stores an upload under a retention (asked for, or the bucket's default) only with an
 * integrity check of its body: Content-MD5 or a flexible checksum. The dialect says which bodies had none.
 */
export function checkBodyIntegrity(lock: ObjectLock | undefined, unverifiedBody: boolean): void {
  if (unverifiedBody && lock?.retention) throw lockNeedsIntegrity();
}

/** Before a write's body is read: a write asking for a lock needs a bucket with Object Lock, and a date ahead. */
export function checkLockedWrite(requested: ObjectLock | undefined, bucket: BucketInfo, now: Date): void {
  if (requested === undefined) return;
  if (!bucket.objectLock) throw missingLockConfiguration();
  if (requested.retention) checkNewRetention(requested.retention, now);
}

/** Whether the version may not go now: a legal hold, or a retention in force (GOVERNANCE: unless bypassed). */
export function isProtected(lock: ObjectLock | undefined, bypassGovernance: boolean, now: Date): boolean {
  if (lock?.legalHold) return true;
  const retention = lock?.retention;
  return inForce(retention, now) && (retention.mode === 'COMPLIANCE' || !bypassGovernance);
}

/** Deleting one version for good: AccessDenied while it is protected, as S3 answers. */
export function checkDeletable(version: StoredObject | undefined, bypassGovernance: boolean, now: Date): void {
  if (version && isProtected(version.lock, bypassGovernance, now)) throw errors.accessDenied();
}

/**
 * Replacing a version's retention: extending it in the same mode is always allowed; anything else
 * (shortening, removing, changing the mode) only once it expired, or under GOVERNANCE with bypass.
 */
export function checkRetentionChange(current: Retention | undefined, next: Retention | undefined, bypassGovernance: boolean, now: Date): void {
  if (next) checkNewRetention(next, now);
  if (!inForce(current, now)) return;
  if (next && next.mode === current.mode && next.until.getTime() >= current.until.getTime()) return;
  if (current.mode === 'COMPLIANCE' || !bypassGovernance) throw errors.accessDenied();
}

// Bucket configuration

/** CreateBucket with Object Lock: the bucket is versioned (Enabled) for good and lock is enabled. */
export async function enableOnNewBucket(tx: MetadataQueries, bucket: string): Promise<void> {
  await tx.putBucketConfig(bucket, 'versioning', 'Enabled');
  await tx.putBucketConfig(bucket, 'object-lock', lockConfigurationDocument({}));
}

/** PutObjectLockConfiguration: enables lock on a versioned bucket (Enabled), or replaces its default retention. */
export async function putConfiguration(tx: MetadataQueries, bucket: BucketInfo, config: ObjectLockConfiguration): Promise<void> {
  if (config.defaultRetention) checkDefaultRetention(config.defaultRetention);
  if (!bucket.objectLock && bucket.versioning !== 'Enabled') {
    throw invalidBucketState('Versioning must be \'Enabled\' on the bucket to apply a Object Lock configuration');
  }
  await tx.putBucketConfig(bucket.name, 'object-lock', lockConfigurationDocument(config));
}

export function configurationOf(bucket: BucketInfo): ObjectLockConfiguration {
  if (!bucket.objectLock) {
    throw new ServiceError('ObjectLockConfigurationNotFoundError', 'Object Lock configuration does not exist for this bucket', 404, { BucketName: bucket.name });
  }
  return bucket.objectLock;
}

/** A locked bucket's versioning can never be suspended. */
export function checkVersioningChange(bucket: BucketInfo, status: 'Enabled' | 'Suspended'): void {
  if (bucket.objectLock && status !== 'Enabled') {
    throw invalidBucketState('An Object Lock configuration is present on this bucket, so the versioning state cannot be changed.');
  }
}

// One version's retention and legal hold

function requireLockBucket(bucket: BucketInfo): void {
  if (!bucket.objectLock) throw missingLockConfiguration();
}

export async function setRetention(
  tx: MetadataQueries,
  bucket: BucketInfo,
  version: StoredObject,
  retention: Retention | undefined,
  bypassGovernance: boolean,
  now: Date,
): Promise<void> {
  requireLockBucket(bucket);
  checkRetentionChange(version.lock?.retention, retention, bypassGovernance, now);
  await tx.setObjectLock(version.id, withoutEmpty({ ...version.lock, retention }));
}

export async function setLegalHold(tx: MetadataQueries, bucket: BucketInfo, version: StoredObject, on: boolean): Promise<void> {
  requireLockBucket(bucket);
  await tx.setObjectLock(version.id, withoutEmpty({ ...version.lock, legalHold: on }));
}

function noLockOnObject(): ServiceError {
  return new ServiceError('NoSuchObjectLockConfiguration', 'The specified object does not have a ObjectLock configuration', 404);
}

export function retentionOf(bucket: BucketInfo, version: StoredObject): Retention {
  requireLockBucket(bucket);
  if (!version.lock?.retention) throw noLockOnObject();
  return version.lock.retention;
}

export function legalHoldOf(bucket: BucketInfo, version: StoredObject): boolean {
  requireLockBucket(bucket);
  if (version.lock?.legalHold === undefined) throw noLockOnObject();
  return version.lock.legalHold;
}

function withoutEmpty(lock: ObjectLock): ObjectLock | undefined {
  const kept: ObjectLock = {};
  if (lock.retention) kept.retention = lock.retention;
  if (lock.legalHold !== undefined) kept.legalHold = lock.legalHold;
  return kept.retention || kept.legalHold !== undefined ? kept : undefined;
}

// OSS bucket WORM (a retention policy over the whole bucket)

export type { BucketWorm };

const WORM_MAX_DAYS = 25_550;
const IN_PROGRESS_LIFETIME_MS = 24 * 3600 * 1000;
const DAY_MS = 24 * 3600 * 1000;

function noSuchWorm(): ServiceError {
  return new ServiceError('NoSuchWORMConfiguration', 'The WORM Configuration does not exist.', 404);
}

function wormLocked(): ServiceError {
  return new ServiceError('WORMConfigurationLocked', 'The WORM Configuration is locked.', 409);
}

function invalidWorm(message: string): ServiceError {
  return new ServiceError('InvalidWORMConfiguration', message, 400);
}

/** RetentionPeriodInDays: a whole number of days, 1 to 25550 (70 years), as OSS documents. */
export function checkWormDays(days: number): void {
  if (!Number.isSafeInteger(days) || days < 1 || days > WORM_MAX_DAYS) {
    throw invalidWorm(`RetentionPeriodInDays must be an integer from 1 to ${WORM_MAX_DAYS}.`);
  }
}

/** The stored `worm` document (the bucket row reads it with the bucket, as getBucket does). */
export function parseWormDocument(document: string): BucketWorm {
  const parsed = JSON.parse(document) as Omit<BucketWorm, 'created'> & { created: string };
  return { ...parsed, created: new Date(parsed.created) };
}

/** The stored policy if it is in effect at `now`: not when there is none, or an InProgress one lapsed. */
export function wormInEffect(worm: BucketWorm | undefined, now: Date): BucketWorm | undefined {
  if (worm?.state === 'InProgress' && now.getTime() - worm.created.getTime() >= IN_PROGRESS_LIFETIME_MS) return undefined;
  return worm;
}

/** The policy in effect at `now`, read by itself (the WORM API and the background workers). */
export async function wormOf(tx: MetadataQueries, bucket: string, now: Date): Promise<BucketWorm | undefined> {
  const document = await tx.getBucketConfig(bucket, 'worm');
  return document === undefined ? undefined : wormInEffect(parseWormDocument(document), now);
}

async function storeWorm(tx: MetadataQueries, bucket: string, worm: BucketWorm): Promise<void> {
  await tx.putBucketConfig(bucket, 'worm', JSON.stringify({ ...worm, created: worm.created.toISOString() }));
}

/** InitiateBucketWorm: a new InProgress policy, unless one is in effect already. */
export async function initiateWorm(tx: MetadataQueries, bucket: string, days: number, id: string, now: Date): Promise<BucketWorm> {
  checkWormDays(days);
  if (await wormOf(tx, bucket, now)) throw wormLocked();
  const worm: BucketWorm = { id, state: 'InProgress', days, created: now };
  await storeWorm(tx, bucket, worm);
  return worm;
}

/** The policy the request names by its id: 404 for any other (or none). */
async function namedWorm(tx: MetadataQueries, bucket: string, id: string, now: Date): Promise<BucketWorm> {
  const worm = await wormOf(tx, bucket, now);
  if (!worm || worm.id !== id) throw noSuchWorm();
  return worm;
}

/** AbortBucketWorm: only an InProgress policy goes. */
export async function abortWorm(tx: MetadataQueries, bucket: string, now: Date): Promise<void> {
  const worm = await wormOf(tx, bucket, now);
  if (!worm) throw noSuchWorm();
  if (worm.state === 'Locked') throw wormLocked();
  await tx.deleteBucketConfig(bucket, 'worm');
}

/** CompleteBucketWorm: the InProgress policy is locked for good. */
export async function completeWorm(tx: MetadataQueries, bucket: string, id: string, now: Date): Promise<void> {
  const worm = await namedWorm(tx, bucket, id, now);
  if (worm.state === 'Locked') throw wormLocked();
  await storeWorm(tx, bucket, { ...worm, state: 'Locked' });
}

/** ExtendBucketWorm: a Locked policy's period only grows. */
export async function extendWorm(tx: MetadataQueries, bucket: string, id: string, days: number, now: Date): Promise<void> {
  checkWormDays(days);
  const worm = await namedWorm(tx, bucket, id, now);
  if (worm.state !== 'Locked') throw invalidWorm('Only a locked WORM configuration can be extended.');
  if (days <= worm.days) throw invalidWorm('The retention period can only be extended.');
  await storeWorm(tx, bucket, { ...worm, days });
}

export async function requireWorm(tx: MetadataQueries, bucket: string, now: Date): Promise<BucketWorm> {
  const worm = await wormOf(tx, bucket, now);
  if (!worm) throw noSuchWorm();
  return worm;
}

/** Whether a policy in effect keeps the version: it is younger than the period (a delete marker, holding no data, never is). */
export function wormProtects(worm: BucketWorm | undefined, version: (StoredObject & { deleteMarker?: boolean }) | undefined, now: Date): boolean {
  if (!worm || !version || version.deleteMarker) return false;
  return version.lastModified.getTime() + worm.days * DAY_MS > now.getTime();
}

/** Deleting a version for good under a policy in effect: refused while the policy keeps it. */
export function checkWormDeletable(worm: BucketWorm | undefined, version: (StoredObject & { deleteMarker?: boolean }) | undefined, now: Date): void {
  if (wormProtects(worm, version, now)) {
    throw new ServiceError('AccessDenied', "The object is protected by the bucket's retention policy (WORM).", 403);
  }
}

/**
 * A write that replaces the key's null version (an unversioned or Suspended bucket) takes that
 * version away for good: refused while the policy keeps it, as a delete would be. `bucket` is
 * read in the write's transaction; without a policy in effect nothing more is read.
 */
export async function checkWormOverwrite(tx: MetadataQueries, bucket: BucketInfo, key: string, now: Date): Promise<void> {
  const worm = wormInEffect(bucket.worm, now);
  if (!worm) return;
  const current = await tx.getObject(bucket.name, key);
  const replaced = current && current.versionId === undefined ? current : await tx.getNoncurrent(bucket.name, key, null);
  checkWormDeletable(worm, replaced, now);
}
