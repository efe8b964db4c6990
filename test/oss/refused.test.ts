/**
 * OSS headers and sub-resources Tessera does not implement are refused with 501 NotImplemented
 * in OSS's error format (with x-oss-request-id), before a byte is stored: through ali-oss where
 * it can say the request, and over raw HTTP for every refused entry of the dialect's own table
 * (src/dialects/oss/features.ts). What Tessera honours still works.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { FeatureRule } from '../../src/dialects/common/request-features.js';
import { OSS_HEADERS, OSS_QUERY } from '../../src/dialects/oss/features.js';
import type { RawResponse } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertOssError, expectOssError, ossClient, ossRequest, xmlValue, type AliOss } from './helpers.js';

const BUCKET = 'oss-refused';
const SOURCE = 'source.txt';

const concrete = (name: string) => (name.endsWith('*') ? `${name.slice(0, -1)}probe` : name);

/** OSS's 501: NotImplemented naming the header (message and `<Header>`) or the parameter. */
function assertRefused(res: RawResponse, kind: 'header' | 'query parameter', name: string): void {
  assertOssError(res, 501, 'NotImplemented');
  assert.equal(xmlValue(res.body, 'Message'), `A ${kind} you provided implies functionality that is not implemented: ${name}.`);
  if (kind === 'header') assert.equal(xmlValue(res.body, 'Header'), name);
}

/** What ali-oss rejected with: 501 NotImplemented, its message naming what was refused. */
async function expectNotImplemented(promise: Promise<unknown>, named: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    const e = err as { code?: string; status?: number; message?: string; requestId?: string };
    assert.equal(e.status, 501, `${String(e.code)}: ${String(e.message)}`);
    assert.equal(e.code, 'NotImplemented');
    assert.ok(e.message?.includes(named), `the message names ${named}: ${String(e.message)}`);
    assert.ok(e.requestId, 'x-oss-request-id');
    return true;
  });
}

describe('OSS: what Tessera does not implement is refused, before anything is stored', () => {
  let server: TestServer;
  let client: AliOss;

  before(async () => {
    server = await startServer();
    client = ossClient(server, 'v4', BUCKET);
    await client.putBucket(BUCKET);
    await client.put(SOURCE, Buffer.from('source body'));
  });

  after(async () => {
    await server?.cleanup();
  });

  const assertNoObject = (key: string) => expectOssError(client.head(key), 404, 'NoSuchKey');

  describe('through ali-oss', () => {
    for (const [name, value] of [
      ['x-oss-server-side-encryption', 'SM4'],
      ['x-oss-server-side-data-encryption', 'SM4'],
      ['x-oss-storage-class', 'Archive'],
    ] as const) {
      it(`put with ${name}: ${value} is 501 and stores nothing`, async () => {
        await expectNotImplemented(client.put('refused-put', Buffer.from('secret'), { headers: { [name]: value } }), name);
        await assertNoObject('refused-put');
      });
    }

    it('initMultipartUpload with x-oss-server-side-encryption SM4 is 501 and starts no upload', async () => {
      const init = client.initMultipartUpload('refused-mpu', { headers: { 'x-oss-server-side-encryption': 'SM4' } });
      await expectNotImplemented(init, 'x-oss-server-side-encryption');
      const listed = await client.listUploads({ prefix: 'refused-mpu' });
      assert.deepEqual(listed.uploads ?? [], []);
    });

    it('copy with x-oss-server-side-encryption SM4 or x-oss-server-side-data-encryption is 501 and writes no copy', async () => {
      for (const headers of [{ 'x-oss-server-side-encryption': 'SM4' }, { 'x-oss-server-side-data-encryption': 'SM4' }]) {
        await expectNotImplemented(client.copy('refused-copy', SOURCE, { headers }), Object.keys(headers)[0]!);
        await assertNoObject('refused-copy');
      }
    });

    it('signatureUrl with x-oss-process or a traffic limit is 501', async () => {
      const localhost = ossClient(server, 'v1', BUCKET, 'localhost-path');
      const processed = await fetch(localhost.signatureUrl(SOURCE, { process: 'image/resize,w_100' }));
      assert.equal(processed.status, 501);
      assert.match(await processed.text(), /<Code>NotImplemented<\/Code>[\s\S]*x-oss-process/);
      const limited = await fetch(localhost.signatureUrl(SOURCE, { trafficLimit: 819_200 }));
      assert.equal(limited.status, 501);
    });

    it('what Tessera honours still works: private ACL, Standard class, request payer, versionId=null', async () => {
      await client.put('honoured', Buffer.from('honoured body'), {
        headers: { 'x-oss-object-acl': 'private', 'x-oss-storage-class': 'Standard', 'x-oss-request-payer': 'requester' },
      });
      const got = await client.get('honoured', { versionId: 'null' });
      assert.equal(got.content.toString(), 'honoured body');
      await expectOssError(client.get('honoured', { versionId: 'CAEQNhiBgMDJgZCA0BYiIDc4MGZjZGI2OTBjOTRmNTE5NmU5NmFmZjFiYjQ' }), 400, 'InvalidArgument');
      await client.copy('directive-copy', SOURCE, { headers: { 'x-oss-tagging-directive': 'Copy' } });
      assert.equal((await client.get('directive-copy')).content.toString(), 'source body');
    });

    it('deleteMulti with a version id other than null is InvalidArgument and deletes nothing', async () => {
      await client.put('multi-keep', Buffer.from('keep'));
      const res = await ossRequest(server, {
        method: 'POST',
        bucket: BUCKET,
        query: [['delete', '']],
        body: '<Delete><Object><Key>multi-keep</Key><VersionId>not-a-version</VersionId></Object><Object><Key>source.txt</Key></Object></Delete>',
      });
      assertOssError(res, 400, 'InvalidArgument');
      await client.head('multi-keep');
      await client.head(SOURCE);
      await client.deleteMulti([{ key: 'multi-keep', versionId: 'null' }]);
      await assertNoObject('multi-keep');
    });

    it("ali-oss's copy() with If-Match (sent plain and as x-oss-copy-source-if-match) copies, or is 412", async () => {
      const { res } = await client.head(SOURCE);
      await client.copy('conditional-copy', SOURCE, { headers: { 'If-Match': res.headers.etag } });
      assert.equal((await client.get('conditional-copy')).content.toString(), 'source body');
      await expectOssError(client.copy('conditional-copy-2', SOURCE, { headers: { 'If-Match': '"0123456789ABCDEF0123456789ABCDEF"' } }), 412, 'PreconditionFailed');
      await assertNoObject('conditional-copy-2');
    });

    it("ali-oss's multipartUpload with x-oss-forbid-overwrite (repeated on every part) uploads, and refuses a taken key", async () => {
      const data = Buffer.alloc(250 * 1024, 7);
      const options = { partSize: 100 * 1024, headers: { 'x-oss-forbid-overwrite': 'true' } };
      await client.multipartUpload('forbid-mpu', data, options);
      assert.ok((await client.get('forbid-mpu')).content.equals(data));
      await expectOssError(client.multipartUpload('forbid-mpu', data, options), 409, 'FileAlreadyExists');
    });
  });

  describe('every refused entry of the table, over raw HTTP', () => {
    const putProbe = (key: string, headers: Record<string, string>, query: Array<[string, string]> = []) =>
      ossRequest(server, { method: 'PUT', bucket: BUCKET, key, headers, query, body: 'probe body' });
    const rawHead = (key: string) => ossRequest(server, { method: 'HEAD', bucket: BUCKET, key });
    const assertNoRawObject = async (key: string) => assert.equal((await rawHead(key)).status, 404);

    for (const rule of OSS_HEADERS.filter((r) => r.verdict === 'refused')) {
      const name = concrete(rule.name);
      it(`PutObject with ${name} is 501 and stores nothing`, async () => {
        assertRefused(await putProbe('header-probe', { [name]: 'probe' }), 'header', name);
        await assertNoRawObject('header-probe');
      });
    }

    it('an x-oss-* header no rule names is refused', async () => {
      assertRefused(await putProbe('header-probe', { 'x-oss-made-up-feature': 'on' }), 'header', 'x-oss-made-up-feature');
      await assertNoRawObject('header-probe');
    });

    const appliesToPut = (rule: FeatureRule) => !rule.operations || rule.operations.includes('PutObject');
    // On PutObject: a value the rule does not list where it applies there, any value where it does not.
    const restricted = OSS_HEADERS.filter((r) => r.verdict !== 'refused' && (appliesToPut(r) ? r.values : r.operations));
    for (const rule of restricted) {
      const name = concrete(rule.name);
      it(`${name} ${appliesToPut(rule) ? 'with an unlisted value' : 'on PutObject'} is 501 and stores nothing`, async () => {
        const value = appliesToPut(rule) ? 'no-such-value' : (rule.values?.[0] ?? 'probe');
        // A value the rule lists none of is judged by the handler (x-oss-acl: InvalidArgument, test/oss/acl.test.ts).
        if (rule.operations?.includes('PutBucket') && rule.values) {
          const res = await ossRequest(server, { method: 'PUT', bucket: 'oss-refused-probe', headers: { [name]: 'no-such-value' } });
          assertRefused(res, 'header', name);
          assert.equal((await ossRequest(server, { method: 'GET', bucket: 'oss-refused-probe', query: [['bucketInfo', '']] })).status, 404);
        }
        assertRefused(await putProbe('value-probe', { [name]: value }), 'header', name);
        await assertNoRawObject('value-probe');
      });
    }

    for (const rule of OSS_QUERY.filter((r) => r.verdict === 'refused')) {
      it(`?${rule.name} is 501 on a bucket and on an object, and stores nothing`, async () => {
        assertRefused(await ossRequest(server, { bucket: BUCKET, query: [[rule.name, '']] }), 'query parameter', rule.name);
        assertRefused(await ossRequest(server, { method: 'POST', bucket: BUCKET, key: 'query-probe', query: [[rule.name, '']] }), 'query parameter', rule.name);
        assertRefused(await putProbe('query-probe', {}, [[rule.name, 'probe']]), 'query parameter', rule.name);
        await assertNoRawObject('query-probe');
      });
    }

    it('a query parameter no rule names is refused', async () => {
      assertRefused(await putProbe('query-probe', {}, [['made-up-subresource', '']]), 'query parameter', 'made-up-subresource');
      await assertNoRawObject('query-probe');
    });

    // ?tagging and ?acl pick an operation on objects and buckets alike (PutObjectTagging, …:
    // test/oss/tagging.test.ts; PutObjectACL, PutBucketAcl: test/oss/acl.test.ts).
    for (const rule of OSS_QUERY.filter((r) => r.operations && r.verdict !== 'refused' && r.name !== 'tagging' && r.name !== 'acl')) {
      // uploadId and partNumber make a PUT an UploadPart, where they belong: try them on a listing.
      const onPut = !['uploadId', 'partNumber'].includes(rule.name);
      it(`?${rule.name} on ${onPut ? 'PutObject' : 'ListObjects'}, where it means nothing, is 501`, async () => {
        if (onPut) {
          assertRefused(await putProbe('query-probe', {}, [[rule.name, rule.values?.[0] ?? '1']]), 'query parameter', rule.name);
          await assertNoRawObject('query-probe');
        } else {
          assertRefused(await ossRequest(server, { bucket: BUCKET, query: [[rule.name, '1']] }), 'query parameter', rule.name);
        }
      });
    }

    it('a HEAD refused carries the error in x-oss-err (an encryption header means nothing on a read)', async () => {
      const res = await ossRequest(server, { method: 'HEAD', bucket: BUCKET, key: SOURCE, headers: { 'x-oss-server-side-encryption': 'AES256' } });
      assert.equal(res.status, 501);
      const document = Buffer.from(String(res.headers['x-oss-err']), 'base64').toString('utf8');
      assert.equal(xmlValue(document, 'Code'), 'NotImplemented');
      assert.equal(xmlValue(document, 'Header'), 'x-oss-server-side-encryption');
    });
  });
});
