import { randomBytes } from 'node:crypto';
import { ServiceError } from './errors.js';
import { RecentlySeen } from './recently-seen.js';
import type { Storage } from './storage.js';
import type { Actor } from './types.js';

/**
 * Lifecycle rules, protocol-free: a bucket's rules, what makes them valid, and when each object
 * or upload in progress falls due. S3 and OSS read and write the same rules (each in its own XML,
 * dialects/{s3,oss}/lifecycle.ts); the rules are one document per bucket in the metadata store;
 * core/lifecycle-worker.ts applies them in the background, on one node of a cluster at a time.
 *
 * Time is counted in lifecycle days. A day is 24 hours unless the server's `lifecycleDaySeconds`
 * makes it shorter (for tests, as Ceph's rgw_lc_debug_interval does). As AWS does, a due date is
 * rounded up to the next day boundary (midnight UTC with real days): an object written at 15:00
 * under a 1-day rule falls due at the second midnight after it.
 */

export interface LifecycleTag {
  key: string;
  value: string;
}

/** Which objects a rule covers: all of its conditions hold (an empty filter covers everything). */
export interface LifecycleFilter {
  prefix: string;
  tags: LifecycleTag[];
  /** Bytes; the object must be larger. */
  sizeGreaterThan?: number;
  /** Bytes; the object must be smaller. */
  sizeLessThan?: number;
  /** Written as the rule's own Prefix (S3's older form), and answered so. */
  legacyPrefix?: boolean;
}

export interface LifecycleRule {
  /** Given by the writer, or made up when it gave none (as AWS does). */
  id: string;
  enabled: boolean;
  filter: LifecycleFilter;
  /**
   * Current versions expire `days` after they were written, or all at `date` (S3), or at once
   * when written before `createdBefore` (OSS's CreatedBeforeDate).
   */
  expiration?: { days?: number; date?: Date; createdBefore?: Date; expiredObjectDeleteMarker?: boolean };
  noncurrentVersionExpiration?: { noncurrentDays: number; newerNoncurrentVersions?: number };
  /** Uploads in progress are aborted `daysAfterInitiation` after they started, or at once when started before `createdBefore` (OSS). */
  abortIncompleteMultipartUpload?: { daysAfterInitiation?: number; createdBefore?: Date };
}

export interface LifecycleConfiguration {
  rules: LifecycleRule[];
}

/** A rule as a document gave it, before validation (numbers still as written). */
export interface LifecycleRuleInput {
  id?: string;
  status: string;
  filter: { prefix?: string; tags: LifecycleTag[]; sizeGreaterThan?: string; sizeLessThan?: string };
  expiration?: { days?: string; date?: string; createdBefore?: string; expiredObjectDeleteMarker?: string };
  noncurrentVersionExpiration?: { noncurrentDays?: string; newerNoncurrentVersions?: string };
  abortIncompleteMultipartUpload?: { daysAfterInitiation?: string; createdBefore?: string };
}

/**
 * Why a document is refused, in the words of the S3 error it becomes: `malformed` (MalformedXML),
 * `argument` (InvalidArgument) or `request` (InvalidRequest). OSS maps them to its own codes.
 */
export interface LifecycleViolation {
  kind: 'malformed' | 'argument' | 'request';
  message: string;
}

export const MAX_LIFECYCLE_RULES = 1000;
export const MAX_RULE_ID_LENGTH = 255;
export const MAX_PREFIX_LENGTH = 1024;
export const MAX_TAG_KEY_LENGTH = 128;
export const MAX_TAG_VALUE_LENGTH = 256;
/** Days and counts are 32-bit signed integers in S3's schema. */
const MAX_INT = 2147483647;

class Refusal extends Error {
  constructor(readonly violation: LifecycleViolation) {
    super(violation.message);
  }
}

const refuse = (kind: LifecycleViolation['kind'], message: string): never => {
  throw new Refusal({ kind, message });
};

function positiveInteger(text: string | undefined, what: string, allowZero = false): number | undefined {
  if (text === undefined) return undefined;
  if (!/^-?\d+$/.test(text)) refuse('malformed', `${what} must be an integer`);
  const value = Number(text);
  if (Math.abs(value) > MAX_INT) refuse('malformed', `${what} is out of range`);
  if (value < 0 || (value === 0 && !allowZero)) refuse('argument', `${what} must be a positive integer`);
  return value;
}

/** S3 takes an ISO 8601 date at midnight UTC (`2030-01-01T00:00:00.000Z`, or the date alone). */
function midnight(text: string): Date {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-]00:?00)?)?$/.exec(text);
  if (!match) return refuse('argument', `'Date' must be in ISO 8601 format`);
  const date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
  if (Number.isNaN(date.getTime()) || date.getUTCDate() !== Number(match[3])) return refuse('argument', `'Date' must be in ISO 8601 format`);
  if ([match[4], match[5], match[6]].some((part) => part !== undefined && Number(part) !== 0)) refuse('argument', "'Date' must be at midnight GMT");
  return date;
}

function validTags(tags: LifecycleTag[]): LifecycleTag[] {
  const keys = new Set<string>();
  for (const tag of tags) {
    if (tag.key.length === 0 || [...tag.key].length > MAX_TAG_KEY_LENGTH) refuse('request', 'The TagKey you have provided is invalid');
    if ([...tag.value].length > MAX_TAG_VALUE_LENGTH) refuse('request', 'The TagValue you have provided is invalid');
    if (keys.has(tag.key)) refuse('argument', 'Duplicate Tag Keys are not allowed.');
    keys.add(tag.key);
  }
  return tags;
}

function ruleOf(input: LifecycleRuleInput): LifecycleRule {
  if (input.id !== undefined && input.id.length > MAX_RULE_ID_LENGTH) refuse('argument', 'ID length should not exceed allowed limit of 255');
  if (input.status !== 'Enabled' && input.status !== 'Disabled') refuse('malformed', 'Status must be Enabled or Disabled');
  const prefix = input.filter.prefix ?? '';
  if (prefix.length > MAX_PREFIX_LENGTH) refuse('request', 'The maximum size of a prefix is 1024.');
  const filter: LifecycleFilter = {
    prefix,
    tags: validTags(input.filter.tags),
    sizeGreaterThan: positiveInteger(input.filter.sizeGreaterThan, 'ObjectSizeGreaterThan', true),
    sizeLessThan: positiveInteger(input.filter.sizeLessThan, 'ObjectSizeLessThan'),
  };
  if (filter.sizeGreaterThan !== undefined && filter.sizeLessThan !== undefined && filter.sizeGreaterThan >= filter.sizeLessThan) {
    refuse('argument', 'ObjectSizeGreaterThan must be less than ObjectSizeLessThan');
  }
  const rule: LifecycleRule = { id: input.id || newRuleId(), enabled: input.status === 'Enabled', filter };

  if (input.expiration) {
    const { days, date, createdBefore, expiredObjectDeleteMarker } = input.expiration;
    const given = [days, date, createdBefore, expiredObjectDeleteMarker].filter((value) => value !== undefined).length;
    if (given !== 1) refuse('malformed', 'Expiration takes one of Days, Date or ExpiredObjectDeleteMarker');
    if (expiredObjectDeleteMarker !== undefined && expiredObjectDeleteMarker !== 'true' && expiredObjectDeleteMarker !== 'false') {
      refuse('malformed', 'ExpiredObjectDeleteMarker must be true or false');
    }
    rule.expiration = {
      days: positiveInteger(days, "'Days' for Expiration action"),
      date: date === undefined ? undefined : midnight(date),
      createdBefore: createdBefore === undefined ? undefined : midnight(createdBefore),
      expiredObjectDeleteMarker: expiredObjectDeleteMarker === undefined ? undefined : expiredObjectDeleteMarker === 'true',
    };
    if (rule.expiration.expiredObjectDeleteMarker !== undefined && filter.tags.length > 0) {
      refuse('request', 'ExpiredObjectDeleteMarker cannot be specified with Tags.');
    }
  }
  if (input.noncurrentVersionExpiration) {
    const { noncurrentDays, newerNoncurrentVersions } = input.noncurrentVersionExpiration;
    if (noncurrentDays === undefined) refuse('malformed', 'NoncurrentVersionExpiration needs NoncurrentDays');
    rule.noncurrentVersionExpiration = {
      noncurrentDays: positiveInteger(noncurrentDays, "'NoncurrentDays' for NoncurrentVersionExpiration action")!,
      newerNoncurrentVersions: positiveInteger(newerNoncurrentVersions, "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action"),
    };
    const newer = rule.noncurrentVersionExpiration.newerNoncurrentVersions;
    if (newer !== undefined && newer > 100) refuse('argument', "'NewerNoncurrentVersions' for NoncurrentVersionExpiration action must be between 1 and 100");
  }
  if (input.abortIncompleteMultipartUpload) {
    const { daysAfterInitiation: days, createdBefore } = input.abortIncompleteMultipartUpload;
    if ((days === undefined) === (createdBefore === undefined)) refuse('malformed', 'AbortIncompleteMultipartUpload needs DaysAfterInitiation');
    rule.abortIncompleteMultipartUpload = {
      daysAfterInitiation: positiveInteger(days, "'DaysAfterInitiation' for AbortIncompleteMultipartUpload action"),
      createdBefore: createdBefore === undefined ? undefined : midnight(createdBefore),
    };
    if (filter.tags.length > 0) refuse('request', 'Tag-based filter cannot be used with AbortIncompleteMultipartUpload action.');
    if (filter.sizeGreaterThan !== undefined || filter.sizeLessThan !== undefined) {
      refuse('request', 'Object size filter cannot be used with AbortIncompleteMultipartUpload action.');
    }
  }
  if (!rule.expiration && !rule.noncurrentVersionExpiration && !rule.abortIncompleteMultipartUpload) {
    refuse('request', 'At least one action needs to be specified in a rule');
  }
  return rule;
}

/** The rules of a document, or why it is refused. IDs must be unique; at most 1,000 rules. */
export function validateLifecycle(inputs: LifecycleRuleInput[]): LifecycleConfiguration | LifecycleViolation {
  try {
    if (inputs.length === 0 || inputs.length > MAX_LIFECYCLE_RULES) refuse('malformed', 'A lifecycle configuration holds 1 to 1,000 rules');
    const ids = new Set<string>();
    for (const input of inputs) {
      if (input.id === undefined || input.id === '') continue;
      if (ids.has(input.id)) refuse('argument', 'Rule ID must be unique. Found same ID for more than one rule');
      ids.add(input.id);
    }
    return { rules: inputs.map(ruleOf) };
  } catch (err) {
    if (err instanceof Refusal) return err.violation;
    throw err;
  }
}

function newRuleId(): string {
  return randomBytes(12).toString('base64url');
}

// Stored as JSON in the bucket's configuration ('lifecycle'); dates as ISO strings.

export function serializeLifecycle(config: LifecycleConfiguration): string {
  return JSON.stringify(config);
}

export function parseStoredLifecycle(document: string): LifecycleConfiguration {
  const config = JSON.parse(document) as LifecycleConfiguration;
  for (const rule of config.rules) {
    if (rule.expiration?.date !== undefined) rule.expiration.date = new Date(rule.expiration.date as unknown as string);
    if (rule.expiration?.createdBefore !== undefined) rule.expiration.createdBefore = new Date(rule.expiration.createdBefore as unknown as string);
    const abort = rule.abortIncompleteMultipartUpload;
    if (abort?.createdBefore !== undefined) abort.createdBefore = new Date(abort.createdBefore as unknown as string);
  }
  return config;
}

export const noSuchLifecycle = (bucket: string): ServiceError =>
  new ServiceError('NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist', 404, { BucketName: bucket });

export async function putBucketLifecycle(storage: Storage, actor: Actor, bucket: string, config: LifecycleConfiguration): Promise<void> {
  await storage.settings.putConfig(actor, bucket, 'lifecycle', serializeLifecycle(config));
  storage.lifecycleRules.forget(bucket);
}

/** The bucket's rules; NoSuchLifecycleConfiguration (404) when it has none. */
export async function getBucketLifecycle(storage: Storage, actor: Actor, bucket: string): Promise<LifecycleConfiguration> {
  const document = await storage.settings.getConfig(actor, bucket, 'lifecycle');
  if (document === undefined) throw noSuchLifecycle(bucket);
  return parseStoredLifecycle(document);
}

export async function deleteBucketLifecycle(storage: Storage, actor: Actor, bucket: string): Promise<void> {
  await storage.settings.deleteConfig(actor, bucket, 'lifecycle');
  storage.lifecycleRules.forget(bucket);
}

// When things fall due

/** How long a lifecycle day is (24 hours, or shorter for tests). */
export interface LifecycleClock {
  dayMs: number;
}

export const REAL_DAYS: LifecycleClock = { dayMs: 24 * 60 * 60 * 1000 };

/** The first day boundary at or after `ms` (midnight UTC with real days). */
function dayBoundaryAtOrAfter(ms: number, clock: LifecycleClock): Date {
  return new Date(Math.ceil(ms / clock.dayMs) * clock.dayMs);
}

export interface ObjectFacts {
  key: string;
  size: number;
  lastModified: Date;
  /** The object's tags (absent or empty: none). */
  tags?: ReadonlyArray<{ key: string; value: string }>;
}

export function filterCovers(filter: LifecycleFilter, object: Omit<ObjectFacts, 'lastModified'>): boolean {
  if (!object.key.startsWith(filter.prefix)) return false;
  if (filter.sizeGreaterThan !== undefined && !(object.size > filter.sizeGreaterThan)) return false;
  if (filter.sizeLessThan !== undefined && !(object.size < filter.sizeLessThan)) return false;
  return filter.tags.every((wanted) => object.tags?.some((tag) => tag.key === wanted.key && tag.value === wanted.value) ?? false);
}

export interface DueDate {
  date: Date;
  ruleId: string;
}

/** When the current version of an object expires under the rules (the earliest rule), if any does. */
/** What a response says of an object's expiration: its due date under the bucket's rules, if any. */
export async function objectExpiration(storage: Storage, bucket: string, object: ObjectFacts): Promise<DueDate | undefined> {
  const config = await storage.lifecycleRules.of(bucket);
  return config && expirationOf(config, object, storage.lifecycleClock);
}

/** When the bucket's rules abort an upload in progress of `key` started at `initiated`, if any does. */
export async function uploadAbortDate(storage: Storage, bucket: string, key: string, initiated: Date): Promise<DueDate | undefined> {
  const config = await storage.lifecycleRules.of(bucket);
  return config && abortOf(config, key, initiated, storage.lifecycleClock);
}

export function expirationOf(config: LifecycleConfiguration, object: ObjectFacts, clock: LifecycleClock): DueDate | undefined {
  let earliest: DueDate | undefined;
  for (const rule of config.rules) {
    if (!rule.enabled || !rule.expiration || !filterCovers(rule.filter, object)) continue;
    const { days, date, createdBefore } = rule.expiration;
    let due: Date | undefined;
    if (date) due = date;
    else if (days !== undefined) due = dayBoundaryAtOrAfter(object.lastModified.getTime() + days * clock.dayMs, clock);
    // Written before the cut-off: due since it was written; written after: never under this rule.
    else if (createdBefore && object.lastModified.getTime() < createdBefore.getTime()) due = object.lastModified;
    if (due && (!earliest || due.getTime() < earliest.date.getTime())) earliest = { date: due, ruleId: rule.id };
  }
  return earliest;
}

/** When an upload in progress of `key`, started at `initiated`, is aborted by the rules, if any rule does. */
export function abortOf(config: LifecycleConfiguration, key: string, initiated: Date, clock: LifecycleClock): DueDate | undefined {
  let earliest: DueDate | undefined;
  for (const rule of config.rules) {
    const abort = rule.abortIncompleteMultipartUpload;
    if (!rule.enabled || !abort || !key.startsWith(rule.filter.prefix)) continue;
    let due: Date | undefined;
    if (abort.daysAfterInitiation !== undefined) due = dayBoundaryAtOrAfter(initiated.getTime() + abort.daysAfterInitiation * clock.dayMs, clock);
    else if (abort.createdBefore && initiated.getTime() < abort.createdBefore.getTime()) due = initiated;
    if (!due) continue;
    if (!earliest || due.getTime() < earliest.date.getTime()) earliest = { date: due, ruleId: rule.id };
  }
  return earliest;
}

// Versioned buckets' history

/**
 * Whether the rules permanently delete a noncurrent version (or noncurrent delete marker) at
 * `now`: a rule covering it has NoncurrentVersionExpiration, `noncurrentDays` have passed since it
 * became noncurrent (rounded up to the day boundary), and the rule's NewerNoncurrentVersions
 * newest noncurrent versions it covers are newer than this one. `newer` counts, per rule, the
 * noncurrent versions of the key newer than this one that the rule covers; the caller walks a
 * key's history newest first, and this adds the version to the counts of the rules covering it.
 */
export function noncurrentVersionDue(
  config: LifecycleConfiguration,
  version: ObjectFacts & { noncurrentSince: Date },
  newer: Map<string, number>,
  clock: LifecycleClock,
  now: Date,
): boolean {
  let due = false;
  for (const rule of config.rules) {
    const action = rule.noncurrentVersionExpiration;
    if (!rule.enabled || !action || !filterCovers(rule.filter, version)) continue;
    const newerCount = newer.get(rule.id) ?? 0;
    newer.set(rule.id, newerCount + 1);
    if (newerCount < (action.newerNoncurrentVersions ?? 0)) continue;
    const date = dayBoundaryAtOrAfter(version.noncurrentSince.getTime() + action.noncurrentDays * clock.dayMs, clock);
    if (date.getTime() <= now.getTime()) due = true;
  }
  return due;
}

/**
 * The earliest a version noncurrent since `since` can fall due under any rule (filters and
 * NewerNoncurrentVersions aside), if a rule has NoncurrentVersionExpiration: before it, nothing
 * of a bucket whose oldest noncurrent version is that old is due.
 */
export function earliestNoncurrentDue(config: LifecycleConfiguration, since: Date, clock: LifecycleClock): Date | undefined {
  const days = config.rules.flatMap((rule) => (rule.enabled && rule.noncurrentVersionExpiration ? [rule.noncurrentVersionExpiration.noncurrentDays] : []));
  if (days.length === 0) return undefined;
  return dayBoundaryAtOrAfter(since.getTime() + Math.min(...days) * clock.dayMs, clock);
}

/**
 * Whether the rules remove an expired object delete marker (the key's latest version, with no
 * other version behind it) at `now`: at once under ExpiredObjectDeleteMarker, or under an
 * Expiration in Days once the marker is that old, as S3 does. A marker has no tags and no size.
 */
export function expiredMarkerDue(config: LifecycleConfiguration, marker: { key: string; lastModified: Date }, clock: LifecycleClock, now: Date): boolean {
  return config.rules.some((rule) => {
    const expiration = rule.expiration;
    if (!rule.enabled || !expiration || !filterCovers(rule.filter, { key: marker.key, size: 0 })) return false;
    if (expiration.expiredObjectDeleteMarker === true) return true;
    if (expiration.days === undefined) return false;
    return dayBoundaryAtOrAfter(marker.lastModified.getTime() + expiration.days * clock.dayMs, clock).getTime() <= now.getTime();
  });
}

/**
 * The buckets' rules as a node last read them, kept a few seconds: the expiration and abort
 * dates that GET, HEAD, PUT and CreateMultipartUpload answer with are informational, and reading
 * the rules on every request would cost those requests a metadata round trip each. A change made
 * through this node is seen at once; one made through another node within the TTL.
 */
export class LifecycleRules {
  private readonly recent = new RecentlySeen<LifecycleConfiguration | undefined>();

  constructor(private readonly read: (bucket: string) => Promise<string | undefined>) {}

  of(bucket: string): Promise<LifecycleConfiguration | undefined> {
    return this.recent.through(bucket, async () => {
      const document = await this.read(bucket);
      return document === undefined ? undefined : parseStoredLifecycle(document);
    });
  }

  forget(bucket: string): void {
    this.recent.forget(bucket);
  }
}
