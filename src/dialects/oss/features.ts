import { checkOssEncryption } from './encryption.js';
import type { FeatureRule, FeatureTable } from '../common/request-features.js';

/*
 * Every x-oss-* header, conditional header and query parameter the OSS dialect receives, by what
 * Tessera does with it (OSS API reference, for the operations routed). An x-oss-* header or a
 * query parameter no rule names is refused. PostObject (a browser form upload) is judged by the
 * same rules twice: its request's headers and query, and the form fields that stand for
 * PutObject's headers (the x-oss-* fields but the V4 signature's, Content-Type and the other
 * standard ones).
 */

const GET_OR_HEAD = ['GetObject', 'HeadObject'];
const COPIES = ['CopyObject', 'UploadPartCopy'];
const OBJECT_TAGGING = ['PutObjectTagging', 'GetObjectTagging', 'DeleteObjectTagging'];
/** Where `x-oss-object-acl` sets an object's ACL (UploadPart and Complete: ali-oss's repeats of the Initiate's). */
const OBJECT_ACL_WRITES = ['PutObject', 'InitiateMultipartUpload', 'CopyObject', 'PostObject', 'PutObjectACL', 'UploadPart', 'CompleteMultipartUpload'];

const implemented = (name: string, why: string, more: Partial<FeatureRule> = {}): FeatureRule => ({ name, verdict: 'implemented', why, ...more });
const informational = (name: string, why: string, more: Partial<FeatureRule> = {}): FeatureRule => ({ name, verdict: 'informational', why, ...more });
const refused = (name: string, why: string): FeatureRule => ({ name, verdict: 'refused', why });

export const OSS_HEADERS: readonly FeatureRule[] = [
  // Signing: consumed by V1/V4 verification.
  implemented('x-oss-date', 'the signature time, checked'),
  implemented('x-oss-content-sha256', 'V4 payload hash: a digest is checked against the body'),
  implemented('x-oss-security-token', 'the token of temporary credentials (the console\'s): names the user and the secret the request is signed with; refused with a long-term key'),
  informational('x-oss-user-agent', "ali-oss's description of itself in browsers, where User-Agent cannot be set"),
  // Object attributes, copies and writes.
  implemented('x-oss-meta-*', 'user metadata, stored and returned'),
  implemented('x-oss-copy-source', 'CopyObject and UploadPartCopy'),
  implemented('x-oss-copy-source-range', 'UploadPartCopy of a byte range'),
  implemented('x-oss-copy-source-if-match', 'copy preconditions on the source', { operations: COPIES }),
  implemented('x-oss-copy-source-if-none-match', 'copy preconditions on the source', { operations: COPIES }),
  implemented('x-oss-copy-source-if-modified-since', 'copy preconditions on the source', { operations: COPIES }),
  implemented('x-oss-copy-source-if-unmodified-since', 'copy preconditions on the source', { operations: COPIES }),
  // ali-oss's copy() repeats every header it is given under this prefix (meant for the if-* ones
  // above); each is also sent as itself, and judged as that.
  informational('x-oss-copy-source-*', "ali-oss copy()'s echo of the request's other headers", { operations: COPIES }),
  implemented('x-oss-metadata-directive', 'COPY or REPLACE the source metadata', { operations: ['CopyObject'] }),
  // On the operations that write an object; ali-oss's multipartUpload repeats its headers on every
  // UploadPart, where it changes nothing (as on OSS).
  implemented('x-oss-forbid-overwrite', 'FileAlreadyExists rather than replace an object (PutObject, CopyObject, Initiate and Complete)'),
  implemented('x-oss-complete-all', 'Complete with every uploaded part', { operations: ['CompleteMultipartUpload'] }),
  // Honoured for the values that describe what Tessera does anyway.
  // ali-oss's multipartUpload repeats it on every UploadPart and on Complete, where the Initiate's
  // counts. An object's own public-read-write would let anyone overwrite that one object: no
  // object write is decided by the object it replaces here, so that level is refused.
  implemented('x-oss-object-acl', "the object's own ACL (default: its bucket's; private, public-read) on PutObject, InitiateMultipartUpload, CopyObject, PostObject and PutObjectACL; public-read-write refused", {
    check: (value, operation) =>
      value.trim() === 'public-read-write' || !(OBJECT_ACL_WRITES.includes(operation) || ['default', 'private'].includes(value.trim())) ? 'refused' : undefined,
  }),
  implemented('x-oss-acl', "the bucket's ACL (private, public-read, public-read-write), which its objects follow", { operations: ['PutBucket', 'PutBucketAcl'] }),
  implemented('x-oss-storage-class', 'every object is stored as Standard', { values: ['Standard'] }),
  implemented('x-oss-range-behavior', 'ranges are always read the standard way: an unsatisfiable one is 416', {
    values: ['standard'],
    operations: GET_OR_HEAD,
  }),
  // Harmless to ignore.
  informational('x-oss-request-payer', 'acknowledges Requester Pays charges; nobody is charged here'),
  // ali-oss's multipartUpload repeats its headers on every UploadPart and on Complete: the tags
  // are the Initiate's, as on OSS, and the repeats change nothing.
  implemented('x-oss-tagging', "the new object's tags (URL-query encoded), stored and counted in x-oss-tagging-count", {
    operations: ['PutObject', 'InitiateMultipartUpload', 'CopyObject', 'PostObject', 'UploadPart', 'CompleteMultipartUpload'],
  }),
  implemented('x-oss-tagging-directive', "Copy (the default) keeps the source's tags, Replace takes x-oss-tagging", { operations: ['CopyObject'] }),
  // Refused until the functionality exists.
  implemented('x-oss-server-side-encryption', "server-side encryption `AES256` (SSE-S3 in S3's words) or `KMS` (the local key store); SM4 is refused", {
    operations: ['PutObject', 'InitiateMultipartUpload', 'CopyObject'],
    check: checkOssEncryption,
  }),
  implemented('x-oss-server-side-encryption-key-id', "KMS: the key store's key (id or ARN)", { operations: ['PutObject', 'InitiateMultipartUpload', 'CopyObject'] }),
  refused('x-oss-server-side-data-encryption', 'server-side encryption (SM4)'),
  refused('x-oss-traffic-limit', 'bandwidth limits'),
  refused('x-oss-callback', 'upload callbacks'),
  refused('x-oss-callback-var', 'upload callbacks'),
  refused('x-oss-resource-group-id', 'resource groups'),
  // Conditional headers: GET and HEAD honour them. ali-oss's copy() sends a copy's conditions both
  // as x-oss-copy-source-if-* (honoured) and plain: on a copy the plain ones repeat those.
  ...['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since'].map((name) =>
    implemented(name, "read preconditions; on a copy, ali-oss's plain copy of x-oss-copy-source-" + name, {
      operations: [...GET_OR_HEAD, ...COPIES],
    }),
  ),
];

const UPLOAD_ID_OPERATIONS = ['UploadPart', 'UploadPartCopy', 'ListParts', 'AbortMultipartUpload', 'CompleteMultipartUpload'];
const LISTINGS = ['ListObjects', 'ListObjectsV2', 'ListObjectVersions', 'ListMultipartUploads'];

/** OSS sub-resources Tessera does not serve: refused whatever the method. */
const UNSUPPORTED_SUBRESOURCES = [
  'logging', 'website', 'referer',
  'replication', 'inventory', 'append', 'symlink', 'restore', 'select', 'stat', 'qos',
  'requestPayment', 'transferAcceleration', 'x-oss-process', 'x-oss-traffic-limit', 'callback', 'callback-var', 'live',
  'img', 'style', 'sequential', 'position', 'comp', 'metaQuery', 'resourceGroup', 'x-oss-async-process',
];

export const OSS_QUERY: readonly FeatureRule[] = [
  // Presigned URLs: consumed by signature verification.
  ...['OSSAccessKeyId', 'Expires', 'Signature'].map((name) => implemented(name, 'V1 presigned-URL authentication, checked')),
  ...['x-oss-signature-version', 'x-oss-credential', 'x-oss-date', 'x-oss-expires', 'x-oss-signature', 'x-oss-additional-headers'].map(
    (name) => implemented(name, 'V4 presigned-URL authentication, checked'),
  ),
  implemented('security-token', 'V1 presigned URL made with temporary credentials: their token, checked as the header is'),
  implemented('x-oss-security-token', 'V4 presigned URL made with temporary credentials: their token, checked as the header is'),
  // Operations picked by a sub-resource.
  implemented('uploads', 'InitiateMultipartUpload, ListMultipartUploads', { operations: ['InitiateMultipartUpload', 'ListMultipartUploads'] }),
  implemented('uploadId', 'the multipart upload addressed', { operations: UPLOAD_ID_OPERATIONS }),
  implemented('partNumber', 'UploadPart, UploadPartCopy', { operations: ['UploadPart', 'UploadPartCopy'] }),
  implemented('delete', 'DeleteMultipleObjects', { operations: ['DeleteMultipleObjects'] }),
  implemented('location', 'GetBucketLocation', { operations: ['GetBucketLocation'] }),
  implemented('bucketInfo', 'GetBucketInfo', { operations: ['GetBucketInfo'] }),
  implemented('policy', "PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy: the bucket policy, in OSS's syntax", {
    operations: ['PutBucketPolicy', 'GetBucketPolicy', 'DeleteBucketPolicy'],
  }),
  implemented('encryption', "PutBucketEncryption, GetBucketEncryption, DeleteBucketEncryption: the bucket's default encryption (AES256)", {
    operations: ['PutBucketEncryption', 'GetBucketEncryption', 'DeleteBucketEncryption'],
  }),
  implemented('cors', "PutBucketCors, GetBucketCors, DeleteBucketCors: the bucket's CORS rules", {
    operations: ['PutBucketCors', 'GetBucketCors', 'DeleteBucketCors'],
  }),
  implemented('lifecycle', "PutBucketLifecycle, GetBucketLifecycle, DeleteBucketLifecycle: the bucket's lifecycle rules", {
    operations: ['PutBucketLifecycle', 'GetBucketLifecycle', 'DeleteBucketLifecycle'],
  }),
  implemented('objectMeta', 'GetObjectMeta (a HEAD)', { operations: ['HeadObject'] }),
  implemented('acl', 'PutBucketAcl, GetBucketAcl, PutObjectACL, GetObjectACL', { operations: ['PutBucketAcl', 'GetBucketAcl', 'PutObjectACL', 'GetObjectACL'] }),
  implemented('tagging', 'object tags (PutObjectTagging, GetObjectTagging, DeleteObjectTagging) and bucket tags (PutBucketTags, …)', {
    operations: [...OBJECT_TAGGING, 'PutBucketTags', 'GetBucketTags', 'DeleteBucketTags'],
  }),
  implemented('versionId', 'the version read, tagged or deleted (`null`: the null version); a malformed id is InvalidArgument', {
    operations: [...GET_OR_HEAD, 'DeleteObject', ...OBJECT_TAGGING, 'PutObjectACL', 'GetObjectACL'],
  }),
  implemented('versioning', 'PutBucketVersioning, GetBucketVersioning (Enabled, Suspended)', { operations: ['PutBucketVersioning', 'GetBucketVersioning'] }),
  implemented('worm', 'the bucket retention policy: InitiateBucketWorm, AbortBucketWorm, GetBucketWorm', {
    operations: ['InitiateBucketWorm', 'AbortBucketWorm', 'GetBucketWorm'],
  }),
  implemented('wormId', 'the retention policy completed or extended', { operations: ['CompleteBucketWorm', 'ExtendBucketWorm'] }),
  implemented('wormExtend', 'ExtendBucketWorm', { operations: ['ExtendBucketWorm'] }),
  implemented('versions', 'ListObjectVersions: versions and delete markers', { operations: ['ListObjectVersions'] }),
  implemented('version-id-marker', 'ListObjectVersions paging within the key marker', { operations: ['ListObjectVersions'] }),
  // Listings.
  implemented('list-type', 'ListObjectsV2', { operations: ['ListObjectsV2'], values: ['2'] }),
  implemented('prefix', 'listing filter', { operations: ['ListBuckets', ...LISTINGS] }),
  implemented('delimiter', 'listing roll-up', { operations: LISTINGS }),
  implemented('encoding-type', 'url-encoded keys', {
    operations: [...LISTINGS, 'ListParts', 'DeleteMultipleObjects', 'InitiateMultipartUpload', 'CompleteMultipartUpload'],
  }),
  implemented('max-keys', 'listing page size', { operations: ['ListBuckets', 'ListObjects', 'ListObjectsV2', 'ListObjectVersions'] }),
  implemented('marker', 'paging (ListMultipartUploads: for a missing key-marker)', { operations: ['ListBuckets', 'ListObjects', 'ListMultipartUploads'] }),
  implemented('continuation-token', 'ListObjectsV2 paging', { operations: ['ListObjectsV2'] }),
  implemented('start-after', 'ListObjectsV2 paging', { operations: ['ListObjectsV2'] }),
  implemented('fetch-owner', 'ListObjectsV2 owners', { operations: ['ListObjectsV2'] }),
  implemented('key-marker', 'ListMultipartUploads and ListObjectVersions paging', { operations: ['ListMultipartUploads', 'ListObjectVersions'] }),
  implemented('upload-id-marker', 'ListMultipartUploads paging', { operations: ['ListMultipartUploads'] }),
  implemented('max-uploads', 'ListMultipartUploads page size', { operations: ['ListMultipartUploads'] }),
  implemented('max-parts', 'ListParts page size', { operations: ['ListParts'] }),
  implemented('part-number-marker', 'ListParts paging', { operations: ['ListParts'] }),
  ...['response-content-type', 'response-content-language', 'response-expires', 'response-cache-control', 'response-content-disposition', 'response-content-encoding'].map(
    (name) => implemented(name, 'response-* overrides of a GET or HEAD answer', { operations: GET_OR_HEAD }),
  ),
  ...UNSUPPORTED_SUBRESOURCES.map((name) => refused(name, 'sub-resources and parameters of features Tessera does not have')),
];

export const OSS_FEATURES: FeatureTable = {
  headerPrefixes: ['x-oss-'],
  headers: OSS_HEADERS,
  query: OSS_QUERY,
};
