/**
 * The lifecycle worker applies the rules: objects expire and uploads in progress are aborted when
 * their day comes, and nothing else is touched. A lifecycle day is 2 seconds here
 * (`lifecycleDaySeconds`, the test hook) and the background work runs every half second.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  UploadPartCommand,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const DAY_SECONDS = 2;

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) assert.fail(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('the lifecycle worker', () => {
  let server: TestServer;
  let s3: S3Client;

  before(async () => {
    server = await startServer({ config: { lifecycleDaySeconds: DAY_SECONDS, sweepIntervalSeconds: 0.5, uploadExpirySeconds: 1 } });
    s3 = s3Client(server);
  });
  after(async () => {
    s3?.destroy();
    await server?.cleanup();
  });

  const putRules = (bucket: string, rules: LifecycleRule[]) =>
    s3.send(new PutBucketLifecycleConfigurationCommand({ Bucket: bucket, LifecycleConfiguration: { Rules: rules } }));
  const keys = async (bucket: string) => ((await s3.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? []).map((object) => object.Key!).sort();
  const uploads = async (bucket: string) =>
    ((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? []).map((upload) => upload.Key!).sort();

  it('expires the objects a rule covers (prefix, size) a day after they were written, says when in x-amz-expiration, and leaves the rest', async () => {
    const bucket = 'expiring';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await putRules(bucket, [
      { ID: 'logs-after-a-day', Filter: { Prefix: 'logs/' }, Status: 'Enabled', Expiration: { Days: 1 } },
      { ID: 'big-scratch', Filter: { And: { Prefix: 'scratch/', ObjectSizeGreaterThan: 100 } }, Status: 'Enabled', Expiration: { Days: 1 } },
      { ID: 'switched-off', Filter: { Prefix: 'keep/' }, Status: 'Disabled', Expiration: { Days: 1 } },
      { ID: 'tagged-to-go', Filter: { Tag: { Key: 'expire', Value: 'yes' } }, Status: 'Enabled', Expiration: { Days: 1 } },
    ]);
    const written = Date.now();
    const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'logs/a.log', Body: 'a' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'logs/b.log', Body: 'b' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'scratch/big.bin', Body: Buffer.alloc(101) }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'scratch/small.bin', Body: Buffer.alloc(100) }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'keep/c.txt', Body: 'c' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'other.txt', Body: 'd' }));
    const tagged = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tags/go.txt', Body: 'e', Tagging: 'expire=yes&team=ops' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'tags/stay.txt', Body: 'f', Tagging: 'expire=no' }));
    assert.match(tagged.Expiration ?? '', /rule-id="tagged-to-go"$/);

    // PUT and HEAD say when and by which rule; an object no enabled rule covers has no date.
    assert.match(put.Expiration ?? '', /^expiry-date="[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT", rule-id="logs-after-a-day"$/);
    const due = Date.parse(/expiry-date="([^"]+)"/.exec(put.Expiration!)![1]!);
    // A day after the write, rounded up to the next day boundary (seconds here; midnight with real days).
    assert.ok(due >= written + DAY_SECONDS * 1000 - 1000 && due <= written + 2 * DAY_SECONDS * 1000 + 1000, `due ${due - written} ms after the write`);
    assert.equal(due % (DAY_SECONDS * 1000), 0, 'on a day boundary');
    // HEAD says the same of an object written a moment later (a day boundary may fall between the two).
    const headed = (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'logs/b.log' }))).Expiration ?? '';
    assert.match(headed, /rule-id="logs-after-a-day"$/);
    const headedDue = Date.parse(/expiry-date="([^"]+)"/.exec(headed)![1]!);
    assert.ok(headedDue === due || headedDue === due + DAY_SECONDS * 1000, `${headed} against ${put.Expiration}`);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'keep/c.txt' }))).Expiration, undefined);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'scratch/small.bin' }))).Expiration, undefined);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'tags/stay.txt' }))).Expiration, undefined);
    assert.deepEqual(await keys(bucket), ['keep/c.txt', 'logs/a.log', 'logs/b.log', 'other.txt', 'scratch/big.bin', 'scratch/small.bin', 'tags/go.txt', 'tags/stay.txt']);

    await eventually('the covered objects expire', async () => (await keys(bucket)).length === 4);
    assert.ok(Date.now() >= due, 'not before their day');
    assert.deepEqual(await keys(bucket), ['keep/c.txt', 'other.txt', 'scratch/small.bin', 'tags/stay.txt']);
  });

  it('in a versioned bucket an expiring object gets a delete marker and its version stays', async () => {
    const bucket = 'dated-versioned';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
    const version = (await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'old/1', Body: '1' }))).VersionId!;
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: bucket,
        LifecycleConfiguration: { Rules: [{ ID: 'gone-in-2020', Filter: { Prefix: 'old/' }, Status: 'Enabled', Expiration: { Date: new Date('2020-01-01T00:00:00Z') } }] },
      }),
    );
    await eventually('old/1 is expired', async () => (await keys(bucket)).length === 0);
    const listed = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    assert.deepEqual(listed.Versions?.map((v) => [v.VersionId, v.IsLatest]), [[version, false]]);
    assert.deepEqual(listed.DeleteMarkers?.map((m) => [m.Key, m.IsLatest]), [['old/1', true]]);
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'old/1', VersionId: version }))).ContentLength, 1);
  });

  it('an Expiration Date in the past expires every covered object at the next run', async () => {
    const bucket = 'dated';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'old/1', Body: '1' }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'new/2', Body: '2' }));
    await putRules(bucket, [{ ID: 'gone-in-2020', Filter: { Prefix: 'old/' }, Status: 'Enabled', Expiration: { Date: new Date('2020-01-01T00:00:00Z') } }]);
    await eventually('old/ is emptied', async () => (await keys(bucket)).length === 1);
    assert.deepEqual(await keys(bucket), ['new/2']);
  });

  it('aborts uploads in progress DaysAfterInitiation after they started (x-amz-abort-date on Create and ListParts); the server-wide expiry leaves covered uploads to the rule', async () => {
    const bucket = 'abandoned';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await putRules(bucket, [
      { ID: 'tmp-uploads', Filter: { Prefix: 'tmp/' }, Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
      // Longer than the server-wide 1 s: these uploads are the rule's, and stay.
      { ID: 'patient', Filter: { Prefix: 'slow/' }, Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1000 } },
    ]);
    const started = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'tmp/big.iso' }));
    assert.equal(started.AbortRuleId, 'tmp-uploads');
    assert.ok(started.AbortDate instanceof Date && started.AbortDate.getTime() % (DAY_SECONDS * 1000) === 0, String(started.AbortDate));
    await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'tmp/big.iso', UploadId: started.UploadId, PartNumber: 1, Body: 'part one' }));
    const listed = await s3.send(new ListPartsCommand({ Bucket: bucket, Key: 'tmp/big.iso', UploadId: started.UploadId }));
    assert.equal(listed.AbortRuleId, 'tmp-uploads');
    assert.equal(listed.AbortDate?.getTime(), started.AbortDate.getTime());

    const patient = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'slow/huge.iso' }));
    assert.equal(patient.AbortRuleId, 'patient');
    // No rule covers this one: the server-wide expiry (1 s here) aborts it, and says no date.
    const uncovered = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'elsewhere.bin' }));
    assert.equal(uncovered.AbortDate, undefined);

    await eventually('the tmp/ upload is aborted', async () => !(await uploads(bucket)).includes('tmp/big.iso'));
    assert.ok(Date.now() >= started.AbortDate.getTime(), 'not before its date');
    await eventually('the uncovered upload is swept', async () => !(await uploads(bucket)).includes('elsewhere.bin'));
    assert.deepEqual(await uploads(bucket), ['slow/huge.iso']);
  });
});
