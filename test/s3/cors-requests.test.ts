/**
 * How the S3 dialect answers a browser by a bucket's CORS rules, over raw HTTP: preflights
 * (unsigned OPTIONS, path and virtual-host style, bucket and object), and the Access-Control-*
 * headers on actual requests that carry an Origin: successes, errors, 304s, streamed objects and
 * a multipart upload's parts. Requests without an Origin get none of it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCorsCommand,
  PutBucketCorsCommand,
  PutObjectCommand,
  S3Client,
  type CORSRule,
} from '@aws-sdk/client-s3';
import { assertS3Error } from '../helpers/assertions.js';
import { rawRequest, readBody, signedRequest, unsignedPayloadHeaders, type RawResponse } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const DOMAIN = 's3.local';
const BUCKET = 'cors-requests';
const BARE = 'cors-no-rules';
const VARY = 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method';
const NOT_ALLOWED =
  'CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / ' +
  "Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.";

const RULES: CORSRule[] = [
  {
    AllowedOrigins: ['http://*.example.com'],
    AllowedMethods: ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'],
    AllowedHeaders: ['Content-Type', 'x-amz-*', 'Content-MD5'],
    ExposeHeaders: ['ETag', 'x-amz-request-id'],
    MaxAgeSeconds: 600,
  },
  { AllowedOrigins: ['*'], AllowedMethods: ['GET'] },
];

/** The Access-Control-* and Vary headers of a response, nothing else. */
function corsHeaders(res: RawResponse): Record<string, string> {
  return Object.fromEntries(
    Object.entries(res.headers)
      .filter(([name]) => name.startsWith('access-control-') || name === 'vary')
      .map(([name, value]) => [name, String(value)]),
  );
}

const APP = 'http://app.example.com';
/** What a request from APP earns by the first rule (a preflight that announced no header). */
const APP_HEADERS = {
  'access-control-allow-origin': APP,
  'access-control-allow-methods': 'GET, PUT, POST, DELETE, HEAD',
  'access-control-expose-headers': 'ETag, x-amz-request-id',
  'access-control-max-age': '600',
  'access-control-allow-credentials': 'true',
  vary: VARY,
};

describe('S3 CORS: preflights and cross-origin requests', () => {
  let server: TestServer;
  let s3: S3Client;

  const preflight = (path: string, headers: Record<string, string>, host?: string): Promise<RawResponse> =>
    rawRequest(server.url, { method: 'OPTIONS', path, headers: host === undefined ? headers : { ...headers, host } });

  before(async () => {
    server = await startServer({ extraArgs: ['--domain', DOMAIN] });
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new CreateBucketCommand({ Bucket: BARE }));
    await s3.send(new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: RULES } }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'hello.txt', Body: 'hello, browser' }));
    await s3.send(new PutObjectCommand({ Bucket: BARE, Key: 'hello.txt', Body: 'hello, nobody' }));
  });

  after(async () => {
    s3?.destroy();
    await server?.cleanup();
  });

  describe('preflight (OPTIONS, unsigned)', () => {
    it('a matching rule answers 200 with its headers: the origin, its methods, the announced headers lower-cased, exposed headers, max age, credentials, Vary', async () => {
      const res = await preflight(`/${BUCKET}/dir/new.bin`, {
        origin: APP,
        'access-control-request-method': 'PUT',
        'access-control-request-headers': 'content-type,X-Amz-Date,x-amz-content-sha256',
      });
      assert.equal(res.status, 200, res.body);
      assert.equal(res.body, '');
      assert.deepEqual(corsHeaders(res), { ...APP_HEADERS, 'access-control-allow-headers': 'content-type, x-amz-date, x-amz-content-sha256' });
      assert.ok(res.headers['x-amz-request-id']);
    });

    it('`http://*.example.com` admits any subdomain over http, not the bare domain, another scheme, or a trailing slash', async () => {
      for (const origin of ['http://a.example.com', 'http://deep.sub.example.com', 'HTTP://Upper.Example.com']) {
        const res = await preflight(`/${BUCKET}/k`, { origin, 'access-control-request-method': 'DELETE' });
        assert.equal(res.status, 200, `${origin}: ${res.body}`);
        assert.equal(res.headers['access-control-allow-origin'], origin, 'the origin echoed as sent');
      }
      for (const origin of ['http://example.com', 'https://a.example.com', 'http://a.example.com/', 'http://a.example.com.evil.org', 'http://a.example.community']) {
        const res = await preflight(`/${BUCKET}/k`, { origin, 'access-control-request-method': 'DELETE' });
        const doc = assertS3Error(res, 403, 'AccessForbidden');
        assert.equal(doc.Message, NOT_ALLOWED);
        assert.equal(doc.Method, 'DELETE');
        assert.equal(doc.ResourceType, 'OBJECT');
        assert.deepEqual(corsHeaders(res), {}, `${origin} earns no CORS header`);
      }
    });

    it('the first matching rule decides: `*` admits GET from anywhere, answered `*` without credentials', async () => {
      const res = await preflight(`/${BUCKET}/hello.txt`, { origin: 'https://elsewhere.org:8443', 'access-control-request-method': 'GET' });
      assert.equal(res.status, 200, res.body);
      assert.deepEqual(corsHeaders(res), { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET', vary: VARY });
      // From a subdomain the first rule matches first.
      const first = await preflight(`/${BUCKET}/hello.txt`, { origin: APP, 'access-control-request-method': 'GET' });
      assert.deepEqual(corsHeaders(first), APP_HEADERS);
    });

    it('announced headers must each match an AllowedHeader (wildcards, any case); the `*` rule allows none', async () => {
      const ok = await preflight(`/${BUCKET}/k`, { origin: APP, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'X-AMZ-META-COLOR, Content-MD5' });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.headers['access-control-allow-headers'], 'x-amz-meta-color, content-md5');
      const refused = await preflight(`/${BUCKET}/k`, { origin: APP, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type, authorization' });
      assert.equal(assertS3Error(refused, 403, 'AccessForbidden').Message, NOT_ALLOWED);
      const anywhere = await preflight(`/${BUCKET}/k`, { origin: 'https://elsewhere.org', 'access-control-request-method': 'GET', 'access-control-request-headers': 'range' });
      assertS3Error(anywhere, 403, 'AccessForbidden');
    });

    it('a method no rule allows is 403 naming it; the bucket itself is ResourceType BUCKET', async () => {
      const doc = assertS3Error(await preflight(`/${BUCKET}`, { origin: 'https://elsewhere.org', 'access-control-request-method': 'PUT' }), 403, 'AccessForbidden');
      assert.equal(doc.Message, NOT_ALLOWED);
      assert.equal(doc.Method, 'PUT');
      assert.equal(doc.ResourceType, 'BUCKET');
      // PATCH is a method, but no rule may allow it.
      assert.equal(assertS3Error(await preflight(`/${BUCKET}/k`, { origin: APP, 'access-control-request-method': 'PATCH' }), 403, 'AccessForbidden').Method, 'PATCH');
      // No Access-Control-Request-Method: judged as asking about OPTIONS, which no rule allows.
      assert.equal(assertS3Error(await preflight(`/${BUCKET}/k`, { origin: APP }), 403, 'AccessForbidden').Method, 'OPTIONS');
    });

    it('a bucket without rules is 403 "CORS is not enabled for this bucket"; a missing bucket, or none, "Bucket not found"', async () => {
      const bare = assertS3Error(await preflight(`/${BARE}/hello.txt`, { origin: APP, 'access-control-request-method': 'GET' }), 403, 'AccessForbidden');
      assert.equal(bare.Message, 'CORSResponse: CORS is not enabled for this bucket.');
      assert.equal(bare.Method, 'GET');
      assert.equal(bare.ResourceType, 'BUCKET');
      for (const path of ['/cors-nowhere/k', '/cors-nowhere', '/']) {
        const missing = assertS3Error(await preflight(path, { origin: APP, 'access-control-request-method': 'GET' }), 403, 'AccessForbidden');
        assert.equal(missing.Message, 'CORSResponse: Bucket not found');
        assert.equal(missing.ResourceType, 'BUCKET');
      }
    });

    it('without an Origin, or asking about a method that is none, 400 BadRequest', async () => {
      const noOrigin = assertS3Error(await preflight(`/${BUCKET}/k`, { 'access-control-request-method': 'GET' }), 400, 'BadRequest');
      assert.equal(noOrigin.Message, 'Insufficient information. Origin request header needed.');
      const bad = assertS3Error(await preflight(`/${BUCKET}/k`, { origin: APP, 'access-control-request-method': 'put' }), 400, 'BadRequest');
      assert.equal(bad.Message, 'Invalid Access-Control-Request-Method: put');
    });

    it('virtual-host style reaches the same rules, for the bucket and its objects', async () => {
      const host = `${BUCKET}.${DOMAIN}:${server.port}`;
      for (const path of ['/', '/dir/key.bin']) {
        const res = await preflight(path, { origin: APP, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' }, host);
        assert.equal(res.status, 200, `${path}: ${res.body}`);
        assert.deepEqual(corsHeaders(res), { ...APP_HEADERS, 'access-control-allow-headers': 'content-type' });
      }
      const bare = assertS3Error(await preflight('/k', { origin: APP, 'access-control-request-method': 'GET' }, `${BARE}.${DOMAIN}:${server.port}`), 403, 'AccessForbidden');
      assert.equal(bare.Message, 'CORSResponse: CORS is not enabled for this bucket.');
    });

    it('a change to the rules is in force at the next request (on every node of a cluster)', async () => {
      await s3.send(new CreateBucketCommand({ Bucket: 'cors-toggle' }));
      const ask = { origin: APP, 'access-control-request-method': 'GET' };
      for (let i = 0; i < 6; i++) assertS3Error(await preflight('/cors-toggle/k', ask), 403, 'AccessForbidden');
      await s3.send(new PutBucketCorsCommand({ Bucket: 'cors-toggle', CORSConfiguration: { CORSRules: [{ AllowedOrigins: [APP], AllowedMethods: ['GET'] }] } }));
      for (let i = 0; i < 6; i++) assert.equal((await preflight('/cors-toggle/k', ask)).status, 200);
      await s3.send(new DeleteBucketCorsCommand({ Bucket: 'cors-toggle' }));
      for (let i = 0; i < 6; i++) {
        assert.equal(assertS3Error(await preflight('/cors-toggle/k', ask), 403, 'AccessForbidden').Message, 'CORSResponse: CORS is not enabled for this bucket.');
      }
    });
  });

  describe('actual requests with an Origin', () => {
    const signed = (method: string, path: string, headers: Record<string, string> = {}, body?: string) => signedRequest(server.url, method, path, { headers, body });

    it('GET, HEAD and PUT from an admitted origin carry the rule\'s headers; without an Origin, none', async () => {
      const get = await signed('GET', `/${BUCKET}/hello.txt`, { origin: APP });
      assert.equal(get.status, 200);
      assert.equal(get.body, 'hello, browser');
      assert.deepEqual(corsHeaders(get), APP_HEADERS);
      assert.ok(get.headers.etag, 'the ETag it exposes is there');
      const head = await signed('HEAD', `/${BUCKET}/hello.txt`, { origin: APP });
      assert.deepEqual(corsHeaders(head), APP_HEADERS);
      const put = await signed('PUT', `/${BUCKET}/from-browser.txt`, { origin: APP }, 'put from a page');
      assert.equal(put.status, 200, put.body);
      assert.deepEqual(corsHeaders(put), APP_HEADERS);
      for (const res of [await signed('GET', `/${BUCKET}/hello.txt`), await signed('PUT', `/${BUCKET}/plain.txt`, {}, 'x')]) {
        assert.deepEqual(corsHeaders(res), {}, 'no Origin, no CORS header');
      }
    });

    it('an origin no rule admits for the method gets no CORS header and no Vary, and is served as usual', async () => {
      const put = await signed('PUT', `/${BUCKET}/elsewhere.txt`, { origin: 'https://elsewhere.org' }, 'not for browsers');
      assert.equal(put.status, 200, put.body);
      assert.deepEqual(corsHeaders(put), {});
      const bare = await signed('GET', `/${BARE}/hello.txt`, { origin: APP });
      assert.equal(bare.status, 200);
      assert.deepEqual(corsHeaders(bare), {}, 'a bucket without rules');
      // S3 judges an actual request by the Access-Control-Request-Method it carries, if any.
      const asked = await signed('GET', `/${BUCKET}/hello.txt`, { origin: 'https://elsewhere.org', 'access-control-request-method': 'PUT' });
      assert.equal(asked.status, 200);
      assert.deepEqual(corsHeaders(asked), {});
    });

    it('errors carry the headers too: a missing key, a refused signature, an unsigned request', async () => {
      const missing = await signed('GET', `/${BUCKET}/nothing-here`, { origin: APP });
      assertS3Error(missing, 404, 'NoSuchKey');
      assert.deepEqual(corsHeaders(missing), APP_HEADERS);
      const unsigned = await rawRequest(server.url, { method: 'GET', path: `/${BUCKET}/hello.txt`, headers: { origin: 'https://elsewhere.org' } });
      assertS3Error(unsigned, 403, 'AccessDenied');
      assert.deepEqual(corsHeaders(unsigned), { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET', vary: VARY });
      const forged = await signedRequest(server.url, 'GET', `/${BUCKET}/hello.txt`, {
        headers: { origin: APP },
        credentials: { accessKeyId: 'tessera-root', secretAccessKey: 'not-the-secret' },
      });
      assertS3Error(forged, 403, 'SignatureDoesNotMatch');
      assert.deepEqual(corsHeaders(forged), APP_HEADERS);
    });

    it('a 304 Not Modified carries them', async () => {
      const first = await signed('GET', `/${BUCKET}/hello.txt`);
      const res = await signed('GET', `/${BUCKET}/hello.txt`, { origin: APP, 'if-none-match': String(first.headers.etag) });
      assert.equal(res.status, 304);
      assert.deepEqual(corsHeaders(res), APP_HEADERS);
    });

    it('a streamed object of several MiB carries them, its bytes whole', async () => {
      const big = randomBytes(5 * 1024 * 1024 + 17);
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'big.bin', Body: big }));
      const path = `/${BUCKET}/big.bin`;
      const target = new URL(server.url);
      const got = await new Promise<Awaited<ReturnType<typeof readBody>>>((resolve, reject) => {
        const headers = { ...unsignedPayloadHeaders(server.url, 'GET', path), origin: APP };
        get({ host: target.hostname, port: target.port, path, headers }, (res) => void readBody(res).then(resolve, reject)).on('error', reject);
      });
      assert.equal(got.status, 200);
      assert.deepEqual(corsHeaders({ ...got, body: '' }), APP_HEADERS);
      assert.ok(got.body.equals(big), 'the bytes whole');
      const ranged = await signed('GET', `/${BUCKET}/big.bin`, { origin: APP, range: 'bytes=1048576-2097151' });
      assert.equal(ranged.status, 206);
      assert.deepEqual(corsHeaders(ranged), APP_HEADERS);
    });

    it("a multipart upload's UploadPart answer exposes its ETag to the page", async () => {
      const upload = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'browser-multipart.bin' }));
      const part = await signed('PUT', `/${BUCKET}/browser-multipart.bin?partNumber=1&uploadId=${upload.UploadId}`, { origin: APP }, 'part one');
      assert.equal(part.status, 200, part.body);
      assert.match(String(part.headers.etag), /^"[0-9a-f]{32}"$/);
      assert.deepEqual(corsHeaders(part), APP_HEADERS);
      assert.ok(String(part.headers['access-control-expose-headers']).split(', ').includes('ETag'));
    });
  });
});
