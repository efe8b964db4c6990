/**
 * Object and bucket tags through the AWS SDK at its defaults (x-amz-tagging on PutObject,
 * CreateMultipartUpload and CopyObject; PutObjectTagging, GetObjectTagging, DeleteObjectTagging;
 * x-amz-tagging-count; PutBucketTagging, GetBucketTagging, DeleteBucketTagging), the same scenario
 * on the PostgreSQL metadata backend, boto3, and over raw HTTP what S3 refuses: more than 10 tags,
 * a 129-character key, a 257-character value, duplicate keys, reserved and malformed keys, malformed
 * documents and an x-amz-tagging header that is not a URL query. Each refusal leaves what was
 * stored as it was.
 */
import { after, before, describe, it } from 'node:test';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteBucketTaggingCommand,
  DeleteObjectTaggingCommand,
  GetBucketTaggingCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadObjectCommand,
  PutBucketTaggingCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  UploadPartCommand,
  CreateBucketCommand,
  type S3Client,
  type Tag,
} from '@aws-sdk/client-s3';
import { assertOk, assertS3Error, expectError } from '../helpers/assertions.js';
import { BOTO3_AVAILABLE, runBoto3 } from '../helpers/boto3.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { multipartBody, postForm, s3PolicyFields } from '../helpers/form.js';
import { signedRequest } from '../helpers/raw.js';
import { s3Client, useS3Server } from '../helpers/s3.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';

const BUCKET = 'tagging';
const AWS_CLI = spawnSync('aws', ['--version'], { stdio: 'ignore' }).status === 0;

const taggingDocument = (tags: Array<[string, string]>) =>
  `<Tagging><TagSet>${tags.map(([key, value]) => `<Tag><Key>${key}</Key><Value>${value}</Value></Tag>`).join('')}</TagSet></Tagging>`;

async function tagsOf(s3: S3Client, bucket: string, key: string): Promise<Tag[]> {
  return (await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet ?? [];
}

/** The tag scenario every metadata backend must pass. */
async function tagScenario(s3: S3Client, bucket: string): Promise<void> {
  // PutObject with x-amz-tagging: the set comes back in key order, with a space decoded.
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc.txt', Body: 'hello', Tagging: 'team=storage&a=two%20words&empty=' }));
  assert.deepEqual(await tagsOf(s3, bucket, 'doc.txt'), [
    { Key: 'a', Value: 'two words' },
    { Key: 'empty', Value: '' },
    { Key: 'team', Value: 'storage' },
  ]);
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'doc.txt' }));
  assert.equal(got.TagCount, 3);
  assert.equal(await got.Body!.transformToString(), 'hello');

  // PutObjectTagging replaces the whole set; the bytes and date stay.
  const before = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'doc.txt' }));
  await s3.send(
    new PutObjectTaggingCommand({ Bucket: bucket, Key: 'doc.txt', Tagging: { TagSet: [{ Key: 'café', Value: 'crème brûlée' }, { Key: 'k', Value: 'v' }] } }),
  );
  assert.deepEqual(await tagsOf(s3, bucket, 'doc.txt'), [
    { Key: 'café', Value: 'crème brûlée' },
    { Key: 'k', Value: 'v' },
  ]);
  const afterTagging = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'doc.txt' }));
  assert.equal(afterTagging.ETag, before.ETag);
  assert.equal(afterTagging.LastModified?.getTime(), before.LastModified?.getTime());
  assert.equal((await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'doc.txt', VersionId: 'null' }))).TagSet?.length, 2);

  // CopyObject: COPY (the default) keeps the source's tags, REPLACE takes x-amz-tagging (or none).
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy-kept', CopySource: `${bucket}/doc.txt` }));
  assert.deepEqual(await tagsOf(s3, bucket, 'copy-kept'), await tagsOf(s3, bucket, 'doc.txt'));
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy-replaced', CopySource: `${bucket}/doc.txt`, TaggingDirective: 'REPLACE', Tagging: 'x=1' }));
  assert.deepEqual(await tagsOf(s3, bucket, 'copy-replaced'), [{ Key: 'x', Value: '1' }]);
  await s3.send(new CopyObjectCommand({ Bucket: bucket, Key: 'copy-untagged', CopySource: `${bucket}/doc.txt`, TaggingDirective: 'REPLACE' }));
  assert.deepEqual(await tagsOf(s3, bucket, 'copy-untagged'), []);

  // DeleteObjectTagging: an empty set, and no count on GET.
  await s3.send(new DeleteObjectTaggingCommand({ Bucket: bucket, Key: 'doc.txt' }));
  assert.deepEqual(await tagsOf(s3, bucket, 'doc.txt'), []);
  assert.equal((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'doc.txt' }))).TagCount, undefined);
  assert.equal((await tagsOf(s3, bucket, 'copy-kept')).length, 2, "the copy's tags are its own");

  // A new write at the key starts with its own tags (none here), never the old ones.
  await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'doc.txt', Tagging: { TagSet: [{ Key: 'old', Value: '1' }] } }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'doc.txt', Body: 'replaced' }));
  assert.deepEqual(await tagsOf(s3, bucket, 'doc.txt'), []);

  // CreateMultipartUpload's tags land on the object at Complete.
  const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big.bin', Tagging: 'project=alpha&stage=raw' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'big.bin', UploadId: upload.UploadId, PartNumber: 1, Body: 'part one' }));
  await s3.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: 'big.bin',
      UploadId: upload.UploadId,
      MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] },
    }),
  );
  assert.deepEqual(await tagsOf(s3, bucket, 'big.bin'), [
    { Key: 'project', Value: 'alpha' },
    { Key: 'stage', Value: 'raw' },
  ]);
  assert.equal((await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'big.bin' }))).TagCount, 2);

  // Bucket tags: NoSuchTagSet until set, a replaced set, and none again after Delete.
  await expectError(s3.send(new GetBucketTaggingCommand({ Bucket: bucket })), 404, 'NoSuchTagSet');
  await s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [{ Key: 'owner', Value: 'ops' }, { Key: 'cost-center', Value: '42' }] } }));
  assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet, [
    { Key: 'cost-center', Value: '42' },
    { Key: 'owner', Value: 'ops' },
  ]);
  await s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [{ Key: 'owner', Value: 'dev' }] } }));
  assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet, [{ Key: 'owner', Value: 'dev' }]);
  await s3.send(new DeleteBucketTaggingCommand({ Bucket: bucket }));
  await expectError(s3.send(new GetBucketTaggingCommand({ Bucket: bucket })), 404, 'NoSuchTagSet');

  // A missing object.
  await expectError(s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: 'missing' })), 404, 'NoSuchKey');
  await expectError(
    s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'missing', Tagging: { TagSet: [{ Key: 'a', Value: 'b' }] } })),
    404,
    'NoSuchKey',
  );
}

describe('S3 tagging (SQLite metadata)', () => {
  let s3: S3Client;
  let url: string;
  let server: TestServer;

  useS3Server({ bucket: BUCKET }, (env) => {
    s3 = env.s3;
    url = env.server.url;
    server = env.server;
  });

  it('tags objects on every write, replaces, copies and deletes them; tags buckets', async () => {
    await tagScenario(s3, BUCKET);
  });

  it('HEAD answers x-amz-tagging-count when the object has tags, and not when it has none', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'counted', Body: 'x', Tagging: 'a=1&b=2' }));
    const head = await signedRequest(url, 'HEAD', `/${BUCKET}/counted`);
    assert.equal(head.headers['x-amz-tagging-count'], '2');
    await s3.send(new DeleteObjectTaggingCommand({ Bucket: BUCKET, Key: 'counted' }));
    assert.equal((await signedRequest(url, 'HEAD', `/${BUCKET}/counted`)).headers['x-amz-tagging-count'], undefined);
  });

  it('accepts the limits exactly: 10 tags, a 128-character key, a 256-character value', async () => {
    const tags = Array.from({ length: 10 }, (_, index) => ({ Key: `${index}`.padEnd(128, 'k'), Value: 'v'.repeat(256) }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'limits', Body: 'x' }));
    await s3.send(new PutObjectTaggingCommand({ Bucket: BUCKET, Key: 'limits', Tagging: { TagSet: tags } }));
    assert.deepEqual(await tagsOf(s3, BUCKET, 'limits'), tags);
    // Letters and numbers of any script, spaces and _ . : / = + @ -.
    const unicode = [{ Key: '日本語 キー', Value: 'x_y.z:/=+@-' }];
    await s3.send(new PutObjectTaggingCommand({ Bucket: BUCKET, Key: 'limits', Tagging: { TagSet: unicode } }));
    assert.deepEqual(await tagsOf(s3, BUCKET, 'limits'), unicode);
  });

  it("POST Object's tagging field (a Tagging document) tags the object; a bad one is refused and stores nothing", async () => {
    const form = (key: string, tagging: string) => {
      const auth = s3PolicyFields({ conditions: [{ bucket: BUCKET }, ['starts-with', '$key', 'posted/'], ['starts-with', '$tagging', '']] });
      return multipartBody([['key', key], ['tagging', tagging], ...auth.fields], { filename: 'f.txt', content: 'posted', contentType: 'text/plain' });
    };
    const ok = await postForm(server, `/${BUCKET}`, form('posted/tagged', taggingDocument([['source', 'form'], ['a', 'b']])));
    assert.equal(ok.status, 204, ok.body);
    assert.deepEqual(await tagsOf(s3, BUCKET, 'posted/tagged'), [
      { Key: 'a', Value: 'b' },
      { Key: 'source', Value: 'form' },
    ]);
    const eleven = Array.from({ length: 11 }, (_, index): [string, string] => [`k${index}`, 'v']);
    assertS3Error(await postForm(server, `/${BUCKET}`, form('posted/too-many', taggingDocument(eleven))), 400, 'BadRequest');
    assertS3Error(await postForm(server, `/${BUCKET}`, form('posted/malformed', 'a=b')), 400, 'MalformedXML');
    for (const key of ['posted/too-many', 'posted/malformed']) await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })), 404);
  });

  describe('refusals, over raw HTTP', () => {
    const KEY = 'refusals';
    const STORED: Array<[string, string]> = [['kept', 'yes']];

    before(async () => {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: KEY, Body: 'original' }));
      assertOk(await signedRequest(url, 'PUT', `/${BUCKET}/${KEY}?tagging`, { body: taggingDocument(STORED) }));
      await s3.send(new PutBucketTaggingCommand({ Bucket: BUCKET, Tagging: { TagSet: [{ Key: 'bucket', Value: 'kept' }] } }));
    });

    const eleven = Array.from({ length: 11 }, (_, index): [string, string] => [`key${index}`, 'v']);
    const cases: Array<[string, string, number, string, string]> = [
      ['11 tags', taggingDocument(eleven), 400, 'BadRequest', 'Object tags cannot be greater than 10'],
      ['a 129-character key', taggingDocument([['k'.repeat(129), 'v']]), 400, 'InvalidTag', 'The TagKey you have provided is too long, max 128'],
      ['a 257-character value', taggingDocument([['k', 'v'.repeat(257)]]), 400, 'InvalidTag', 'The TagValue you have provided is too long, max 256'],
      ['duplicate keys', taggingDocument([['k', '1'], ['k', '2']]), 400, 'InvalidTag', 'Cannot provide multiple Tags with the same key'],
      ['an empty key', taggingDocument([['', 'v']]), 400, 'InvalidTag', 'The TagKey you have provided is invalid'],
      ['a key with a character S3 refuses', taggingDocument([['a#b', 'v']]), 400, 'InvalidTag', 'The TagKey you have provided is invalid'],
      ['a value with a character S3 refuses', taggingDocument([['k', 'a*b']]), 400, 'InvalidTag', 'The TagValue you have provided is invalid'],
      ['an aws: key', taggingDocument([['aws:cloudformation', 'v']]), 400, 'InvalidTag', 'System tags cannot be added/updated by requester'],
      ['malformed XML', '<Tagging><TagSet><Tag><Key>k</Key>', 400, 'MalformedXML', ''],
      ['no TagSet', '<Tagging></Tagging>', 400, 'MalformedXML', ''],
      ['a Tag without a Value', '<Tagging><TagSet><Tag><Key>k</Key></Tag></TagSet></Tagging>', 400, 'MalformedXML', ''],
      ['an unknown element', '<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value><Colour>red</Colour></Tag></TagSet></Tagging>', 400, 'MalformedXML', ''],
      ['another root', '<Tags><TagSet/></Tags>', 400, 'MalformedXML', ''],
    ];
    for (const [what, body, status, code, message] of cases) {
      it(`PutObjectTagging with ${what}: ${status} ${code}, the tags unchanged`, async () => {
        const doc = assertS3Error(await signedRequest(url, 'PUT', `/${BUCKET}/${KEY}?tagging`, { body }), status, code);
        if (message) assert.equal(doc.Message, message);
        assert.deepEqual(await tagsOf(s3, BUCKET, KEY), [{ Key: 'kept', Value: 'yes' }]);
      });
    }

    it('PutBucketTagging with 51 tags: 400 BadRequest, an aws: key: InvalidTag; the bucket keeps its tags', async () => {
      const fiftyOne = Array.from({ length: 51 }, (_, index): [string, string] => [`key${index}`, 'v']);
      const doc = assertS3Error(await signedRequest(url, 'PUT', `/${BUCKET}?tagging`, { body: taggingDocument(fiftyOne) }), 400, 'BadRequest');
      assert.equal(doc.Message, 'Bucket tag count cannot be greater than 50');
      const reserved = assertS3Error(await signedRequest(url, 'PUT', `/${BUCKET}?tagging`, { body: taggingDocument([['aws:x', 'v']]) }), 400, 'InvalidTag');
      assert.equal(reserved.Message, 'Your TagKey cannot be prefixed with aws:');
      assertS3Error(await signedRequest(url, 'PUT', `/${BUCKET}?tagging`, { body: '<Tagging>' }), 400, 'MalformedXML');
      assert.deepEqual((await s3.send(new GetBucketTaggingCommand({ Bucket: BUCKET }))).TagSet, [{ Key: 'bucket', Value: 'kept' }]);
      // 50 are fine.
      const fifty = fiftyOne.slice(0, 50);
      assertOk(await signedRequest(url, 'PUT', `/${BUCKET}?tagging`, { body: taggingDocument(fifty) }), 204);
      assert.equal((await s3.send(new GetBucketTaggingCommand({ Bucket: BUCKET }))).TagSet?.length, 50);
    });

    const headerCases: Array<[string, string, string, string]> = [
      ['a bad percent escape', 'a=%ZZ', 'InvalidArgument', "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."],
      ['escapes that are not UTF-8', 'a=%FF%FE', 'InvalidArgument', "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."],
      ['two = in a pair', 'a=b=c', 'InvalidArgument', "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."],
      ['a key twice', 'a=1&a=2', 'InvalidArgument', "The header 'x-amz-tagging' shall be encoded as UTF-8 then URLEncoded URL query parameters without tag name duplicates."],
      ['11 tags', eleven.map(([key, value]) => `${key}=${value}`).join('&'), 'BadRequest', 'Object tags cannot be greater than 10'],
      ['a 129-character key', `${'k'.repeat(129)}=v`, 'InvalidTag', 'The TagKey you have provided is too long, max 128'],
      ['a 257-character value', `k=${'v'.repeat(257)}`, 'InvalidTag', 'The TagValue you have provided is too long, max 256'],
      ['a refused character', 'k=%3Cscript%3E', 'InvalidTag', 'The TagValue you have provided is invalid'],
    ];
    for (const [what, value, code, message] of headerCases) {
      it(`PutObject with x-amz-tagging of ${what}: 400 ${code}, nothing written`, async () => {
        const res = await signedRequest(url, 'PUT', `/${BUCKET}/${KEY}`, { body: 'replacement', headers: { 'x-amz-tagging': value } });
        assert.equal(assertS3Error(res, 400, code).Message, message);
        assert.equal(await (await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: KEY }))).Body!.transformToString(), 'original');
        assert.deepEqual(await tagsOf(s3, BUCKET, KEY), [{ Key: 'kept', Value: 'yes' }]);
      });
    }

    it('CreateMultipartUpload and CopyObject refuse a bad x-amz-tagging too; an unknown directive is InvalidArgument', async () => {
      assertS3Error(await signedRequest(url, 'POST', `/${BUCKET}/mp?uploads`, { headers: { 'x-amz-tagging': 'a=%' } }), 400, 'InvalidArgument');
      const copy = (headers: Record<string, string>) =>
        signedRequest(url, 'PUT', `/${BUCKET}/copy-target`, { headers: { 'x-amz-copy-source': `/${BUCKET}/${KEY}`, ...headers } });
      assertS3Error(await copy({ 'x-amz-tagging-directive': 'REPLACE', 'x-amz-tagging': `${'k'.repeat(129)}=v` }), 400, 'InvalidTag');
      assertS3Error(await copy({ 'x-amz-tagging-directive': 'MERGE' }), 400, 'InvalidArgument');
      await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'copy-target' })), 404);
    });

    it('GetObjectTagging of another version than null is InvalidArgument', async () => {
      assertS3Error(await signedRequest(url, 'GET', `/${BUCKET}/${KEY}?tagging&versionId=abc`), 400, 'InvalidArgument');
    });
  });

  it('boto3: put_object(Tagging=…), get_object_tagging, put_bucket_tagging', { skip: !BOTO3_AVAILABLE && 'boto3 not installed' }, async () => {
    const result = (await runBoto3(
      server,
      `
s3.put_object(Bucket=args["bucket"], Key="boto.txt", Body=b"hi", Tagging="env=test&owner=boto%20three")
tags = s3.get_object_tagging(Bucket=args["bucket"], Key="boto.txt")["TagSet"]
count = s3.head_object(Bucket=args["bucket"], Key="boto.txt").get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-tagging-count")
s3.put_bucket_tagging(Bucket=args["bucket"], Tagging={"TagSet": [{"Key": "from", "Value": "boto3"}]})
bucket_tags = s3.get_bucket_tagging(Bucket=args["bucket"])["TagSet"]
s3.delete_bucket_tagging(Bucket=args["bucket"])
out({"tags": tags, "count": count, "bucket": bucket_tags})
`,
      { bucket: BUCKET },
    )) as { tags: Tag[]; count: string; bucket: Tag[] };
    assert.deepEqual(result.tags, [
      { Key: 'env', Value: 'test' },
      { Key: 'owner', Value: 'boto three' },
    ]);
    assert.equal(result.count, '2');
    assert.deepEqual(result.bucket, [{ Key: 'from', Value: 'boto3' }]);
  });
});

describe('S3 tagging with the aws CLI', { skip: !AWS_CLI && 'aws CLI not installed' }, () => {
  let server: TestServer;
  let body: string;

  useS3Server({ bucket: BUCKET, scratch: 'tessera-tagging-cli-' }, async (env) => {
    server = env.server;
    body = join(env.scratch, 'body.txt');
    await writeFile(body, 'from the aws cli');
  });

  it('s3api put-object --tagging, get-object-tagging, put-bucket-tagging, get-bucket-tagging', async () => {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_ACCESS_KEY_ID: ROOT_ACCESS_KEY, AWS_SECRET_ACCESS_KEY: ROOT_SECRET_KEY };
    Object.assign(env, { AWS_DEFAULT_REGION: 'us-east-1', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_PAGER: '', AWS_EC2_METADATA_DISABLED: 'true' });
    const aws = async (...args: string[]) =>
      JSON.parse((await promisify(execFile)('aws', ['--endpoint-url', server.url, '--output', 'json', ...args], { env })).stdout || '{}') as Record<string, unknown>;
    await aws('s3api', 'put-object', '--bucket', BUCKET, '--key', 'cli.txt', '--body', body, '--tagging', 'tool=aws-cli&mode=put');
    assert.deepEqual((await aws('s3api', 'get-object-tagging', '--bucket', BUCKET, '--key', 'cli.txt')).TagSet, [
      { Key: 'mode', Value: 'put' },
      { Key: 'tool', Value: 'aws-cli' },
    ]);
    await aws('s3api', 'put-object-tagging', '--bucket', BUCKET, '--key', 'cli.txt', '--tagging', 'TagSet=[{Key=only,Value=one}]');
    assert.deepEqual((await aws('s3api', 'get-object-tagging', '--bucket', BUCKET, '--key', 'cli.txt')).TagSet, [{ Key: 'only', Value: 'one' }]);
    await aws('s3api', 'put-bucket-tagging', '--bucket', BUCKET, '--tagging', 'TagSet=[{Key=team,Value=ops}]');
    assert.deepEqual((await aws('s3api', 'get-bucket-tagging', '--bucket', BUCKET)).TagSet, [{ Key: 'team', Value: 'ops' }]);
    const attributes = await aws('s3api', 'get-object-attributes', '--bucket', BUCKET, '--key', 'cli.txt', '--object-attributes', 'ETag', 'ObjectSize');
    assert.equal(attributes.ObjectSize, 16);
    assert.equal(attributes.ETag, createHash('md5').update('from the aws cli').digest('hex'));
  });
});

describe('S3 tagging (PostgreSQL metadata)', () => {
  let postgres: TestPostgres | undefined;
  let server: TestServer | undefined;
  let s3: S3Client | undefined;

  before(async () => {
    if (!postgresBinDir()) return;
    postgres = await startPostgres();
    server = await startServer({ metadata: postgres.url });
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });

  after(async () => {
    s3?.destroy();
    await server?.cleanup();
    await postgres?.cleanup();
  });

  it('runs the same tag scenario', async (t) => {
    if (!s3) {
      if (process.env.CI) assert.fail('PostgreSQL server binaries are missing on CI');
      return t.skip('PostgreSQL not installed');
    }
    await tagScenario(s3, BUCKET);
  });
});
