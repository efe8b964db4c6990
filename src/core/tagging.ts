import type { Storage } from './storage.js';
import type { Actor, Tag } from './types.js';

/**
 * Object and bucket tags, protocol-free: the tag-set model (keys unique, kept in key order), what
 * makes a set valid under a dialect's limits, the URL-query form both S3's `x-amz-tagging` and
 * OSS's `x-oss-tagging` carry, and where the sets are kept. An object's tags live in its row (and
 * an upload's, until Complete hands them to the object), so a new write at the key (any dialect's,
 * the 123pan dialect's included) starts with its own tags, never stale ones. A bucket's are one
 * document of kind 'tagging' among its configurations. The dialects parse and render the XML and
 * word a violation as their service does.
 */

export interface TagLimits {
  maxTags: number;
  maxKeyLength: number;
  maxValueLength: number;
  /**
   * How a length is counted: `utf16` in UTF-16 code units (S3 keeps tags in UTF-16: "characters
   * consume either 1 or 2 character positions"), `chars` in code points, `bytes` in UTF-8 bytes.
   */
  measure: 'utf16' | 'chars' | 'bytes';
  /** The characters a key or value may hold (tested on the whole text). */
  allowed: RegExp;
  /** Key prefixes reserved to the service, compared as written. */
  reservedPrefixes: readonly string[];
}

/** S3: "Unicode letters or numbers, white space, and the following symbols: _ . : / = + @ -". */
const AWS_TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** OSS: letters, digits, spaces and + - = . _ : / (its object-tagging reference). */
const OSS_TAG_TEXT = /^[A-Za-z0-9 +\-=._:/]*$/;

export const S3_OBJECT_TAG_LIMITS: TagLimits = {
  maxTags: 10,
  maxKeyLength: 128,
  maxValueLength: 256,
  measure: 'utf16',
  allowed: AWS_TAG_TEXT,
  reservedPrefixes: ['aws:'],
};
export const S3_BUCKET_TAG_LIMITS: TagLimits = { ...S3_OBJECT_TAG_LIMITS, maxTags: 50 };
export const OSS_OBJECT_TAG_LIMITS: TagLimits = {
  maxTags: 10,
  maxKeyLength: 128,
  maxValueLength: 256,
  measure: 'chars',
  allowed: OSS_TAG_TEXT,
  reservedPrefixes: [],
};
/** OSS bucket tags: 20 at most, a key of 64 bytes not starting with http://, https:// or Aliyun, a value of 128 bytes. */
export const OSS_BUCKET_TAG_LIMITS: TagLimits = {
  maxTags: 20,
  maxKeyLength: 64,
  maxValueLength: 128,
  measure: 'bytes',
  allowed: /^[^\u0000]*$/,
  reservedPrefixes: ['http://', 'https://', 'Aliyun'],
};

/** The first thing wrong with a tag set, for the dialect to word as its service does. */
export type TagViolation =
  | { kind: 'too-many'; limit: number }
  | { kind: 'duplicate-key'; key: string }
  | { kind: 'empty-key' }
  | { kind: 'key-too-long'; key: string; limit: number }
  | { kind: 'value-too-long'; value: string; limit: number }
  | { kind: 'key-characters'; key: string }
  | { kind: 'value-characters'; value: string }
  | { kind: 'reserved-prefix'; key: string; prefix: string };

function lengthOf(text: string, measure: TagLimits['measure']): number {
  if (measure === 'utf16') return text.length;
  if (measure === 'bytes') return Buffer.byteLength(text, 'utf8');
  let count = 0;
  for (const _ of text) count++;
  return count;
}

export function findTagViolation(tags: readonly Tag[], limits: TagLimits): TagViolation | undefined {
  if (tags.length > limits.maxTags) return { kind: 'too-many', limit: limits.maxTags };
  const seen = new Set<string>();
  for (const { key, value } of tags) {
    if (key === '') return { kind: 'empty-key' };
    if (lengthOf(key, limits.measure) > limits.maxKeyLength) return { kind: 'key-too-long', key, limit: limits.maxKeyLength };
    if (lengthOf(value, limits.measure) > limits.maxValueLength) return { kind: 'value-too-long', value, limit: limits.maxValueLength };
    if (!limits.allowed.test(key)) return { kind: 'key-characters', key };
    if (!limits.allowed.test(value)) return { kind: 'value-characters', value };
    const prefix = limits.reservedPrefixes.find((reserved) => key.startsWith(reserved));
    if (prefix !== undefined) return { kind: 'reserved-prefix', key, prefix };
    if (seen.has(key)) return { kind: 'duplicate-key', key };
    seen.add(key);
  }
  return undefined;
}

/** The set as stored and answered: in key order (UTF-16 code unit order, as JavaScript compares). */
export function normalizeTags(tags: readonly Tag[]): Tag[] {
  return [...tags].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).map(({ key, value }) => ({ key, value }));
}

/**
 * The tags of an `x-amz-tagging` / `x-oss-tagging` header or a form's query: `k1=v1&k2=v2`, each
 * part percent-encoded UTF-8 (`+` a space, as form encoding writes it); a key without `=` has the
 * empty value. Undefined when it is not that: a part with more than one `=`, a bad escape or
 * bytes that are not UTF-8, or a key given twice.
 */
export function parseTagQuery(text: string): Tag[] | undefined {
  const tags: Tag[] = [];
  const seen = new Set<string>();
  // Raw bytes beyond ASCII were never percent-encoded (a header arrives as Latin-1 text).
  if (!/^[\x20-\x7e]*$/.test(text)) return undefined;
  for (const part of text.split('&')) {
    if (part === '') continue;
    const pieces = part.split('=');
    if (pieces.length > 2) return undefined;
    const key = decodeQueryComponent(pieces[0]!);
    const value = decodeQueryComponent(pieces[1] ?? '');
    if (key === undefined || value === undefined || seen.has(key)) return undefined;
    seen.add(key);
    tags.push({ key, value });
  }
  return tags;
}

/** A percent-encoded UTF-8 component; undefined for a bad escape or bytes that are not UTF-8. */
function decodeQueryComponent(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** `k1=v1&k2=v2`, percent-encoded (for a copy's or an upload's tags handed on as a header). */
export function formatTagQuery(tags: readonly Tag[]): string {
  return tags.map((tag) => `${encodeURIComponent(tag.key)}=${encodeURIComponent(tag.value)}`).join('&');
}

// Object tags: in the object's row

/**
 * The tags of an object or of the version named (empty when it has none), and the id of the version
 * read (none in an unversioned bucket); the bucket's owner (or root) only.
 */
export async function getObjectTags(
  storage: Storage,
  actor: Actor,
  bucket: string,
  key: string,
  versionId?: string,
): Promise<{ tags: Tag[]; versionId?: string }> {
  const object = await storage.headObject(actor, bucket, key, versionId);
  return { tags: object.tags ?? [], versionId: object.versionId };
}

/** Replaces an object's tags (checked by the dialect against its limits); an empty set removes them. */
export async function putObjectTags(
  storage: Storage,
  actor: Actor,
  bucket: string,
  key: string,
  tags: readonly Tag[],
  versionId?: string,
): Promise<{ versionId?: string }> {
  return storage.setObjectTags(actor, bucket, key, normalizeTags(tags), versionId);
}

export async function deleteObjectTags(
  storage: Storage,
  actor: Actor,
  bucket: string,
  key: string,
  versionId?: string,
): Promise<{ versionId?: string }> {
  return storage.setObjectTags(actor, bucket, key, [], versionId);
}

// Bucket tags: one document of kind 'tagging' among the bucket's configurations

const KIND = 'tagging';

const parseTagDocument = (document: string): Tag[] => (JSON.parse(document) as Array<[string, string]>).map(([key, value]) => ({ key, value }));
const tagDocument = (tags: readonly Tag[]): string => JSON.stringify(normalizeTags(tags).map((tag) => [tag.key, tag.value]));

/** The bucket's tags, or undefined when it has none (S3 answers NoSuchTagSet, OSS an empty set). */
export async function getBucketTags(storage: Storage, actor: Actor, bucket: string): Promise<Tag[] | undefined> {
  const document = await storage.settings.getConfig(actor, bucket, KIND);
  return document === undefined ? undefined : parseTagDocument(document);
}

/** Replaces the bucket's tags; an empty set is kept as one (S3 allows it: "it can be empty"). */
export async function putBucketTags(storage: Storage, actor: Actor, bucket: string, tags: readonly Tag[]): Promise<void> {
  await storage.settings.putConfig(actor, bucket, KIND, tagDocument(tags));
}

/** Removes the bucket's tags: all of them, or those with the keys given (none left: no tags at all). */
export function deleteBucketTags(storage: Storage, actor: Actor, bucket: string, keys?: readonly string[]): Promise<void> {
  if (keys === undefined) return storage.settings.deleteConfig(actor, bucket, KIND);
  const gone = new Set(keys);
  return storage.settings.updateConfig(actor, bucket, KIND, (document) => {
    if (document === undefined) return undefined;
    const kept = parseTagDocument(document).filter((tag) => !gone.has(tag.key));
    return kept.length === 0 ? undefined : tagDocument(kept);
  });
}
