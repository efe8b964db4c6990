/**
 * The console's bucket CORS settings in a browser: the rules shown as a table and as the XML
 * document, edited and saved (PutBucketCors with the document as written, its CRC-32 computed
 * in the page), the server's own error for a bad document shown verbatim, and deletion.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, GetBucketCorsCommand, PutBucketCorsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { expectError } from '../helpers/assertions.js';
import { checksumOf } from '../helpers/checksums.js';
import { findChromium, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { signInPage, tableRows } from '../helpers/console.js';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const BUCKET = 'console-cors';

describe('console: bucket CORS view and edit', () => {
  let server: TestServer;
  let browser: TestBrowser;
  let s3: S3Client;

  before(async () => {
    // Before anything starts: a server already running when the browser fails would keep the process alive.
    findChromium();
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3?.destroy();
    await browser?.close();
    await server?.cleanup();
  });

  async function corsPage(): Promise<Page> {
    const page = await browser.newPage();
    await signInPage(page, server);
    await tableRows(page, 'Buckets').filter({ hasText: BUCKET }).getByRole('link', { name: 'CORS', exact: true }).click();
    await page.getByRole('heading', { name: `CORS of ${BUCKET}` }).waitFor();
    return page;
  }

  const editor = (page: Page) => page.getByLabel('CORS configuration (XML)');

  it('a bucket without rules says so and offers an example document; Save stores it', async () => {
    const page = await corsPage();
    await page.getByText('This bucket has no CORS configuration').waitFor();
    assert.match(await editor(page).inputValue(), /<AllowedOrigin>https:\/\/app\.example\.com<\/AllowedOrigin>/);
    await page.getByRole('button', { name: 'Save CORS configuration' }).click();
    await page.getByRole('status').filter({ hasText: `Saved the CORS configuration of ${BUCKET}.` }).waitFor();
    const stored = await s3.send(new GetBucketCorsCommand({ Bucket: BUCKET }));
    assert.deepEqual(stored.CORSRules?.map((rule) => rule.AllowedOrigins), [['https://app.example.com']]);
    assert.equal(await tableRows(page, 'CORS rules').count(), 1);
  });

  it('shows the rules set through S3 as a table and as XML; an edited document is saved as written', async () => {
    await s3.send(
      new PutBucketCorsCommand({
        Bucket: BUCKET,
        CORSConfiguration: {
          CORSRules: [
            { ID: 'uploads', AllowedOrigins: ['https://one.example'], AllowedMethods: ['PUT', 'POST'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 600 },
            { AllowedOrigins: ['*'], AllowedMethods: ['GET'] },
          ],
        },
      }),
    );
    const page = await corsPage();
    const rows = tableRows(page, 'CORS rules');
    await rows.nth(1).waitFor();
    assert.deepEqual(
      (await rows.allInnerTexts()).map((row) => row.split('\t').map((cell) => cell.trim())),
      [
        ['https://one.example', 'PUT, POST', '*', 'ETag', '600', 'uploads'],
        ['*', 'GET', '—', '—', '—', '—'],
      ],
    );
    const shown = await editor(page).inputValue();
    assert.match(shown, /<ID>uploads<\/ID>\s*<AllowedOrigin>https:\/\/one\.example<\/AllowedOrigin>/);

    const edited =
      '<CORSConfiguration><CORSRule><AllowedOrigin>http://*.example.org</AllowedOrigin><AllowedMethod>DELETE</AllowedMethod><ExposeHeader>x-amz-request-id</ExposeHeader><MaxAgeSeconds>42</MaxAgeSeconds></CORSRule></CORSConfiguration>';
    await editor(page).fill(edited);
    const sent = page.waitForRequest((request) => request.method() === 'PUT' && new URL(request.url()).searchParams.has('cors'));
    await page.getByRole('button', { name: 'Save CORS configuration' }).click();
    await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
    // The body is the document as written, with the CRC-32 of those bytes (and no checksum of the SDK's own body).
    const request = await sent;
    assert.equal(request.postData(), edited);
    const headers = await request.allHeaders();
    assert.equal(headers['x-amz-checksum-crc32'], checksumOf('crc32', Buffer.from(edited)));
    assert.equal(headers['content-md5'], undefined);
    const stored = await s3.send(new GetBucketCorsCommand({ Bucket: BUCKET }));
    assert.deepEqual(stored.CORSRules, [{ AllowedOrigins: ['http://*.example.org'], AllowedMethods: ['DELETE'], ExposeHeaders: ['x-amz-request-id'], MaxAgeSeconds: 42 }]);
    await rows.filter({ hasText: 'http://*.example.org' }).waitFor();
    assert.equal(await rows.count(), 1);
  });

  for (const [what, document, message] of [
    [
      'a method S3 does not take',
      '<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>',
      'Found unsupported HTTP method in CORS config. Unsupported method is PATCH (InvalidRequest)',
    ],
    ['XML that is not well formed', '<CORSConfiguration><CORSRule>', 'The XML you provided was not well-formed or did not validate against our published schema. (MalformedXML)'],
  ] as const) {
    it(`${what}: the server's error is shown verbatim and the stored rules are unchanged`, async () => {
      const before = await s3.send(new GetBucketCorsCommand({ Bucket: BUCKET }));
      const page = await corsPage();
      await editor(page).fill(document);
      await page.getByRole('button', { name: 'Save CORS configuration' }).click();
      const alert = page.getByRole('alert');
      await alert.waitFor();
      assert.equal((await alert.textContent())?.trim(), message);
      assert.equal(await editor(page).inputValue(), document, 'the document is kept for correction');
      const after = await s3.send(new GetBucketCorsCommand({ Bucket: BUCKET }));
      assert.deepEqual(after.CORSRules, before.CORSRules);
    });
  }

  it('Delete removes the configuration after confirmation', async () => {
    const page = await corsPage();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Delete CORS configuration' }).click();
    await page.getByRole('status').filter({ hasText: `Deleted the CORS configuration of ${BUCKET}.` }).waitFor();
    await page.getByText('This bucket has no CORS configuration').waitFor();
    await expectError(s3.send(new GetBucketCorsCommand({ Bucket: BUCKET })), 404, 'NoSuchCORSConfiguration');
  });
});
