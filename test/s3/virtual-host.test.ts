/**
 * Virtual-host style addressing (`<bucket>.<domain>`) over raw HTTP. There is no DNS
 * here, so requests go to 127.0.0.1 with the Host header a client would send, signed
 * for that host, and must reach the same buckets and objects as path style.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { presignUrl, sha256Hex, signRequest } from '../../src/dialects/s3/sigv4.js';
import { rawRequest, verbatimUrl, type RawResponse } from '../helpers/raw.js';
import { assertOk, assertS3Error, requestIdOf } from '../helpers/assertions.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';

const DOMAIN = 's3.local';
const BUCKET = 'vhost-bucket';
const ROOT = { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY };

const xml = new XMLParser({ parseTagValue: false, ignoreAttributes: true, isArray: (name) => name === 'Contents' });

describe('S3 virtual-host style addressing (raw HTTP)', () => {
  let server: TestServer;
  /** `<bucket>.s3.local:<port>`, or the bare domain, or 127.0.0.1 for path style. */
  let hostFor: (bucket?: string) => string;
  let pathHost: string;

  /** Signs for `host` (our signer only reads these URL fields) and sends to 127.0.0.1 with that Host header. */
  async function send(
    host: string,
    method: string,
    pathAndQuery: string,
    options: { body?: string | Buffer; headers?: Record<string, string>; sendHost?: string } = {},
  ): Promise<RawResponse> {
    const body = options.body ?? '';
    const url = verbatimUrl(host, pathAndQuery);
    const base = { host, ...options.headers };
    const added = signRequest({ method, url, headers: base, payloadHash: sha256Hex(body), credentials: ROOT, region: 'us-east-1' });
    const headers = { ...base, ...added, 'content-length': String(Buffer.byteLength(body)) };
    if (options.sendHost) headers.host = options.sendHost;
    return rawRequest(server.url, { method, path: pathAndQuery, headers, body });
  }

  const vhost = (bucket: string, method: string, path: string, options?: Parameters<typeof send>[3]) => send(hostFor(bucket), method, path, options);
  const pathStyle = (method: string, path: string, options?: Parameters<typeof send>[3]) => send(pathHost, method, path, options);

  function listedKeys(res: RawResponse): string[] {
    const result = (xml.parse(res.body) as { ListBucketResult: { Contents?: Array<{ Key: string }> } }).ListBucketResult;
    return (result.Contents ?? []).map((c) => c.Key);
  }

  before(async () => {
    server = await startServer({ extraArgs: ['--domain', DOMAIN] });
    hostFor = (bucket?: string) => (bucket ? `${bucket}.${DOMAIN}:${server.port}` : `${DOMAIN}:${server.port}`);
    pathHost = `127.0.0.1:${server.port}`;
  });

  after(async () => {
    await server?.cleanup();
  });

  it('CreateBucket through the bucket host creates the bucket path style sees', async () => {
    assertOk(await vhost(BUCKET, 'PUT', '/'));
    assertOk(await pathStyle('HEAD', `/${BUCKET}`));
    assertOk(await vhost(BUCKET, 'HEAD', '/'));
    const buckets = await pathStyle('GET', '/');
    assertOk(buckets);
    assert.match(buckets.body, new RegExp(`<Name>${BUCKET}</Name>`));
    // Creating it again either way is the same bucket.
    assertS3Error(await pathStyle('PUT', `/${BUCKET}`), 409, 'BucketAlreadyOwnedByYou');
  });

  it('an object put through the bucket host is read path style, and the other way round', async () => {
    const first = 'written virtual-host style';
    const put = await vhost(BUCKET, 'PUT', '/dir/one.txt', { body: first, headers: { 'content-type': 'text/plain', 'x-amz-meta-via': 'vhost' } });
    assertOk(put);
    assert.equal(put.headers.etag, `"${createHash('md5').update(first).digest('hex')}"`);
    const got = await pathStyle('GET', `/${BUCKET}/dir/one.txt`);
    assertOk(got);
    assert.equal(got.body, first);
    assert.equal(got.headers['content-type'], 'text/plain');
    assert.equal(got.headers['x-amz-meta-via'], 'vhost');

    const second = 'written path style';
    assertOk(await pathStyle('PUT', `/${BUCKET}/dir/two.txt`, { body: second }));
    const back = await vhost(BUCKET, 'GET', '/dir/two.txt');
    assertOk(back);
    assert.equal(back.body, second);
    // A ranged GET through the bucket host.
    const ranged = await vhost(BUCKET, 'GET', '/dir/two.txt', { headers: { range: 'bytes=0-6' } });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.body, 'written');
  });

  it('keys with encoded slashes, spaces and dot segments name the same object either way', async () => {
    const cases: Array<[string, string]> = [
      ['/a%2Fb%20c.txt', `/${BUCKET}/a/b%20c.txt`],
      ['/x/../y', `/${BUCKET}/x/../y`],
      ['/%C3%A9t%C3%A9+plus', `/${BUCKET}/%C3%A9t%C3%A9+plus`],
    ];
    for (const [vpath, ppath] of cases) {
      assertOk(await vhost(BUCKET, 'PUT', vpath, { body: `body of ${vpath}` }));
      const read = await pathStyle('GET', ppath);
      assertOk(read);
      assert.equal(read.body, `body of ${vpath}`, ppath);
    }
  });

  it('ListObjects (v1 and v2) through the bucket host lists what path style wrote', async () => {
    const v2 = await vhost(BUCKET, 'GET', '/?list-type=2&prefix=dir%2F');
    assertOk(v2);
    assert.match(v2.body, new RegExp(`<Name>${BUCKET}</Name>`));
    assert.deepEqual(listedKeys(v2), ['dir/one.txt', 'dir/two.txt']);
    const v1 = await vhost(BUCKET, 'GET', '/?prefix=dir/');
    assertOk(v1);
    assert.deepEqual(listedKeys(v1), ['dir/one.txt', 'dir/two.txt']);
    const all = await vhost(BUCKET, 'GET', '/?list-type=2');
    const pathAll = await pathStyle('GET', `/${BUCKET}?list-type=2`);
    assert.deepEqual(listedKeys(all), listedKeys(pathAll));
    assert.ok(listedKeys(all).includes('a/b c.txt'));
  });

  it('a multipart upload runs through the bucket host and completes into the same object', async () => {
    const created = await vhost(BUCKET, 'POST', '/big.bin?uploads');
    assertOk(created);
    const uploadId = (xml.parse(created.body) as { InitiateMultipartUploadResult: { UploadId: string; Bucket: string } }).InitiateMultipartUploadResult;
    assert.equal(uploadId.Bucket, BUCKET);
    const part = await vhost(BUCKET, 'PUT', `/big.bin?partNumber=1&uploadId=${uploadId.UploadId}`, { body: 'only part' });
    assertOk(part);
    // Path style sees the same upload.
    const parts = await pathStyle('GET', `/${BUCKET}/big.bin?uploadId=${uploadId.UploadId}`);
    assertOk(parts);
    assert.match(parts.body, /<PartNumber>1<\/PartNumber>/);
    const complete = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${String(part.headers.etag)}</ETag></Part></CompleteMultipartUpload>`;
    assertOk(await vhost(BUCKET, 'POST', `/big.bin?uploadId=${uploadId.UploadId}`, { body: complete }));
    assert.equal((await pathStyle('GET', `/${BUCKET}/big.bin`)).body, 'only part');
  });

  it('CopyObject through the bucket host copies within the bucket', async () => {
    const copy = await vhost(BUCKET, 'PUT', '/copied.txt', { headers: { 'x-amz-copy-source': `/${BUCKET}/dir/one.txt` } });
    assertOk(copy);
    assert.equal((await pathStyle('GET', `/${BUCKET}/copied.txt`)).body, 'written virtual-host style');
  });

  it('a bucket name with dots is the whole label run before the domain', async () => {
    assertOk(await vhost('my.dotted.bucket', 'PUT', '/'));
    assertOk(await vhost('my.dotted.bucket', 'PUT', '/k', { body: 'dotted' }));
    assert.equal((await pathStyle('GET', '/my.dotted.bucket/k')).body, 'dotted');
  });

  it('the Host header is matched case-insensitively', async () => {
    const res = await send(`VHOST-Bucket.S3.Local:${server.port}`, 'GET', '/dir/one.txt');
    assertOk(res);
    assert.equal(res.body, 'written virtual-host style');
  });

  it('the bare domain, and hosts outside the domain, are path style', async () => {
    const bare = await send(hostFor(), 'GET', `/${BUCKET}/dir/two.txt`);
    assertOk(bare);
    assert.equal(bare.body, 'written path style');
    const other = await send(`${BUCKET}.elsewhere.example:${server.port}`, 'GET', `/${BUCKET}/dir/two.txt`);
    assertOk(other);
    assert.equal(other.body, 'written path style');
    // On the bare domain, GET / lists buckets.
    const list = await send(hostFor(), 'GET', '/');
    assertOk(list);
    assert.match(list.body, /<ListAllMyBucketsResult/);
  });

  it('errors through the bucket host: NoSuchKey, NoSuchBucket, InvalidBucketName', async () => {
    const missing = assertS3Error(await vhost(BUCKET, 'GET', '/no-such-key'), 404, 'NoSuchKey');
    assert.equal(missing.Key, 'no-such-key');
    const noBucket = assertS3Error(await vhost('no-such-bucket', 'GET', '/?list-type=2'), 404, 'NoSuchBucket');
    assert.equal(noBucket.BucketName, 'no-such-bucket');
    assertS3Error(await vhost('no-such-bucket', 'PUT', '/k', { body: 'x' }), 404, 'NoSuchBucket');
    assertS3Error(await vhost('bad_name', 'PUT', '/'), 400, 'InvalidBucketName');
    assertS3Error(await vhost('ab', 'PUT', '/'), 400, 'InvalidBucketName');
    const head = await vhost('no-such-bucket', 'HEAD', '/');
    assert.equal(head.status, 404);
    assert.equal(head.body, '');
    requestIdOf(head);
  });

  it('a request signed for one bucket host and sent to another is SignatureDoesNotMatch', async () => {
    assertOk(await pathStyle('PUT', '/victim-bucket'));
    assertOk(await pathStyle('PUT', '/victim-bucket/k', { body: 'victim' }));
    const res = await vhost(BUCKET, 'DELETE', '/k', { sendHost: hostFor('victim-bucket') });
    assertS3Error(res, 403, 'SignatureDoesNotMatch');
    assert.equal((await pathStyle('GET', '/victim-bucket/k')).body, 'victim');
  });

  it('an unsigned request through the bucket host is AccessDenied', async () => {
    const res = await rawRequest(server.url, { method: 'GET', path: '/dir/one.txt', headers: { host: hostFor(BUCKET) } });
    assertS3Error(res, 403, 'AccessDenied');
  });

  it('a presigned URL for the bucket host works, and not for another bucket', async () => {
    const url = new URL(
      presignUrl({
        method: 'GET',
        url: new URL(`http://${hostFor(BUCKET)}/dir/one.txt`),
        credentials: ROOT,
        region: 'us-east-1',
        expiresSeconds: 300,
      }),
    );
    const path = url.pathname + url.search;
    const ok = await rawRequest(server.url, { method: 'GET', path, headers: { host: hostFor(BUCKET) } });
    assertOk(ok);
    assert.equal(ok.body, 'written virtual-host style');
    const moved = await rawRequest(server.url, { method: 'GET', path, headers: { host: hostFor('victim-bucket') } });
    assertS3Error(moved, 403, 'SignatureDoesNotMatch');
  });

  it('DeleteObject through the bucket host removes the object path style sees, and the server keeps serving', async () => {
    assertOk(await vhost(BUCKET, 'DELETE', '/dir/two.txt'), 204);
    assertS3Error(await pathStyle('GET', `/${BUCKET}/dir/two.txt`), 404, 'NoSuchKey');
    const listing = await vhost(BUCKET, 'GET', '/?list-type=2&prefix=dir/');
    assert.deepEqual(listedKeys(listing), ['dir/one.txt']);
    assert.doesNotMatch(server.stdout(), /internal error/);
  });
});
