import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateMultipartUploadCommand, GetBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { expectOssError, ossClient, type AliOss } from './helpers.js';

// OSS's PutBucketLifecycle / GetBucketLifecycle / DeleteBucketLifecycle with ali-oss, over the
// same rules S3 reads (core/lifecycle.ts), and the worker applying OSS's forms: Days after the
// last change, and CreatedBeforeDate (everything written before it, at once). A lifecycle day is
// 2 seconds here.

const BUCKET = 'oss-lifecycle';

describe('OSS bucket lifecycle', () => {
  let server: TestServer;
  let oss: AliOss;

  before(async () => {
    server = await startServer({ config: { lifecycleDaySeconds: 2, sweepIntervalSeconds: 0.5 } });
    oss = ossClient(server, 'v4', BUCKET);
    await oss.putBucket(BUCKET);
  });
  after(async () => {
    await server?.cleanup();
  });

  it('stores the rules ali-oss writes, gives them back, and S3 reads the same rules', async () => {
    await expectOssError(oss.getBucketLifecycle(BUCKET), 404, 'NoSuchLifecycle');
    await oss.putBucketLifecycle(BUCKET, [
      { id: 'logs', prefix: 'logs/', status: 'Enabled', expiration: { days: 30 } },
      { id: 'fragments', prefix: '', status: 'Enabled', abortMultipartUpload: { days: 3 } },
      { id: 'tagged', prefix: 'tmp/', status: 'Disabled', tag: [{ key: 'class', value: 'scratch' }], expiration: { createdBeforeDate: '2031-01-01T00:00:00.000Z' } },
    ]);
    const { rules } = await oss.getBucketLifecycle(BUCKET);
    assert.deepEqual(rules, [
      { id: 'logs', prefix: 'logs/', status: 'Enabled', expiration: { days: '30' } },
      { id: 'fragments', prefix: '', status: 'Enabled', abortMultipartUpload: { days: '3' } },
      { id: 'tagged', prefix: 'tmp/', status: 'Disabled', tag: [{ key: 'class', value: 'scratch' }], expiration: { createdBeforeDate: '2031-01-01T00:00:00.000Z' } },
    ]);

    const s3 = s3Client(server);
    try {
      const read = await s3.send(new GetBucketLifecycleConfigurationCommand({ Bucket: BUCKET }));
      assert.deepEqual(read.Rules?.[0], { ID: 'logs', Filter: { Prefix: 'logs/' }, Status: 'Enabled', Expiration: { Days: 30 } });
      // An upload in progress through S3 is told the OSS rule's abort date.
      const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'any/key.bin' }));
      assert.equal(upload.AbortRuleId, 'fragments');
    } finally {
      s3.destroy();
    }

    await oss.deleteBucketLifecycle(BUCKET);
    await expectOssError(oss.getBucketLifecycle(BUCKET), 404, 'NoSuchLifecycle');
  });

  it("refuses what OSS refuses, in OSS's codes, and what Tessera does not do with 501", async () => {
    const put = (body: string) => oss.request({ method: 'PUT', bucket: BUCKET, subres: 'lifecycle', content: body, mime: 'xml', successStatuses: [200] });
    const document = (rule: string) => `<?xml version="1.0" encoding="UTF-8"?><LifecycleConfiguration><Rule>${rule}</Rule></LifecycleConfiguration>`;
    await expectOssError(put(document('<ID>r</ID><Prefix>a/</Prefix><Status>Enabled</Status><Expiration></Expiration>')), 400, 'MalformedXML');
    await expectOssError(
      put(document('<ID>r</ID><Prefix>a/</Prefix><Status>Enabled</Status><Expiration><Days>2</Days><CreatedBeforeDate>2031-01-01T00:00:00.000Z</CreatedBeforeDate></Expiration>')),
      400,
      'MalformedXML',
    );
    await expectOssError(put(document('<ID>r</ID><Prefix>a/</Prefix><Status>Enabled</Status><AbortMultipartUpload></AbortMultipartUpload>')), 400, 'MalformedXML');
    await expectOssError(put(document('<ID>r</ID><Prefix>a/</Prefix><Status>Enabled</Status><Expiration><Days>0</Days></Expiration>')), 400, 'InvalidArgument');
    await expectOssError(
      put(document('<ID>r</ID><Prefix>a/</Prefix><Status>Enabled</Status><Expiration><CreatedBeforeDate>2031-01-01T08:00:00.000Z</CreatedBeforeDate></Expiration>')),
      400,
      'InvalidArgument',
    );
    await expectOssError(
      put(document('<ID>r</ID><Prefix>a/</Prefix><Status>Enabled</Status><Transition><Days>30</Days><StorageClass>IA</StorageClass></Transition>')),
      501,
      'NotImplemented',
    );
    await expectOssError(oss.getBucketLifecycle(BUCKET), 404, 'NoSuchLifecycle');
  });

  it('the worker expires objects written before CreatedBeforeDate at once, and those a Days rule covers on their day', async () => {
    await oss.put('before/1.txt', Buffer.from('old'));
    await oss.put('days/2.txt', Buffer.from('soon'));
    await oss.put('other/3.txt', Buffer.from('stays'));
    const tomorrow = new Date(Date.now() + 24 * 60 * 60 * 1000);
    tomorrow.setUTCHours(0, 0, 0, 0);
    await oss.putBucketLifecycle(BUCKET, [
      { id: 'cut-off', prefix: 'before/', status: 'Enabled', expiration: { createdBeforeDate: tomorrow.toISOString() } },
      { id: 'a-day', prefix: 'days/', status: 'Enabled', expiration: { days: 1 } },
    ]);
    const until = Date.now() + 20_000;
    let names: string[] = [];
    while (Date.now() < until) {
      names = ((await oss.list({ prefix: '' }, {})).objects ?? []).map((object: { name: string }) => object.name).sort();
      if (names.length === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.deepEqual(names, ['other/3.txt']);
  });
});
