import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { crc64, crc64Combine } from '../../src/core/crc64.js';
import { v1PresignUrl, v4PresignUrl } from '../../src/dialects/oss/signing.js';
import { rawRequest, type RawResponse } from '../helpers/raw.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';
import { assertOssError, md5Hex, multipartEtag, ossRequest, xmlValue, type OssRawRequest, type Signature } from './helpers.js';

const KB = 1024;
const BUCKET = 'oss-errors';

let server: TestServer;
let host: string;

before(async () => {
  server = await startServer();
  host = `127.0.0.1:${server.port}`;
  assert.equal((await ossRequest(server, { method: 'PUT', bucket: BUCKET })).status, 200);
});

after(async () => {
  await server?.cleanup();
});

const send = (request: OssRawRequest) => ossRequest(server, { bucket: BUCKET, ...request });

async function put(key: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<RawResponse> {
  return send({ method: 'PUT', key, body, headers });
}

async function initiate(key: string): Promise<string> {
  const res = await send({ method: 'POST', key, query: [['uploads', '']] });
  assert.equal(res.status, 200, res.body);
  return xmlValue(res.body, 'UploadId')!;
}

async function uploadPart(key: string, uploadId: string, partNumber: number, body: Buffer): Promise<RawResponse> {
  return send({ method: 'PUT', key, body, query: [['partNumber', String(partNumber)], ['uploadId', uploadId]] });
}

function completeBody(parts: Array<[number, string]>): string {
  return `<CompleteMultipartUpload>${parts.map(([n, etag]) => `<Part><PartNumber>${n}</PartNumber><ETag>${etag}</ETag></Part>`).join('')}</CompleteMultipartUpload>`;
}

function complete(key: string, uploadId: string, body: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return send({ method: 'POST', key, body, headers, query: [['uploadId', uploadId]] });
}

const contentMd5 = (data: string | Buffer) => createHash('md5').update(data).digest('base64');

describe('OSS answers: headers, ETags, status codes', () => {
  it('PutObject: x-oss-request-id, upper-case quoted ETag, Content-MD5 and CRC-64 of the body', async () => {
    const body = randomBytes(5000);
    const res = await put('answers/put.bin', body);
    assert.equal(res.status, 200);
    assert.match(String(res.headers['x-oss-request-id']), /^[0-9A-F]{24}$/);
    assert.equal(res.headers.etag, `"${md5Hex(body).toUpperCase()}"`);
    assert.equal(res.headers['content-md5'], contentMd5(body));
    assert.equal(res.headers['x-oss-hash-crc64ecma'], crc64(body).toString());
    const got = await send({ key: 'answers/put.bin' });
    assert.equal(got.headers['x-oss-object-type'], 'Normal');
    assert.equal(got.headers['x-oss-storage-class'], 'Standard');
    assert.equal(got.headers['x-oss-hash-crc64ecma'], crc64(body).toString());
    assert.equal(got.headers['content-type'], 'application/octet-stream');
  });

  it('UploadPart and Complete: ETag and a CRC-64 combined from the parts; Abort answers 204', async () => {
    const key = 'answers/multipart.bin';
    const parts = [randomBytes(100 * KB), randomBytes(3 * KB)];
    const uploadId = await initiate(key);
    const etags: string[] = [];
    for (const [index, part] of parts.entries()) {
      const res = await uploadPart(key, uploadId, index + 1, part);
      assert.equal(res.status, 200);
      assert.equal(res.body, '');
      assert.equal(res.headers.etag, `"${md5Hex(part).toUpperCase()}"`);
      assert.equal(res.headers['x-oss-hash-crc64ecma'], crc64(part).toString());
      etags.push(res.headers.etag as string);
    }
    const done = await complete(key, uploadId, completeBody([[1, etags[0]!], [2, etags[1]!]]));
    assert.equal(done.status, 200, done.body);
    const whole = Buffer.concat(parts);
    const combined = crc64Combine(crc64(parts[0]!), crc64(parts[1]!), parts[1]!.length);
    assert.equal(combined, crc64(whole));
    assert.equal(done.headers['x-oss-hash-crc64ecma'], crc64(whole).toString());
    assert.equal(done.headers.etag, xmlValue(done.body, 'ETag'));
    assert.match(String(done.headers.etag), /^"[0-9A-F]{32}-2"$/);
    assert.equal(xmlValue(done.body, 'Key'), key);
    const head = await send({ method: 'HEAD', key });
    assert.equal(head.headers['x-oss-object-type'], 'Multipart');
    assert.equal(head.headers['x-oss-hash-crc64ecma'], crc64(whole).toString());

    const other = await initiate(key);
    const abort = await send({ method: 'DELETE', key, query: [['uploadId', other]] });
    assert.equal(abort.status, 204);
    assert.equal(abort.body, '');
  });
});

describe('OSS error documents', () => {
  it('NoSuchBucket: Code, Message, RequestId (the response id), HostId (the Host used), BucketName', async () => {
    const res = await ossRequest(server, { bucket: 'no-such-bucket', key: 'k' });
    assertOssError(res, 404, 'NoSuchBucket', host);
    assert.equal(xmlValue(res.body, 'BucketName'), 'no-such-bucket');
    assert.doesNotMatch(res.body, /xmlns/);
  });

  it('NoSuchKey on GET; on HEAD no body, the document base64-encoded in x-oss-err', async () => {
    assertOssError(await send({ key: 'missing.txt' }), 404, 'NoSuchKey', host);
    const head = await send({ method: 'HEAD', key: 'missing.txt' });
    assert.equal(head.status, 404);
    assert.equal(head.body, '');
    const decoded = Buffer.from(String(head.headers['x-oss-err']), 'base64').toString('utf8');
    assert.equal(xmlValue(decoded, 'Code'), 'NoSuchKey');
    assert.equal(xmlValue(decoded, 'RequestId'), head.headers['x-oss-request-id']);
  });

  it('NoSuchUpload carries the UploadId', async () => {
    const bogus = '0123456789ABCDEF0123456789ABCDEF';
    for (const res of [
      await send({ key: 'k', query: [['uploadId', bogus]] }),
      await uploadPart('k', bogus, 1, Buffer.from('x')),
      await complete('k', bogus, completeBody([[1, '"00"']])),
      await send({ method: 'DELETE', key: 'k', query: [['uploadId', bogus]] }),
    ]) {
      assertOssError(res, 404, 'NoSuchUpload', host);
      assert.equal(xmlValue(res.body, 'UploadId'), bogus);
      assert.match(xmlValue(res.body, 'Message')!, /The specified upload does not exist/);
    }
  });

  it('InvalidArgument names the argument and its value (part numbers outside 1..10000, bad max-parts)', async () => {
    const uploadId = await initiate('args.bin');
    for (const number of ['0', '10001']) {
      const res = await send({ method: 'PUT', key: 'args.bin', body: 'x', query: [['partNumber', number], ['uploadId', uploadId]] });
      assertOssError(res, 400, 'InvalidArgument', host);
      assert.equal(xmlValue(res.body, 'ArgumentName'), 'partNumber');
      assert.equal(xmlValue(res.body, 'ArgumentValue'), number);
    }
    const res = await send({ key: 'args.bin', query: [['uploadId', uploadId], ['max-parts', 'many']] });
    assertOssError(res, 400, 'InvalidArgument', host);
    assert.equal(xmlValue(res.body, 'ArgumentName'), 'max-parts');
    assert.equal(xmlValue(res.body, 'ArgumentValue'), 'many');
  });

  it('FileAlreadyExists: x-oss-forbid-overwrite on PutObject, CopyObject and Complete leaves everything as it was', async () => {
    assert.equal((await put('forbid/existing.txt', 'first')).status, 200);
    const forbid = { 'x-oss-forbid-overwrite': 'true' };
    assertOssError(await put('forbid/existing.txt', 'second', forbid), 409, 'FileAlreadyExists', host);
    assert.equal((await send({ key: 'forbid/existing.txt' })).body, 'first');
    assert.equal((await put('forbid/new.txt', 'new', forbid)).status, 200, 'a new key is fine');
    assert.equal((await put('forbid/existing.txt', 'third', { 'x-oss-forbid-overwrite': 'false' })).status, 200);

    const copy = await send({ method: 'PUT', key: 'forbid/new.txt', headers: { ...forbid, 'x-oss-copy-source': `/${BUCKET}/forbid/existing.txt` } });
    assertOssError(copy, 409, 'FileAlreadyExists', host);
    assert.equal((await send({ key: 'forbid/new.txt' })).body, 'new');

    const uploadId = await initiate('forbid/existing.txt');
    const part = await uploadPart('forbid/existing.txt', uploadId, 1, Buffer.from('multipart'));
    const res = await complete('forbid/existing.txt', uploadId, completeBody([[1, part.headers.etag as string]]), forbid);
    assertOssError(res, 409, 'FileAlreadyExists', host);
    assert.equal((await send({ key: 'forbid/existing.txt' })).body, 'third');
    assert.equal((await send({ key: 'forbid/existing.txt', query: [['uploadId', uploadId]] })).status, 200, 'the upload is still open');
  });

  it('EntityTooSmall: a part under 100 KB that is not the last, found at Complete', async () => {
    const uploadId = await initiate('small.bin');
    const first = await uploadPart('small.bin', uploadId, 1, randomBytes(100 * KB - 1));
    const second = await uploadPart('small.bin', uploadId, 2, randomBytes(10));
    assert.equal(first.status, 200, 'UploadPart does not check the size');
    const res = await complete('small.bin', uploadId, completeBody([[1, first.headers.etag as string], [2, second.headers.etag as string]]));
    assertOssError(res, 400, 'EntityTooSmall', host);
    assert.equal(xmlValue(res.body, 'UploadId'), uploadId);
  });

  it('InvalidPartOrder, InvalidPart and MalformedXML at Complete', async () => {
    const uploadId = await initiate('order.bin');
    const one = (await uploadPart('order.bin', uploadId, 1, randomBytes(100 * KB))).headers.etag as string;
    const two = (await uploadPart('order.bin', uploadId, 2, randomBytes(100))).headers.etag as string;
    assertOssError(await complete('order.bin', uploadId, completeBody([[2, two], [1, one]])), 400, 'InvalidPartOrder', host);
    const wrong = await complete('order.bin', uploadId, completeBody([[1, one], [2, '"0123456789ABCDEF0123456789ABCDEF"']]));
    assertOssError(wrong, 400, 'InvalidPart', host);
    assert.match(xmlValue(wrong.body, 'Message')!, /could not be found or the specified entity tag/);
    assertOssError(await complete('order.bin', uploadId, completeBody([[1, one], [3, two]])), 400, 'InvalidPart', host);
    assertOssError(await complete('order.bin', uploadId, '<CompleteMultipartUpload><Part>'), 400, 'MalformedXML', host);
    // Go's XML encoder sends the quotes as &#34;, lower-case ETags are the same ETags, and gaps are allowed.
    const goStyle = completeBody([[1, one.replace(/"/g, '&#34;').toLowerCase()], [2, two]]);
    assert.equal((await complete('order.bin', uploadId, goStyle)).status, 200);
  });

  it('a part number listed twice in a row at Complete counts once, by its last entry; listed again after a higher one is InvalidPartOrder', async () => {
    const key = 'repeated.bin';
    const uploadId = await initiate(key);
    const replaced = (await uploadPart(key, uploadId, 1, randomBytes(100 * KB))).headers.etag as string;
    const stored = randomBytes(100 * KB + 1);
    const last = randomBytes(10);
    const one = (await uploadPart(key, uploadId, 1, stored)).headers.etag as string;
    const two = (await uploadPart(key, uploadId, 2, last)).headers.etag as string;
    assertOssError(await complete(key, uploadId, completeBody([[1, one], [2, two], [1, one]])), 400, 'InvalidPartOrder', host);
    assertOssError(await complete(key, uploadId, completeBody([[1, one], [1, replaced], [2, two]])), 400, 'InvalidPart', host);
    const done = await complete(key, uploadId, completeBody([[1, replaced], [1, one], [2, two]]));
    assert.equal(done.status, 200, done.body);
    assert.equal(xmlValue(done.body, 'ETag'), multipartEtag([stored, last]));
    assert.equal(done.headers['x-oss-hash-crc64ecma'], crc64(Buffer.concat([stored, last])).toString());
    const got = await send({ key });
    assert.equal(got.headers.etag, multipartEtag([stored, last]));
    assert.equal(got.headers['content-length'], String(stored.length + last.length));
  });

  it('InvalidDigest: a Content-MD5 that does not match, or is not an MD5, and nothing is stored', async () => {
    const wrong = await put('digest.txt', 'payload', { 'content-md5': contentMd5('other') });
    assertOssError(wrong, 400, 'InvalidDigest', host);
    assert.equal(xmlValue(wrong.body, 'Message'), 'The Content-MD5 you specified was invalid.');
    assertOssError(await put('digest.txt', 'payload', { 'content-md5': 'not-an-md5' }), 400, 'InvalidDigest', host);
    assertOssError(await send({ key: 'digest.txt' }), 404, 'NoSuchKey', host);
    assert.equal((await put('digest.txt', 'payload', { 'content-md5': contentMd5('payload') })).status, 200);

    const uploadId = await initiate('digest-part.bin');
    const part = await send({
      method: 'PUT',
      key: 'digest-part.bin',
      body: 'part',
      headers: { 'content-md5': contentMd5('trap') },
      query: [['partNumber', '1'], ['uploadId', uploadId]],
    });
    assertOssError(part, 400, 'InvalidDigest', host);
    const parts = await send({ key: 'digest-part.bin', query: [['uploadId', uploadId]] });
    assert.equal(xmlValue(parts.body, 'Part'), undefined, 'the part was not kept');
  });

  it('x-oss-complete-all: yes completes with every part in order; a body with it is refused', async () => {
    const uploadId = await initiate('all.bin');
    // Text parts, so the raw helper's string body can be compared.
    const text = (bytes: number) => Buffer.from(randomBytes(bytes / 2).toString('hex'));
    const parts = [text(100 * KB), text(100 * KB), text(8)];
    for (const [index, part] of [...parts.entries()].reverse()) await uploadPart('all.bin', uploadId, index + 1, part);
    const withBody = await complete('all.bin', uploadId, completeBody([[1, '"x"']]), { 'x-oss-complete-all': 'yes' });
    assertOssError(withBody, 400, 'InvalidArgument', host);
    assert.equal(xmlValue(withBody.body, 'ArgumentName'), 'x-oss-complete-all');
    const res = await complete('all.bin', uploadId, '', { 'x-oss-complete-all': 'yes' });
    assert.equal(res.status, 200, res.body);
    const got = await send({ key: 'all.bin' });
    assert.equal(got.body, Buffer.concat(parts).toString());
    assert.equal(got.headers['x-oss-hash-crc64ecma'], crc64(Buffer.concat(parts)).toString());
  });
});

describe('OSS authentication', () => {
  for (const signature of ['v1', 'v4'] as Signature[]) {
    it(`${signature}: a request signed for one key and sent for another is SignatureDoesNotMatch, with what OSS shows`, async () => {
      assert.equal((await put(`auth/${signature}.txt`, 'x', {})).status, 200);
      const ok = await send({ key: `auth/${signature}.txt`, signature });
      assert.equal(ok.status, 200, ok.body);
      assert.equal(ok.body, 'x');
      const tampered = await send({ key: `auth/${signature}.txt`, signature, path: `/${BUCKET}/auth/other.txt` });
      assertOssError(tampered, 403, 'SignatureDoesNotMatch', host);
      assert.equal(xmlValue(tampered.body, 'OSSAccessKeyId'), ROOT_ACCESS_KEY);
      const provided = xmlValue(tampered.body, 'SignatureProvided')!;
      assert.ok(provided.length > 0);
      const stringToSign = xmlValue(tampered.body, 'StringToSign')!;
      // The server shows the string it signed: the resource it saw, not the one we signed.
      assert.match(stringToSign, signature === 'v1' ? /\/oss-errors\/auth\/other\.txt$/ : /^OSS4-HMAC-SHA256\n/);
      assert.match(xmlValue(tampered.body, 'StringToSignBytes')!, /^[0-9a-f]{2}( [0-9a-f]{2})*$/);
    });

    it(`${signature}: a wrong secret, an unknown key and a clock 20 minutes off are refused`, async () => {
      const wrongSecret = await send({ key: 'auth/x', signature, credentials: { accessKeyId: ROOT_ACCESS_KEY, secret: 'wrong' } });
      assertOssError(wrongSecret, 403, 'SignatureDoesNotMatch', host);
      const unknown = await send({ key: 'auth/x', signature, credentials: { accessKeyId: 'nobody', secret: 'x' } });
      assertOssError(unknown, 403, 'InvalidAccessKeyId', host);
      assert.equal(xmlValue(unknown.body, 'OSSAccessKeyId'), 'nobody');
      const skewed = await send({ key: 'auth/x', signature, now: new Date(Date.now() - 20 * 60 * 1000) });
      assertOssError(skewed, 403, 'RequestTimeTooSkewed', host);
      const ahead = await send({ key: 'auth/x', signature, now: new Date(Date.now() + 20 * 60 * 1000) });
      assertOssError(ahead, 403, 'RequestTimeTooSkewed', host);
    });
  }

  it('V1 with x-oss-date instead of Date (as ali-oss signs) is accepted', async () => {
    const res = await send({ key: 'auth/v1.txt', headers: { 'x-oss-date': new Date().toUTCString() } });
    assert.equal(res.status, 200, res.body);
  });

  it('presigned URLs: V1 and V4 work until they expire; an expired one is AccessDenied', async () => {
    const target = { endpointUrl: server.url, bucket: BUCKET, key: 'auth/v1.txt', accessKeyId: ROOT_ACCESS_KEY, secret: ROOT_SECRET_KEY };
    const now = Math.floor(Date.now() / 1000);
    const fresh = [
      v1PresignUrl({ ...target, method: 'GET', expiresUnix: now + 300 }),
      v4PresignUrl({ ...target, method: 'GET', region: 'cn-hangzhou', expiresSeconds: 300 }),
    ];
    for (const url of fresh) {
      const res = await rawRequest(url, {});
      assert.equal(res.status, 200, res.body);
      assert.equal(res.body, 'x');
      assert.ok(res.headers['x-oss-request-id'], 'served by the OSS dialect');
    }
    const expired = [
      v1PresignUrl({ ...target, method: 'GET', expiresUnix: now - 60 }),
      v4PresignUrl({ ...target, method: 'GET', region: 'cn-hangzhou', expiresSeconds: 60, now: new Date(Date.now() - 3600 * 1000) }),
    ];
    for (const url of expired) {
      const res = await rawRequest(url, {});
      assertOssError(res, 403, 'AccessDenied', host);
      assert.match(xmlValue(res.body, 'Message')!, /expired/);
    }
    const tampered = v1PresignUrl({ ...target, method: 'GET', expiresUnix: now + 300 }).replace(/Expires=\d+/, `Expires=${now + 3000}`);
    assertOssError(await rawRequest(tampered, {}), 403, 'SignatureDoesNotMatch', host);
  });

  it('a V1 presigned URL without OSSAccessKeyId (Expires and Signature only) gets an OSS AccessDenied naming it, with x-oss-request-id', async () => {
    const target = { endpointUrl: server.url, bucket: BUCKET, key: 'auth/v1.txt', accessKeyId: ROOT_ACCESS_KEY, secret: ROOT_SECRET_KEY };
    const signed = new URL(v1PresignUrl({ ...target, method: 'GET', expiresUnix: Math.floor(Date.now() / 1000) + 300 }));
    signed.searchParams.delete('OSSAccessKeyId');
    assert.deepEqual([...signed.searchParams.keys()].sort(), ['Expires', 'Signature']);
    for (const url of [signed.toString(), `${signed.toString()}&OSSAccessKeyId=`]) {
      const res = await rawRequest(url, {});
      assertOssError(res, 403, 'AccessDenied', host);
      assert.match(xmlValue(res.body, 'Message')!, /OSSAccessKeyId/);
    }
  });

  it("a browser's preflight for an OSS request (it names x-oss-* headers) gets OSS's answers: 400 without an Origin, else 403 AccessForbidden", async () => {
    const asks = { 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type,x-oss-date,x-oss-content-sha256' };
    const noOrigin = await rawRequest(server.url, { method: 'OPTIONS', path: `/${BUCKET}/object`, headers: asks });
    assertOssError(noOrigin, 400, 'BadRequest', host);
    const withOrigin = await rawRequest(server.url, { method: 'OPTIONS', path: `/${BUCKET}/object`, headers: { origin: 'https://app.example', ...asks } });
    assertOssError(withOrigin, 403, 'AccessForbidden', host);
    assert.equal(xmlValue(withOrigin.body, 'Message'), 'CORSResponse: CORS is not enabled for this bucket.');
  });

  it('an unsigned request that speaks OSS (x-oss-* header) gets an OSS AccessDenied', async () => {
    const res = await rawRequest(`${server.url}/${BUCKET}/auth/v1.txt`, { headers: { 'x-oss-date': new Date().toUTCString() } });
    assertOssError(res, 403, 'AccessDenied', host);
  });
});
