/**
 * GetObjectAttributes through the AWS SDK at its defaults: a single PUT's object (ETag without
 * quotes, size, storage class, its CRC32), multipart objects with SHA256 COMPOSITE and CRC32
 * FULL_OBJECT checksums (each part's size and checksum, paged by x-amz-max-parts and
 * x-amz-part-number-marker), one without a checksum (its part count only), and over raw HTTP the
 * header missing, an unknown attribute and a missing object.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectAttributesCommand,
  PutObjectCommand,
  UploadPartCommand,
  type ChecksumAlgorithm,
  type ChecksumType,
  type CompletedPart,
  type ObjectAttributes,
  type S3Client,
} from '@aws-sdk/client-s3';
import { assertS3Error, expectError } from '../helpers/assertions.js';
import { checksumOf, compositeOf } from '../helpers/checksums.js';
import { signedRequest } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const BUCKET = 'attributes';
const ALL: ObjectAttributes[] = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'];

describe('S3 GetObjectAttributes', () => {
  let server: TestServer;
  let s3: S3Client;
  const parts = [randomBytes(3000), randomBytes(2000), randomBytes(1000)];

  before(async () => {
    // Parts of any size keep the multipart cases small.
    server = await startServer({ config: { minPartSize: 1 } });
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3?.destroy();
    await server?.cleanup();
  });

  const attributes = (key: string, extra: { MaxParts?: number; PartNumberMarker?: string; ObjectAttributes?: ObjectAttributes[] } = {}) =>
    s3.send(new GetObjectAttributesCommand({ Bucket: BUCKET, Key: key, ObjectAttributes: ALL, ...extra }));

  /** A multipart object of `parts`, its upload announcing `algorithm` and `type` (none: no checksum). */
  async function multipart(key: string, algorithm?: ChecksumAlgorithm, type?: ChecksumType): Promise<{ etag: string; partChecksums: string[] }> {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key, ChecksumAlgorithm: algorithm, ChecksumType: type }));
    const completed: CompletedPart[] = [];
    const partChecksums: string[] = [];
    for (const [index, body] of parts.entries()) {
      const part = await s3.send(
        new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: index + 1, Body: body, ChecksumAlgorithm: algorithm }),
      );
      const checksum = algorithm === 'SHA256' ? part.ChecksumSHA256 : algorithm === 'CRC32' ? part.ChecksumCRC32 : undefined;
      partChecksums.push(checksum ?? '');
      completed.push({ PartNumber: index + 1, ETag: part.ETag, ...(algorithm === 'SHA256' ? { ChecksumSHA256: checksum } : algorithm === 'CRC32' ? { ChecksumCRC32: checksum } : {}) });
    }
    const done = await s3.send(
      new CompleteMultipartUploadCommand({ Bucket: BUCKET, Key: key, UploadId, MultipartUpload: { Parts: completed }, ChecksumType: type }),
    );
    return { etag: done.ETag!.replace(/"/g, ''), partChecksums };
  }

  it('a single PUT: ETag without quotes, size, STANDARD, its CRC32, Last-Modified, no ObjectParts', async () => {
    const body = Buffer.from('attributes of a small object');
    const put = await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'single', Body: body }));
    const got = await attributes('single');
    assert.equal(got.ETag, createHash('md5').update(body).digest('hex'));
    assert.equal(`"${got.ETag}"`, put.ETag);
    assert.equal(got.ObjectSize, body.length);
    assert.equal(got.StorageClass, 'STANDARD');
    assert.deepEqual(got.Checksum, { ChecksumCRC32: checksumOf('crc32', body), ChecksumType: 'FULL_OBJECT' });
    assert.equal(got.ObjectParts, undefined);
    assert.ok(got.LastModified instanceof Date && Math.abs(got.LastModified.getTime() - Date.now()) < 60_000);
    // Only the fields asked for.
    const some = await attributes('single', { ObjectAttributes: ['ObjectSize'] });
    assert.equal(some.ObjectSize, body.length);
    assert.equal(some.ETag, undefined);
    assert.equal(some.Checksum, undefined);
    assert.equal(some.StorageClass, undefined);
  });

  it('a SHA256 COMPOSITE multipart object: its checksum of checksums, each part with its size and SHA256', async () => {
    const { etag, partChecksums } = await multipart('composite', 'SHA256', 'COMPOSITE');
    const got = await attributes('composite');
    assert.equal(got.ETag, etag);
    assert.equal(got.ObjectSize, 6000);
    assert.deepEqual(got.Checksum, { ChecksumSHA256: compositeOf('sha256', parts).replace(/-3$/, ''), ChecksumType: 'COMPOSITE' });
    assert.equal(got.ObjectParts?.TotalPartsCount, 3);
    assert.equal(got.ObjectParts?.IsTruncated, false);
    assert.deepEqual(
      got.ObjectParts?.Parts,
      parts.map((body, index) => ({ PartNumber: index + 1, Size: body.length, ChecksumSHA256: checksumOf('sha256', body) })),
    );
    assert.deepEqual(partChecksums, parts.map((body) => checksumOf('sha256', body)));
  });

  it('a CRC32 FULL_OBJECT multipart object: the CRC of its whole content, each part with its CRC32', async () => {
    await multipart('full', 'CRC32', 'FULL_OBJECT');
    const got = await attributes('full');
    assert.deepEqual(got.Checksum, { ChecksumCRC32: checksumOf('crc32', Buffer.concat(parts)), ChecksumType: 'FULL_OBJECT' });
    assert.deepEqual(
      got.ObjectParts?.Parts,
      parts.map((body, index) => ({ PartNumber: index + 1, Size: body.length, ChecksumCRC32: checksumOf('crc32', body) })),
    );
  });

  it('pages the parts: x-amz-max-parts, then x-amz-part-number-marker', async () => {
    const first = await attributes('composite', { MaxParts: 2 });
    assert.equal(first.ObjectParts?.TotalPartsCount, 3);
    assert.equal(first.ObjectParts?.MaxParts, 2);
    assert.equal(first.ObjectParts?.IsTruncated, true);
    assert.equal(first.ObjectParts?.NextPartNumberMarker, '2');
    assert.deepEqual(first.ObjectParts?.Parts?.map((part) => part.PartNumber), [1, 2]);
    const second = await attributes('composite', { MaxParts: 2, PartNumberMarker: first.ObjectParts!.NextPartNumberMarker });
    assert.equal(second.ObjectParts?.PartNumberMarker, '2');
    assert.equal(second.ObjectParts?.IsTruncated, false);
    assert.deepEqual(second.ObjectParts?.Parts, [{ PartNumber: 3, Size: 1000, ChecksumSHA256: checksumOf('sha256', parts[2]!) }]);
    const past = await attributes('composite', { PartNumberMarker: '3' });
    assert.deepEqual(past.ObjectParts?.Parts ?? [], []);
    assert.equal(past.ObjectParts?.IsTruncated, false);
  });

  it("a copy of a multipart object keeps its parts' sizes (their checksums are not carried over)", async () => {
    await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'composite-copy', CopySource: `${BUCKET}/composite` }));
    const got = await attributes('composite-copy');
    // S3 copies in one piece: the copy's checksum is of its whole content.
    assert.deepEqual(got.Checksum, { ChecksumSHA256: checksumOf('sha256', Buffer.concat(parts)), ChecksumType: 'FULL_OBJECT' });
    assert.equal(got.ObjectParts?.TotalPartsCount, 3);
    assert.deepEqual(got.ObjectParts?.Parts, parts.map((body, index) => ({ PartNumber: index + 1, Size: body.length })));
    const paged = await attributes('composite-copy', { MaxParts: 1, PartNumberMarker: '1' });
    assert.deepEqual(paged.ObjectParts?.Parts, [{ PartNumber: 2, Size: 2000 }]);
    assert.equal(paged.ObjectParts?.IsTruncated, true);
  });

  it('a multipart object without a checksum: its part count, no parts listed (as S3 answers)', async () => {
    await multipart('plain');
    const got = await attributes('plain');
    assert.equal(got.Checksum, undefined);
    assert.equal(got.ObjectParts?.TotalPartsCount, 3);
    assert.equal(got.ObjectParts?.Parts, undefined);
  });

  it('refuses a missing or empty header, an unknown attribute and a bad max-parts; NoSuchKey for a missing object', async () => {
    const missing = assertS3Error(await signedRequest(server.url, 'GET', `/${BUCKET}/single?attributes`), 400, 'InvalidRequest');
    assert.equal(missing.Message, 'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty');
    assertS3Error(await signedRequest(server.url, 'GET', `/${BUCKET}/single?attributes`, { headers: { 'x-amz-object-attributes': ' , ' } }), 400, 'InvalidRequest');
    const unknown = assertS3Error(
      await signedRequest(server.url, 'GET', `/${BUCKET}/single?attributes`, { headers: { 'x-amz-object-attributes': 'ETag,Colour' } }),
      400,
      'InvalidArgument',
    );
    assert.equal(unknown.Message, 'Invalid attribute name specified.');
    assertS3Error(
      await signedRequest(server.url, 'GET', `/${BUCKET}/single?attributes`, { headers: { 'x-amz-object-attributes': 'ETag', 'x-amz-max-parts': 'many' } }),
      400,
      'InvalidArgument',
    );
    await expectError(attributes('no-such-key'), 404, 'NoSuchKey');
    // versionId=null names the one version; another id is InvalidArgument.
    const nullVersion = await s3.send(new GetObjectAttributesCommand({ Bucket: BUCKET, Key: 'single', ObjectAttributes: ['ObjectSize'], VersionId: 'null' }));
    assert.equal(nullVersion.ObjectSize, 28);
    await expectError(s3.send(new GetObjectAttributesCommand({ Bucket: BUCKET, Key: 'single', ObjectAttributes: ['ObjectSize'], VersionId: 'v2' })), 400, 'InvalidArgument');
  });
});
