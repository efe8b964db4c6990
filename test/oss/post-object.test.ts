/**
 * OSS PostObject (browser form uploads): policies signed by ali-oss itself (calculatePostSignature
 * for V1, signPostObjectPolicyV4 for V4), forms posted with Node's fetch/FormData or as raw bytes,
 * objects read back with ali-oss; every refusal in OSS's error document.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { multipartBody, postForm, xmlText, type Fields, type FilePart } from '../helpers/form.js';
import type { RawResponse } from '../helpers/raw.js';
import { filesUnder, startServer, type TestServer } from '../helpers/server.js';
import { assertOssError, ossClient, type AliOss } from './helpers.js';

const BUCKET = 'oss-forms';
const REGION = 'cn-hangzhou';
const md5Upper = (data: Buffer | string) => createHash('md5').update(data).digest('hex').toUpperCase();

describe('OSS PostObject', () => {
  let server: TestServer;
  let client: AliOss;
  let v4Client: AliOss;

  before(async () => {
    server = await startServer();
    client = ossClient(server, 'v1', BUCKET, 'localhost-path');
    v4Client = ossClient(server, 'v4', BUCKET, 'localhost-path');
    await client.putBucket(BUCKET);
  });

  after(async () => {
    await server?.cleanup();
  });

  const expiresIn = (ms: number) => new Date(Date.now() + ms).toISOString();

  /** V1: ali-oss's calculatePostSignature gives OSSAccessKeyId, policy and Signature. */
  function v1Fields(conditions: unknown[], expiration = expiresIn(3600_000)): Fields {
    const signed = client.calculatePostSignature({ expiration, conditions }) as { OSSAccessKeyId: string; policy: string; Signature: string };
    return [
      ['OSSAccessKeyId', signed.OSSAccessKeyId],
      ['policy', signed.policy],
      ['Signature', signed.Signature],
    ];
  }

  /** V4: the policy names the signature version, credential and date; ali-oss's signPostObjectPolicyV4 signs it. */
  function v4Fields(conditions: unknown[], expiration = expiresIn(3600_000)): Fields {
    const now = new Date();
    const date = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    const credential = `${client.options.accessKeyId}/${date.slice(0, 8)}/${REGION}/oss/aliyun_v4_request`;
    const policy = {
      expiration,
      conditions: [...conditions, { 'x-oss-signature-version': 'OSS4-HMAC-SHA256' }, { 'x-oss-credential': credential }, { 'x-oss-date': date }],
    };
    const signature = v4Client.signPostObjectPolicyV4(policy, now) as string;
    return [
      ['policy', Buffer.from(JSON.stringify(policy)).toString('base64')],
      ['x-oss-signature-version', 'OSS4-HMAC-SHA256'],
      ['x-oss-credential', credential],
      ['x-oss-date', date],
      ['x-oss-signature', signature],
    ];
  }

  /** Posts with Node's own fetch and FormData, as a browser script would. */
  async function fetchForm(fields: Fields, file: { name: string; content: Buffer | string; type?: string }): Promise<Response> {
    const form = new FormData();
    for (const [name, value] of fields) form.append(name, value);
    form.append('file', new Blob([file.content], { type: file.type ?? 'application/octet-stream' }), file.name);
    return fetch(`${server.url}/${BUCKET}`, { method: 'POST', body: form, redirect: 'manual' });
  }

  async function gone(key: string): Promise<boolean> {
    try {
      await client.head(key);
      return false;
    } catch (err) {
      return (err as { status?: number }).status === 404;
    }
  }

  const post = (fields: Fields, file?: FilePart, afterFile: Fields = []): Promise<RawResponse> => postForm(server, `/${BUCKET}`, multipartBody(fields, file, afterFile));

  it('V1 (calculatePostSignature) with fetch/FormData: 201 PostResponse, the object read back with ali-oss', async () => {
    const content = randomBytes(3000);
    const fields: Fields = [
      ['key', 'v1/${filename}'],
      ['success_action_status', '201'],
      ['Content-Type', 'image/png'],
      ['Cache-Control', 'max-age=60'],
      ['x-oss-meta-owner', 'eric'],
      ...v1Fields([{ bucket: BUCKET }, ['starts-with', '$key', 'v1/'], ['content-length-range', 1, 10_000], ['eq', '$success_action_status', '201']]),
    ];
    const res = await fetchForm(fields, { name: 'photo.png', content });
    const body = await res.text();
    assert.equal(res.status, 201, body);
    assert.ok(res.headers.get('x-oss-request-id'));
    assert.equal(res.headers.get('etag'), `"${md5Upper(content)}"`);
    assert.equal(xmlText(body, 'Bucket'), BUCKET);
    assert.equal(xmlText(body, 'Key'), 'v1/photo.png');
    assert.equal(xmlText(body, 'ETag'), `"${md5Upper(content)}"`);
    assert.equal(xmlText(body, 'Location'), `http://127.0.0.1:${server.port}/${BUCKET}/v1/photo.png`);

    const got = await client.get('v1/photo.png');
    assert.ok(Buffer.from(got.content).equals(content));
    assert.equal(got.res.headers['content-type'], 'image/png');
    assert.equal(got.res.headers['cache-control'], 'max-age=60');
    assert.equal(got.res.headers['x-oss-meta-owner'], 'eric');
    assert.equal(got.res.headers['x-oss-hash-crc64ecma'], res.headers.get('x-oss-hash-crc64ecma'));
  });

  it('V4 (signPostObjectPolicyV4) with fetch/FormData: 204 by default', async () => {
    const content = 'signed with V4';
    const res = await fetchForm([['key', 'v4/a.txt'], ...v4Fields([{ bucket: BUCKET }, ['starts-with', '$key', 'v4/']])], { name: 'a.txt', content });
    assert.equal(res.status, 204, await res.text());
    assert.equal((await v4Client.get('v4/a.txt')).content.toString(), content);
  });

  it('V4 virtual-host style (Host: <bucket>.oss-<region>.aliyuncs.com, POST /)', async () => {
    const host = `${BUCKET}.oss-${REGION}.aliyuncs.com`;
    const res = await postForm(server, '/', multipartBody([['key', 'v4/vhost.txt'], ...v4Fields([{ bucket: BUCKET }])], { filename: 'v', content: 'vhost' }), host);
    assert.equal(res.status, 204, res.body);
    assert.equal(res.headers.location, `http://${host}/v4/vhost.txt`);
    assert.equal((await client.get('v4/vhost.txt')).content.toString(), 'vhost');
  });

  it('success_action_redirect answers 303 with bucket, key and etag', async () => {
    const fields: Fields = [['key', 'v1/redirect.txt'], ['success_action_redirect', 'https://app.example/uploaded'], ...v1Fields([['starts-with', '$key', 'v1/']])];
    const res = await post(fields, { filename: 'r', content: 'r' });
    assert.equal(res.status, 303, res.body);
    const location = new URL(res.headers.location as string);
    assert.equal(location.searchParams.get('bucket'), BUCKET);
    assert.equal(location.searchParams.get('key'), 'v1/redirect.txt');
    assert.equal(location.searchParams.get('etag'), `"${md5Upper('r')}"`);
  });

  it('in and not-in; fields no condition names are taken (OSS asks no coverage)', async () => {
    const conditions = [['in', '$content-type', ['image/jpeg', 'image/png']], ['not-in', '$cache-control', ['no-cache']]];
    const ok = await post([['key', 'v1/in.jpg'], ['Content-Type', 'image/jpeg'], ['x-oss-meta-free', 'yes'], ...v1Fields(conditions)], { filename: 'i', content: 'i' });
    assert.equal(ok.status, 204, ok.body);
    const notIn = await post([['key', 'v1/in.gif'], ['Content-Type', 'image/gif'], ...v1Fields(conditions)], { filename: 'i', content: 'i' });
    assertOssError(notIn, 403, 'AccessDenied');
    assert.equal(xmlText(notIn.body, 'Message'), 'Invalid according to Policy: Policy Condition failed: ["in", "$content-type", ["image/jpeg","image/png"]]');
    const excluded = await post([['key', 'v1/in2.jpg'], ['Content-Type', 'image/jpeg'], ['Cache-Control', 'no-cache'], ...v1Fields(conditions)], { filename: 'i', content: 'i' });
    assertOssError(excluded, 403, 'AccessDenied');
  });

  it("x-oss-forbid-overwrite refuses an existing key; x-oss-object-acl is the new object's", async () => {
    await client.put('v1/taken.txt', Buffer.from('first'));
    const taken = await post([['key', 'v1/taken.txt'], ['x-oss-forbid-overwrite', 'true'], ...v1Fields([])], { filename: 't', content: 'second' });
    assertOssError(taken, 409, 'FileAlreadyExists');
    assert.equal((await client.get('v1/taken.txt')).content.toString(), 'first');
    const open = await post([['key', 'v1/public.txt'], ['x-oss-object-acl', 'public-read'], ...v1Fields([])], { filename: 'p', content: 'p' });
    assert.equal(open.status, 204, open.body);
    assert.equal((await client.getACL('v1/public.txt')).acl, 'public-read');
    assert.equal((await fetch(`${server.url}/${BUCKET}/v1/public.txt`)).status, 200);
    const wrong = await post([['key', 'v1/wrong.txt'], ['x-oss-object-acl', 'everyone'], ...v1Fields([])], { filename: 'p', content: 'p' });
    assertOssError(wrong, 400, 'InvalidArgument');
    assert.ok(await gone('v1/wrong.txt'));
    const privately = await post([['key', 'v1/private.txt'], ['x-oss-object-acl', 'private'], ...v1Fields([])], { filename: 'p', content: 'p' });
    assert.equal(privately.status, 204, privately.body);
  });

  describe('refusals, in OSS error documents', () => {
    const limited = [['starts-with', '$key', 'v1/'], ['content-length-range', 1, 1000]];

    it('an expired policy: AccessDenied, Policy expired', async () => {
      const res = await post([['key', 'v1/late'], ...v1Fields(limited, expiresIn(-1000))], { filename: 'l', content: 'l' });
      assertOssError(res, 403, 'AccessDenied');
      assert.equal(xmlText(res.body, 'Message'), 'Invalid according to Policy: Policy expired.');
    });

    it('a changed V1 or V4 signature, or a policy changed after signing: SignatureDoesNotMatch', async () => {
      const otherSignature = v1Fields([]).find(([name]) => name === 'Signature')![1];
      const v1 = v1Fields(limited).map(([n, v]): [string, string] => [n, n === 'Signature' ? otherSignature : v]);
      assertOssError(await post([['key', 'v1/x'], ...v1], { filename: 'x', content: 'x' }), 403, 'SignatureDoesNotMatch');
      const v4 = v4Fields(limited).map(([n, v]): [string, string] => [n, n === 'x-oss-signature' ? (v.startsWith('0') ? '1' : '0') + v.slice(1) : v]);
      assertOssError(await post([['key', 'v1/x'], ...v4], { filename: 'x', content: 'x' }), 403, 'SignatureDoesNotMatch');
      const widened = Buffer.from(JSON.stringify({ expiration: expiresIn(3600_000), conditions: [] })).toString('base64');
      const swapped = v1Fields(limited).map(([n, v]): [string, string] => [n, n === 'policy' ? widened : v]);
      assertOssError(await post([['key', 'v1/x'], ...swapped], { filename: 'x', content: 'x' }), 403, 'SignatureDoesNotMatch');
    });

    it('a key outside the starts-with: AccessDenied naming the condition', async () => {
      const res = await post([['key', 'elsewhere/x'], ...v1Fields(limited)], { filename: 'x', content: 'x' });
      assertOssError(res, 403, 'AccessDenied');
      assert.equal(xmlText(res.body, 'Message'), 'Invalid according to Policy: Policy Condition failed: ["starts-with", "$key", "v1/"]');
      assert.ok(await gone('elsewhere/x'));
    });

    it('a file over or under content-length-range: EntityTooLarge / EntityTooSmall, nothing left behind', async () => {
      assertOssError(await post([['key', 'v1/big'], ...v4Fields(limited)], { filename: 'b', content: randomBytes(1001) }), 400, 'EntityTooLarge');
      assertOssError(await post([['key', 'v1/small'], ...v4Fields(limited)], { filename: 's', content: '' }), 400, 'EntityTooSmall');
      assert.ok(await gone('v1/big'));
      assert.ok(await gone('v1/small'));
      assert.deepEqual(await filesUnder(join(server.dataDir, 'tmp')), []);
    });

    it('no key, or no file: InvalidArgument', async () => {
      const noKey = await post(v1Fields([]), { filename: 'x', content: 'x' });
      assertOssError(noKey, 400, 'InvalidArgument');
      assert.equal(xmlText(noKey.body, 'Message'), "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.");
      const noFile = await post([['key', 'v1/none'], ...v1Fields([])]);
      assertOssError(noFile, 400, 'InvalidArgument');
      assert.equal(xmlText(noFile.body, 'Message'), 'POST requires exactly one file upload per request.');
    });

    it('no policy: AccessDenied (no bucket is public-read-write); an unknown key: InvalidAccessKeyId; a V1 form without its Signature: InvalidArgument', async () => {
      const anonymous = await post([['key', 'v1/anon'], ['x-oss-meta-a', 'b']], { filename: 'a', content: 'a' });
      assertOssError(anonymous, 403, 'AccessDenied');
      assert.equal(xmlText(anonymous.body, 'Message'), 'You have no right to access this object because of bucket acl.');
      assertOssError(await post([['key', 'v1/anon'], ['OSSAccessKeyId', 'nobody'], ['Signature', 'x'], ['policy', 'e30=']], { filename: 'a', content: 'a' }), 403, 'InvalidAccessKeyId');
      const unsigned = await post([['key', 'v1/anon'], ['OSSAccessKeyId', client.options.accessKeyId], ['policy', 'e30=']], { filename: 'a', content: 'a' });
      assertOssError(unsigned, 400, 'InvalidArgument');
      assert.equal(xmlText(unsigned.body, 'ArgumentName'), 'Signature');
      assert.ok(await gone('v1/anon'));
    });

    it('a body that is not a form: MalformedPOSTRequest', async () => {
      const fields = v1Fields([]);
      const form = multipartBody([['key', 'v1/cut'], ...fields], { filename: 'c', content: randomBytes(500) });
      const res = await postForm(server, `/${BUCKET}`, { body: form.body.subarray(0, form.body.length - 200), contentType: form.contentType });
      assertOssError(res, 400, 'MalformedPOSTRequest');
      assert.ok(await gone('v1/cut'));
    });
  });
});
