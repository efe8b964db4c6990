/**
 * OSS object and bucket tags through ali-oss (x-oss-tagging on put, multipartUpload and copy with
 * x-oss-tagging-directive; putObjectTagging, getObjectTagging, deleteObjectTagging;
 * x-oss-tagging-count; putBucketTags, getBucketTags, deleteBucketTags), tags set through one
 * dialect read through the other, and over raw HTTP what OSS refuses, leaving what was stored as it was.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectTaggingCommand, PutObjectTaggingCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertOssError, expectOssError, ossClient, ossRequest, xmlValue, xmlValues, type AliOss } from './helpers.js';

const BUCKET = 'oss-tagging';
const PART = 100 * 1024;

const taggingDocument = (tags: Array<[string, string]>) =>
  `<Tagging><TagSet>${tags.map(([key, value]) => `<Tag><Key>${key}</Key><Value>${value}</Value></Tag>`).join('')}</TagSet></Tagging>`;

describe('OSS tagging', () => {
  let server: TestServer;
  let client: AliOss;
  let dir: string;

  before(async () => {
    server = await startServer();
    client = ossClient(server, 'v4', BUCKET);
    await client.putBucket(BUCKET);
    dir = await mkdtemp(join(tmpdir(), 'tessera-oss-tagging-'));
  });
  after(async () => {
    await server?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const tagsOf = async (name: string) => (await client.getObjectTagging(name)).tag as Record<string, string>;

  it('put with x-oss-tagging, then putObjectTagging, getObjectTagging, deleteObjectTagging; HEAD counts them', async () => {
    await client.put('doc.txt', Buffer.from('hello'), { headers: { 'x-oss-tagging': 'team=storage&note=two%20words' } });
    assert.deepEqual(await tagsOf('doc.txt'), { note: 'two words', team: 'storage' });
    assert.equal((await client.head('doc.txt')).res.headers['x-oss-tagging-count'], '2');

    await client.putObjectTagging('doc.txt', { project: 'tessera', 'stage-1': 'a:b/c' });
    assert.deepEqual(await tagsOf('doc.txt'), { project: 'tessera', 'stage-1': 'a:b/c' });
    assert.equal((await client.get('doc.txt')).content.toString(), 'hello', 'the bytes stay');

    const deleted = await client.deleteObjectTagging('doc.txt');
    assert.equal(deleted.status, 204);
    assert.deepEqual(await tagsOf('doc.txt'), {});
    assert.equal((await client.head('doc.txt')).res.headers['x-oss-tagging-count'], undefined);
    await expectOssError(client.getObjectTagging('missing'), 404, 'NoSuchKey');
  });

  it('multipartUpload with x-oss-tagging: the tags land on the object at Complete', async () => {
    const path = join(dir, 'multi.bin');
    await writeFile(path, randomBytes(2 * PART + 100));
    await client.multipartUpload('multi.bin', path, { partSize: PART, headers: { 'x-oss-tagging': 'kind=backup&day=monday' } });
    assert.deepEqual(await tagsOf('multi.bin'), { day: 'monday', kind: 'backup' });
  });

  it('copy keeps the source tags (Copy, the default) or takes x-oss-tagging (Replace)', async () => {
    await client.put('source.txt', Buffer.from('source'), { headers: { 'x-oss-tagging': 'from=source' } });
    await client.copy('copy-kept.txt', 'source.txt');
    assert.deepEqual(await tagsOf('copy-kept.txt'), { from: 'source' });
    await client.copy('copy-replaced.txt', 'source.txt', { headers: { 'x-oss-tagging-directive': 'Replace', 'x-oss-tagging': 'from=copy' } });
    assert.deepEqual(await tagsOf('copy-replaced.txt'), { from: 'copy' });
  });

  it('tags set through S3 read through OSS, and the other way round', async () => {
    const s3 = s3Client(server);
    try {
      await client.put('both.txt', Buffer.from('x'));
      await s3.send(new PutObjectTaggingCommand({ Bucket: BUCKET, Key: 'both.txt', Tagging: { TagSet: [{ Key: 'via', Value: 's3' }] } }));
      assert.deepEqual(await tagsOf('both.txt'), { via: 's3' });
      await client.putObjectTagging('both.txt', { via: 'oss' });
      assert.deepEqual((await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: 'both.txt' }))).TagSet, [{ Key: 'via', Value: 'oss' }]);
    } finally {
      s3.destroy();
    }
  });

  it('putBucketTags, getBucketTags (empty when none), deleteBucketTags (all, or the keys named)', async () => {
    assert.deepEqual((await client.getBucketTags(BUCKET)).tag, {});
    await client.putBucketTags(BUCKET, { owner: 'ops', env: 'prod', tier: 'gold' });
    assert.deepEqual((await client.getBucketTags(BUCKET)).tag, { env: 'prod', owner: 'ops', tier: 'gold' });
    const some = await ossRequest(server, { method: 'DELETE', bucket: BUCKET, query: [['tagging', 'env,tier']] });
    assert.equal(some.status, 204, some.body);
    assert.deepEqual((await client.getBucketTags(BUCKET)).tag, { owner: 'ops' });
    assert.equal((await client.deleteBucketTags(BUCKET)).status, 204);
    assert.deepEqual((await client.getBucketTags(BUCKET)).tag, {});
  });

  describe('refusals, over raw HTTP', () => {
    const KEY = 'refusals.txt';

    before(async () => {
      await client.put(KEY, Buffer.from('original'));
      await client.putObjectTagging(KEY, { kept: 'yes' });
    });

    const eleven = Array.from({ length: 11 }, (_, index): [string, string] => [`key${index}`, 'v']);
    const cases: Array<[string, string, string]> = [
      ['11 tags', taggingDocument(eleven), 'InvalidTag'],
      ['a 129-character key', taggingDocument([['k'.repeat(129), 'v']]), 'InvalidTag'],
      ['a 257-character value', taggingDocument([['k', 'v'.repeat(257)]]), 'InvalidTag'],
      ['duplicate keys', taggingDocument([['k', '1'], ['k', '2']]), 'InvalidTag'],
      ['a character OSS refuses', taggingDocument([['k@home', 'v']]), 'InvalidTag'],
      ['malformed XML', '<Tagging><TagSet>', 'MalformedXML'],
      ['a Tag without its Key', '<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>', 'MalformedXML'],
    ];
    for (const [what, body, code] of cases) {
      it(`PutObjectTagging with ${what}: 400 ${code}, the tags unchanged`, async () => {
        assertOssError(await ossRequest(server, { method: 'PUT', bucket: BUCKET, key: KEY, query: [['tagging', '']], body }), 400, code);
        assert.deepEqual(await tagsOf(KEY), { kept: 'yes' });
      });
    }

    for (const [what, value, code] of [
      ['a = too many', 'aa=bb=cc', 'InvalidArgument'],
      ['a bad escape', 'a=%G0', 'InvalidArgument'],
      ['11 tags', eleven.map(([key, value]) => `${key}=${value}`).join('&'), 'InvalidTag'],
    ] as const) {
      it(`put with x-oss-tagging of ${what}: 400 ${code}, nothing written`, async () => {
        const res = await ossRequest(server, { method: 'PUT', bucket: BUCKET, key: KEY, headers: { 'x-oss-tagging': value }, body: 'replacement' });
        assertOssError(res, 400, code);
        if (code === 'InvalidArgument') assert.equal(xmlValue(res.body, 'ArgumentName'), 'x-oss-tagging');
        assert.equal((await client.get(KEY)).content.toString(), 'original');
        assert.deepEqual(await tagsOf(KEY), { kept: 'yes' });
      });
    }

    it('PutBucketTags with 21 tags, a 65-byte key or an Aliyun key: InvalidTag, the bucket keeps its tags', async () => {
      await client.putBucketTags(BUCKET, { bucket: 'kept' });
      const twentyOne = Array.from({ length: 21 }, (_, index): [string, string] => [`key${index}`, 'v']);
      for (const tags of [twentyOne, [['k'.repeat(65), 'v']], [['Aliyun-owned', 'v']]] as Array<Array<[string, string]>>) {
        assertOssError(await ossRequest(server, { method: 'PUT', bucket: BUCKET, query: [['tagging', '']], body: taggingDocument(tags) }), 400, 'InvalidTag');
      }
      const got = await ossRequest(server, { bucket: BUCKET, query: [['tagging', '']] });
      assert.deepEqual(xmlValues(got.body, 'Key'), ['bucket']);
    });
  });
});
