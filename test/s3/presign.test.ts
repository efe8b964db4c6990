import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { useS3Server } from '../helpers/s3.js';
import { BOTO3_AVAILABLE, runBoto3 } from '../helpers/boto3.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, type TestServer } from '../helpers/server.js';

const BUCKET = 'presigned';

function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

function errorCode(xml: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
}

/** The first `aws` on PATH that is AWS CLI v1 (whose `s3 presign` signs with Signature V2 when told to, as it long did by default). */
function awsCliV1(): string | undefined {
  const found = spawnSync('which', ['-a', 'aws'], { encoding: 'utf8' });
  for (const path of found.stdout?.split('\n').filter(Boolean) ?? []) {
    const version = spawnSync(path, ['--version'], { encoding: 'utf8' });
    if (/^aws-cli\/1\./.test(`${version.stdout}${version.stderr}`.trim())) return path;
  }
  return undefined;
}

/** What docs/s3.md tells a user whose client signs with V2. */
const V4_HINT = 'aws configure set default.s3.signature_version s3v4';

describe('S3 presigned URLs (AWS SDK presigner + fetch)', () => {
  let s3: S3Client;
  let server: TestServer;

  useS3Server({ bucket: BUCKET }, (env) => {
    s3 = env.s3;
    server = env.server;
  });

  it('a presigned PUT uploads with plain fetch and a presigned GET downloads it', async () => {
    const body = randomBytes(256 * 1024 + 3);
    const key = 'dir/uploaded with fetch ü.bin';
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 300 });
    assert.match(putUrl, /X-Amz-Signature=[0-9a-f]{64}/);
    const put = await fetch(putUrl, { method: 'PUT', body });
    assert.equal(put.status, 200, await put.clone().text());
    assert.equal(put.headers.get('etag'), `"${md5(body)}"`);

    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.equal(head.ContentLength, body.length);

    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: key }), { expiresIn: 300 });
    const got = await fetch(getUrl);
    assert.equal(got.status, 200);
    const bytes = Buffer.from(await got.arrayBuffer());
    assert.equal(md5(bytes), md5(body));
    assert.equal(got.headers.get('etag'), `"${md5(body)}"`);

    // The same URL works more than once until it expires, and honours Range.
    const ranged = await fetch(getUrl, { headers: { range: 'bytes=10-19' } });
    assert.equal(ranged.status, 206);
    assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(body.subarray(10, 20)));
  });

  it('a Signature V2 presigned URL (AWS CLI v1 s3 presign at its defaults) is InvalidRequest saying only V4 is accepted and how to switch', async (t) => {
    const aws = awsCliV1();
    if (aws === undefined) {
      t.skip('AWS CLI v1 not installed');
      return;
    }
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'v2/object.txt', Body: 'v2' }));
    const dir = await mkdtemp(join(tmpdir(), 'tessera-sigv2-'));
    try {
      const config = join(dir, 'config');
      await writeFile(config, '[default]\nregion = us-east-1\n');
      const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^AWS_/.test(name)));
      Object.assign(env, {
        HOME: dir,
        AWS_CONFIG_FILE: config,
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'credentials'),
        AWS_ACCESS_KEY_ID: ROOT_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY: ROOT_SECRET_KEY,
        AWS_EC2_METADATA_DISABLED: 'true',
      });
      const presign = (extra: string[] = []) =>
        promisify(execFile)(aws, ['--endpoint-url', server.url, 's3', 'presign', `s3://${BUCKET}/v2/object.txt`, '--expires-in', '300', ...extra], {
          env,
          timeout: 60_000,
        });

      const url = (await presign()).stdout.trim();
      const query = new URL(url).searchParams;
      assert.deepEqual([...query.keys()].sort(), ['AWSAccessKeyId', 'Expires', 'Signature'], `a V2 presigned URL: ${url}`);
      const response = await fetch(url);
      const body = await response.text();
      assert.equal(response.status, 400, body);
      assert.equal(errorCode(body), 'InvalidRequest', body);
      assert.match(body, /<Message>The authorization mechanism you have provided is not supported\. Please use AWS4-HMAC-SHA256\./);
      assert.match(body, /only Signature Version 4/);
      assert.ok(body.includes(V4_HINT), body);
      assert.equal(response.headers.get('x-oss-request-id'), null, 'answered by the S3 dialect');

      // What the message says works: after the command, the same CLI presigns with V4 and the URL serves the object.
      await promisify(execFile)(aws, V4_HINT.split(' ').slice(1), { env, timeout: 60_000 });
      const v4 = (await presign()).stdout.trim();
      assert.ok(new URL(v4).searchParams.has('X-Amz-Signature'), v4);
      const fixed = await fetch(v4);
      assert.equal(fixed.status, 200);
      assert.equal(await fixed.text(), 'v2');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a Signature V2 Authorization header gets AWS\'s sentence word for word, so s3cmd with signature_v2 = True switches to V4 by itself', async (t) => {
    const s3cmd = spawnSync('which', ['s3cmd'], { encoding: 'utf8' }).stdout.trim();
    if (s3cmd === '') {
      t.skip('s3cmd not installed');
      return;
    }
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'v2/s3cmd.txt', Body: 'from s3cmd' }));
    const dir = await mkdtemp(join(tmpdir(), 'tessera-s3cmd-v2-'));
    try {
      const host = new URL(server.url).host;
      const config = join(dir, 's3cfg');
      await writeFile(config, ['[default]', `host_base = ${host}`, `host_bucket = ${host}`, 'use_https = False', 'signature_v2 = True',
        'bucket_location = us-east-1', `access_key = ${ROOT_ACCESS_KEY}`, `secret_key = ${ROOT_SECRET_KEY}`, ''].join('\n'));
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: dir };
      // A listing, a GET: a HEAD's error has no body, so s3cmd could not read the sentence there.
      const { stdout, stderr } = await promisify(execFile)(s3cmd, ['-c', config, '--debug', 'ls', `s3://${BUCKET}/v2/`], { env, timeout: 60_000 });
      assert.match(stdout, /s3:\/\/presigned\/v2\/s3cmd\.txt/);
      assert.match(stderr, /Using signature v2/, 's3cmd signed with V2 first');
      assert.match(stderr, /Endpoint requires signature v4/, 'and switched on our answer');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a presigned PUT carries the signed Content-Type; a presigned GET applies response-* overrides', async () => {
    const key = 'typed.txt';
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: key, ContentType: 'text/plain' }), {
      expiresIn: 300,
    });
    const put = await fetch(putUrl, { method: 'PUT', body: 'typed body', headers: { 'content-type': 'text/plain' } });
    assert.equal(put.status, 200, await put.clone().text());
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.equal(head.ContentType, 'text/plain');

    const getUrl = await getSignedUrl(
      s3,
      new GetObjectCommand({
        Bucket: BUCKET,
        Key: key,
        ResponseContentType: 'application/x-download',
        ResponseContentDisposition: 'attachment; filename="typed.txt"',
      }),
      { expiresIn: 300 },
    );
    const got = await fetch(getUrl);
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'application/x-download');
    assert.equal(got.headers.get('content-disposition'), 'attachment; filename="typed.txt"');
    assert.equal(await got.text(), 'typed body');
  });

  it('a presigned GET of a missing key is 404 NoSuchKey', async () => {
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'missing' }), { expiresIn: 300 });
    const response = await fetch(url);
    assert.equal(response.status, 404);
    assert.equal(errorCode(await response.text()), 'NoSuchKey');
  });

  it('an expired presigned URL is 403 AccessDenied', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'expiring', Body: 'soon gone' }));
    const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'expiring' }), { expiresIn: 1 });
    const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: BUCKET, Key: 'expired-put' }), { expiresIn: 1 });
    // Waiting for the expiry to pass (X-Amz-Date has whole seconds); not a timing assertion.
    await sleep(2100);
    const got = await fetch(getUrl);
    assert.equal(got.status, 403);
    assert.equal(errorCode(await got.text()), 'AccessDenied');
    const put = await fetch(putUrl, { method: 'PUT', body: 'late' });
    assert.equal(put.status, 403);
    assert.equal(errorCode(await put.text()), 'AccessDenied');
    await assert.rejects(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'expired-put' })), (err: Error) => err.name === 'NotFound');
  });

  it('X-Amz-Expires=0 is expired at once: 403 AccessDenied "Request has expired" (SDK presigner and boto3)', async (t) => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'never', Body: 'never served' }));
    const urls = [await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'never' }), { expiresIn: 0 })];
    if (BOTO3_AVAILABLE) {
      urls.push(
        (await runBoto3(
          server,
          'out(s3.generate_presigned_url(ClientMethod="get_object", Params={"Bucket": args["bucket"], "Key": "never"}, ExpiresIn=0, HttpMethod="GET"))',
          { bucket: BUCKET },
        )) as string,
      );
    }
    for (const url of urls) {
      assert.match(url, /X-Amz-Expires=0(&|$)/);
      const got = await fetch(url);
      const text = await got.text();
      assert.equal(got.status, 403, text);
      assert.equal(errorCode(text), 'AccessDenied');
      assert.match(text, /<Message>Request has expired<\/Message>/);
    }
    if (!BOTO3_AVAILABLE) t.skip('python3 with boto3 is not installed: only the SDK presigner ran');
  });

  it('a tampered presigned URL is 403 SignatureDoesNotMatch', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'guarded', Body: 'guarded body' }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'other', Body: 'other body' }));
    // Edited as strings, so nothing but the intended part of the URL changes.
    const url = await getSignedUrl(s3, new GetObjectCommand({ Bucket: BUCKET, Key: 'guarded' }), { expiresIn: 300 });
    const ok = await fetch(url);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), 'guarded body');

    const signature = /X-Amz-Signature=([0-9a-f]{64})/.exec(url)![1]!;
    const flipped = (signature[0] === '0' ? '1' : '0') + signature.slice(1);
    const badSignature = await fetch(url.replace(`X-Amz-Signature=${signature}`, `X-Amz-Signature=${flipped}`));
    assert.equal(badSignature.status, 403);
    assert.equal(errorCode(await badSignature.text()), 'SignatureDoesNotMatch');

    // The signature covers the path, the method and the query.
    const wrongKey = await fetch(url.replace(`/${BUCKET}/guarded?`, `/${BUCKET}/other?`));
    assert.equal(wrongKey.status, 403);
    assert.equal(errorCode(await wrongKey.text()), 'SignatureDoesNotMatch');

    const deleteWithGetUrl = await fetch(url, { method: 'DELETE' });
    assert.equal(deleteWithGetUrl.status, 403);
    assert.equal(errorCode(await deleteWithGetUrl.text()), 'SignatureDoesNotMatch');

    assert.match(url, /X-Amz-Expires=300&/);
    const extended = await fetch(url.replace('X-Amz-Expires=300&', 'X-Amz-Expires=604800&'));
    assert.equal(extended.status, 403);
    assert.equal(errorCode(await extended.text()), 'SignatureDoesNotMatch');

    const extraParameter = await fetch(`${url}&response-content-type=text%2Fhtml`);
    assert.equal(extraParameter.status, 403);
    assert.equal(errorCode(await extraParameter.text()), 'SignatureDoesNotMatch');

    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'guarded' }));
    assert.equal(head.ContentLength, 'guarded body'.length);
    await s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'other' }));
  });
});
