import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { assertBlobsMatchMetadata, eventually, s3At, skipWithoutPostgres } from './helpers.js';

// Issue #15's lifecycle rules on three nodes: a rule set through one node covers objects written
// through the others, the worker (one node at a time) expires and aborts what is due, and what it
// deletes leaves no blob behind and no reference dangling. A lifecycle day is 2 seconds here.

describe('lifecycle rules across nodes', { skip: skipWithoutPostgres() }, () => {
  let cluster: TestCluster;
  let s3: S3Client[];

  before(async () => {
    cluster = await startCluster({ config: { lifecycleDaySeconds: 2, sweepIntervalSeconds: 0.5 } });
    s3 = cluster.nodes.map((node) => s3At(node));
  });
  after(async () => {
    for (const client of s3 ?? []) client.destroy();
    await cluster?.cleanup();
  });

  it('expires objects and aborts uploads written through every node, under a rule set through one', async () => {
    const bucket = 'cluster-lifecycle';
    await s3[0]!.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3[1]!.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: bucket,
        LifecycleConfiguration: {
          Rules: [
            { ID: 'logs', Filter: { Prefix: 'logs/' }, Status: 'Enabled', Expiration: { Days: 1 } },
            { ID: 'uploads', Filter: { Prefix: 'logs/' }, Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
          ],
        },
      }),
    );
    for (let i = 0; i < 9; i++) {
      const put = await s3[i % 3]!.send(new PutObjectCommand({ Bucket: bucket, Key: `logs/${i}.log`, Body: `line ${i}` }));
      assert.match(put.Expiration ?? '', /rule-id="logs"/, `node ${i % 3} knows the rule`);
    }
    await s3[2]!.send(new PutObjectCommand({ Bucket: bucket, Key: 'keep.txt', Body: 'stays' }));
    const upload = await s3[2]!.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'logs/partial.log' }));
    assert.equal(upload.AbortRuleId, 'uploads');
    await s3[0]!.send(new UploadPartCommand({ Bucket: bucket, Key: 'logs/partial.log', UploadId: upload.UploadId, PartNumber: 1, Body: 'partial' }));

    await eventually('every logs/ object expired and the upload aborted', async () => {
      const objects = (await s3[1]!.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? [];
      const uploads = (await s3[1]!.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
      return objects.length === 1 && uploads.length === 0 ? true : undefined;
    }, 600);
    const left = (await s3[0]!.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents ?? [];
    assert.deepEqual(
      left.map((object) => object.Key),
      ['keep.txt'],
    );
    await assertBlobsMatchMetadata(cluster);
  });
});
