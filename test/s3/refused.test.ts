/**
 * Headers and sub-resources S3 has and Tessera does not implement are refused with 501
 * NotImplemented, in S3's error format, before a byte is stored: asked for encryption or tags,
 * a client never gets plaintext or dropped tags with a 200. Checked through the AWS SDK where it
 * can say the request, and over raw HTTP for every refused entry of the dialect's own table
 * (src/dialects/s3/features.ts), so the table, the code and docs/s3.md cannot drift apart. The
 * headers Tessera honours or may ignore still work.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request } from 'node:http';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
  GetObjectTaggingCommand,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { S3_HEADERS, S3_QUERY } from '../../src/dialects/s3/features.js';
import { signRequest, UNSIGNED_PAYLOAD } from '../../src/dialects/s3/sigv4.js';
import type { FeatureRule } from '../../src/dialects/common/request-features.js';
import { expectError, assertS3Error } from '../helpers/assertions.js';
import { rawRequest, readResponse, signedRequest, type RawResponse } from '../helpers/raw.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, type TestServer } from '../helpers/server.js';
import { useS3Server } from '../helpers/s3.js';

const BUCKET = 'refused';
const SOURCE = 'source.txt';

/** A header name a rule covers: a prefix rule gets a made-up suffix. */
const concrete = (name: string) => (name.endsWith('*') ? `${name.slice(0, -1)}probe` : name);

/** What the SDK rejected with: 501 NotImplemented, its message naming the header or parameter. */
async function expectNotImplemented(promise: Promise<unknown>, named: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    assert.equal(e.$metadata?.httpStatusCode, 501, `${String(e.name)}: ${String(e.message)}`);
    assert.equal(e.name, 'NotImplemented');
    assert.ok(e.message?.includes(named), `the message names ${named}: ${String(e.message)}`);
    return true;
  });
}

/** A raw 501 in S3's format, naming the header (message and `<Header>`) or the parameter. */
function assertRefused(res: RawResponse, kind: 'header' | 'query parameter', name: string): void {
  const doc = assertS3Error(res, 501, 'NotImplemented');
  assert.equal(doc.Message, `A ${kind} you provided implies functionality that is not implemented: ${name}.`);
  if (kind === 'header') assert.equal(doc.Header, name);
}

describe('S3: what Tessera does not implement is refused, before anything is stored', () => {
  let s3: S3Client;
  let server: TestServer;

  useS3Server({ bucket: BUCKET }, async (env) => {
    ({ s3, server } = env);
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: SOURCE, Body: 'source body' }));
  });

  const assertNoObject = async (key: string) =>
    expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })), 404, 'NotFound');

  const assertNoUploads = async (key: string) => {
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: key }));
    assert.deepEqual(listed.Uploads ?? [], []);
  };

  describe('through the AWS SDK', () => {
    it('PutObject with dual-layer SSE-KMS (aws:kms:dsse) is 501 and stores nothing', async () => {
      const put = s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sse-kms', Body: 'secret', ServerSideEncryption: 'aws:kms:dsse' }));
      await expectNotImplemented(put, 'x-amz-server-side-encryption');
      await assertNoObject('sse-kms');
    });

    it('PutObject with an SSE-KMS encryption context is 501 and stores nothing', async () => {
      const context = Buffer.from(JSON.stringify({ app: 'probe' })).toString('base64');
      const put = s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sse-context', Body: 'secret', SSEKMSEncryptionContext: context }));
      await expectNotImplemented(put, 'x-amz-server-side-encryption-context');
      await assertNoObject('sse-context');
    });

    it('PutObject with a non-STANDARD storage class or a redirect is 501 and stores nothing', async () => {
      // ACLs on objects: test/s3/acl.test.ts.
      const cases: Array<[Partial<ConstructorParameters<typeof PutObjectCommand>[0]>, string]> = [
        [{ StorageClass: 'GLACIER' }, 'x-amz-storage-class'],
        [{ WebsiteRedirectLocation: '/elsewhere' }, 'x-amz-website-redirect-location'],
      ];
      for (const [extra, named] of cases) {
        await expectNotImplemented(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'odd-put', Body: 'body', ...extra })), named);
        await assertNoObject('odd-put');
      }
    });

    it('CreateMultipartUpload with ServerSideEncryption aws:kms:dsse is 501 and starts no upload', async () => {
      const create = s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mpu-sse', ServerSideEncryption: 'aws:kms:dsse' }));
      await expectNotImplemented(create, 'x-amz-server-side-encryption');
      await assertNoUploads('mpu-sse');
    });

    it('CopyObject asking for dual-layer SSE-KMS or an encryption context is 501 and writes no copy', async () => {
      const context = Buffer.from(JSON.stringify({ app: 'probe' })).toString('base64');
      const cases: Array<[Partial<ConstructorParameters<typeof CopyObjectCommand>[0]>, string]> = [
        [{ ServerSideEncryption: 'aws:kms:dsse' }, 'x-amz-server-side-encryption'],
        [{ ServerSideEncryption: 'aws:kms', SSEKMSEncryptionContext: context }, 'x-amz-server-side-encryption-context'],
      ];
      for (const [extra, named] of cases) {
        const copy = s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy-target', CopySource: `${BUCKET}/${SOURCE}`, ...extra }));
        await expectNotImplemented(copy, named);
        await assertNoObject('copy-target');
      }
    });

    it('an encryption header where it means nothing (a GET, an UploadPart) is 501', async () => {
      const get = await signedRequest(server.url, 'GET', `/${BUCKET}/${SOURCE}`, { headers: { 'x-amz-server-side-encryption': 'AES256' } });
      assertRefused(get, 'header', 'x-amz-server-side-encryption');
      // A HEAD answer has no body: S3's x-amz-error-code header names the code.
      const head = await signedRequest(server.url, 'HEAD', `/${BUCKET}/${SOURCE}`, { headers: { 'x-amz-server-side-encryption': 'AES256' } });
      assert.equal(head.status, 501);
      assert.equal(head.headers['x-amz-error-code'], 'NotImplemented');
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'mpu-part' }));
      const part = await signedRequest(server.url, 'PUT', `/${BUCKET}/mpu-part?partNumber=1&uploadId=${UploadId}`, {
        body: 'part',
        headers: { 'x-amz-server-side-encryption': 'AES256' },
      });
      assertRefused(part, 'header', 'x-amz-server-side-encryption');
      const parts = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'mpu-part', UploadId }));
      assert.deepEqual(parts.Parts ?? [], []);
      await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'mpu-part', UploadId }));
    });

    it("CreateBucket with a public ACL, which a new bucket's defaults do not take, is refused and creates no bucket", async () => {
      // ACLs themselves: test/s3/acl.test.ts.
      await expectError(s3.send(new CreateBucketCommand({ Bucket: 'refused-acl', ACL: 'public-read' })), 400, 'InvalidBucketAclWithObjectOwnership');
      await expectError(s3.send(new HeadBucketCommand({ Bucket: 'refused-acl' })), 404);
      const owned = s3.send(new CreateBucketCommand({ Bucket: 'refused-owner', ObjectOwnership: 'Nobody' as never }));
      await expectError(owned, 400, 'InvalidArgument');
      await expectError(s3.send(new HeadBucketCommand({ Bucket: 'refused-owner' })), 404);
    });

    it('a presigned PUT whose URL carries x-amz-tagging or x-amz-meta-* stores the tags and the metadata', async () => {
      // The presigner hoists x-amz-* headers into the query: S3 reads them as the headers they name.
      const tagged = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: 'presigned-tagged', Tagging: 'a=b&c=d' }), { expiresIn: 300 });
      assert.match(tagged, /[?&]x-amz-tagging=/);
      const taggedPut = await fetch(tagged, { method: 'PUT', body: 'tagged' });
      assert.equal(taggedPut.status, 200, await taggedPut.clone().text());
      const tags = await s3.send(new GetObjectTaggingCommand({ Bucket: BUCKET, Key: 'presigned-tagged' }));
      assert.deepEqual(tags.TagSet, [
        { Key: 'a', Value: 'b' },
        { Key: 'c', Value: 'd' },
      ]);

      const withMeta = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: 'presigned-meta', Metadata: { color: 'teal' } }), {
        expiresIn: 300,
      });
      assert.match(withMeta, /[?&]x-amz-meta-color=teal/);
      const stored = await fetch(withMeta, { method: 'PUT', body: 'with metadata' });
      assert.equal(stored.status, 200, await stored.clone().text());
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'presigned-meta' }));
      assert.deepEqual(head.Metadata, { color: 'teal' });
    });
  });

  describe('refused before the body is read, after the signature is checked', () => {
    // The timeout only turns a server that waits for the body (the failure this catches) into a failure, not a hang.
    it('a 1 GiB PutObject with x-amz-server-side-encryption aws:kms:dsse is answered 501 with no body byte sent', { timeout: 60_000 }, async () => {
      const path = `/${BUCKET}/never-sent`;
      const url = new URL(path, server.url);
      const headers: Record<string, string> = { host: url.host, 'x-amz-server-side-encryption': 'aws:kms:dsse' };
      Object.assign(headers, signRequest({
        method: 'PUT',
        url,
        headers,
        payloadHash: UNSIGNED_PAYLOAD,
        credentials: { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY },
        region: 'us-east-1',
      }));
      headers['content-length'] = String(1024 ** 3);
      // Headers only: were the server to read the body first, this would never be answered.
      const res = await new Promise<RawResponse>((resolve, reject) => {
        const req = request({ host: url.hostname, port: url.port, method: 'PUT', path, headers, agent: false }, (response) => {
          void readResponse(response).then(resolve, reject);
        });
        req.on('error', reject);
        req.flushHeaders();
      });
      assertRefused(res, 'header', 'x-amz-server-side-encryption');
      assert.equal(res.headers.connection, 'close');
      await assertNoObject('never-sent');
    });

    it('an unsigned request asking for encryption is still AccessDenied', async () => {
      const res = await rawRequest(`${server.url}/${BUCKET}/anonymous`, {
        method: 'PUT',
        headers: { 'x-amz-server-side-encryption': 'aws:kms:dsse', 'content-length': '4' },
        body: 'anon',
      });
      assertS3Error(res, 403, 'AccessDenied');
    });
  });

  describe('every refused entry of the table, over raw HTTP', () => {
    const putProbe = (key: string, headers: Record<string, string>, query = '') =>
      signedRequest(server.url, 'PUT', `/${BUCKET}/${key}${query}`, { body: 'probe body', headers });

    for (const rule of S3_HEADERS.filter((r) => r.verdict === 'refused')) {
      const name = concrete(rule.name);
      it(`PutObject with ${name} is 501 and stores nothing`, async () => {
        assertRefused(await putProbe('header-probe', { [name]: 'probe' }), 'header', name);
        await assertNoObject('header-probe');
      });
    }

    it('an x-amz-* header no rule names is refused', async () => {
      assertRefused(await putProbe('header-probe', { 'x-amz-made-up-feature': 'on' }), 'header', 'x-amz-made-up-feature');
      await assertNoObject('header-probe');
    });

    for (const rule of S3_HEADERS.filter((r) => r.values)) {
      const name = concrete(rule.name);
      it(`${name} with a value other than ${rule.values!.join(' or ')} is 501 and changes nothing`, async () => {
        await probeOperation(rule, name, 'no-such-value', rule.operations?.[0] ?? 'PutObject');
      });
    }

    for (const rule of S3_HEADERS.filter((r) => r.operations && r.verdict !== 'refused')) {
      const name = concrete(rule.name);
      const elsewhere = !rule.operations!.includes('PutObject') ? 'PutObject' : !rule.operations!.includes('CreateBucket') ? 'CreateBucket' : 'GetObject';
      it(`${name} on ${elsewhere}, where it means nothing Tessera does, is 501 and changes nothing`, async () => {
        await probeOperation(rule, name, rule.values?.[0] ?? 'probe', elsewhere);
      });
    }

    /** Sends `name: value` on `operation` and checks it was refused and left nothing behind. */
    async function probeOperation(rule: FeatureRule, name: string, value: string, operation: string): Promise<void> {
      const headers = { [name]: value };
      switch (operation) {
        case 'PutObject':
          assertRefused(await putProbe('value-probe', headers), 'header', name);
          await assertNoObject('value-probe');
          return;
        case 'CreateBucket':
          assertRefused(await signedRequest(server.url, 'PUT', '/refused-probe-bucket', { headers }), 'header', name);
          await expectError(s3.send(new HeadBucketCommand({ Bucket: 'refused-probe-bucket' })), 404);
          return;
        case 'CopyObject':
          assertRefused(await putProbe('copy-probe', { ...headers, 'x-amz-copy-source': `/${BUCKET}/${SOURCE}` }), 'header', name);
          await assertNoObject('copy-probe');
          return;
        case 'GetObject':
          assertRefused(await signedRequest(server.url, 'GET', `/${BUCKET}/${SOURCE}`, { headers }), 'header', name);
          return;
        default:
          assert.fail(`no probe for ${operation} (rule ${rule.name})`);
      }
    }

    for (const rule of S3_QUERY.filter((r) => r.verdict === 'refused')) {
      it(`?${rule.name} is 501 on a bucket and on an object, and stores nothing`, async () => {
        assertRefused(await signedRequest(server.url, 'GET', `/${BUCKET}?${rule.name}`), 'query parameter', rule.name);
        assertRefused(await signedRequest(server.url, 'POST', `/${BUCKET}/query-probe?${rule.name}`), 'query parameter', rule.name);
        assertRefused(await putProbe('query-probe', {}, `?${rule.name}=probe`), 'query parameter', rule.name);
        await assertNoObject('query-probe');
      });
    }

    it('a query parameter no rule names is refused', async () => {
      assertRefused(await putProbe('query-probe', {}, '?made-up-subresource'), 'query parameter', 'made-up-subresource');
      await assertNoObject('query-probe');
    });

    // ?tagging picks an operation for every method that writes or reads it, on objects and buckets alike
    // (PutObjectTagging, …: test/s3/tagging.test.ts), ?retention and ?legal-hold a PUT on an object
    // (PutObjectRetention, PutObjectLegalHold: test/s3/object-lock.test.ts), and ?acl a PUT on an
    // object or a bucket (PutObjectAcl, PutBucketAcl: test/s3/acl.test.ts): there is no PUT where they mean nothing.
    const pickOperations = ['tagging', 'retention', 'legal-hold', 'acl'];
    for (const rule of S3_QUERY.filter((r) => r.operations && r.verdict !== 'refused' && !pickOperations.includes(r.name))) {
      // uploadId and partNumber make a PUT an UploadPart, where they belong: try them on a listing.
      const onPut = !['uploadId', 'partNumber'].includes(rule.name);
      it(`?${rule.name} on ${onPut ? 'PutObject' : 'ListObjects'}, where it means nothing, is 501`, async () => {
        if (onPut) {
          assertRefused(await putProbe('query-probe', {}, `?${rule.name}=${rule.values?.[0] ?? '1'}`), 'query parameter', rule.name);
          await assertNoObject('query-probe');
        } else {
          assertRefused(await signedRequest(server.url, 'GET', `/${BUCKET}?${rule.name}=1`), 'query parameter', rule.name);
        }
      });
    }

  });

  describe('what Tessera honours or may ignore still works', () => {
    it('private ACL, STANDARD storage class, Requester Pays and the right expected owner: stored', async () => {
      await s3.send(
        new PutObjectCommand({
          Bucket: BUCKET,
          Key: 'honoured',
          Body: 'honoured body',
          ACL: 'private',
          StorageClass: 'STANDARD',
          RequestPayer: 'requester',
          ExpectedBucketOwner: 'root',
        }),
      );
      const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'honoured', ExpectedBucketOwner: 'root' }));
      assert.equal(head.ContentLength, 'honoured body'.length);
      await s3.send(new CreateBucketCommand({ Bucket: 'refused-private', ACL: 'private', ObjectOwnership: 'BucketOwnerEnforced' }));
      await s3.send(new HeadBucketCommand({ Bucket: 'refused-private' }));
    });

    it('x-amz-expected-bucket-owner naming someone else is AccessDenied, and nothing is written', async () => {
      await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: SOURCE, ExpectedBucketOwner: '111122223333' })), 403);
      const put = s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'not-owner', Body: 'x', ExpectedBucketOwner: '111122223333' }));
      await expectError(put, 403, 'AccessDenied');
      await assertNoObject('not-owner');
      const copy = s3.send(
        new CopyObjectCommand({ Bucket: BUCKET, Key: 'not-owner', CopySource: `${BUCKET}/${SOURCE}`, ExpectedSourceBucketOwner: '111122223333' }),
      );
      await expectError(copy, 403, 'AccessDenied');
      await assertNoObject('not-owner');
      await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'owner-copy', CopySource: `${BUCKET}/${SOURCE}`, ExpectedSourceBucketOwner: 'root' }));
    });

    it('versionId=null reads and deletes the one version; any other id is InvalidArgument and deletes nothing', async () => {
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: SOURCE, VersionId: 'null' }));
      assert.equal(await got.Body!.transformToString(), 'source body');
      const bogus = '3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY';
      await expectError(s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: SOURCE, VersionId: bogus })), 400, 'InvalidArgument');
      await expectError(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: SOURCE, VersionId: bogus })), 400, 'InvalidArgument');
      await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: SOURCE }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'versioned-delete', Body: 'x' }));
      await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'versioned-delete', VersionId: 'null' }));
      await assertNoObject('versioned-delete');
    });

    it('DeleteObjects with a version id other than null deletes nothing for that key and says why', async () => {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'multi-keep', Body: 'keep' }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'multi-null', Body: 'gone' }));
      const result = await s3.send(
        new DeleteObjectsCommand({
          Bucket: BUCKET,
          Delete: { Objects: [{ Key: 'multi-keep', VersionId: 'not-a-version' }, { Key: 'multi-null', VersionId: 'null' }] },
        }),
      );
      assert.deepEqual(result.Errors?.map((e) => [e.Key, e.VersionId, e.Code]), [['multi-keep', 'not-a-version', 'InvalidArgument']]);
      assert.deepEqual(result.Deleted?.map((d) => [d.Key, d.VersionId]), [['multi-null', 'null']]);
      await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'multi-keep' }));
      await assertNoObject('multi-null');
    });

    it('If-None-Match: * writes a free key once; the second PutObject is 412 and the first body stays', async () => {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'write-once', Body: 'first', IfNoneMatch: '*' }));
      await expectError(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'write-once', Body: 'second', IfNoneMatch: '*' })), 412, 'PreconditionFailed');
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'write-once' }));
      assert.equal(await got.Body!.transformToString(), 'first');
      // Only `*` is a write condition; an ETag there is not implemented.
      const etag = `"${createHash('md5').update('first').digest('hex')}"`;
      await expectNotImplemented(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'write-once', Body: 'third', IfNoneMatch: etag })), 'if-none-match');
      await expectNotImplemented(s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'write-once', Body: 'third', IfMatch: etag })), 'if-match');
      const still = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'write-once' }));
      assert.equal(await still.Body!.transformToString(), 'first');
    });

    it('CompleteMultipartUpload with If-None-Match: * on a taken key is 412 and the upload stays', async () => {
      const key = 'complete-once';
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: 'already here' }));
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
      const { ETag } = await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: 1, Body: 'the only part' }));
      const complete = (ifNoneMatch?: string) =>
        s3.send(
          new CompleteMultipartUploadCommand({
            Bucket: BUCKET,
            Key: key,
            UploadId,
            MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] },
            IfNoneMatch: ifNoneMatch,
          }),
        );
      await expectError(complete('*'), 412, 'PreconditionFailed');
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      assert.equal(await got.Body!.transformToString(), 'already here');
      const parts = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId }));
      assert.equal(parts.Parts?.length, 1);
      await complete();
      const completed = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      assert.equal(await completed.Body!.transformToString(), 'the only part');
    });

    it('ListBuckets pages with max-buckets and continuation-token, filters by prefix and bucket-region', async () => {
      for (const name of ['paged-a', 'paged-b', 'paged-c']) await s3.send(new CreateBucketCommand({ Bucket: name }));
      const names: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3.send(new ListBucketsCommand({ MaxBuckets: 2, Prefix: 'paged-', ContinuationToken: token }));
        assert.ok((page.Buckets ?? []).length <= 2);
        assert.equal(page.Prefix, 'paged-');
        for (const bucket of page.Buckets ?? []) {
          names.push(bucket.Name!);
          assert.equal(bucket.BucketRegion, 'us-east-1');
        }
        token = page.ContinuationToken;
      } while (token !== undefined);
      assert.deepEqual(names, ['paged-a', 'paged-b', 'paged-c']);
      const elsewhere = await s3.send(new ListBucketsCommand({ BucketRegion: 'eu-west-1' }));
      assert.deepEqual(elsewhere.Buckets ?? [], []);
      const all = await s3.send(new ListBucketsCommand({}));
      assert.ok(all.Buckets!.some((bucket) => bucket.Name === BUCKET));
      assert.equal(all.ContinuationToken, undefined);
      await expectError(s3.send(new ListBucketsCommand({ MaxBuckets: 0 })), 400, 'InvalidArgument');
    });

    it('CopyObject with a tagging directive copies (the untagged source gives an untagged copy)', async () => {
      await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'directive-copy', CopySource: `${BUCKET}/${SOURCE}`, TaggingDirective: 'REPLACE' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'directive-copy' }));
      assert.equal(await got.Body!.transformToString(), 'source body');
    });
  });
});
