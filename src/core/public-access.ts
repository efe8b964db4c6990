import { createHash } from 'node:crypto';
import { parseAclDocument } from './acl.js';
import type { BucketAccess, ObjectOwnership, PublicAccessBlock } from './types.js';

/**
 * Block Public Access and Object Ownership, as bucket configurations (kinds
 * `public-access-block` and `ownership`). A bucket made now gets AWS's defaults for new buckets:
 * all four Block Public Access switches on, and BucketOwnerEnforced (ACLs off). A bucket made
 * before Tessera had them has neither stored: nothing blocked, and ObjectWriter, as AWS treats
 * buckets older than its defaults.
 */

export const NEW_BUCKET_PUBLIC_ACCESS_BLOCK: PublicAccessBlock = {
  blockPublicAcls: true,
  ignorePublicAcls: true,
  blockPublicPolicy: true,
  restrictPublicBuckets: true,
};

export const NEW_BUCKET_OWNERSHIP: ObjectOwnership = 'BucketOwnerEnforced';

/**
 * What a bucket made through OSS starts with: OSS keeps bucket ACLs on and public access unblocked
 * by default, and its PutBucket takes `x-oss-acl`.
 */
export const OSS_NEW_BUCKET: BucketAccess = { ownership: 'ObjectWriter' };

const OWNERSHIPS = new Set<ObjectOwnership>(['BucketOwnerEnforced', 'BucketOwnerPreferred', 'ObjectWriter']);

export function isObjectOwnership(value: string): value is ObjectOwnership {
  return OWNERSHIPS.has(value as ObjectOwnership);
}

export function publicAccessBlockDocument(block: PublicAccessBlock): string {
  return JSON.stringify(block);
}

export function parsePublicAccessBlockDocument(document: string): PublicAccessBlock {
  const stored = JSON.parse(document) as Partial<PublicAccessBlock>;
  return {
    blockPublicAcls: stored.blockPublicAcls === true,
    ignorePublicAcls: stored.ignorePublicAcls === true,
    blockPublicPolicy: stored.blockPublicPolicy === true,
    restrictPublicBuckets: stored.restrictPublicBuckets === true,
  };
}

/** The access settings stored for a bucket, by configuration kind (getBucket reads them in one sub-select). */
export function bucketAccessOf(documents: Record<string, string>): BucketAccess | undefined {
  const access: BucketAccess = {};
  if (documents.policy !== undefined) access.policy = documents.policy;
  if (documents['public-access-block'] !== undefined) access.publicAccessBlock = parsePublicAccessBlockDocument(documents['public-access-block']);
  const ownership = documents.ownership;
  if (ownership !== undefined && isObjectOwnership(ownership)) access.ownership = ownership;
  if (documents.acl !== undefined) access.acl = parseAclDocument(documents.acl);
  return Object.keys(access).length === 0 ? undefined : access;
}

/**
 * The digest of a bucket's access documents, as the metadata backends compute it too (PostgreSQL in
 * SQL, for a write's guard): MD5 over `kind:document` lines in kind order, '' for none.
 */
export function accessStamp(documents: Record<string, string>): string {
  const lines = Object.keys(documents)
    .sort()
    .map((kind) => `${kind}:${documents[kind]}`);
  return createHash('md5').update(lines.join('\n'), 'utf8').digest('hex');
}

/**
 * The configuration kinds a write is decided from, which getBucket reads with the bucket (into
 * BucketAccess, and the default encryption) and the write guard digests (accessStamp): a PUT
 * decided from a stale reading of any of them is decided again.
 */
export const ACCESS_CONFIG_KINDS = ['policy', 'public-access-block', 'ownership', 'acl', 'encryption'] as const;

/** ACCESS_CONFIG_KINDS as an SQL list, for `kind IN (…)`. */
export const ACCESS_CONFIG_KINDS_SQL = ACCESS_CONFIG_KINDS.map((kind) => `'${kind}'`).join(', ');
