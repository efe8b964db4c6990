import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { signedRequest } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { assertOssError, ossRequest, xmlValue, xmlValues, type OssRawRequest } from './helpers.js';

const BUCKET = 'oss-protocol';

let server: TestServer;

before(async () => {
  server = await startServer({ extraArgs: ['--domain', 'oss.test'] });
  assert.equal((await ossRequest(server, { method: 'PUT', bucket: BUCKET })).status, 200);
});

after(async () => {
  await server?.cleanup();
});

const send = (request: OssRawRequest) => ossRequest(server, { bucket: BUCKET, ...request });

async function initiate(key: string): Promise<string> {
  const res = await send({ method: 'POST', key, query: [['uploads', '']] });
  assert.equal(res.status, 200, res.body);
  return xmlValue(res.body, 'UploadId')!;
}

describe('OSS listing rules', () => {
  const key = 'enc/a+b c/d.txt';
  const encoded = 'enc%2Fa%2Bb%20c%2Fd.txt';

  it('encoding-type=url on ListObjects, ListParts and ListMultipartUploads: + as %2B, / as %2F, space as %20', async () => {
    assert.equal((await send({ method: 'PUT', key, body: 'x' })).status, 200);
    const objects = await send({ query: [['prefix', 'enc/'], ['encoding-type', 'url']] });
    assert.equal(objects.status, 200);
    assert.deepEqual(xmlValues(objects.body, 'Key'), [encoded]);
    assert.equal(xmlValue(objects.body, 'Prefix'), 'enc%2F');
    assert.equal(xmlValue(objects.body, 'EncodingType'), 'url');
    const plain = await send({ query: [['prefix', 'enc/']] });
    assert.deepEqual(xmlValues(plain.body, 'Key'), [key]);
    assert.equal(xmlValue(plain.body, 'EncodingType'), undefined);

    const uploadId = await initiate(key);
    const parts = await send({ key, query: [['uploadId', uploadId], ['encoding-type', 'url'], ['part-number-marker', '0']] });
    assert.equal(parts.status, 200, parts.body);
    assert.equal(xmlValue(parts.body, 'Key'), encoded);
    assert.equal(xmlValue(parts.body, 'PartNumberMarker'), '0');
    assert.equal(xmlValue(parts.body, 'NextPartNumberMarker'), '0', 'never empty');
    const uploads = await send({ query: [['uploads', ''], ['prefix', 'enc/a+b'], ['encoding-type', 'url']] });
    assert.deepEqual(xmlValues(uploads.body, 'Key'), [encoded]);
    assert.equal(xmlValue(uploads.body, 'Prefix'), 'enc%2Fa%2Bb');
    assert.equal(xmlValue(uploads.body, 'EncodingType'), 'url');
    assert.equal((await send({ method: 'DELETE', key, query: [['uploadId', uploadId]] })).status, 204);
  });

  it('ListObjectsV2: an empty continuation-token is no token', async () => {
    for (const key of ['ct/a', 'ct/b', 'ct/c']) assert.equal((await send({ method: 'PUT', key, body: key })).status, 200);
    const fromStart = await send({ query: [['list-type', '2'], ['prefix', 'ct/'], ['continuation-token', '']] });
    assert.equal(fromStart.status, 200, fromStart.body);
    assert.deepEqual(xmlValues(fromStart.body, 'Key'), ['ct/a', 'ct/b', 'ct/c']);
    const afterA = await send({ query: [['list-type', '2'], ['prefix', 'ct/'], ['continuation-token', ''], ['start-after', 'ct/a']] });
    assert.equal(afterA.status, 200, afterA.body);
    assert.deepEqual(xmlValues(afterA.body, 'Key'), ['ct/b', 'ct/c']);
  });

  it('GET ?uploads takes `marker` as the key-marker when key-marker is missing (ossutil v1 paging)', async () => {
    const ids = [await initiate('m/1'), await initiate('m/2'), await initiate('m/3')];
    const keys = async (query: Array<[string, string]>) =>
      xmlValues((await send({ query: [['uploads', ''], ['prefix', 'm/'], ...query] })).body, 'Key');
    assert.deepEqual(await keys([]), ['m/1', 'm/2', 'm/3']);
    assert.deepEqual(await keys([['marker', 'm/1']]), ['m/2', 'm/3']);
    assert.deepEqual(await keys([['marker', 'm/1'], ['key-marker', 'm/2']]), ['m/3'], 'key-marker wins');
    const page = await send({ query: [['uploads', ''], ['prefix', 'm/'], ['max-uploads', '2']] });
    assert.equal(xmlValue(page.body, 'IsTruncated'), 'true');
    assert.equal(xmlValue(page.body, 'NextKeyMarker'), 'm/2');
    assert.equal(xmlValue(page.body, 'NextUploadIdMarker'), ids[1]);
    for (const [index, id] of ids.entries()) await send({ method: 'DELETE', key: `m/${index + 1}`, query: [['uploadId', id]] });
  });

  it('ListObjects pages with marker/NextMarker and ListObjectsV2 with continuation tokens; delimiters group', async () => {
    for (const name of ['p/1', 'p/2', 'p/3', 'p/sub/4']) assert.equal((await send({ method: 'PUT', key: name, body: name })).status, 200);
    const v1 = await send({ query: [['prefix', 'p/'], ['delimiter', '/'], ['max-keys', '2']] });
    assert.deepEqual(xmlValues(v1.body, 'Key'), ['p/1', 'p/2']);
    assert.equal(xmlValue(v1.body, 'IsTruncated'), 'true');
    assert.equal(xmlValue(v1.body, 'NextMarker'), 'p/2');
    assert.deepEqual(xmlValues(v1.body, 'Type'), ['Normal', 'Normal']);
    const v1next = await send({ query: [['prefix', 'p/'], ['delimiter', '/'], ['marker', 'p/2']] });
    assert.deepEqual(xmlValues(v1next.body, 'Key'), ['p/3']);
    assert.deepEqual(xmlValues(v1next.body, 'Prefix'), ['p/', 'p/sub/']);

    const walked: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < 5; page++) {
      const query: Array<[string, string]> = [['list-type', '2'], ['prefix', 'p/'], ['max-keys', '3']];
      if (token) query.push(['continuation-token', token]);
      const res = await send({ query });
      assert.equal(res.status, 200, res.body);
      walked.push(...xmlValues(res.body, 'Key'));
      assert.equal(xmlValue(res.body, 'KeyCount'), String(xmlValues(res.body, 'Key').length));
      token = xmlValue(res.body, 'NextContinuationToken');
      if (xmlValue(res.body, 'IsTruncated') !== 'true') break;
    }
    assert.deepEqual(walked, ['p/1', 'p/2', 'p/3', 'p/sub/4']);
  });

  it('GetBucketInfo, GetBucketLocation and ListBuckets with prefix, marker and max-keys', async () => {
    for (const name of ['lb-a', 'lb-b', 'lb-c']) assert.equal((await ossRequest(server, { method: 'PUT', bucket: name })).status, 200);
    const info = await send({ query: [['bucketInfo', '']] });
    assert.equal(info.status, 200);
    assert.equal(xmlValue(info.body, 'Name'), BUCKET);
    assert.equal(xmlValue(info.body, 'Location'), 'oss-us-east-1');
    assert.equal(xmlValue(info.body, 'ExtranetEndpoint'), `127.0.0.1:${server.port}`);
    assert.equal(xmlValue(info.body, 'StorageClass'), 'Standard');
    assert.equal(xmlValue(info.body, 'ID'), 'root');
    assert.equal(xmlValue(info.body, 'Grant'), 'private');
    assert.match(xmlValue(info.body, 'CreationDate')!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(xmlValue((await send({ query: [['location', '']] })).body, 'LocationConstraint'), 'oss-us-east-1');

    const list = async (query: Array<[string, string]>) => ossRequest(server, { query });
    const first = await list([['prefix', 'lb-'], ['max-keys', '2']]);
    assert.deepEqual(xmlValues(first.body, 'Name'), ['lb-a', 'lb-b']);
    assert.equal(xmlValue(first.body, 'IsTruncated'), 'true');
    assert.equal(xmlValue(first.body, 'NextMarker'), 'lb-b');
    const rest = await list([['prefix', 'lb-'], ['marker', 'lb-b']]);
    assert.deepEqual(xmlValues(rest.body, 'Name'), ['lb-c']);
    assert.equal(xmlValue(rest.body, 'IsTruncated'), 'false');
    assert.equal(xmlValue(rest.body, 'DisplayName'), 'root');
  });

  it('DeleteMultipleObjects (Content-MD5 checked), then DeleteBucket: BucketNotEmpty until it is empty, then 204', async () => {
    await ossRequest(server, { method: 'PUT', bucket: 'to-delete' });
    for (const name of ['x', 'y z+']) await ossRequest(server, { method: 'PUT', bucket: 'to-delete', key: name, body: name });
    assertOssError(await ossRequest(server, { method: 'DELETE', bucket: 'to-delete' }), 409, 'BucketNotEmpty');
    const body = '<Delete><Quiet>false</Quiet><Object><Key>x</Key></Object><Object><Key>y%20z%2B</Key></Object></Delete>';
    const md5 = createHash('md5').update(body).digest('base64');
    const bad = await ossRequest(server, { method: 'POST', bucket: 'to-delete', query: [['delete', '']], body, headers: { 'content-md5': createHash('md5').update('x').digest('base64') } });
    assertOssError(bad, 400, 'InvalidDigest');
    const sha256Of = (text: string) => createHash('sha256').update(text).digest('hex');
    const wrongSha = await ossRequest(server, { method: 'POST', bucket: 'to-delete', query: [['delete', '']], body, signature: 'v4', headers: { 'x-oss-content-sha256': sha256Of('x') } });
    assertOssError(wrongSha, 400, 'InvalidArgument');
    assert.equal(xmlValue(wrongSha.body, 'ArgumentName'), 'x-oss-content-sha256');
    const res = await ossRequest(server, { method: 'POST', bucket: 'to-delete', query: [['delete', ''], ['encoding-type', 'url']], body, signature: 'v4', headers: { 'content-md5': md5, 'x-oss-content-sha256': sha256Of(body) } });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(xmlValues(res.body, 'Key'), ['x', 'y%20z%2B']);
    assert.equal((await ossRequest(server, { method: 'DELETE', bucket: 'to-delete' })).status, 204);
    assertOssError(await ossRequest(server, { bucket: 'to-delete', query: [['bucketInfo', '']] }), 404, 'NoSuchBucket');
  });
});

describe('addressing', () => {
  it('keys sent with %2F (Go SDK V1 style) are the same keys as with /', async () => {
    const res = await send({ method: 'PUT', key: 'go/sdk/file.txt', body: 'go', path: `/${BUCKET}/go%2Fsdk%2Ffile.txt` });
    assert.equal(res.status, 200, res.body);
    assert.equal((await send({ key: 'go/sdk/file.txt' })).body, 'go');
  });

  for (const hostForm of ['127.0.0.1', 'localhost', 'oss-cn-hangzhou.aliyuncs.com', 'oss.test']) {
    it(`bucket in the Host (${BUCKET}.${hostForm}), bare path`, async () => {
      const host = `${BUCKET}.${hostForm}:${server.port}`;
      const key = `host/${hostForm}.txt`;
      const put = await send({ method: 'PUT', key, body: hostForm, host, path: `/host/${hostForm}.txt` });
      assert.equal(put.status, 200, put.body);
      assert.equal((await send({ key })).body, hostForm);
      const listed = await send({ host, path: '/', query: [['prefix', 'host/']] });
      assert.ok(xmlValues(listed.body, 'Key').includes(key));
      const info = await send({ host, path: '/', query: [['bucketInfo', '']] });
      assert.equal(xmlValue(info.body, 'ExtranetEndpoint'), `${hostForm}:${server.port}`);
      assertOssError(await send({ host, path: '/missing', key: 'missing' }), 404, 'NoSuchKey', host);
    });
  }

  it('the two dialects share the port: SigV4 is answered by S3, OSS signatures by OSS', async () => {
    assert.equal((await send({ method: 'PUT', key: 'shared.txt', body: 'both' })).status, 200);
    const s3 = await signedRequest(server.url, 'GET', `/${BUCKET}/shared.txt`);
    assert.equal(s3.status, 200);
    assert.equal(s3.body, 'both');
    assert.ok(s3.headers['x-amz-request-id']);
    assert.equal(s3.headers['x-oss-request-id'], undefined);
    assert.equal(s3.headers.etag, `"${createHash('md5').update('both').digest('hex')}"`);
    const oss = await send({ key: 'shared.txt' });
    assert.ok(oss.headers['x-oss-request-id']);
    assert.equal(oss.headers['x-amz-request-id'], undefined);
    assert.equal(oss.headers.etag, `"${createHash('md5').update('both').digest('hex').toUpperCase()}"`);
    const s3Missing = await signedRequest(server.url, 'GET', `/${BUCKET}/nope`);
    assert.equal(s3Missing.status, 404);
    assert.match(s3Missing.body, /<Resource>/, 'the S3 error document');
  });
});
