/**
 * The S3 and OSS feature tables (what each dialect implements, ignores as harmless, or refuses)
 * are well formed, and docs/s3.md's lists of refused headers and sub-resources ("What Tessera refuses") are exactly what
 * the tables refuse: the documentation cannot drift from the code.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { refusalList, ruleFor, type FeatureRule } from '../../src/dialects/common/request-features.js';
import { OSS_HEADERS, OSS_QUERY } from '../../src/dialects/oss/features.js';
import { S3_HEADERS, S3_QUERY } from '../../src/dialects/s3/features.js';
import { REPO_ROOT } from '../helpers/server.js';

const S3_OPERATIONS = [
  'ListBuckets', 'CreateBucket', 'HeadBucket', 'DeleteBucket', 'DeleteObjects', 'ListMultipartUploads', 'ListObjects',
  'ListObjectsV2', 'PutObject', 'CopyObject', 'UploadPart', 'UploadPartCopy', 'GetObject', 'HeadObject', 'ListParts',
  'DeleteObject', 'AbortMultipartUpload', 'CreateMultipartUpload', 'CompleteMultipartUpload', 'ListObjectVersions',
  'GetBucketLocation', 'GetBucketVersioning', 'PutBucketVersioning', 'PostObject', 'PutBucketCors', 'GetBucketCors', 'DeleteBucketCors',
  'PutBucketLifecycleConfiguration', 'GetBucketLifecycleConfiguration', 'DeleteBucketLifecycle',
  'PutObjectTagging', 'GetObjectTagging', 'DeleteObjectTagging', 'PutBucketTagging', 'GetBucketTagging', 'DeleteBucketTagging',
  'GetObjectAttributes', 'PutObjectLockConfiguration', 'GetObjectLockConfiguration', 'PutObjectRetention', 'GetObjectRetention',
  'PutObjectLegalHold', 'GetObjectLegalHold',
  'PutBucketPolicy', 'GetBucketPolicy', 'DeleteBucketPolicy', 'GetBucketPolicyStatus', 'PutPublicAccessBlock', 'GetPublicAccessBlock',
  'DeletePublicAccessBlock', 'PutBucketOwnershipControls', 'GetBucketOwnershipControls', 'DeleteBucketOwnershipControls',
  'PutBucketAcl', 'GetBucketAcl', 'PutObjectAcl', 'GetObjectAcl', 'PutBucketEncryption', 'GetBucketEncryption', 'DeleteBucketEncryption',
];
const OSS_OPERATIONS = [
  'ListBuckets', 'PutBucket', 'HeadBucket', 'DeleteBucket', 'DeleteMultipleObjects', 'ListMultipartUploads', 'ListObjects',
  'ListObjectsV2', 'PutObject', 'CopyObject', 'UploadPart', 'UploadPartCopy', 'GetObject', 'HeadObject', 'ListParts',
  'DeleteObject', 'AbortMultipartUpload', 'InitiateMultipartUpload', 'CompleteMultipartUpload', 'GetBucketInfo', 'GetBucketLocation',
  'PostObject', 'PutBucketCors', 'GetBucketCors', 'DeleteBucketCors', 'PutBucketLifecycle', 'GetBucketLifecycle', 'DeleteBucketLifecycle',
  'PutObjectTagging', 'GetObjectTagging', 'DeleteObjectTagging', 'PutBucketTags', 'GetBucketTags', 'DeleteBucketTags',
  'PutBucketVersioning', 'GetBucketVersioning', 'ListObjectVersions',
  'InitiateBucketWorm', 'AbortBucketWorm', 'CompleteBucketWorm', 'ExtendBucketWorm', 'GetBucketWorm',
  'PutBucketAcl', 'GetBucketAcl', 'PutObjectACL', 'GetObjectACL', 'PutBucketEncryption', 'GetBucketEncryption', 'DeleteBucketEncryption',
  'PutBucketPolicy', 'GetBucketPolicy', 'DeleteBucketPolicy',
];

const refusedDoc = readFileSync(join(REPO_ROOT, 'docs', 's3.md'), 'utf8');

function docBlock(name: string): string[] {
  const match = new RegExp(`<!-- refused:${name} -->\\n([\\s\\S]*?)\\n<!-- /refused:${name} -->`).exec(refusedDoc);
  assert.ok(match, `docs/s3.md has no refused:${name} block`);
  return match[1]!.split('\n');
}

const tables: Array<[string, readonly FeatureRule[], string[], 'header' | 'query']> = [
  ['s3-headers', S3_HEADERS, S3_OPERATIONS, 'header'],
  ['s3-query', S3_QUERY, S3_OPERATIONS, 'query'],
  ['oss-headers', OSS_HEADERS, OSS_OPERATIONS, 'header'],
  ['oss-query', OSS_QUERY, OSS_OPERATIONS, 'query'],
];

describe('feature tables', () => {
  for (const [name, rules, operations, kind] of tables) {
    it(`${name}: docs/s3.md lists exactly what the table refuses`, () => {
      assert.deepEqual(docBlock(name), refusalList(rules), `docs/s3.md's refused:${name} block should read:\n${refusalList(rules).join('\n')}`);
    });

    it(`${name}: one rule a name, each with a reason, naming real operations`, () => {
      const names = rules.map((rule) => rule.name);
      assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), [], 'duplicate rules');
      for (const rule of rules) {
        assert.ok(rule.why.length > 0, `${rule.name} says why`);
        if (kind === 'header') assert.equal(rule.name, rule.name.toLowerCase(), 'header rules are lower-case');
        for (const operation of rule.operations ?? []) assert.ok(operations.includes(operation), `${rule.name}: ${operation} is an operation`);
        if (rule.verdict === 'refused') assert.equal(rule.values ?? rule.operations ?? rule.check, undefined, `${rule.name} is refused whatever the value`);
      }
    });
  }

  it("S3's SSE-S3, SSE-KMS and SSE-C are implemented where they apply; dual-layer KMS and the encryption context refused", () => {
    const sse = ruleFor(S3_HEADERS, 'x-amz-server-side-encryption')!;
    assert.equal(sse.verdict, 'implemented');
    assert.deepEqual(
      [sse.check?.('AES256', 'PutObject'), sse.check?.('aws:kms', 'PutObject'), sse.check?.('aws:kms:dsse', 'PutObject'), (sse.check?.('DES', 'PutObject') as { code?: string })?.code],
      [undefined, undefined, 'refused', 'InvalidArgument'],
    );
    assert.equal(ruleFor(S3_HEADERS, 'x-amz-server-side-encryption-aws-kms-key-id')?.verdict, 'implemented');
    assert.equal(ruleFor(S3_HEADERS, 'x-amz-server-side-encryption-bucket-key-enabled')?.verdict, 'implemented');
    for (const operation of ['GetObject', 'HeadObject', 'UploadPart', 'PutObject', 'CreateMultipartUpload', 'CopyObject']) {
      assert.equal(ruleFor(S3_HEADERS, 'x-amz-server-side-encryption-customer-key')?.operations?.includes(operation), true, operation);
    }
    assert.equal(ruleFor(S3_HEADERS, 'x-amz-server-side-encryption-customer-key')?.operations?.includes('ListObjects'), false);
    assert.equal(ruleFor(S3_HEADERS, 'x-amz-server-side-encryption-context')?.verdict, 'refused');
  });

  it("OSS's AES256 and KMS encryption are implemented on the writes that take them; SM4 is refused", () => {
    const sse = ruleFor(OSS_HEADERS, 'x-oss-server-side-encryption')!;
    assert.equal(sse.verdict, 'implemented');
    assert.deepEqual([sse.check?.('AES256', 'PutObject'), sse.check?.('KMS', 'PutObject'), sse.check?.('SM4', 'PutObject')], [undefined, undefined, 'refused']);
    assert.equal((sse.check?.('DES', 'PutObject') as { code?: string }).code, 'InvalidEncryptionAlgorithmError');
    assert.equal(sse.operations?.includes('GetObject'), false);
    assert.equal(ruleFor(OSS_HEADERS, 'x-oss-server-side-data-encryption')?.verdict, 'refused');
    assert.equal(ruleFor(OSS_HEADERS, 'x-oss-server-side-encryption-key-id')?.verdict, 'implemented');
  });

  it('tags are implemented in both dialects, on the writes that take them', () => {
    for (const operation of ['PutObject', 'CreateMultipartUpload', 'CopyObject', 'PostObject']) {
      assert.deepEqual(ruleFor(S3_HEADERS, 'x-amz-tagging')?.operations?.includes(operation), true, operation);
    }
    for (const operation of ['PutObject', 'InitiateMultipartUpload', 'CopyObject']) {
      assert.deepEqual(ruleFor(OSS_HEADERS, 'x-oss-tagging')?.operations?.includes(operation), true, operation);
    }
    assert.equal(ruleFor(S3_HEADERS, 'x-amz-tagging')?.verdict, 'implemented');
    assert.equal(ruleFor(OSS_HEADERS, 'x-oss-tagging')?.verdict, 'implemented');
    assert.equal(ruleFor(S3_QUERY, 'tagging')?.verdict, 'implemented');
    assert.equal(ruleFor(S3_QUERY, 'attributes')?.verdict, 'implemented');
    assert.equal(ruleFor(OSS_QUERY, 'tagging')?.verdict, 'implemented');
  });

  it('an exact rule wins over a prefix, and the longest prefix over a shorter one', () => {
    assert.equal(ruleFor(S3_HEADERS, 'x-amz-copy-source-if-match')?.name, 'x-amz-copy-source-if-match');
    assert.equal(ruleFor(S3_HEADERS, 'x-amz-copy-source-server-side-encryption-customer-key')?.name, 'x-amz-copy-source-server-side-encryption-customer-key');
    assert.equal(ruleFor(S3_HEADERS, 'x-amz-server-side-encryption-context')?.name, 'x-amz-server-side-encryption-*');
    assert.equal(ruleFor(S3_HEADERS, 'x-amz-meta-anything')?.name, 'x-amz-meta-*');
    assert.equal(ruleFor(S3_HEADERS, 'x-amz-not-a-header'), undefined);
  });
});
