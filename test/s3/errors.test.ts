/**
 * Malformed and hostile S3 requests over raw HTTP: each gets the S3 error S3 would
 * give (status, `<Code>`, Message, Resource, RequestId, x-amz-request-id), none is
 * ever a 500, no key reaches outside the data directory, and the server goes on
 * serving afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { sha256Hex, signRequest, UNSIGNED_PAYLOAD } from '../../src/dialects/s3/sigv4.js';
import { rawRequest, verbatimUrl, type RawResponse } from '../helpers/raw.js';
import { assertOk, assertS3Error, requestIdOf } from '../helpers/assertions.js';
import { clusterMode, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';

const BUCKET = 'errors-bucket';

const xml = new XMLParser({ parseTagValue: false, ignoreAttributes: true });

/** Every response any test here received, to check at the end that none was a 500. */
const seen: Array<{ method: string; path: string; status: number }> = [];

/** SigV4 headers from our signer for a path sent exactly as written (a URL object would resolve `..`). */
function signedHeaders(server: TestServer, method: string, pathAndQuery: string, headers: Record<string, string>, payloadHash: string): Record<string, string> {
  const host = `127.0.0.1:${server.port}`;
  const url = verbatimUrl(host, pathAndQuery);
  const base = { host, ...headers };
  const added = signRequest({
    method,
    url,
    headers: base,
    payloadHash,
    credentials: { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY },
    region: 'us-east-1',
  });
  return { ...base, ...added };
}

async function send(
  server: TestServer,
  method: string,
  pathAndQuery: string,
  options: { body?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const body = options.body ?? '';
  const headers = signedHeaders(server, method, pathAndQuery, options.headers ?? {}, sha256Hex(body));
  headers['content-length'] = String(Buffer.byteLength(body));
  const res = await rawRequest(server.url, { method, path: pathAndQuery, headers, body });
  seen.push({ method, path: pathAndQuery, status: res.status });
  return res;
}

/** A signed GET whose body is compared as bytes. */
function getBytes(server: TestServer, path: string): Promise<{ status: number; bytes: Buffer }> {
  const headers = signedHeaders(server, 'GET', path, {}, sha256Hex(''));
  return new Promise((resolvePromise, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, method: 'GET', path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        seen.push({ method: 'GET', path, status: res.statusCode ?? 0 });
        resolvePromise({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A signed request written on a bare socket, so nothing adds Content-Length or Transfer-Encoding. */
function socketRequest(server: TestServer, method: string, path: string, headers: Record<string, string>): Promise<{ status: number; head: string; body: string }> {
  const signed = signedHeaders(server, method, path, headers, UNSIGNED_PAYLOAD);
  const head = [`${method} ${path} HTTP/1.1`, ...Object.entries(signed).map(([n, v]) => `${n}: ${v}`), 'connection: close', '', ''].join('\r\n');
  return new Promise((resolvePromise, reject) => {
    const socket = connect(server.port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      seen.push({ method, path, status });
      resolvePromise({ status, head: text.slice(0, split), body: text.slice(split + 4) });
    });
    socket.write(head);
  });
}

function textOf(doc: unknown, name: string): string | undefined {
  const value = (doc as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

async function createUpload(server: TestServer, key: string): Promise<string> {
  const res = await send(server, 'POST', `/${BUCKET}/${key}?uploads`);
  assertOk(res);
  const uploadId = textOf((xml.parse(res.body) as Record<string, unknown>).InitiateMultipartUploadResult, 'UploadId');
  assert.ok(uploadId, res.body);
  return uploadId;
}

describe('S3 errors for malformed and hostile requests (raw HTTP)', () => {
  let server: TestServer;
  let uploadId: string;
  let etag1: string;

  before(async () => {
    server = await startServer();
    assertOk(await send(server, 'PUT', `/${BUCKET}`));
    assertOk(await send(server, 'PUT', `/${BUCKET}/source`, { body: 'source object, 32 bytes long...' }));
    uploadId = await createUpload(server, 'mp');
    const part = await send(server, 'PUT', `/${BUCKET}/mp?partNumber=1&uploadId=${uploadId}`, { body: 'part one' });
    assertOk(part);
    etag1 = String(part.headers.etag);
  });

  after(async () => {
    await server?.cleanup();
  });

  describe('malformed XML bodies', () => {
    const completeCases: Array<[string, string]> = [
      ['a body that is not XML', 'this is not xml at all'],
      ['an empty body', ''],
      ['unclosed XML', '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>'],
      ['XML with the wrong root', '<DeleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></DeleteMultipartUpload>'],
      ['an empty part list', '<CompleteMultipartUpload></CompleteMultipartUpload>'],
      ['a non-numeric PartNumber', '<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>'],
      ['a negative PartNumber', '<CompleteMultipartUpload><Part><PartNumber>-1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>'],
      ['a part without an ETag', '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>'],
    ];
    for (const [label, body] of completeCases) {
      it(`CompleteMultipartUpload with ${label} is 400 MalformedXML and leaves the upload open`, async () => {
        assertS3Error(await send(server, 'POST', `/${BUCKET}/mp?uploadId=${uploadId}`, { body }), 400, 'MalformedXML');
        assertOk(await send(server, 'GET', `/${BUCKET}/mp?uploadId=${uploadId}`));
      });
    }

    it('the upload completes normally after all the malformed attempts', async () => {
      const upload = await createUpload(server, 'mp-after');
      const part = await send(server, 'PUT', `/${BUCKET}/mp-after?partNumber=1&uploadId=${upload}`, { body: 'only part' });
      assertOk(part);
      const body = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${String(part.headers.etag)}</ETag></Part></CompleteMultipartUpload>`;
      assertOk(await send(server, 'POST', `/${BUCKET}/mp-after?uploadId=${upload}`, { body }));
      assert.equal((await send(server, 'GET', `/${BUCKET}/mp-after`)).body, 'only part');
    });

    const deleteCases: Array<[string, string]> = [
      ['a body that is not XML', '<<<>>>'],
      ['an empty body', ''],
      ['XML with the wrong root', '<Remove><Object><Key>source</Key></Object></Remove>'],
      ['no Object element', '<Delete><Quiet>true</Quiet></Delete>'],
      ['an Object without a Key', '<Delete><Object><VersionId>null</VersionId></Object></Delete>'],
    ];
    for (const [label, body] of deleteCases) {
      it(`DeleteObjects with ${label} is 400 MalformedXML and deletes nothing`, async () => {
        assertS3Error(await send(server, 'POST', `/${BUCKET}?delete`, { body }), 400, 'MalformedXML');
        assertOk(await send(server, 'HEAD', `/${BUCKET}/source`));
      });
    }
  });

  describe('invalid query arguments', () => {
    const cases: Array<[string, string, string]> = [
      ['ListObjects max-keys=abc', 'GET', `/${BUCKET}?max-keys=abc`],
      ['ListObjects max-keys=-1', 'GET', `/${BUCKET}?max-keys=-1`],
      ['ListObjectsV2 max-keys=abc', 'GET', `/${BUCKET}?list-type=2&max-keys=abc`],
      ['ListObjectsV2 max-keys=1.5', 'GET', `/${BUCKET}?list-type=2&max-keys=1.5`],
      ['ListObjectsV2 a forged continuation-token', 'GET', `/${BUCKET}?list-type=2&continuation-token=%25%25%25`],
      ['ListMultipartUploads max-uploads=abc', 'GET', `/${BUCKET}?uploads&max-uploads=abc`],
      ['ListObjects encoding-type=foo', 'GET', `/${BUCKET}?encoding-type=foo`],
      ['ListObjectsV2 encoding-type=foo', 'GET', `/${BUCKET}?list-type=2&encoding-type=foo`],
      ['ListObjectVersions encoding-type=foo', 'GET', `/${BUCKET}?versions&encoding-type=foo`],
      ['ListMultipartUploads encoding-type=foo', 'GET', `/${BUCKET}?uploads&encoding-type=foo`],
    ];
    for (const [label, method, path] of cases) {
      it(`${label} is 400 InvalidArgument`, async () => {
        assertS3Error(await send(server, method, path), 400, 'InvalidArgument');
      });
    }

    for (const [label, query] of [
      ['max-parts=-1', 'max-parts=-1'],
      ['max-parts=abc', 'max-parts=abc'],
      ['part-number-marker=x', 'part-number-marker=x'],
      ['encoding-type=foo', 'encoding-type=foo'],
    ]) {
      it(`ListParts ${label} is 400 InvalidArgument`, async () => {
        assertS3Error(await send(server, 'GET', `/${BUCKET}/mp?uploadId=${uploadId}&${query}`), 400, 'InvalidArgument');
      });
    }

    for (const partNumber of ['0', '10001', 'abc', '-1', '1.5', '99999999999']) {
      it(`UploadPart partNumber=${partNumber} is 400 InvalidArgument and stores no part`, async () => {
        const res = await send(server, 'PUT', `/${BUCKET}/mp?partNumber=${partNumber}&uploadId=${uploadId}`, { body: 'bad part' });
        assertS3Error(res, 400, 'InvalidArgument');
        const parts = await send(server, 'GET', `/${BUCKET}/mp?uploadId=${uploadId}`);
        assertOk(parts);
        const listed = [...parts.body.matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => m[1]);
        assert.deepEqual(listed, ['1']);
      });
    }

    it('part number 10000, the upper bound, is accepted', async () => {
      const upload = await createUpload(server, 'mp-bounds');
      assertOk(await send(server, 'PUT', `/${BUCKET}/mp-bounds?partNumber=10000&uploadId=${upload}`, { body: 'last' }));
      assertOk(await send(server, 'DELETE', `/${BUCKET}/mp-bounds?uploadId=${upload}`), 204);
    });
  });

  describe('missing things', () => {
    const unknown = '0000000000000000DEADBEEFDEADBEEF';
    const body = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"x"</ETag></Part></CompleteMultipartUpload>`;
    const cases: Array<[string, string, string, string?]> = [
      ['UploadPart', 'PUT', `/${BUCKET}/mp?partNumber=1&uploadId=${unknown}`, 'some bytes'],
      ['ListParts', 'GET', `/${BUCKET}/mp?uploadId=${unknown}`],
      ['CompleteMultipartUpload', 'POST', `/${BUCKET}/mp?uploadId=${unknown}`, body],
      ['AbortMultipartUpload', 'DELETE', `/${BUCKET}/mp?uploadId=${unknown}`],
    ];
    for (const [operation, method, path, requestBody] of cases) {
      it(`${operation} with an unknown upload id is 404 NoSuchUpload naming the upload`, async () => {
        const doc = assertS3Error(await send(server, method, path, { body: requestBody }), 404, 'NoSuchUpload');
        assert.equal(doc.UploadId, unknown);
      });
    }

    it("an upload id used with another key is 404 NoSuchUpload", async () => {
      const doc = assertS3Error(await send(server, 'PUT', `/${BUCKET}/other-key?partNumber=1&uploadId=${uploadId}`, { body: 'x' }), 404, 'NoSuchUpload');
      assert.equal(doc.UploadId, uploadId);
      assertS3Error(await send(server, 'GET', `/${BUCKET}/other-key?uploadId=${uploadId}`), 404, 'NoSuchUpload');
    });

    it('operations on a bucket that does not exist are 404 NoSuchBucket naming it', async () => {
      for (const [method, path, body] of [
        ['GET', '/no-such-bucket'],
        ['GET', '/no-such-bucket?list-type=2'],
        ['GET', '/no-such-bucket/key'],
        ['PUT', '/no-such-bucket/key', 'data'],
        ['DELETE', '/no-such-bucket'],
        ['POST', '/no-such-bucket/key?uploads'],
        ['GET', '/no-such-bucket?uploads'],
      ] as Array<[string, string, string?]>) {
        const doc = assertS3Error(await send(server, method, path, { body }), 404, 'NoSuchBucket');
        assert.equal(doc.BucketName, 'no-such-bucket', `${method} ${path}`);
      }
    });

    it('a missing key is 404 NoSuchKey naming it', async () => {
      const doc = assertS3Error(await send(server, 'GET', `/${BUCKET}/no/such/key`), 404, 'NoSuchKey');
      assert.equal(doc.Key, 'no/such/key');
      assert.equal(doc.Resource, `/${BUCKET}/no/such/key`);
    });

    it('CopyObject from a missing key is 404 NoSuchKey, from a missing bucket NoSuchBucket; nothing is created', async () => {
      assertS3Error(await send(server, 'PUT', `/${BUCKET}/copy-target`, { headers: { 'x-amz-copy-source': `/${BUCKET}/missing` } }), 404, 'NoSuchKey');
      assertS3Error(await send(server, 'PUT', `/${BUCKET}/copy-target`, { headers: { 'x-amz-copy-source': 'no-such-bucket/source' } }), 404, 'NoSuchBucket');
      assertS3Error(await send(server, 'GET', `/${BUCKET}/copy-target`), 404, 'NoSuchKey');
      // UploadPartCopy too.
      const res = await send(server, 'PUT', `/${BUCKET}/mp?partNumber=2&uploadId=${uploadId}`, { headers: { 'x-amz-copy-source': `/${BUCKET}/missing` } });
      assertS3Error(res, 404, 'NoSuchKey');
    });

    it('a copy source without a key is 400 InvalidArgument', async () => {
      assertS3Error(await send(server, 'PUT', `/${BUCKET}/copy-target`, { headers: { 'x-amz-copy-source': BUCKET } }), 400, 'InvalidArgument');
    });

    for (const [range, status, code] of [
      ['bytes=abc', 400, 'InvalidArgument'],
      ['bytes=0-', 400, 'InvalidArgument'],
      ['items=0-3', 400, 'InvalidArgument'],
      ['bytes=5-2', 416, 'InvalidRange'],
      ['bytes=0-1000', 416, 'InvalidRange'],
      ['bytes=40-50', 416, 'InvalidRange'],
    ] as Array<[string, number, string]>) {
      it(`UploadPartCopy with x-amz-copy-source-range: ${range} is ${status} ${code}`, async () => {
        const res = await send(server, 'PUT', `/${BUCKET}/mp?partNumber=3&uploadId=${uploadId}`, {
          headers: { 'x-amz-copy-source': `/${BUCKET}/source`, 'x-amz-copy-source-range': range },
        });
        assertS3Error(res, status, code);
      });
    }

    it('a valid copy-source-range copies exactly those bytes', async () => {
      const upload = await createUpload(server, 'mp-copy');
      const res = await send(server, 'PUT', `/${BUCKET}/mp-copy?partNumber=1&uploadId=${upload}`, {
        headers: { 'x-amz-copy-source': `/${BUCKET}/source`, 'x-amz-copy-source-range': 'bytes=7-12' },
      });
      assertOk(res);
      const etag = textOf((xml.parse(res.body) as Record<string, unknown>).CopyPartResult, 'ETag');
      const body = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${etag}</ETag></Part></CompleteMultipartUpload>`;
      assertOk(await send(server, 'POST', `/${BUCKET}/mp-copy?uploadId=${upload}`, { body }));
      assert.equal((await send(server, 'GET', `/${BUCKET}/mp-copy`)).body, 'object');
    });
  });

  describe('names, URIs, methods and headers', () => {
    for (const [label, name] of [
      ['too short', 'ab'],
      ['too long', 'a'.repeat(64)],
      ['upper case', 'MyBucket'],
      ['with ".."', 'my..bucket'],
      ['IP-like', '192.168.1.1'],
      ['starting with a hyphen', '-bucket'],
      ['ending with a hyphen', 'bucket-'],
      ['with an underscore', 'my_bucket'],
    ]) {
      it(`CreateBucket with a name ${label} is 400 InvalidBucketName`, async () => {
        assertS3Error(await send(server, 'PUT', `/${name}`), 400, 'InvalidBucketName');
      });
    }

    it('CreateBucket with a NUL in the name is a 400 whose XML does not carry the NUL', async () => {
      assertS3Error(await send(server, 'PUT', '/nul%00bucket'), 400, ['InvalidBucketName', 'InvalidURI']);
    });

    it('the longest and shortest valid bucket names are accepted', async () => {
      assertOk(await send(server, 'PUT', `/${'b'.repeat(63)}`));
      assertOk(await send(server, 'PUT', '/abc'));
    });

    it('a key over 1024 bytes is 400 KeyTooLongError, counted in UTF-8 bytes', async () => {
      assertS3Error(await send(server, 'PUT', `/${BUCKET}/${'k'.repeat(1025)}`, { body: 'x' }), 400, 'KeyTooLongError');
      // 513 two-byte characters: 513 characters, 1026 bytes.
      const wide = encodeURIComponent('é'.repeat(513));
      assertS3Error(await send(server, 'PUT', `/${BUCKET}/${wide}`, { body: 'x' }), 400, 'KeyTooLongError');
      assertS3Error(await send(server, 'POST', `/${BUCKET}/${'k'.repeat(1025)}?uploads`), 400, 'KeyTooLongError');
      assertS3Error(await send(server, 'PUT', `/${BUCKET}/${'k'.repeat(1025)}`, { headers: { 'x-amz-copy-source': `/${BUCKET}/source` } }), 400, 'KeyTooLongError');
      const listing = await send(server, 'GET', `/${BUCKET}?prefix=kkkk`);
      assertOk(listing);
      assert.doesNotMatch(listing.body, /<Key>/);
    });

    for (const path of [`/${BUCKET}/bad%zzescape`, `/${BUCKET}/trailing%`, `/${BUCKET}/half%4`, `/${BUCKET}/bad-utf8-%E0%A4%A`, '/bad%zzbucket/key']) {
      it(`a malformed percent escape (${path}) is 400 InvalidURI`, async () => {
        assertS3Error(await send(server, 'GET', path), 400, 'InvalidURI');
        assertS3Error(await send(server, 'PUT', path, { body: 'x' }), 400, 'InvalidURI');
        // Unsigned too: the URI is judged before anything else.
        assertS3Error(await rawRequest(server.url, { method: 'GET', path }), 400, 'InvalidURI');
      });
    }

    for (const sub of ['notification', 'logging', 'website']) {
      it(`the unsupported sub-resource ?${sub} is 501 NotImplemented`, async () => {
        assertS3Error(await send(server, 'GET', `/${BUCKET}?${sub}`), 501, 'NotImplemented');
        assertS3Error(await send(server, 'PUT', `/${BUCKET}?${sub}`, { body: '<x/>' }), 501, 'NotImplemented');
        assertS3Error(await send(server, 'GET', `/${BUCKET}/source?${sub}`), 501, 'NotImplemented');
        assertS3Error(await send(server, 'PUT', `/${BUCKET}/source?${sub}`, { body: '<x/>' }), 501, 'NotImplemented');
      });
    }

    it('?acl on PUT Object does not overwrite the object', async () => {
      assert.equal((await send(server, 'GET', `/${BUCKET}/source`)).body, 'source object, 32 bytes long...');
    });

    for (const [method, path] of [
      ['PATCH', `/${BUCKET}/source`],
      ['POST', `/${BUCKET}/source`],
      ['POST', `/${BUCKET}`],
      ['PATCH', `/${BUCKET}`],
      ['PUT', '/'],
      ['DELETE', '/'],
      ['POST', '/'],
    ]) {
      it(`${method} ${path} is 405 MethodNotAllowed`, async () => {
        assertS3Error(await send(server, method!, path!), 405, 'MethodNotAllowed');
      });
    }

    /** An unsigned OPTIONS, as a browser sends a CORS preflight. */
    async function preflight(path: string, headers: Record<string, string>): Promise<RawResponse> {
      const res = await rawRequest(server.url, { method: 'OPTIONS', path, headers });
      seen.push({ method: 'OPTIONS', path, status: res.status });
      return res;
    }

    it('OPTIONS without an Origin is 400 BadRequest, on an object, a bucket and the root, signed or not', async () => {
      for (const path of [`/${BUCKET}/source`, `/${BUCKET}`, '/']) {
        const doc = assertS3Error(await preflight(path, { 'access-control-request-method': 'GET' }), 400, 'BadRequest');
        assert.equal(doc.Message, 'Insufficient information. Origin request header needed.');
      }
      assertS3Error(await send(server, 'OPTIONS', `/${BUCKET}/source`), 400, 'BadRequest');
    });

    it('OPTIONS with an Origin is 403 AccessForbidden for a bucket without CORS rules, or no bucket (test/s3/cors-requests.test.ts: with rules)', async () => {
      const origin = { origin: 'https://app.example', 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' };
      for (const path of [`/${BUCKET}/source`, `/${BUCKET}`]) {
        const doc = assertS3Error(await preflight(path, origin), 403, 'AccessForbidden');
        assert.equal(doc.Message, 'CORSResponse: CORS is not enabled for this bucket.');
        assert.equal(doc.Method, 'PUT');
        assert.equal(doc.ResourceType, 'BUCKET');
      }
      const root = assertS3Error(await preflight('/', { origin: 'https://app.example' }), 403, 'AccessForbidden');
      assert.equal(root.Message, 'CORSResponse: Bucket not found');
      assert.equal(root.Method, 'OPTIONS', 'no Access-Control-Request-Method: the preflight itself');
      const badMethod = assertS3Error(await preflight(`/${BUCKET}/source`, { origin: 'https://app.example', 'access-control-request-method': 'put' }), 400, 'BadRequest');
      assert.equal(badMethod.Message, 'Invalid Access-Control-Request-Method: put');
    });

    it('PUT Object with neither Content-Length nor Transfer-Encoding is 411 MissingContentLength', async () => {
      const res = await socketRequest(server, 'PUT', `/${BUCKET}/no-length`, {});
      assert.equal(res.status, 411, `${res.head}\n\n${res.body}`);
      assert.match(res.head, /x-amz-request-id: \S+/i);
      assert.match(res.body, /<Code>MissingContentLength<\/Code>/);
      assert.match(res.body, /<Message>[^<]+<\/Message>/);
      assert.match(res.body, /<RequestId>[^<]+<\/RequestId>/);
      assertS3Error(await send(server, 'GET', `/${BUCKET}/no-length`), 404, 'NoSuchKey');
      // UploadPart, too.
      const part = await socketRequest(server, 'PUT', `/${BUCKET}/mp?partNumber=5&uploadId=${uploadId}`, {});
      assert.equal(part.status, 411, part.body);
    });

    it('PUT Object with Transfer-Encoding: chunked (no Content-Length) is accepted', async () => {
      const path = `/${BUCKET}/te-chunked`;
      const signed = signedHeaders(server, 'PUT', path, {}, UNSIGNED_PAYLOAD);
      const head = [`PUT ${path} HTTP/1.1`, ...Object.entries(signed).map(([n, v]) => `${n}: ${v}`), 'transfer-encoding: chunked', 'connection: close', '', ''].join('\r\n');
      const status = await new Promise<number>((resolvePromise, reject) => {
        const socket = connect(server.port, '127.0.0.1');
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
        socket.on('error', reject);
        socket.on('close', () => resolvePromise(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
        socket.write(head + '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
      });
      assert.equal(status, 200);
      assert.equal((await send(server, 'GET', path)).body, 'hello world');
    });

    it('a Content-Length that is not a number is refused with a 400', async () => {
      // Node's parser or ours: either way a 4xx and nothing stored.
      const answer = await new Promise<string>((resolvePromise) => {
        const path = `/${BUCKET}/bad-length`;
        const signed = signedHeaders(server, 'PUT', path, {}, UNSIGNED_PAYLOAD);
        const head = [`PUT ${path} HTTP/1.1`, ...Object.entries(signed).map(([n, v]) => `${n}: ${v}`), 'content-length: ten', 'connection: close', '', ''].join('\r\n');
        const socket = connect(server.port, '127.0.0.1');
        let text = '';
        socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
        socket.on('error', () => {});
        socket.on('close', () => resolvePromise(text));
        socket.write(head + 'x');
      });
      assert.match(answer, /^HTTP\/1\.1 4\d\d /);
      assertS3Error(await send(server, 'GET', `/${BUCKET}/bad-length`), 404, 'NoSuchKey');
    });
  });

  describe('keys cannot reach outside the data directory', () => {
    const token = `tessera-escape-${randomBytes(6).toString('hex')}`;
    const passwdBefore = existsSync('/etc/passwd') ? readFileSync('/etc/passwd') : undefined;
    /** [path as sent, the key it names] */
    const keys: Array<[string, string]> = [
      [`/${BUCKET}/../../${token}/passwd`, `../../${token}/passwd`],
      [`/${BUCKET}/..%2F..%2F..%2F${token}%2Fencoded`, `../../../${token}/encoded`],
      [`/${BUCKET}/%2E%2E/%2E%2E/${token}-dots`, `../../${token}-dots`],
      [`/${BUCKET}//${token}-abs/path`, `/${token}-abs/path`],
      [`/${BUCKET}/%2F${token}-abs2%2Fpath`, `/${token}-abs2/path`],
      [`/${BUCKET}/a/../../${token}-b`, `a/../../${token}-b`],
      [`/${BUCKET}/../../../../../../../../etc/passwd`, '../../../../../../../../etc/passwd'],
      [`/${BUCKET}/..`, '..'],
      [`/${BUCKET}/.`, '.'],
      [`/${BUCKET}/blobs/../meta.db`, 'blobs/../meta.db'],
      [`/${BUCKET}/${'x'.repeat(1021)}end`, `${'x'.repeat(1021)}end`],
      [`/${BUCKET}/${encodeURIComponent('é'.repeat(512))}`, 'é'.repeat(512)],
    ];
    const contentOf = (key: string) => `content of ${JSON.stringify(key)} ${token}`;

    it('every traversal-looking key is stored as an ordinary key', async () => {
      for (const [path, key] of keys) {
        const res = await send(server, 'PUT', path, { body: contentOf(key) });
        assertOk(res);
      }
    });

    it('each reads back exactly, by the same path and by its fully encoded form', async () => {
      for (const [path, key] of keys) {
        const direct = await getBytes(server, path);
        assert.equal(direct.status, 200, path);
        assert.equal(direct.bytes.toString(), contentOf(key), path);
        const encoded = `/${BUCKET}/${encodeURIComponent(key)}`;
        const viaEncoded = await getBytes(server, encoded);
        assert.equal(viaEncoded.status, 200, encoded);
        assert.equal(viaEncoded.bytes.toString(), contentOf(key), encoded);
      }
    });

    it('the listing shows the keys verbatim', async () => {
      const res = await send(server, 'GET', `/${BUCKET}?list-type=2&encoding-type=url`);
      assertOk(res);
      const listed = new Set([...res.body.matchAll(/<Key>([^<]*)<\/Key>/g)].map((m) => decodeURIComponent(m[1]!)));
      for (const [, key] of keys) assert.ok(listed.has(key), `${key} not listed`);
    });

    it('no file was created outside the data directory, and the data directory holds only its own layout', async () => {
      const dataDir = resolve(server.dataDir);
      const bases = [dataDir, join(dataDir, 'blobs'), join(dataDir, 'blobs', '00'), join(dataDir, 'tmp'), dirname(dataDir), process.cwd(), '/'];
      for (const base of bases) {
        for (const [, key] of keys) {
          const target = resolve(base, key.replace(/^\/+/, ''));
          if (target.includes(token)) assert.ok(!existsSync(target), `${target} exists`);
          const absolute = resolve('/', key);
          if (absolute.includes(token)) assert.ok(!existsSync(absolute), `${absolute} exists`);
        }
        assert.ok(!existsSync(join(base, token)), `${join(base, token)} exists`);
      }
      assert.ok(!existsSync(join(dirname(dataDir), `${token}-b`)));
      if (passwdBefore) assert.ok(readFileSync('/etc/passwd').equals(passwdBefore), '/etc/passwd changed');

      const top = (await readdir(dataDir)).sort();
      // In cluster mode the metadata is in PostgreSQL: the shared directory has no meta.db.
      const allowed = clusterMode()
        ? /^(blobs|tmp|root-credentials\.json|master\.key)$/
        : /^(blobs|tmp|meta\.db|meta\.db-wal|meta\.db-shm|meta\.db-journal|root-credentials\.json|master\.key)$/;
      for (const name of top) assert.match(name, allowed, `unexpected entry ${name} in the data directory`);
      assert.ok(top.includes('blobs') && (clusterMode() || top.includes('meta.db')), top.join(','));
      for (const dir of await readdir(join(dataDir, 'blobs'))) {
        assert.match(dir, /^[0-9a-f]{2}$/, `unexpected blobs/${dir}`);
        for (const file of await readdir(join(dataDir, 'blobs', dir))) {
          assert.match(file, new RegExp(`^${dir}[0-9a-f]{30}$`), `unexpected blobs/${dir}/${file}`);
        }
      }
      // One node writes temp files straight into tmp/; nodes of a cluster each into tmp/<node id>/.
      const tempFile = /^[0-9a-f]{32}$/;
      for (const entry of await readdir(join(dataDir, 'tmp'), { withFileTypes: true })) {
        if (clusterMode() && entry.isDirectory()) {
          assert.match(entry.name, /^[A-Za-z0-9._]+-\d+-[0-9a-f]{8}$/, `unexpected tmp/${entry.name}`);
          for (const file of await readdir(join(dataDir, 'tmp', entry.name))) assert.match(file, tempFile, `unexpected tmp/${entry.name}/${file}`);
        } else {
          assert.match(entry.name, tempFile, `unexpected tmp/${entry.name}`);
        }
      }
    });

    it('paths that try to read outside the bucket find nothing', async () => {
      for (const path of ['/../../etc/passwd', `/${BUCKET}/../../../../../../etc/shadow`, '/%2E%2E/%2E%2E/etc/passwd', `/..%2F..%2Fetc/passwd`, '/./meta.db']) {
        const res = await send(server, 'GET', path);
        assert.ok(res.status >= 400 && res.status < 500, `${path}: ${res.status}`);
        assert.doesNotMatch(res.body, /root:.*:0:0:/, path);
        assertS3Error(res, res.status, ['NoSuchKey', 'NoSuchBucket', 'InvalidBucketName', 'InvalidURI', 'AccessDenied']);
      }
    });

    it('a percent-encoded NUL in a key is rejected with a 400, for writes and reads alike', async () => {
      for (const path of [`/${BUCKET}/nul%00key`, `/${BUCKET}/%00`, `/${BUCKET}/dir/%00/../x`]) {
        assertS3Error(await send(server, 'PUT', path, { body: 'nul' }), 400, ['InvalidArgument', 'InvalidURI']);
        assertS3Error(await send(server, 'GET', path), 400, ['InvalidArgument', 'InvalidURI']);
        assertS3Error(await send(server, 'DELETE', path), 400, ['InvalidArgument', 'InvalidURI']);
        const head = await send(server, 'HEAD', path);
        assert.equal(head.status, 400, `HEAD ${path}`);
        assert.equal(head.body, '');
      }
      assertS3Error(await send(server, 'POST', `/${BUCKET}/nul%00key?uploads`), 400, ['InvalidArgument', 'InvalidURI']);
      assertS3Error(await send(server, 'PUT', `/${BUCKET}/nul%00key`, { headers: { 'x-amz-copy-source': `/${BUCKET}/source` } }), 400, ['InvalidArgument', 'InvalidURI']);
    });

    it('a NUL in a listing parameter, an upload id or a bucket name is a 400 or a 404, never a 500 (on either metadata backend)', async () => {
      for (const query of ['prefix=a%00', 'list-type=2&start-after=%00', 'marker=x%00y', 'delimiter=%00', 'list-type=2&continuation-token=AA%3D%3D']) {
        const res = await send(server, 'GET', `/${BUCKET}?${query}`);
        assert.ok(res.status === 400 || res.status === 200, `${query}: ${res.status} ${res.body}`);
      }
      assertS3Error(await send(server, 'GET', `/${BUCKET}?prefix=a%00`), 400, ['InvalidArgument']);
      assertS3Error(await send(server, 'GET', `/${BUCKET}?uploads&key-marker=k%00`), 400, ['InvalidArgument']);
      for (const [method, path] of [
        ['GET', `/${BUCKET}/k?uploadId=%00`],
        ['PUT', `/${BUCKET}/k?uploadId=U%00&partNumber=1`],
        ['DELETE', `/${BUCKET}/k?uploadId=U%00`],
        ['GET', '/bu%00cket'],
        ['GET', '/bu%00cket/key'],
      ] as const) {
        const res = await send(server, method, path, method === 'PUT' ? { body: 'x' } : {});
        assert.ok(res.status >= 400 && res.status < 500, `${method} ${path}: ${res.status} ${res.body}`);
      }
    });
  });

  it('no response above was a 500, and the server still serves', async () => {
    assertOk(await send(server, 'PUT', `/${BUCKET}/final`, { body: 'still serving' }));
    assert.equal((await send(server, 'GET', `/${BUCKET}/final`)).body, 'still serving');
    const fives = seen.filter((r) => r.status >= 500 && r.status !== 501);
    assert.deepEqual(fives, []);
    assert.ok(seen.length > 100, `only ${seen.length} responses recorded`);
    assert.doesNotMatch(server.stdout(), /internal error/);
  });
});
