/**
 * CORS through the OSS dialect: ali-oss's putBucketCORS, getBucketCORS and deleteBucketCORS as
 * they are, OSS's document and errors over raw HTTP, and a browser's preflights and requests that
 * speak OSS (they name x-oss-* headers) answered in OSS's format. The rules are the bucket's, so
 * those set through S3 hold here too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { GetBucketCorsCommand, PutBucketCorsCommand } from '@aws-sdk/client-s3';
import { rawRequest, type RawResponse } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertOssError, expectOssError, ossClient, ossRequest, xmlValue, xmlValues, type Addressing, type OssRawRequest, type Signature } from './helpers.js';

const BUCKET = 'oss-cors';
const ALICE = { accessKey: 'oss-cors-alice', secretKey: 'oss-cors-alice-secret-0123', displayName: 'Alice', id: 'alice' };
const APP = 'http://app.example.com';
const VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';
/** What ali-oss announces in a browser: its signing headers. */
const ALI_OSS_HEADERS = 'authorization,content-type,x-oss-date,x-oss-user-agent';

let server: TestServer;
let host: string;

before(async () => {
  server = await startServer({ config: { users: [ALICE] } });
  host = `127.0.0.1:${server.port}`;
  assert.equal((await ossRequest(server, { method: 'PUT', bucket: BUCKET })).status, 200);
});

after(async () => {
  await server?.cleanup();
});

const send = (request: OssRawRequest) => ossRequest(server, { bucket: BUCKET, ...request });
const md5 = (body: string) => createHash('md5').update(body).digest('base64');
const putDocument = (body: string, bucket = BUCKET) =>
  ossRequest(server, { method: 'PUT', bucket, query: [['cors', '']], body, headers: { 'content-md5': md5(body), 'content-type': 'application/xml' } });
const documentOf = (...rules: string[]) => `<CORSConfiguration>${rules.map((rule) => `<CORSRule>${rule}</CORSRule>`).join('')}</CORSConfiguration>`;
const simpleRule = '<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod>';

function corsHeaders(res: RawResponse): Record<string, string> {
  return Object.fromEntries(
    Object.entries(res.headers)
      .filter(([name]) => name.startsWith('access-control-') || name === 'vary')
      .map(([name, value]) => [name, String(value)]),
  );
}

describe('OSS CORS: ali-oss putBucketCORS, getBucketCORS, deleteBucketCORS', () => {
  const cases: Array<[Signature, Addressing]> = [
    ['v1', 'ip-host'],
    ['v4', 'ip-path'],
    ['v4', 'localhost-path'],
  ];
  for (const [signature, addressing] of cases) {
    it(`round trip (${signature}, ${addressing})`, async () => {
      const client = ossClient(server, signature, BUCKET, addressing);
      const rules = [
        {
          allowedOrigin: ['http://*.example.com', 'https://app.example.org'],
          allowedMethod: ['GET', 'PUT', 'POST'],
          allowedHeader: ['*'],
          exposeHeader: ['ETag', 'x-oss-request-id'],
          maxAgeSeconds: '300',
        },
        { allowedOrigin: '*', allowedMethod: 'GET' },
      ];
      const put = await client.putBucketCORS(BUCKET, rules);
      assert.equal(put.res.status, 200);
      const got = await client.getBucketCORS(BUCKET);
      // ali-oss reads one element as a string, several as an array.
      assert.deepEqual(got.rules, [{ ...rules[0], allowedHeader: '*' }, rules[1]]);
      const deleted = await client.deleteBucketCORS(BUCKET);
      assert.equal(deleted.res.status, 204);
      await expectOssError(client.getBucketCORS(BUCKET), 404, 'NoSuchCORSConfiguration');
      // Deleting none is no error either.
      assert.equal((await client.deleteBucketCORS(BUCKET)).res.status, 204);
    });
  }

  it("GetBucketCors answers OSS's document: no namespace, the rules, then ResponseVary", async () => {
    const body = `<CORSConfiguration><CORSRule><AllowedOrigin>http://a.example</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-oss-*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>60</MaxAgeSeconds></CORSRule><ResponseVary>true</ResponseVary></CORSConfiguration>`;
    assert.equal((await putDocument(body)).status, 200);
    const res = await send({ query: [['cors', '']] });
    assert.equal(res.status, 200, res.body);
    assert.equal(
      res.body,
      '<?xml version="1.0" encoding="UTF-8"?>\n<CORSConfiguration><CORSRule><AllowedOrigin>http://a.example</AllowedOrigin>' +
        '<AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-oss-*</AllowedHeader>' +
        '<ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>60</MaxAgeSeconds></CORSRule><ResponseVary>true</ResponseVary></CORSConfiguration>',
    );
    assert.equal((await send({ method: 'DELETE', query: [['cors', '']] })).status, 204);
    const none = await send({ query: [['cors', '']] });
    assertOssError(none, 404, 'NoSuchCORSConfiguration', host);
    assert.equal(xmlValue(none.body, 'Message'), 'The CORS Configuration does not exist.');
  });

  it("what OSS refuses, in OSS's words: more than 10 rules, methods, wildcards, a malformed document", async () => {
    const tooMany = await putDocument(documentOf(...Array.from({ length: 11 }, () => simpleRule)));
    assertOssError(tooMany, 400, 'CORSRuleBeyondLimit', host);
    assert.equal((await putDocument(documentOf(...Array.from({ length: 10 }, () => simpleRule)))).status, 200);
    const invalid: Array<[string, string, string]> = [
      ['<AllowedOrigin>*</AllowedOrigin><AllowedMethod>TEST</AllowedMethod>', 'AllowedMethod', 'TEST'],
      ['<AllowedOrigin>https://*.a.*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>', 'AllowedOrigin', 'https://*.a.*.com'],
      [simpleRule + '<AllowedHeader>**</AllowedHeader>', 'AllowedHeader', '**'],
      [simpleRule + '<ExposeHeader>x-oss-*</ExposeHeader>', 'ExposeHeader', 'x-oss-*'],
    ];
    for (const [rule, name, value] of invalid) {
      const res = await putDocument(documentOf(rule));
      assertOssError(res, 400, 'InvalidArgument', host);
      assert.equal(xmlValue(res.body, 'ArgumentName'), name);
      assert.equal(xmlValue(res.body, 'ArgumentValue'), value);
    }
    for (const body of [
      '<CORSConfiguration/>',
      documentOf('<AllowedMethod>GET</AllowedMethod>'),
      documentOf(simpleRule + '<ID>named</ID>'),
      documentOf(simpleRule).replace('</CORSConfiguration>', '<ResponseVary>maybe</ResponseVary></CORSConfiguration>'),
      'not xml',
    ]) {
      assertOssError(await putDocument(body), 400, 'MalformedXML', host);
    }
    const body = documentOf(simpleRule);
    const wrongMd5 = await send({ method: 'PUT', query: [['cors', '']], body, headers: { 'content-md5': md5('other') } });
    assertOssError(wrongMd5, 400, 'InvalidDigest', host);
    // Ten rules are still what the bucket holds.
    assert.equal(xmlValues((await send({ query: [['cors', '']] })).body, 'CORSRule').length, 10);
  });

  it("another user's bucket is AccessDenied, a missing one NoSuchBucket", async () => {
    const alice = { accessKeyId: ALICE.accessKey, secret: ALICE.secretKey };
    const body = documentOf(simpleRule);
    assertOssError(await ossRequest(server, { method: 'PUT', bucket: BUCKET, query: [['cors', '']], body, credentials: alice }), 403, 'AccessDenied', host);
    assertOssError(await ossRequest(server, { bucket: BUCKET, query: [['cors', '']], credentials: alice }), 403, 'AccessDenied', host);
    assertOssError(await ossRequest(server, { method: 'DELETE', bucket: BUCKET, query: [['cors', '']], credentials: alice }), 403, 'AccessDenied', host);
    assertOssError(await putDocument(body, 'oss-cors-missing'), 404, 'NoSuchBucket', host);
    assertOssError(await ossRequest(server, { bucket: 'oss-cors-missing', query: [['cors', '']] }), 404, 'NoSuchBucket', host);
  });
});

describe("OSS CORS: a browser's requests that speak OSS", () => {
  const RULES = documentOf(
    '<AllowedOrigin>http://*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedMethod>POST</AllowedMethod>' +
      '<AllowedHeader>*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-oss-request-id</ExposeHeader><MaxAgeSeconds>120</MaxAgeSeconds>',
  ).replace('</CORSConfiguration>', '<ResponseVary>true</ResponseVary></CORSConfiguration>');
  const MATCHED = {
    'access-control-allow-origin': APP,
    'access-control-allow-methods': 'GET, PUT, POST',
    'access-control-expose-headers': 'ETag, x-oss-request-id',
    'access-control-max-age': '120',
    'access-control-allow-credentials': 'true',
    vary: VARY,
  };
  const preflight = (path: string, headers: Record<string, string>) => rawRequest(server.url, { method: 'OPTIONS', path, headers });

  before(async () => {
    assert.equal((await putDocument(RULES)).status, 200);
    assert.equal((await send({ method: 'PUT', key: 'page.txt', body: 'for the page' })).status, 200);
  });

  it('a preflight naming x-oss-* headers is answered 200 by the matching rule, with x-oss-request-id', async () => {
    const res = await preflight(`/${BUCKET}/upload.bin`, { origin: APP, 'access-control-request-method': 'PUT', 'access-control-request-headers': ALI_OSS_HEADERS });
    assert.equal(res.status, 200, res.body);
    assert.ok(res.headers['x-oss-request-id'], 'answered by the OSS dialect');
    assert.deepEqual(corsHeaders(res), { ...MATCHED, 'access-control-allow-headers': 'authorization, content-type, x-oss-date, x-oss-user-agent' });
  });

  it("a refused preflight is OSS's 403 AccessForbidden (no Method or ResourceType), with Vary: Origin as ResponseVary asks", async () => {
    for (const [origin, method] of [['https://evil.org', 'PUT'], [APP, 'DELETE']] as const) {
      const res = await preflight(`/${BUCKET}/upload.bin`, { origin, 'access-control-request-method': method, 'access-control-request-headers': ALI_OSS_HEADERS });
      assertOssError(res, 403, 'AccessForbidden', host);
      assert.match(xmlValue(res.body, 'Message')!, /^CORSResponse: This CORS request is not allowed\./);
      assert.equal(xmlValue(res.body, 'Method'), undefined);
      assert.deepEqual(corsHeaders(res), { vary: 'Origin' });
    }
    const missing = await preflight('/oss-cors-nowhere/k', { origin: APP, 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-oss-date' });
    assertOssError(missing, 403, 'AccessForbidden', host);
    assert.equal(xmlValue(missing.body, 'Message'), 'CORSResponse: Bucket not found');
  });

  it('OSS wants an Access-Control-Request-Method as well as an Origin (400 BadRequest)', async () => {
    const noMethod = await preflight(`/${BUCKET}/k`, { origin: APP, 'access-control-request-headers': 'x-oss-date' });
    assertOssError(noMethod, 400, 'BadRequest', host);
    assert.equal(xmlValue(noMethod.body, 'Message'), 'Insufficient information. Request Access-Control-Request-Method header needed.');
    const noOrigin = await preflight(`/${BUCKET}/k`, { 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-oss-date' });
    assertOssError(noOrigin, 400, 'BadRequest', host);
  });

  it('signed OSS requests with an Origin carry the headers (an UploadPart exposes its ETag); refused origins only Vary: Origin', async () => {
    const get = await send({ key: 'page.txt', headers: { origin: APP } });
    assert.equal(get.status, 200);
    assert.equal(get.body, 'for the page');
    assert.deepEqual(corsHeaders(get), MATCHED);
    const missing = await send({ key: 'absent.txt', headers: { origin: APP } });
    assertOssError(missing, 404, 'NoSuchKey', host);
    assert.deepEqual(corsHeaders(missing), MATCHED);

    const initiated = await send({ method: 'POST', key: 'browser.bin', query: [['uploads', '']] });
    const uploadId = xmlValue(initiated.body, 'UploadId')!;
    const part = await send({ method: 'PUT', key: 'browser.bin', body: 'part', headers: { origin: APP }, query: [['partNumber', '1'], ['uploadId', uploadId]] });
    assert.equal(part.status, 200, part.body);
    assert.match(String(part.headers.etag), /^"[0-9A-F]{32}"$/);
    assert.deepEqual(corsHeaders(part), MATCHED);

    const refused = await send({ key: 'page.txt', headers: { origin: 'https://evil.org' } });
    assert.equal(refused.status, 200);
    assert.deepEqual(corsHeaders(refused), { vary: 'Origin' });
    assert.deepEqual(corsHeaders(await send({ key: 'page.txt' })), {}, 'no Origin: nothing');
  });

  it('the rules are the bucket\'s: set through S3 they are read and applied through OSS, and the other way', async () => {
    const s3 = s3Client(server);
    try {
      await s3.send(new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: [{ ID: 's3-rule', AllowedOrigins: ['https://s3.example'], AllowedMethods: ['GET'] }] } }));
      const res = await send({ query: [['cors', '']] });
      assert.deepEqual(xmlValues(res.body, 'AllowedOrigin'), ['https://s3.example']);
      assert.equal(xmlValue(res.body, 'ResponseVary'), 'false');
      assert.equal(xmlValue(res.body, 'ID'), undefined, 'OSS has no rule IDs');
      const ok = await preflight(`/${BUCKET}/k`, { origin: 'https://s3.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-oss-date' });
      assertOssError(ok, 403, 'AccessForbidden', host); // x-oss-date is not an allowed header
      const plain = await preflight(`/${BUCKET}/k`, { origin: 'https://s3.example', 'access-control-request-method': 'GET' });
      assert.equal(plain.status, 200);

      assert.equal((await putDocument(RULES)).status, 200);
      const rules = (await s3.send(new GetBucketCorsCommand({ Bucket: BUCKET }))).CORSRules;
      assert.deepEqual(rules?.map((rule) => rule.AllowedOrigins), [['http://*.example.com']]);
    } finally {
      s3.destroy();
    }
  });
});
