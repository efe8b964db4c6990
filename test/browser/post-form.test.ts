/**
 * Browser form uploads (S3 POST Object) from a page on another origin, in Chromium: a plain HTML
 * form with the fields of a SigV4 POST policy and a file input, submitted as a browser submits
 * it, redirected (303) to the page's own server; and the same upload by fetch from the page,
 * which may read the answer only when the bucket's CORS rules allow the page's origin.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CreateBucketCommand, DeleteBucketCorsCommand, GetObjectCommand, PutBucketCorsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { findChromium, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { s3PolicyFields, xmlText, type Fields } from '../helpers/form.js';
import { escapeHtml, startOriginServer, type OriginServer } from '../helpers/origin-server.js';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const BUCKET = 'browser-forms';
const md5Hex = (data: Buffer) => createHash('md5').update(data).digest('hex');

interface FetchOutcome {
  ok: boolean;
  status?: number;
  body?: string;
  etag?: string | null;
  name?: string;
  message?: string;
}

describe('S3 POST form uploads in a browser, from a page on another origin', () => {
  let server: TestServer;
  let browser: TestBrowser;
  let site: OriginServer;
  let s3: S3Client;

  before(async () => {
    // Before anything starts: a server already running when the browser fails would keep the process alive.
    findChromium();
    [server, browser, site] = await Promise.all([startServer(), launchBrowser(), startOriginServer()]);
    site.route('/done', { contentType: 'text/html; charset=utf-8', body: '<!doctype html><title>Uploaded</title><h1>Uploaded</h1>' });
    site.route('/blank', { contentType: 'text/html; charset=utf-8', body: '<!doctype html><title>Blank</title>' });
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3?.destroy();
    await browser?.close();
    await site?.close();
    await server?.cleanup();
  });

  /** The policy's fields for uploads under `uploads/` (a key may name the browser's `${filename}`). */
  function policyFields(extra: Fields, conditions: unknown[]): Fields {
    const auth = s3PolicyFields({ conditions: [{ bucket: BUCKET }, ['starts-with', '$key', 'uploads/'], ['content-length-range', 1, 1024 * 1024], ...conditions] });
    return [...extra, ...auth.fields];
  }

  async function storedBytes(key: string): Promise<Buffer> {
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  }

  it('a plain HTML form: the file input is sent, the answer is a 303 to success_action_redirect with bucket, key and etag', async () => {
    const redirect = `${site.origin}/done`;
    const fields = policyFields(
      [['key', 'uploads/form/${filename}'], ['success_action_redirect', redirect], ['Content-Type', 'text/plain']],
      [['starts-with', '$success_action_redirect', site.origin + '/'], ['starts-with', '$Content-Type', 'text/']],
    );
    const inputs = fields.map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('\n');
    site.route('/form', {
      contentType: 'text/html; charset=utf-8',
      body: `<!doctype html><title>Form upload</title>
<form method="post" action="${escapeHtml(`${server.url}/${BUCKET}`)}" enctype="multipart/form-data">
${inputs}
<label>File <input type="file" name="file"></label>
<button type="submit">Upload</button>
</form>`,
    });
    const content = Buffer.from('Sent by a browser form, from another origin.\n'.repeat(200));
    const page = await browser.newPage();
    await page.goto(`${site.origin}/form`);
    await page.getByLabel('File').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: content });
    const posted: Array<{ status: number; location: string | undefined }> = [];
    page.on('response', (response) => {
      if (response.request().method() === 'POST') posted.push({ status: response.status(), location: response.headers()['location'] });
    });
    await Promise.all([page.waitForURL(`${redirect}?**`), page.getByRole('button', { name: 'Upload' }).click()]);

    // The page the browser landed on, reached through Tessera's 303.
    const final = new URL(page.url());
    assert.equal(final.origin + final.pathname, redirect);
    assert.equal(final.searchParams.get('bucket'), BUCKET);
    assert.equal(final.searchParams.get('key'), 'uploads/form/notes.txt', 'the key took the browser file name');
    assert.equal(final.searchParams.get('etag'), `"${md5Hex(content)}"`);
    const landing = site.requests.filter((request) => request.url.pathname === '/done');
    assert.equal(landing.length, 1);
    assert.equal(landing[0]!.method, 'GET', 'a 303 turns the POST into a GET');
    assert.deepEqual(posted, [{ status: 303, location: page.url() }], 'Tessera answered the form with one 303 to where the browser went');
    assert.equal(await page.getByRole('heading').textContent(), 'Uploaded');

    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/form/notes.txt' }));
    assert.equal(got.ContentType, 'text/plain');
    assert.ok(Buffer.from(await got.Body!.transformToByteArray()).equals(content), 'the stored bytes are the file the browser sent');
  });

  /** From a page on the site: POSTs the form by fetch (file last) and reports what the page could read. */
  async function fetchUpload(page: Page, fields: Fields, file: { name: string; text: string }): Promise<FetchOutcome> {
    return page.evaluate(
      async ({ action, fields, file }) => {
        const form = new FormData();
        for (const [name, value] of fields) form.append(name, value);
        form.append('file', new Blob([file.text], { type: 'text/plain' }), file.name);
        try {
          const response = await fetch(action, { method: 'POST', body: form });
          return { ok: true, status: response.status, body: await response.text(), etag: response.headers.get('etag') };
        } catch (err) {
          return { ok: false, name: (err as Error).name, message: (err as Error).message };
        }
      },
      { action: `${server.url}/${BUCKET}`, fields, file },
    );
  }

  it('fetch from the page under a rule for its origin: the page reads the 201 XML and the exposed ETag; the answer carries the CORS headers', async () => {
    await s3.send(
      new PutBucketCorsCommand({ Bucket: BUCKET, CORSConfiguration: { CORSRules: [{ AllowedOrigins: [site.origin], AllowedMethods: ['POST'], ExposeHeaders: ['ETag'] }] } }),
    );
    const page = await browser.newPage();
    await page.goto(`${site.origin}/blank`);
    const answered = page.waitForResponse((response) => response.request().method() === 'POST' && response.url().startsWith(server.url));
    const text = 'uploaded by fetch with CORS';
    const outcome = await fetchUpload(page, policyFields([['key', 'uploads/fetch/${filename}'], ['success_action_status', '201']], [{ success_action_status: '201' }]), { name: 'allowed.txt', text });
    const response = await answered;

    assert.equal(outcome.ok, true, JSON.stringify(outcome));
    assert.equal(outcome.status, 201, outcome.body);
    const etag = `"${md5Hex(Buffer.from(text))}"`;
    assert.equal(outcome.etag, etag, 'the page read the ETag the rule exposes');
    assert.equal(xmlText(outcome.body!, 'Bucket'), BUCKET);
    assert.equal(xmlText(outcome.body!, 'Key'), 'uploads/fetch/allowed.txt');
    assert.equal(xmlText(outcome.body!, 'ETag'), etag);
    const headers = response.headers();
    assert.equal(headers['access-control-allow-origin'], site.origin);
    assert.match(headers['access-control-expose-headers'] ?? '', /etag/i);
    assert.match(headers['vary'] ?? '', /origin/i);
    assert.equal((await storedBytes('uploads/fetch/allowed.txt')).toString(), text);
  });

  it('fetch from the page with no rule for its origin: the page cannot read the answer (a CORS failure), though a form POST needs no preflight and so is stored, as S3 does', async () => {
    await s3.send(new DeleteBucketCorsCommand({ Bucket: BUCKET }));
    const page = await browser.newPage();
    const logged: string[] = [];
    page.on('console', (message) => logged.push(message.text()));
    await page.goto(`${site.origin}/blank`);
    const text = 'uploaded by fetch without CORS';
    const outcome = await fetchUpload(page, policyFields([['key', 'uploads/fetch/${filename}'], ['success_action_status', '201']], [{ success_action_status: '201' }]), { name: 'unreadable.txt', text });
    assert.equal(outcome.ok, false, JSON.stringify(outcome));
    assert.equal(outcome.name, 'TypeError');
    assert.match(outcome.message ?? '', /Failed to fetch/);
    assert.ok(logged.some((line) => line.includes('blocked by CORS policy')), logged.join('\n'));
    // A multipart/form-data POST is a "simple" request: the browser sends it without asking, just
    // as a plain HTML form would. The policy's signature, not CORS, is what authorizes the upload.
    assert.equal((await storedBytes('uploads/fetch/unreadable.txt')).toString(), text);
  });
});
