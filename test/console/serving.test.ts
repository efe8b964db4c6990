/**
 * The console is served by the server itself at /-/console/: its bundle with the right types,
 * caching and security headers, index.html for client routes, and nothing but the bundle:
 * every way of naming a path outside it is a 404. The S3, OSS and 123pan dialects keep working.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { CreateBucketCommand, ListBucketsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ossClient } from '../oss/helpers.js';
import { ok } from '../pan/helpers.js';
import { sha256Hex, signRequest } from '../../src/dialects/s3/sigv4.js';
import { rawRequest, verbatimUrl } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';

const APP = { clientID: 'console-app', clientSecret: 'console-app-secret', user: 'alice' };
const DOMAIN = 's3.local';
const ROOT = { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY };
const ALICE = { id: 'alice', displayName: 'Alice', accessKey: 'alice-access-key', secretKey: 'alice-secret-key-0123456789' };

describe('console: serving', () => {
  let server: TestServer;
  let s3: S3Client;
  let index: string;
  let script: string;

  before(async () => {
    server = await startServer({ config: { users: [ALICE], panApps: [APP] }, extraArgs: ['--domain', DOMAIN] });
    s3 = s3Client(server);
    const res = await rawRequest(server.url + '/-/console/', {});
    index = res.body;
    const match = /src="(\/-\/console\/assets\/[^"]+\.js)"/.exec(index);
    assert.ok(match, `index.html names its script: ${index}`);
    script = match[1]!;
  });
  after(async () => {
    s3?.destroy();
    await server?.cleanup();
  });

  it('redirects /-/console to /-/console/, keeping the query', async () => {
    const res = await rawRequest(server.url + '/-/console?x=1', {});
    assert.equal(res.status, 301);
    assert.equal(res.headers.location, '/-/console/?x=1');
  });

  it('serves index.html uncached, with the security headers', async () => {
    const res = await rawRequest(server.url + '/-/console/', {});
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-store');
    assert.match(res.body, /<div id="app"><\/div>/);
    const csp = String(res.headers['content-security-policy']);
    for (const directive of ["default-src 'self'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"]) {
      assert.ok(csp.split('; ').includes(directive), `${directive} in ${csp}`);
    }
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.equal(res.headers['x-frame-options'], 'DENY');
    assert.equal(res.headers['referrer-policy'], 'no-referrer');
    // Nothing inline: the CSP allows no inline script, so the page must not need one.
    assert.doesNotMatch(res.body, /<script(?![^>]*\bsrc=)[^>]*>/);
  });

  it('serves hashed assets with their type, cached for a year, gzipped when asked, revalidated by ETag', async () => {
    const plain = await rawRequest(server.url + script, {});
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(plain.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(plain.headers['x-content-type-options'], 'nosniff');
    assert.equal(plain.headers['content-encoding'], undefined);

    const zipped = await fetchBytes(server.url + script, { 'accept-encoding': 'gzip' });
    assert.equal(zipped.headers.get('content-encoding'), 'gzip');
    assert.equal(zipped.headers.get('vary'), 'Accept-Encoding');
    assert.equal(gunzipSync(zipped.body).toString('utf8'), plain.body);

    const etag = String(plain.headers.etag);
    const revalidated = await rawRequest(server.url + script, { headers: { 'if-none-match': etag } });
    assert.equal(revalidated.status, 304);
    assert.equal(revalidated.body, '');

    const css = /href="(\/-\/console\/assets\/[^"]+\.css)"/.exec(index);
    assert.ok(css, 'index.html links its stylesheet');
    const style = await rawRequest(server.url + css[1]!, {});
    assert.equal(style.headers['content-type'], 'text/css; charset=utf-8');
  });

  it('answers HEAD like GET without a body', async () => {
    const res = await rawRequest(server.url + script, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.ok(Number(res.headers['content-length']) > 1000);
    assert.equal(res.body, '');
  });

  it('answers client routes with index.html (dots allowed before the last segment)', async () => {
    for (const path of ['/-/console/buckets/my.bucket/objects?prefix=a%2Fb%2F', '/-/console/some/later/page', '/-/console/buckets/x%20y/objects']) {
      const res = await rawRequest(server.url + path, {});
      assert.equal(res.status, 200, path);
      assert.equal(res.body, index, path);
      assert.equal(res.headers['cache-control'], 'no-store');
    }
  });

  it('serves nothing outside the bundle: traversal, encodings, absolute paths, NUL and missing files are 404', async () => {
    const attempts = [
      '/-/console/../../package.json',
      '/-/console/../../../../etc/passwd',
      '/-/console/assets/../../../package.json',
      '/-/console/%2e%2e/%2e%2e/package.json',
      '/-/console/%2E%2E/%2E%2E/%2E%2E/etc/passwd',
      '/-/console/assets/..%2f..%2f..%2fpackage.json',
      '/-/console/..%5c..%5cpackage.json',
      '/-/console/%252e%252e/package.json',
      '/-/console/%c0%ae%c0%ae/package.json',
      '/-/console//etc/passwd',
      '/-/console/%2fetc%2fpasswd',
      '/-/console/./index.html',
      '/-/console/index.html%00.js',
      '/-/console/a%00b',
      '/-/console/assets/missing.js',
      '/-/console/assets/nothing',
      '/-/console/missing.js',
      '/-/console/package.json',
      '/-/console/.env',
    ];
    for (const path of attempts) {
      const res = await rawRequest(server.url, { path });
      assert.equal(res.status, 404, path);
      assert.equal(res.body, 'Not found.', path);
      assert.doesNotMatch(res.body, /root:|"name": "tessera"/, path);
    }
  });

  it('refuses writes to the bundle with 405', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) {
      // With a length: a DELETE's body without one is no HTTP message (Node sends DELETE unframed).
      const res = await rawRequest(server.url + '/-/console/index.html', { method, body: 'x', headers: { 'content-length': '1' } });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.allow, 'GET, HEAD');
    }
  });

  it('answers unknown API paths and wrong methods in JSON; an unsigned API call is AccessDenied', async () => {
    const unknown = await rawRequest(server.url + '/-/console/api/nothing', {});
    assert.equal(unknown.status, 404);
    assert.equal(JSON.parse(unknown.body).code, 'NotFound');
    assert.equal(unknown.headers['content-type'], 'application/json; charset=utf-8');

    const getSession = await rawRequest(server.url + '/-/console/api/session', {});
    assert.equal(getSession.status, 405);
    assert.equal(getSession.headers.allow, 'POST');

    const unsigned = await rawRequest(server.url + '/-/console/api/buckets', {});
    assert.equal(unsigned.status, 403);
    assert.equal(JSON.parse(unsigned.body).code, 'AccessDenied');
    assert.equal(unsigned.headers['cache-control'], 'no-store');
  });

  it('leaves the S3, OSS and 123pan dialects and the health check working on the same port', async () => {
    await s3.send(new CreateBucketCommand({ Bucket: 'console-serving' }));
    await s3.send(new PutObjectCommand({ Bucket: 'console-serving', Key: '-/console/index.html', Body: 'an object, not the page' }));
    const buckets = await s3.send(new ListBucketsCommand({}));
    assert.ok(buckets.Buckets?.some((bucket) => bucket.Name === 'console-serving'));

    const oss = ossClient(server, 'v4', 'console-serving', 'localhost-path');
    const object = await oss.get('-/console/index.html');
    assert.equal(object.content.toString(), 'an object, not the page');

    const token = await ok<{ accessToken: string }>(server.url, 'POST', '/api/v1/access_token', { json: { clientID: APP.clientID, clientSecret: APP.clientSecret } });
    assert.ok(token.accessToken.length > 10);

    const health = await rawRequest(server.url + '/-/health', {});
    assert.equal(health.status, 200);
  });

  it('on a virtual-hosted bucket, /-/console/… is a key of the bucket, not the console', async () => {
    await s3.send(new PutObjectCommand({ Bucket: 'console-serving', Key: '-/console/', Body: 'a key' }));
    const host = `console-serving.${DOMAIN}:${server.port}`;
    for (const [path, body] of [['/-/console/index.html', 'an object, not the page'], ['/-/console/', 'a key']] as const) {
      const headers = { host, ...signRequest({ method: 'GET', url: verbatimUrl(host, path), headers: { host }, payloadHash: sha256Hex(''), credentials: ROOT, region: 'us-east-1' }) };
      const res = await rawRequest(server.url, { path, headers });
      assert.equal(res.status, 200, path);
      assert.equal(res.body, body, path);
      assert.equal(res.headers['content-security-policy'], undefined);
    }
  });
});

async function fetchBytes(url: string, headers: Record<string, string>): Promise<{ headers: Headers; body: Buffer }> {
  // node:http, not fetch: fetch would gunzip the body itself.
  const { request } = await import('node:http');
  return new Promise((resolve, reject) => {
    const req = request(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ headers: new Headers(res.headers as Record<string, string>), body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
