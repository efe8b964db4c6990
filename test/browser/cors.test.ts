/**
 * Bucket CORS in a real browser (Debian's Chromium through playwright-core): a page served from
 * another origin (another port) runs @aws-sdk/client-s3, bundled by Vite at test time, and
 * uploads an object in parts to a real Tessera process. Chromium, not the test, decides whether
 * each response may be read: the preflight, the Access-Control-* answers and the exposed ETag
 * header are what let the upload through, or stop it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, DeleteBucketCorsCommand, GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, PutBucketCorsCommand, type CORSRule, type S3Client } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { expectError } from '../helpers/assertions.js';
import { findChromium, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { bundleBrowserScript } from '../helpers/browser-bundle.js';
import { startOriginServer, type OriginServer } from '../helpers/origin-server.js';
import { s3Client } from '../helpers/s3.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';

const BUCKET = 'browser-cors';
const MIB = 1024 * 1024;
/** Two parts: the first at S3's 5 MiB minimum, the last smaller, as a real upload ends. */
const PART_SIZES = [5 * MIB, 300 * 1024 + 17];

/** The same bytes test/browser/pages/multipart-upload.js makes for part `number`. */
function partBytes(number: number, size: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + number * 7) % 251;
  return bytes;
}

interface UploadOutcome {
  ok: boolean;
  step?: string;
  name?: string | null;
  message?: string;
  etags: Array<string | null>;
  etag?: string | null;
}

describe('bucket CORS in a browser: a page on another origin uploads in parts with the AWS SDK', () => {
  let server: TestServer;
  let browser: TestBrowser;
  let site: OriginServer;
  let s3: S3Client;

  before(async () => {
    let bundle: string;
    // Before anything starts: a server already running when the browser fails would keep the process alive.
    findChromium();
    [server, browser, site, bundle] = await Promise.all([startServer(), launchBrowser(), startOriginServer(), bundleBrowserScript('multipart-upload.js')]);
    site.route('/', { contentType: 'text/html; charset=utf-8', body: '<!doctype html><title>Uploader</title><script src="/page.js"></script><p>Uploader</p>' });
    site.route('/page.js', { contentType: 'text/javascript; charset=utf-8', body: bundle });
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3?.destroy();
    await browser?.close();
    await site?.close();
    await server?.cleanup();
  });

  async function setRules(rules: CORSRule[] | undefined): Promise<void> {
    if (rules) await s3.send(new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: rules } }));
    else await s3.send(new DeleteBucketCorsCommand({ Bucket: BUCKET }));
  }

  /** Opens the site's page (collecting what Chromium logs) and runs the upload of `key` in it. */
  async function uploadFromPage(key: string): Promise<{ outcome: UploadOutcome; logged: string[]; page: Page }> {
    const page = await browser.newPage();
    const logged: string[] = [];
    page.on('console', (message) => logged.push(message.text()));
    await page.goto(site.origin + '/');
    const outcome = await page.evaluate(
      (input) => (globalThis as any).TesseraTestPage.multipartUpload(input) as Promise<UploadOutcome>,
      { endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY }, bucket: BUCKET, key, partSizes: PART_SIZES },
    );
    return { outcome, logged, page };
  }

  async function pendingUploads(key: string): Promise<number> {
    const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: key }));
    return (listed.Uploads ?? []).length;
  }

  it('a rule allowing the page origin and exposing ETag: the upload completes and the object holds the parts in order', async () => {
    assert.notEqual(new URL(site.origin).origin, new URL(server.url).origin, 'the page is on another origin');
    await setRules([{ AllowedOrigins: [site.origin], AllowedMethods: ['GET', 'PUT', 'POST', 'DELETE'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 60 }]);
    const key = 'uploads/from-the-page.bin';
    const { outcome } = await uploadFromPage(key);
    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.etags.length, PART_SIZES.length);
    for (const etag of outcome.etags) assert.match(etag ?? '', /^"[0-9a-f]{32}"$/, 'the page read each part ETag from the exposed header');
    assert.match(outcome.etag ?? '', /^"[0-9a-f]{32}-2"$/);

    const expected = Buffer.concat(PART_SIZES.map((size, i) => partBytes(i + 1, size)));
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const stored = Buffer.from(await got.Body!.transformToByteArray());
    assert.equal(stored.length, expected.length);
    assert.ok(stored.equals(expected), 'the stored bytes are the parts the browser sent');
    assert.equal(got.ETag, outcome.etag);
    assert.equal(await pendingUploads(key), 0);
  });

  it('a rule allowing the origin without exposing ETag: the parts are sent but the page cannot read their ETags', async () => {
    await setRules([{ AllowedOrigins: [site.origin], AllowedMethods: ['GET', 'PUT', 'POST', 'DELETE'], AllowedHeaders: ['*'] }]);
    const key = 'uploads/etag-hidden.bin';
    const { outcome } = await uploadFromPage(key);
    assert.equal(outcome.ok, false, JSON.stringify(outcome));
    assert.equal(outcome.step, 'CompleteMultipartUpload');
    assert.deepEqual(outcome.etags, [null, null], 'Chromium hid the ETag header the rule does not expose');
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })), 404);
  });

  for (const [name, rules] of [
    ['a rule for another origin only', [{ AllowedOrigins: ['https://app.example.org'], AllowedMethods: ['GET', 'PUT', 'POST'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'] }]],
    ['no CORS configuration', undefined],
  ] as const) {
    it(`${name}: the first request fails as a CORS failure in the page, and nothing is stored`, async () => {
      await setRules(rules as CORSRule[] | undefined);
      const key = `uploads/refused-${rules ? 'other-origin' : 'no-rules'}.bin`;
      const { outcome, logged } = await uploadFromPage(key);
      assert.equal(outcome.ok, false, JSON.stringify(outcome));
      assert.equal(outcome.step, 'CreateMultipartUpload');
      // fetch rejects with a bare TypeError on a CORS failure: the page learns nothing more.
      assert.equal(outcome.name, 'TypeError');
      assert.match(outcome.message ?? '', /Failed to fetch/);
      assert.ok(logged.some((line) => line.includes('blocked by CORS policy')), `Chromium names CORS as the reason: ${logged.join('\n')}`);
      assert.equal(await pendingUploads(key), 0, 'the preflight was refused, so no upload was created');
      await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })), 404);
    });
  }
});
