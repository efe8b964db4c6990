import { errors } from '../../core/errors.js';
import type { RequestContext } from '../../server/dialect.js';
import type { FeatureRule, FeatureTable } from '../common/request-features.js';
import type { S3Call } from './call.js';
import { CHECKSUM_ALGORITHMS, checksumHeaderName } from './checksums.js';
import { parseCopySource } from './objects.js';
import { checkEncryptionMethod } from './encryption.js';
import { header } from './request.js';

/*
 * Every x-amz-* header, conditional header and query parameter the S3 dialect receives, by what
 * Tessera does with it (AWS S3 API reference, operation by operation, for the operations routed).
 * An x-amz-* header or a query parameter no rule names is refused. PostObject (a browser form
 * upload) is judged by the same rules twice: its request's headers and query, and the form fields
 * that stand for PutObject's headers (`acl` as x-amz-acl, `tagging` as x-amz-tagging, the x-amz-*
 * fields but the policy's signature fields, Content-Type and the other standard ones).
 */

const GET_OR_HEAD = ['GetObject', 'HeadObject'];
const CORS_OPERATIONS = ['PutBucketCors', 'GetBucketCors', 'DeleteBucketCors'];
const LIFECYCLE_OPERATIONS = ['PutBucketLifecycleConfiguration', 'GetBucketLifecycleConfiguration', 'DeleteBucketLifecycle'];
const OBJECT_TAGGING = ['PutObjectTagging', 'GetObjectTagging', 'DeleteObjectTagging'];
const BUCKET_TAGGING = ['PutBucketTagging', 'GetBucketTagging', 'DeleteBucketTagging'];
/** Writes that take the new object's tags in `x-amz-tagging` (a form's `tagging` field for PostObject). */
const TAGGED_WRITES = ['PutObject', 'CreateMultipartUpload', 'CopyObject', 'PostObject'];
const OBJECT_LOCK_CONFIGURATION = ['PutObjectLockConfiguration', 'GetObjectLockConfiguration'];
const RETENTION = ['PutObjectRetention', 'GetObjectRetention'];
const LEGAL_HOLD = ['PutObjectLegalHold', 'GetObjectLegalHold'];
const BUCKET_POLICY = ['PutBucketPolicy', 'GetBucketPolicy', 'DeleteBucketPolicy'];
const PUBLIC_ACCESS_BLOCK = ['PutPublicAccessBlock', 'GetPublicAccessBlock', 'DeletePublicAccessBlock'];
const OWNERSHIP_CONTROLS = ['PutBucketOwnershipControls', 'GetBucketOwnershipControls', 'DeleteBucketOwnershipControls'];
const ACL_OPERATIONS = ['PutBucketAcl', 'GetBucketAcl', 'PutObjectAcl', 'GetObjectAcl'];
/** Where an ACL is set: x-amz-acl takes any canned ACL, x-amz-grant-* explicit grants. */
const ACL_WRITES = ['CreateBucket', 'PutBucketAcl', 'PutObjectAcl'];
/** Writes that give the new object (version) its own ACL: x-amz-acl, and but for a form, x-amz-grant-*. */
const OBJECT_ACL_WRITES = ['PutObject', 'CreateMultipartUpload', 'CopyObject'];
/** Every operation on a bucket or its objects: where x-amz-expected-bucket-owner applies. */
const BUCKET_OPERATIONS = [
  'HeadBucket', 'DeleteBucket', 'DeleteObjects', 'ListMultipartUploads', 'ListObjects', 'ListObjectsV2', 'ListObjectVersions',
  'GetBucketLocation', 'GetBucketVersioning', 'PutBucketVersioning', 'PutObject', 'CopyObject', 'UploadPart', 'UploadPartCopy', 'GetObject', 'HeadObject',
  'ListParts', 'DeleteObject', 'AbortMultipartUpload', 'CreateMultipartUpload', 'CompleteMultipartUpload', 'PostObject', ...CORS_OPERATIONS,
  ...LIFECYCLE_OPERATIONS,
  ...OBJECT_TAGGING, ...BUCKET_TAGGING, 'GetObjectAttributes', ...OBJECT_LOCK_CONFIGURATION, ...RETENTION, ...LEGAL_HOLD,
  ...BUCKET_POLICY, 'GetBucketPolicyStatus', ...PUBLIC_ACCESS_BLOCK, ...OWNERSHIP_CONTROLS, ...ACL_OPERATIONS,
  'PutBucketEncryption', 'GetBucketEncryption', 'DeleteBucketEncryption',
];
const COPIES = ['CopyObject', 'UploadPartCopy'];
/** Writes that take x-amz-server-side-encryption (an upload's parts are sealed as their upload). */
const SSE_WRITES = ['PutObject', 'CreateMultipartUpload', 'CopyObject'];
/** Where an SSE-C key is given: to seal what is written, or to read what was sealed with it. */
const SSE_C_OPERATIONS = ['PutObject', 'CreateMultipartUpload', 'UploadPart', 'UploadPartCopy', 'CopyObject', 'CompleteMultipartUpload', 'GetObject', 'HeadObject'];
/** Writes that take the new version's Object Lock in x-amz-object-lock-* headers (not a form upload's fields). */
const LOCKED_WRITES = ['PutObject', 'CreateMultipartUpload', 'CopyObject'];
/** Where x-amz-bypass-governance-retention lifts GOVERNANCE retention. */
const GOVERNED = ['DeleteObject', 'DeleteObjects', 'PutObjectRetention'];
/** A client's request to write only where no object has the key yet (`If-None-Match: *`). */
const CONDITIONAL_WRITES = ['PutObject', 'CompleteMultipartUpload'];

const implemented = (name: string, why: string, more: Partial<FeatureRule> = {}): FeatureRule => ({ name, verdict: 'implemented', why, ...more });
const informational = (name: string, why: string, more: Partial<FeatureRule> = {}): FeatureRule => ({ name, verdict: 'informational', why, ...more });
const refused = (name: string, why: string): FeatureRule => ({ name, verdict: 'refused', why });

export const S3_HEADERS: readonly FeatureRule[] = [
  // Signing and framing: consumed by SigV4 verification and the body decoder.
  implemented('x-amz-date', 'the signature time, checked by SigV4'),
  implemented('x-amz-content-sha256', 'the payload hash: checked against the body, or names its aws-chunked framing'),
  implemented('x-amz-decoded-content-length', 'the size of an aws-chunked body once decoded, checked'),
  implemented('x-amz-trailer', 'names the trailing checksum of an aws-chunked body, checked'),
  implemented('x-amz-security-token', "the session token of temporary credentials (the console's): checked before the signature"),
  // Checksums: verified, stored and returned by the flexible-checksum support.
  implemented('x-amz-checksum-*', 'flexible checksums: x-amz-checksum-<algorithm>, -algorithm, -type and -mode'),
  implemented('x-amz-sdk-checksum-algorithm', 'names the algorithm of the checksum header or trailer sent with it'),
  // Object attributes and copies.
  implemented('x-amz-meta-*', 'user metadata, stored and returned'),
  implemented('x-amz-copy-source', 'CopyObject and UploadPartCopy'),
  implemented('x-amz-copy-source-range', 'UploadPartCopy of a byte range'),
  implemented('x-amz-copy-source-if-match', 'copy preconditions on the source', { operations: COPIES }),
  implemented('x-amz-copy-source-if-none-match', 'copy preconditions on the source', { operations: COPIES }),
  implemented('x-amz-copy-source-if-modified-since', 'copy preconditions on the source', { operations: COPIES }),
  implemented('x-amz-copy-source-if-unmodified-since', 'copy preconditions on the source', { operations: COPIES }),
  implemented('x-amz-metadata-directive', 'COPY or REPLACE the source metadata', { operations: ['CopyObject'] }),
  implemented('x-amz-expected-bucket-owner', 'compared with the bucket owner: AccessDenied on a mismatch', { operations: BUCKET_OPERATIONS }),
  implemented('x-amz-source-expected-bucket-owner', "compared with the copy source's bucket owner: AccessDenied on a mismatch", {
    operations: COPIES,
  }),
  // Honoured for the values that describe what Tessera does anyway.
  implemented('x-amz-acl', "a canned ACL: the bucket's (CreateBucket, PutBucketAcl), the object's (PutObjectAcl) or the new object's (PutObject, CreateMultipartUpload, CopyObject, a form's `acl`); elsewhere only `private` or `bucket-owner-full-control`, which change nothing", {
    check: (value, operation) =>
      [...ACL_WRITES, ...OBJECT_ACL_WRITES, 'PostObject'].includes(operation) || ['private', 'bucket-owner-full-control'].includes(value.trim()) ? undefined : 'refused',
  }),
  implemented('x-amz-storage-class', 'every object is stored as STANDARD', { values: ['STANDARD'] }),
  implemented('x-amz-object-ownership', "the new bucket's Object Ownership (BucketOwnerEnforced unless named)", {
    operations: ['CreateBucket'],
  }),
  implemented('x-amz-grant-*', 'explicit ACL grants (x-amz-grant-read, -read-acp, -write-acp, -full-control) of a bucket, an object or a new object', {
    operations: [...ACL_WRITES, ...OBJECT_ACL_WRITES],
  }),
  implemented('x-amz-grant-write', 'WRITE grants of a bucket (CreateBucket, PutBucketAcl) or, granting nothing there, of an object (PutObjectAcl); not a new object\'s (400)', {
    operations: [...ACL_WRITES, ...OBJECT_ACL_WRITES],
    check: (value, operation) =>
      OBJECT_ACL_WRITES.includes(operation) ? errors.invalidArgument('WRITE cannot be granted on a new object', 'x-amz-grant-write', value) : undefined,
  }),
  implemented('x-amz-bucket-object-lock-enabled', '`true`: the bucket has Object Lock and versioning Enabled, both for good', {
    values: ['true', 'false'],
    operations: ['CreateBucket'],
  }),
  implemented('x-amz-object-lock-mode', "the new version's retention mode (GOVERNANCE or COMPLIANCE), with its date", { operations: LOCKED_WRITES }),
  implemented('x-amz-object-lock-retain-until-date', "the new version's retention date, with its mode", { operations: LOCKED_WRITES }),
  implemented('x-amz-object-lock-legal-hold', "the new version's legal hold (ON or OFF)", { operations: LOCKED_WRITES }),
  implemented('x-amz-bypass-governance-retention', 'lifts GOVERNANCE retention for those allowed s3:BypassGovernanceRetention', {
    operations: GOVERNED,
  }),
  // Harmless to ignore.
  informational('x-amz-user-agent', "the SDK's own description of itself"),
  informational('x-amz-request-payer', 'acknowledges Requester Pays charges; nobody is charged here'),
  informational('x-amz-mfa', 'MFA Delete cannot be enabled here (PutBucketVersioning refuses it), so no delete needs the token'),
  informational('x-amz-optional-object-attributes', 'asks for RestoreStatus, which only archived objects have; none is archived', {
    operations: ['ListObjectsV2', 'ListObjectVersions'],
  }),
  implemented('x-amz-tagging', "the new object's tags (URL-query encoded), stored and counted in x-amz-tagging-count", { operations: TAGGED_WRITES }),
  implemented('x-amz-tagging-directive', "COPY (the default) keeps the source's tags, REPLACE takes x-amz-tagging", { operations: ['CopyObject'] }),
  implemented('x-amz-object-attributes', 'the root fields GetObjectAttributes answers', { operations: ['GetObjectAttributes'] }),
  implemented('x-amz-max-parts', "GetObjectAttributes' page of parts", { operations: ['GetObjectAttributes'] }),
  implemented('x-amz-part-number-marker', "GetObjectAttributes' paging of parts", { operations: ['GetObjectAttributes'] }),
  // Refused until the functionality exists.
  // Server-side encryption (core/encryption.ts): SSE-S3, SSE-KMS with the local key store, SSE-C.
  implemented('x-amz-server-side-encryption', 'SSE-S3 (`AES256`) and SSE-KMS (`aws:kms`, the local key store): the object is stored encrypted; `aws:kms:dsse` is refused', {
    operations: SSE_WRITES,
    check: checkEncryptionMethod,
  }),
  implemented('x-amz-server-side-encryption-aws-kms-key-id', "SSE-KMS: the key store's key (id, ARN or alias/aws/s3)", { operations: SSE_WRITES }),
  implemented('x-amz-server-side-encryption-bucket-key-enabled', 'SSE-KMS: echoed back (every blob has its own data key either way)', {
    operations: SSE_WRITES,
    values: ['true', 'false'],
  }),
  ...['algorithm', 'key', 'key-md5'].map((name) =>
    implemented(`x-amz-server-side-encryption-customer-${name}`, 'SSE-C: the customer key seals the object; required again to read it', {
      operations: SSE_C_OPERATIONS,
    }),
  ),
  ...['algorithm', 'key', 'key-md5'].map((name) =>
    implemented(`x-amz-copy-source-server-side-encryption-customer-${name}`, "SSE-C: the key of a copy's source stored with one", { operations: COPIES }),
  ),
  refused('x-amz-server-side-encryption-*', 'the SSE-KMS encryption context'),
  refused('x-amz-website-redirect-location', 'website redirects'),
  refused('x-amz-write-offset-bytes', 'appends (directory buckets)'),
  refused('x-amz-mp-object-size', 'the declared size of a completed multipart object'),
  refused('x-amz-if-match-initiated-time', 'conditional aborts (directory buckets)'),
  refused('x-amz-if-match-last-modified-time', 'conditional deletes (directory buckets)'),
  refused('x-amz-if-match-size', 'conditional deletes (directory buckets)'),
  // Conditional headers: reads honour all four; a write honours only If-None-Match: *.
  implemented('if-match', 'read preconditions (conditional writes on an ETag are not implemented)', { operations: GET_OR_HEAD }),
  implemented('if-unmodified-since', 'read preconditions', { operations: GET_OR_HEAD }),
  implemented('if-modified-since', 'read preconditions', { operations: GET_OR_HEAD }),
  implemented('if-none-match', 'read preconditions; on PutObject and CompleteMultipartUpload `*`: write only if the key is free', {
    operations: [...GET_OR_HEAD, ...CONDITIONAL_WRITES],
    check: (value, operation) => (CONDITIONAL_WRITES.includes(operation) && value.trim() !== '*' ? 'refused' : undefined),
  }),
];

const LIST_OBJECTS = ['ListObjects', 'ListObjectsV2', 'ListObjectVersions', 'ListMultipartUploads'];
const LIST_WITH_PREFIX = [...LIST_OBJECTS, 'ListBuckets'];
const UPLOAD_ID_OPERATIONS = ['UploadPart', 'UploadPartCopy', 'ListParts', 'AbortMultipartUpload', 'CompleteMultipartUpload'];
const RESPONSE_OVERRIDE = 'response-* overrides of a GET or HEAD answer';

/** Sub-resources S3 has and Tessera does not: refused whatever the method. */
const UNSUPPORTED_SUBRESOURCES = [
  'website', 'logging', 'notification', 'replication',
  'requestPayment', 'accelerate', 'analytics', 'inventory',
  'metrics', 'intelligent-tiering', 'torrent', 'restore', 'select', 'select-type',
  'metadataTable', 'metadataConfiguration', 'session', 'renameObject',
];

/** Checksum values (and the SDK's name for them) as a presigner puts them in a URL: not taken as headers. */
const PRESIGNED_CHECKSUMS = [...CHECKSUM_ALGORITHMS.map(checksumHeaderName), 'x-amz-sdk-checksum-algorithm'];

export const S3_QUERY: readonly FeatureRule[] = [
  // Presigned URLs: consumed by SigV4 verification (names compared without case).
  ...['x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-signedheaders', 'x-amz-signature', 'x-amz-content-sha256'].map(
    (name) => implemented(name, 'presigned-URL authentication, checked by SigV4'),
  ),
  implemented('x-amz-security-token', 'the session token of temporary credentials in a presigned URL: checked before the signature'),
  // A presigner bakes the checksum of the body it had (usually none) into the URL; the S3 user guide
  // long said presigned uploads do not support these algorithms, and verifying the empty body's
  // CRC would refuse every such upload. Content-MD5 checks a presigned upload.
  ...PRESIGNED_CHECKSUMS.map((name) => informational(name, 'a checksum a presigner computed without the body; presigned uploads are checked with Content-MD5')),
  informational('x-id', "the AWS SDK's name for the operation, which the method and path already give"),
  // Operations picked by a sub-resource.
  implemented('uploads', 'CreateMultipartUpload, ListMultipartUploads', { operations: ['CreateMultipartUpload', 'ListMultipartUploads'] }),
  implemented('uploadId', 'the multipart upload addressed', { operations: UPLOAD_ID_OPERATIONS }),
  implemented('partNumber', 'UploadPart, UploadPartCopy; GET or HEAD of one part', { operations: ['UploadPart', 'UploadPartCopy', ...GET_OR_HEAD] }),
  implemented('delete', 'DeleteObjects', { operations: ['DeleteObjects'] }),
  implemented('location', 'GetBucketLocation', { operations: ['GetBucketLocation'] }),
  implemented('versioning', 'PutBucketVersioning, GetBucketVersioning (Enabled, Suspended)', { operations: ['PutBucketVersioning', 'GetBucketVersioning'] }),
  implemented('versions', 'ListObjectVersions: versions and delete markers', { operations: ['ListObjectVersions'] }),
  implemented('cors', "PutBucketCors, GetBucketCors, DeleteBucketCors: the bucket's CORS rules", { operations: CORS_OPERATIONS }),
  implemented('lifecycle', "PutBucketLifecycleConfiguration, GetBucketLifecycleConfiguration, DeleteBucketLifecycle: the bucket's lifecycle rules", {
    operations: LIFECYCLE_OPERATIONS,
  }),
  implemented('tagging', 'object tags (PutObjectTagging, GetObjectTagging, DeleteObjectTagging) and bucket tags', {
    operations: [...OBJECT_TAGGING, ...BUCKET_TAGGING],
  }),
  implemented('attributes', 'GetObjectAttributes', { operations: ['GetObjectAttributes'] }),
  implemented('object-lock', "PutObjectLockConfiguration, GetObjectLockConfiguration: the bucket's Object Lock and default retention", {
    operations: OBJECT_LOCK_CONFIGURATION,
  }),
  implemented('retention', "PutObjectRetention, GetObjectRetention: a version's retention", { operations: RETENTION }),
  implemented('legal-hold', "PutObjectLegalHold, GetObjectLegalHold: a version's legal hold", { operations: LEGAL_HOLD }),
  implemented('acl', 'PutBucketAcl, GetBucketAcl, PutObjectAcl, GetObjectAcl', { operations: ACL_OPERATIONS }),
  implemented('policy', "PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy: the bucket's access policy", { operations: BUCKET_POLICY }),
  implemented('policyStatus', 'GetBucketPolicyStatus: whether the bucket policy is public', { operations: ['GetBucketPolicyStatus'] }),
  implemented('publicAccessBlock', "PutPublicAccessBlock, GetPublicAccessBlock, DeletePublicAccessBlock: the bucket's Block Public Access", {
    operations: PUBLIC_ACCESS_BLOCK,
  }),
  implemented('encryption', "PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption: the bucket's default encryption (SSE-S3 or SSE-KMS)", {
    operations: ['PutBucketEncryption', 'GetBucketEncryption', 'DeleteBucketEncryption'],
  }),
  implemented('ownershipControls', "PutBucketOwnershipControls, GetBucketOwnershipControls, DeleteBucketOwnershipControls: the bucket's Object Ownership", {
    operations: OWNERSHIP_CONTROLS,
  }),
  implemented('versionId', 'the version read, tagged or deleted (`null`: the null version); a malformed id is InvalidArgument', {
    operations: [...GET_OR_HEAD, 'DeleteObject', ...OBJECT_TAGGING, 'GetObjectAttributes', ...RETENTION, ...LEGAL_HOLD, 'PutObjectAcl', 'GetObjectAcl'],
  }),
  // Listings.
  implemented('list-type', 'ListObjectsV2', { operations: ['ListObjectsV2'], values: ['2'] }),
  implemented('prefix', 'listing filter', { operations: LIST_WITH_PREFIX }),
  implemented('delimiter', 'listing roll-up', { operations: LIST_OBJECTS }),
  implemented('encoding-type', 'url-encoded keys in listings', { operations: [...LIST_OBJECTS, 'ListParts'] }),
  implemented('max-keys', 'listing page size', { operations: ['ListObjects', 'ListObjectsV2', 'ListObjectVersions'] }),
  implemented('marker', 'ListObjects paging', { operations: ['ListObjects'] }),
  implemented('continuation-token', 'ListObjectsV2 and ListBuckets paging', { operations: ['ListObjectsV2', 'ListBuckets'] }),
  implemented('start-after', 'ListObjectsV2 paging', { operations: ['ListObjectsV2'] }),
  implemented('fetch-owner', 'ListObjectsV2 owners', { operations: ['ListObjectsV2'] }),
  implemented('key-marker', 'paging by key', { operations: ['ListMultipartUploads', 'ListObjectVersions'] }),
  implemented('version-id-marker', 'paging by version within the key marker', { operations: ['ListObjectVersions'] }),
  implemented('upload-id-marker', 'ListMultipartUploads paging', { operations: ['ListMultipartUploads'] }),
  implemented('max-uploads', 'ListMultipartUploads page size', { operations: ['ListMultipartUploads'] }),
  implemented('max-parts', 'ListParts page size', { operations: ['ListParts'] }),
  implemented('part-number-marker', 'ListParts paging', { operations: ['ListParts'] }),
  ...['response-content-type', 'response-content-language', 'response-expires', 'response-cache-control', 'response-content-disposition', 'response-content-encoding'].map(
    (name) => implemented(name, RESPONSE_OVERRIDE, { operations: GET_OR_HEAD }),
  ),
  implemented('max-buckets', 'ListBuckets paging', { operations: ['ListBuckets'] }),
  implemented('bucket-region', 'ListBuckets region filter (one region holds every bucket)', { operations: ['ListBuckets'] }),
  ...UNSUPPORTED_SUBRESOURCES.map((name) => refused(name, 'sub-resources of features Tessera does not have')),
];

export const S3_FEATURES: FeatureTable = {
  headerPrefixes: ['x-amz-'],
  headers: S3_HEADERS,
  query: S3_QUERY,
  queryAsHeader: (name) => name.toLowerCase().startsWith('x-amz-'),
};

/** Query parameters named x-amz-* that are not headers: presigning and presigned checksums. */
const HOIST_EXEMPT = new Set(S3_QUERY.filter((rule) => rule.name.startsWith('x-amz-')).map((rule) => rule.name));

/**
 * S3 takes a presigned URL's `x-amz-*` query parameters (SDKs hoist headers there) as the headers
 * they name, so what they ask for is honoured or refused like a header: `x-amz-meta-*` is stored,
 * `x-amz-server-side-encryption` refused. Presigning parameters and presigned checksums stay put.
 * Runs after the signature check, which covers the query as sent.
 */
export function hoistQueryHeaders(ctx: RequestContext): void {
  for (const [name, value] of ctx.query) {
    const lower = name.toLowerCase();
    if (!lower.startsWith('x-amz-') || HOIST_EXEMPT.has(lower)) continue;
    if (ctx.req.headers[lower] === undefined) ctx.req.headers[lower] = value;
  }
}

async function expectOwner(call: S3Call, bucket: string, expected: string): Promise<void> {
  if ((await call.storage.headBucket(call.actor, bucket)).owner !== expected.trim()) throw errors.accessDenied();
}

/** `x-amz-expected-bucket-owner` and `x-amz-source-expected-bucket-owner`: AccessDenied unless the owner is the one named. */
export async function checkExpectedOwners(call: S3Call): Promise<void> {
  const { headers } = call.ctx.req;
  const expected = header(headers, 'x-amz-expected-bucket-owner');
  if (expected !== undefined && call.bucket !== '') await expectOwner(call, call.bucket, expected);
  const expectedSource = header(headers, 'x-amz-source-expected-bucket-owner');
  const copySource = header(headers, 'x-amz-copy-source');
  if (expectedSource !== undefined && copySource !== undefined) {
    await expectOwner(call, parseCopySource(copySource).bucket, expectedSource);
  }
}

