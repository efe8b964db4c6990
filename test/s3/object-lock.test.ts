/**
 * S3 Object Lock through the AWS SDK at its defaults: a bucket created with lock, its configuration
 * and default retention, each version's retention and legal hold (PutObject, multipart, copy and
 * the ?retention / ?legal-hold calls), the deletes and retention changes refused while a version is
 * protected, and what a bucket without lock answers; on SQLite and (when installed) PostgreSQL.
 * The lifecycle worker's expiration leaves a locked version (a delete marker hides it). boto3
 * creates a locked bucket and is refused a delete; raw HTTP sends what SDKs never do.
 */
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  GetObjectLegalHoldCommand,
  GetObjectLockConfigurationCommand,
  GetObjectRetentionCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  PutObjectLegalHoldCommand,
  PutObjectLockConfigurationCommand,
  PutObjectRetentionCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { assertS3Error, expectError } from '../helpers/assertions.js';
import { BOTO3_AVAILABLE, runBoto3 } from '../helpers/boto3.js';
import { signedRequest } from '../helpers/raw.js';
import { multipartBody, postForm, s3PolicyFields, type Fields } from '../helpers/form.js';
import { s3Client } from '../helpers/s3.js';
import { onEachBackend, type BackendStart } from '../helpers/backends.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertOssError, expectOssError, ossClient, ossRequest } from '../oss/helpers.js';

const DAY = 24 * 3600 * 1000;
const inDays = (days: number) => new Date(Math.floor(Date.now() / 1000) * 1000 + days * DAY);
const md5 = (body: string) => createHash('md5').update(body).digest('base64');

function scenario(name: string, start: BackendStart) {
  describe(`S3 Object Lock (${name})`, () => {
    let server: TestServer;
    let s3: S3Client;
    let cleanup: () => Promise<void>;
    before(async () => {
      ({ server, cleanup } = await start());
      s3 = s3Client(server);
    });
    after(async () => {
      s3?.destroy();
      await cleanup?.();
    });

    it('locks versions: retention and legal holds refuse deletes by id, markers are still made', async () => {
      const Bucket = 'lock-main';
      await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
      assert.equal((await s3.send(new GetBucketVersioningCommand({ Bucket }))).Status, 'Enabled');
      const config = await s3.send(new GetObjectLockConfigurationCommand({ Bucket }));
      assert.deepEqual(config.ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled' });
      // Versioning of a locked bucket is Enabled for good.
      await expectError(s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } })), 409, 'InvalidBucketState');

      // COMPLIANCE: nobody deletes the version, bypass or not; nobody shortens the retention.
      const until = inDays(2);
      const compliant = await s3.send(
        new PutObjectCommand({ Bucket, Key: 'c', Body: 'compliant', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: until }),
      );
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'c' }));
      assert.equal(head.ObjectLockMode, 'COMPLIANCE');
      assert.equal(head.ObjectLockRetainUntilDate?.getTime(), until.getTime());
      assert.equal(head.ObjectLockLegalHoldStatus, undefined);
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: 'c', VersionId: compliant.VersionId }));
      assert.equal(got.ObjectLockMode, 'COMPLIANCE');
      await got.Body!.transformToString();
      await expectError(s3.send(new DeleteObjectCommand({ Bucket, Key: 'c', VersionId: compliant.VersionId })), 403, 'AccessDenied');
      await expectError(
        s3.send(new DeleteObjectCommand({ Bucket, Key: 'c', VersionId: compliant.VersionId, BypassGovernanceRetention: true })),
        403,
        'AccessDenied',
      );
      await expectError(
        s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'c', Retention: { Mode: 'COMPLIANCE', RetainUntilDate: inDays(1) } })),
        403,
        'AccessDenied',
      );
      await expectError(
        s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'c', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(3) }, BypassGovernanceRetention: true })),
        403,
        'AccessDenied',
      );
      // Extending is always allowed.
      const later = inDays(5);
      await s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'c', Retention: { Mode: 'COMPLIANCE', RetainUntilDate: later } }));
      const retention = await s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'c', VersionId: compliant.VersionId }));
      assert.deepEqual(retention.Retention, { Mode: 'COMPLIANCE', RetainUntilDate: later });
      // A delete without a version id makes a marker; the locked version stays, readable by id.
      const marker = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'c' }));
      assert.equal(marker.DeleteMarker, true);
      await expectError(s3.send(new HeadObjectCommand({ Bucket, Key: 'c' })), 404);
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'c', VersionId: compliant.VersionId }))).ContentLength, 9);
      // The marker itself is not locked: deleting it brings the version back.
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 'c', VersionId: marker.VersionId }));
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'c' }))).VersionId, compliant.VersionId);
      // An overwrite is a new version, the locked one kept.
      const over = await s3.send(new PutObjectCommand({ Bucket, Key: 'c', Body: 'newer' }));
      assert.notEqual(over.VersionId, compliant.VersionId);
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'c' }))).ObjectLockMode, undefined);
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 'c', VersionId: over.VersionId }));

      // GOVERNANCE: refused unless the caller bypasses it.
      const governed = await s3.send(
        new PutObjectCommand({ Bucket, Key: 'g', Body: 'governed', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(3) }),
      );
      await expectError(s3.send(new DeleteObjectCommand({ Bucket, Key: 'g', VersionId: governed.VersionId })), 403, 'AccessDenied');
      await expectError(
        s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'g', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(1) } })),
        403,
        'AccessDenied',
      );
      const shortened = inDays(1);
      await s3.send(
        new PutObjectRetentionCommand({ Bucket, Key: 'g', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: shortened }, BypassGovernanceRetention: true }),
      );
      assert.equal((await s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'g' }))).Retention?.RetainUntilDate?.getTime(), shortened.getTime());
      const bypassed = await s3.send(new DeleteObjectCommand({ Bucket, Key: 'g', VersionId: governed.VersionId, BypassGovernanceRetention: true }));
      assert.equal(bypassed.VersionId, governed.VersionId);
      await expectError(s3.send(new HeadObjectCommand({ Bucket, Key: 'g', VersionId: governed.VersionId })), 404);

      // A legal hold: no retention, still no delete until it is lifted.
      const held = await s3.send(new PutObjectCommand({ Bucket, Key: 'h', Body: 'held', ObjectLockLegalHoldStatus: 'ON' }));
      assert.equal((await s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'h' }))).LegalHold?.Status, 'ON');
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'h' }))).ObjectLockLegalHoldStatus, 'ON');
      await expectError(s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'h' })), 404, 'NoSuchObjectLockConfiguration');
      await expectError(
        s3.send(new DeleteObjectCommand({ Bucket, Key: 'h', VersionId: held.VersionId, BypassGovernanceRetention: true })),
        403,
        'AccessDenied',
      );
      // DeleteObjects reports the held version as refused and deletes the free one.
      const free = await s3.send(new PutObjectCommand({ Bucket, Key: 'f', Body: 'free' }));
      const batch = await s3.send(
        new DeleteObjectsCommand({
          Bucket,
          Delete: { Objects: [{ Key: 'h', VersionId: held.VersionId }, { Key: 'f', VersionId: free.VersionId }] },
        }),
      );
      assert.deepEqual(batch.Errors?.map((e) => [e.Key, e.Code]), [['h', 'AccessDenied']]);
      assert.deepEqual(batch.Deleted?.map((d) => [d.Key, d.VersionId]), [['f', free.VersionId]]);
      await s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'h', VersionId: held.VersionId, LegalHold: { Status: 'OFF' } }));
      assert.equal((await s3.send(new GetObjectLegalHoldCommand({ Bucket, Key: 'h' }))).LegalHold?.Status, 'OFF');
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 'h', VersionId: held.VersionId }));

      // A bucket holding versions is not deleted (the locked one stays).
      await expectError(s3.send(new DeleteBucketCommand({ Bucket })), 409, 'BucketNotEmpty');
    });

    it('applies the default retention, and the locks a multipart upload and a copy ask for', async () => {
      const Bucket = 'lock-defaults';
      await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
      await s3.send(
        new PutObjectLockConfigurationCommand({
          Bucket,
          ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 2 } } },
        }),
      );
      const config = await s3.send(new GetObjectLockConfigurationCommand({ Bucket }));
      assert.deepEqual(config.ObjectLockConfiguration, { ObjectLockEnabled: 'Enabled', Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 2 } } });

      const before = Date.now();
      const plain = await s3.send(new PutObjectCommand({ Bucket, Key: 'plain', Body: 'x' }));
      const afterPut = Date.now();
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'plain' }));
      assert.equal(head.ObjectLockMode, 'GOVERNANCE');
      const until = head.ObjectLockRetainUntilDate!.getTime();
      // Two days from the write (the header has whole seconds... or milliseconds).
      assert.ok(until >= before - 1000 + 2 * DAY && until <= afterPut + 2 * DAY, `retain-until ${new Date(until).toISOString()}`);
      await expectError(s3.send(new DeleteObjectCommand({ Bucket, Key: 'plain', VersionId: plain.VersionId })), 403, 'AccessDenied');

      // A multipart upload asks at Create; its object has that lock once complete.
      const mpUntil = inDays(4);
      const upload = await s3.send(
        new CreateMultipartUploadCommand({ Bucket, Key: 'mp', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: mpUntil, ObjectLockLegalHoldStatus: 'ON' }),
      );
      const part = await s3.send(new UploadPartCommand({ Bucket, Key: 'mp', UploadId: upload.UploadId, PartNumber: 1, Body: 'multipart body' }));
      const done = await s3.send(
        new CompleteMultipartUploadCommand({ Bucket, Key: 'mp', UploadId: upload.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }),
      );
      const mp = await s3.send(new HeadObjectCommand({ Bucket, Key: 'mp', VersionId: done.VersionId }));
      assert.equal(mp.ObjectLockMode, 'COMPLIANCE');
      assert.equal(mp.ObjectLockRetainUntilDate?.getTime(), mpUntil.getTime());
      assert.equal(mp.ObjectLockLegalHoldStatus, 'ON');

      // A copy never takes its source's lock: it gets the one it asks for, or the bucket's default.
      const copied = await s3.send(new CopyObjectCommand({ Bucket, Key: 'copy', CopySource: `${Bucket}/mp`, ObjectLockLegalHoldStatus: 'OFF' }));
      const copy = await s3.send(new HeadObjectCommand({ Bucket, Key: 'copy', VersionId: copied.VersionId }));
      assert.equal(copy.ObjectLockMode, 'GOVERNANCE');
      assert.equal(copy.ObjectLockLegalHoldStatus, 'OFF');
      const explicit = await s3.send(
        new CopyObjectCommand({ Bucket, Key: 'copy2', CopySource: `${Bucket}/plain`, ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: inDays(1) }),
      );
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'copy2', VersionId: explicit.VersionId }))).ObjectLockMode, 'COMPLIANCE');

      // A POST form upload gets the default too; lock fields in a form are refused, not ignored.
      const form = (key: string, extra: Fields) =>
        multipartBody([['key', key], ...s3PolicyFields({ conditions: [{ bucket: Bucket }, ['starts-with', '$key', ''], ...extra.map(([name, value]) => ({ [name]: value }))] }).fields, ...extra], {
          filename: 'f.txt',
          content: 'posted',
        });
      assert.equal((await postForm(server, `/${Bucket}`, form('posted', []))).status, 204);
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'posted' }))).ObjectLockMode, 'GOVERNANCE');
      const withLock = await postForm(server, `/${Bucket}`, form('posted-locked', [['x-amz-object-lock-legal-hold', 'ON']]));
      assertS3Error(withLock, 501, 'NotImplemented');
      await expectError(s3.send(new HeadObjectCommand({ Bucket, Key: 'posted-locked' })), 404, 'NotFound');

      // Removing the default leaves lock enabled; versions keep what they got.
      await s3.send(new PutObjectLockConfigurationCommand({ Bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } }));
      assert.equal((await s3.send(new GetObjectLockConfigurationCommand({ Bucket }))).ObjectLockConfiguration?.Rule, undefined);
      const bare = await s3.send(new PutObjectCommand({ Bucket, Key: 'bare', Body: 'y' }));
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'bare' }))).ObjectLockMode, undefined);
      await s3.send(new DeleteObjectCommand({ Bucket, Key: 'bare', VersionId: bare.VersionId }));
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'plain' }))).ObjectLockMode, 'GOVERNANCE');
    });

    it('answers a bucket without Object Lock as S3 does, and enables it on a versioned bucket', async () => {
      const Bucket = 'lock-none';
      await s3.send(new CreateBucketCommand({ Bucket }));
      await expectError(s3.send(new GetObjectLockConfigurationCommand({ Bucket })), 404, 'ObjectLockConfigurationNotFoundError');
      await expectError(
        s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x', ObjectLockMode: 'GOVERNANCE', ObjectLockRetainUntilDate: inDays(1) })),
        400,
        'InvalidRequest',
      );
      await expectError(s3.send(new CreateMultipartUploadCommand({ Bucket, Key: 'k', ObjectLockLegalHoldStatus: 'ON' })), 400, 'InvalidRequest');
      await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'x' }));
      await expectError(s3.send(new CopyObjectCommand({ Bucket, Key: 'k2', CopySource: `${Bucket}/k`, ObjectLockLegalHoldStatus: 'ON' })), 400, 'InvalidRequest');
      await expectError(s3.send(new PutObjectLegalHoldCommand({ Bucket, Key: 'k', LegalHold: { Status: 'ON' } })), 400, 'InvalidRequest');
      await expectError(
        s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'k', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(1) } })),
        400,
        'InvalidRequest',
      );
      await expectError(s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'k' })), 400, 'InvalidRequest');
      const enable = new PutObjectLockConfigurationCommand({ Bucket, ObjectLockConfiguration: { ObjectLockEnabled: 'Enabled' } });
      // Unversioned (and suspended) buckets cannot take it.
      await expectError(s3.send(enable), 409, 'InvalidBucketState');
      await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } }));
      await expectError(s3.send(enable), 409, 'InvalidBucketState');
      await s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      await s3.send(enable);
      await expectError(s3.send(new PutBucketVersioningCommand({ Bucket, VersioningConfiguration: { Status: 'Suspended' } })), 409, 'InvalidBucketState');
      // The object written before keeps no lock until one is put on it.
      await expectError(s3.send(new GetObjectRetentionCommand({ Bucket, Key: 'k' })), 404, 'NoSuchObjectLockConfiguration');
      await s3.send(new PutObjectRetentionCommand({ Bucket, Key: 'k', VersionId: 'null', Retention: { Mode: 'GOVERNANCE', RetainUntilDate: inDays(1) } }));
      await expectError(s3.send(new DeleteObjectCommand({ Bucket, Key: 'k', VersionId: 'null' })), 403, 'AccessDenied');
    });
  });
}

onEachBackend(scenario);

describe('S3 Object Lock and the lifecycle worker', () => {
  let server: TestServer;
  let s3: S3Client;
  before(async () => {
    // A lifecycle day of 2 seconds, background work every half second (the lifecycle worker's test hooks).
    server = await startServer({ singleNode: true, config: { lifecycleDaySeconds: 2, sweepIntervalSeconds: 0.5 } });
    s3 = s3Client(server);
  });
  after(async () => {
    s3?.destroy();
    await server?.cleanup();
  });

  it('expiring a locked object writes a delete marker; the locked version stays', async () => {
    const Bucket = 'lock-lifecycle';
    await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
    const locked = await s3.send(
      new PutObjectCommand({ Bucket, Key: 'old', Body: 'kept', ObjectLockMode: 'COMPLIANCE', ObjectLockRetainUntilDate: inDays(1) }),
    );
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket,
        LifecycleConfiguration: { Rules: [{ ID: 'expire', Filter: { Prefix: '' }, Status: 'Enabled', Expiration: { Days: 1 } }] },
      }),
    );
    const deadline = Date.now() + 20_000;
    while (((await s3.send(new ListObjectsV2Command({ Bucket }))).KeyCount ?? 0) > 0) {
      if (Date.now() > deadline) assert.fail('the object did not expire');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket }));
    assert.deepEqual(versions.Versions?.map((v) => [v.VersionId, v.IsLatest]), [[locked.VersionId, false]]);
    assert.equal(versions.DeleteMarkers?.length, 1);
    const kept = await s3.send(new HeadObjectCommand({ Bucket, Key: 'old', VersionId: locked.VersionId }));
    assert.equal(kept.ObjectLockMode, 'COMPLIANCE');
  });
});

describe('S3 Object Lock over raw HTTP and boto3', () => {
  let server: TestServer;
  before(async () => {
    server = await startServer({ singleNode: true });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('refuses malformed configurations, retentions, legal holds and lock headers as S3 does', async () => {
    const Bucket = 'lock-raw';
    const created = await signedRequest(server.url, 'PUT', `/${Bucket}`, { headers: { 'x-amz-bucket-object-lock-enabled': 'true' } });
    assert.equal(created.status, 200, created.body);
    const putConfig = (body: string, withMd5 = true) =>
      signedRequest(server.url, 'PUT', `/${Bucket}?object-lock`, { body, headers: withMd5 ? { 'content-md5': md5(body) } : {} });
    const rule = (inner: string) => `<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention>${inner}</DefaultRetention></Rule></ObjectLockConfiguration>`;
    assertS3Error(await putConfig(rule('<Mode>GOVERNANCE</Mode><Days>1</Days>'), false), 400, 'InvalidRequest');
    assertS3Error(await putConfig(rule('<Mode>GOVERNANCE</Mode><Days>1</Days><Years>1</Years>')), 400, 'MalformedXML');
    assertS3Error(await putConfig(rule('<Mode>GOVERNANCE</Mode>')), 400, 'MalformedXML');
    assertS3Error(await putConfig(rule('<Mode>SOMETIMES</Mode><Days>1</Days>')), 400, 'MalformedXML');
    assertS3Error(await putConfig(rule('<Days>1</Days>')), 400, 'MalformedXML');
    assert.equal(assertS3Error(await putConfig(rule('<Mode>GOVERNANCE</Mode><Days>0</Days>')), 400, 'InvalidArgument').ArgumentName, 'Days');
    assertS3Error(await putConfig(rule('<Mode>COMPLIANCE</Mode><Years>-1</Years>')), 400, 'InvalidArgument');
    assertS3Error(await putConfig(rule('<Mode>COMPLIANCE</Mode><Years>101</Years>')), 400, 'InvalidArgument');
    assertS3Error(await putConfig('<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>'), 400, 'MalformedXML');
    assertS3Error(await putConfig('<ObjectLockConfiguration><Rule/></ObjectLockConfiguration>'), 400, 'MalformedXML');
    assertS3Error(await putConfig('<ObjectLockConfiguration>'), 400, 'MalformedXML');
    // Nothing stored by the refusals.
    const stored = await signedRequest(server.url, 'GET', `/${Bucket}?object-lock`);
    assert.equal(stored.status, 200);
    assert.doesNotMatch(stored.body, /<Rule>/);

    // Lock headers on a PUT: both retention headers or neither, known values, a date ahead, a checksum.
    const put = (key: string, headers: Record<string, string>, body = 'x') =>
      signedRequest(server.url, 'PUT', `/${Bucket}/${key}`, { body, headers: { 'content-md5': md5(body), ...headers } });
    const future = inDays(1).toISOString();
    assertS3Error(await put('a', { 'x-amz-object-lock-mode': 'GOVERNANCE' }), 400, 'InvalidArgument');
    assertS3Error(await put('a', { 'x-amz-object-lock-retain-until-date': future }), 400, 'InvalidArgument');
    assertS3Error(await put('a', { 'x-amz-object-lock-mode': 'FOREVER', 'x-amz-object-lock-retain-until-date': future }), 400, 'InvalidArgument');
    assertS3Error(await put('a', { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': 'tomorrow' }), 400, 'InvalidArgument');
    assertS3Error(await put('a', { 'x-amz-object-lock-mode': 'GOVERNANCE', 'x-amz-object-lock-retain-until-date': '2001-01-01T00:00:00Z' }), 400, 'InvalidArgument');
    assertS3Error(await put('a', { 'x-amz-object-lock-legal-hold': 'maybe' }), 400, 'InvalidArgument');
    const unchecked = await signedRequest(server.url, 'PUT', `/${Bucket}/a`, { body: 'x', headers: { 'x-amz-object-lock-legal-hold': 'ON' } });
    assertS3Error(unchecked, 400, 'InvalidRequest');
    const listed = await signedRequest(server.url, 'GET', `/${Bucket}?versions`);
    assert.doesNotMatch(listed.body, /<Key>a<\/Key>/, 'a refused PUT stored a version');
    // A valid lock: stored, and answered on HEAD.
    const ok = await put('a', { 'x-amz-object-lock-mode': 'COMPLIANCE', 'x-amz-object-lock-retain-until-date': future });
    assert.equal(ok.status, 200, ok.body);
    const head = await signedRequest(server.url, 'HEAD', `/${Bucket}/a`);
    assert.equal(head.headers['x-amz-object-lock-mode'], 'COMPLIANCE');
    assert.equal(head.headers['x-amz-object-lock-retain-until-date'], new Date(future).toISOString());

    // ?retention and ?legal-hold documents.
    const putSub = (sub: string, body: string, withMd5 = true) =>
      signedRequest(server.url, 'PUT', `/${Bucket}/a?${sub}`, { body, headers: withMd5 ? { 'content-md5': md5(body) } : {} });
    assertS3Error(await putSub('retention', `<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>${inDays(3).toISOString()}</RetainUntilDate></Retention>`, false), 400, 'InvalidRequest');
    assertS3Error(await putSub('retention', '<Retention><Mode>COMPLIANCE</Mode></Retention>'), 400, 'MalformedXML');
    assertS3Error(await putSub('retention', `<Retention><Mode>SOFT</Mode><RetainUntilDate>${future}</RetainUntilDate></Retention>`), 400, 'MalformedXML');
    assertS3Error(await putSub('retention', '<Retention><Mode>COMPLIANCE</Mode><RetainUntilDate>soon</RetainUntilDate></Retention>'), 400, 'MalformedXML');
    // Removing a COMPLIANCE retention in force is refused.
    assertS3Error(await putSub('retention', '<Retention/>'), 403, 'AccessDenied');
    assertS3Error(await putSub('legal-hold', '<LegalHold><Status>on</Status></LegalHold>'), 400, 'MalformedXML');
    assertS3Error(await putSub('legal-hold', '<LegalHold/>'), 400, 'MalformedXML');
    const hold = await putSub('legal-hold', '<LegalHold><Status>ON</Status></LegalHold>');
    assert.equal(hold.status, 200, hold.body);
    const holdRead = await signedRequest(server.url, 'GET', `/${Bucket}/a?legal-hold`);
    assert.match(holdRead.body, /<LegalHold[^>]*><Status>ON<\/Status><\/LegalHold>/);
    const retentionRead = await signedRequest(server.url, 'GET', `/${Bucket}/a?retention`);
    assert.match(retentionRead.body, /<Mode>COMPLIANCE<\/Mode><RetainUntilDate>[^<]+<\/RetainUntilDate>/);
    assertS3Error(await signedRequest(server.url, 'GET', `/${Bucket}/a?retention&versionId=bogus`), 400, 'InvalidArgument');
    assertS3Error(await signedRequest(server.url, 'GET', `/${Bucket}/a?retention&versionId=${'A'.repeat(32)}`), 404, 'NoSuchVersion');

    // Under a default retention every PUT is an upload with a retention: it needs its checksum too.
    const configured = await putConfig(rule('<Mode>GOVERNANCE</Mode><Days>1</Days>'));
    assert.equal(configured.status, 200, configured.body);
    assertS3Error(await signedRequest(server.url, 'PUT', `/${Bucket}/d`, { body: 'unchecked' }), 400, 'InvalidRequest');
    assert.doesNotMatch((await signedRequest(server.url, 'GET', `/${Bucket}?versions`)).body, /<Key>d<\/Key>/, 'a refused PUT stored a version');
    const checkedPut = await put('d', {}, 'checked');
    assert.equal(checkedPut.status, 200, checkedPut.body);
    assert.equal((await signedRequest(server.url, 'HEAD', `/${Bucket}/d`)).headers['x-amz-object-lock-mode'], 'GOVERNANCE');
  });

  it('holds through the OSS dialect too: a locked version is not deleted, versioning not suspended', async () => {
    const Bucket = 'lock-oss';
    const s3 = s3Client(server);
    try {
      await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
      const locked = await s3.send(new PutObjectCommand({ Bucket, Key: 'k', Body: 'kept', ObjectLockLegalHoldStatus: 'ON' }));
      const oss = ossClient(server, 'v4', Bucket);
      await expectOssError(oss.delete('k', { versionId: locked.VersionId }), 403, 'AccessDenied');
      const suspend = '<VersioningConfiguration><Status>Suspended</Status></VersioningConfiguration>';
      assertOssError(await ossRequest(server, { method: 'PUT', bucket: Bucket, query: [['versioning', '']], body: suspend }), 409, 'InvalidBucketState');
      assert.equal((await oss.getBucketVersioning(Bucket)).versionStatus, 'Enabled');
      // OSS's own delete, without an id, writes a marker as S3's does.
      assert.equal((await oss.delete('k')).res.headers['x-oss-delete-marker'], 'true');
      assert.equal((await s3.send(new HeadObjectCommand({ Bucket, Key: 'k', VersionId: locked.VersionId }))).ObjectLockLegalHoldStatus, 'ON');
    } finally {
      s3.destroy();
    }
  });

  it('boto3: create-bucket with object lock, put-object-retention, a refused delete', { skip: !BOTO3_AVAILABLE }, async () => {
    const result = (await runBoto3(
      server,
      `
import datetime
from botocore.exceptions import ClientError
bucket = args["bucket"]
s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
enabled = s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"]["ObjectLockEnabled"]
version = s3.put_object(Bucket=bucket, Key="k", Body=b"kept")["VersionId"]
until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
s3.put_object_retention(Bucket=bucket, Key="k", VersionId=version, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until})
mode = s3.get_object_retention(Bucket=bucket, Key="k", VersionId=version)["Retention"]["Mode"]
try:
    s3.delete_object(Bucket=bucket, Key="k", VersionId=version)
    refused = None
except ClientError as err:
    refused = [err.response["Error"]["Code"], err.response["ResponseMetadata"]["HTTPStatusCode"]]
body = s3.get_object(Bucket=bucket, Key="k", VersionId=version)["Body"].read().decode()
out({"enabled": enabled, "mode": mode, "refused": refused, "body": body})
`,
      { bucket: 'lock-boto3' },
    )) as Record<string, unknown>;
    assert.deepEqual(result, { enabled: 'Enabled', mode: 'COMPLIANCE', refused: ['AccessDenied', 403], body: 'kept' });
  });
});
