import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
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
import type { TestServer } from '../helpers/server.js';

const BUCKET = 'presigned';

function md5(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

function errorCode(xml: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
}

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
