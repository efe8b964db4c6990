/**
 * The console's "Uploads in progress" and "Parts" pages in a real browser (Debian's Chromium
 * through playwright-core) against a real server, and the console API endpoint they count parts
 * with (`POST /-/console/api/buckets/NAME/upload-totals`). Uploads are started by other clients
 * (@aws-sdk/client-s3, ali-oss) as users would; the page is driven by roles and accessible names.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutBucketLifecycleConfigurationCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Locator, Page } from 'playwright-core';
import { findChromium, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { consoleApi, eventually, signInApi, signInPage, tableRows } from '../helpers/console.js';
import { expectError } from '../helpers/assertions.js';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { ossClient } from '../oss/helpers.js';
import { ALICE, ALICE_BUCKET, login, md5, ok, panConfig, randomData, SLICE } from '../pan/helpers.js';

const BUCKET = 'console-uploads';
const MANY_PARTS = 1100;
const NO_SUCH_UPLOAD = 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.';

/** Part n's body: a few bytes (part sizes are only checked at Complete), each part a different size. */
const partBody = (partNumber: number) => Buffer.alloc((partNumber % 7) + 1, partNumber % 251);
const md5Etag = (body: Buffer) => `"${createHash('md5').update(body).digest('hex')}"`;
const bytesOfParts = (count: number) => Array.from({ length: count }, (_, index) => partBody(index + 1).length).reduce((sum, size) => sum + size, 0);

describe('console: uploads in progress and their parts', () => {
  let server: TestServer;
  let browser: TestBrowser;
  let s3: S3Client;

  before(async () => {
    // Before anything starts: a server already running when the browser fails would keep the process alive.
    findChromium();
    [server, browser] = await Promise.all([startServer({ config: panConfig() }), launchBrowser()]);
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3?.destroy();
    await browser?.close();
    await server?.cleanup();
  });

  async function startUpload(bucket: string, key: string, parts: number): Promise<string> {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const numbers = Array.from({ length: parts }, (_, index) => index + 1);
    await inBatches(numbers, 32, (partNumber) => s3.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: partNumber, Body: partBody(partNumber) })));
    return UploadId!;
  }

  const cells0 = (cells: string[]) => cells.map((cell) => cell.trim());

  async function signedIn(path: string, user?: { accessKey: string; secretKey: string }): Promise<Page> {
    const page = await browser.newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await signInPage(page, server, user?.accessKey, user?.secretKey, path);
    return page;
  }

  it('API: part counts and bytes per upload in one call, and the bucket’s totals; errors as the console API answers them', async () => {
    const bucket = 'upload-totals-api';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const three = await startUpload(bucket, 'three parts', 3);
    const none = await startUpload(bucket, 'no parts yet', 0);
    const root = await signInApi(server);

    const answer = await consoleApi(server, root, 'POST', `buckets/${bucket}/upload-totals`, { uploadIds: [three, none, 'not-an-upload'] });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.deepEqual(answer.json, {
      uploads: { [three]: { parts: 3, bytes: bytesOfParts(3) }, [none]: { parts: 0, bytes: 0 }, 'not-an-upload': { parts: 0, bytes: 0 } },
      bucket: { uploads: 2, parts: 3, bytes: bytesOfParts(3) },
      // Not asked for (no abortDatesFor): none.
      abortDates: {},
    });
    // Another bucket's upload id counts nothing here.
    const elsewhere = await startUpload(BUCKET, 'elsewhere', 1);
    const crossed = await consoleApi(server, root, 'POST', `buckets/${bucket}/upload-totals`, { uploadIds: [elsewhere] });
    assert.deepEqual(crossed.json.uploads, { [elsewhere]: { parts: 0, bytes: 0 } });
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'elsewhere', UploadId: elsewhere }));

    // An aborted upload leaves the bucket's totals.
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'three parts', UploadId: three }));
    const after = await consoleApi(server, root, 'POST', `buckets/${bucket}/upload-totals`, { uploadIds: [three] });
    assert.deepEqual(after.json, { uploads: { [three]: { parts: 0, bytes: 0 } }, bucket: { uploads: 1, parts: 0, bytes: 0 }, abortDates: {} });

    // Alice owns nothing here: AccessDenied, as S3 answers her.
    const alice = await signInApi(server, ALICE.accessKey, ALICE.secretKey);
    const refused = await consoleApi(server, alice, 'POST', `buckets/${bucket}/upload-totals`, { uploadIds: [none] });
    assert.equal(refused.status, 403);
    assert.equal(refused.json.code, 'AccessDenied');

    const missing = await consoleApi(server, root, 'POST', 'buckets/no-such-bucket/upload-totals', { uploadIds: [] });
    assert.equal(missing.status, 404);
    assert.equal(missing.json.code, 'NoSuchBucket');
    const tooMany = await consoleApi(server, root, 'POST', `buckets/${bucket}/upload-totals`, { uploadIds: Array.from({ length: 1001 }, (_, index) => `id-${index}`) });
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.json.code, 'InvalidArgument');
    const notAList = await consoleApi(server, root, 'POST', `buckets/${bucket}/upload-totals`, { uploadIds: 'abc' });
    assert.equal(notAList.status, 400);
    assert.equal(notAList.json.code, 'InvalidRequest');
    const get = await consoleApi(server, root, 'GET', `buckets/${bucket}/upload-totals`);
    assert.equal(get.status, 405);
    // Unsigned: refused before anything is read.
    const unsigned = await fetch(new URL(`/-/console/api/buckets/${bucket}/upload-totals`, server.url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ uploadIds: [none] }),
    });
    assert.equal(unsigned.status, 403);
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'no parts yet', UploadId: none }));
  });

  it('API: abort dates per upload, by the lifecycle rule that covers it (its ID) or by the server-wide expiry', async () => {
    const bucket = 'upload-abort-dates';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: bucket,
        LifecycleConfiguration: { Rules: [{ ID: 'tmp-in-3-days', Filter: { Prefix: 'tmp/' }, Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 3 } }] },
      }),
    );
    const covered = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'tmp/scratch.bin' }));
    const uncovered = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'keep/archive.tar' }));
    const listed = (await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
    const root = await signInApi(server);
    const answer = await consoleApi(server, root, 'POST', `buckets/${bucket}/upload-totals`, {
      uploadIds: listed.map((upload) => upload.UploadId),
      abortDatesFor: listed.map((upload) => ({ uploadId: upload.UploadId, key: upload.Key, initiated: upload.Initiated!.toISOString() })),
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    const initiated = (uploadId: string | undefined) => listed.find((upload) => upload.UploadId === uploadId)!.Initiated!.getTime();
    const DAY = 24 * 60 * 60 * 1000;
    assert.deepEqual(answer.json.abortDates[covered.UploadId!], {
      date: new Date(Math.ceil((initiated(covered.UploadId) + 3 * DAY) / DAY) * DAY).toISOString(),
      ruleId: 'tmp-in-3-days',
    });
    // What CreateMultipartUpload said is what the console says.
    assert.equal(answer.json.abortDates[covered.UploadId!].date, covered.AbortDate!.toISOString());
    assert.deepEqual(answer.json.abortDates[uncovered.UploadId!], { date: new Date(initiated(uncovered.UploadId) + 7 * DAY).toISOString() });

    const malformed = await consoleApi(server, root, 'POST', `buckets/${bucket}/upload-totals`, { uploadIds: [], abortDatesFor: [{ uploadId: 'x', key: 'k', initiated: 'yesterday' }] });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.json.code, 'InvalidRequest');

    // The page shows them.
    const page = await signedIn(`buckets/${bucket}/uploads`);
    const uploads = page.getByRole('table', { name: 'Uploads in progress' });
    await rowWith(uploads, covered.UploadId!).waitFor();
    assert.match((await rowWith(uploads, covered.UploadId!).locator('td').allInnerTexts()).join(' | '), /\(lifecycle rule tmp-in-3-days\)/);
    assert.match((await rowWith(uploads, uncovered.UploadId!).locator('td').allInnerTexts()).join(' | '), /\(server default\)/);
    await page.close();
  });

  it('a 1,100-part upload is listed with its part count and bytes; its Parts page pages past 1,000 to part 1,100; Abort from the page ends it', async () => {
    const key = 'big/video.mp4';
    const uploadId = await startUpload(BUCKET, key, MANY_PARTS);
    const ossUpload = await ossClient(server, 'v4', BUCKET).initMultipartUpload('from ali-oss.bin');
    await ossClient(server, 'v4', BUCKET).uploadPart('from ali-oss.bin', ossUpload.uploadId, 1, Buffer.from('twelve bytes'), 0, 12);

    // From the bucket's Objects page to its uploads.
    const page = await signedIn(`buckets/${BUCKET}/objects`);
    await page.getByRole('link', { name: 'Uploads in progress' }).click();
    const uploads = page.getByRole('table', { name: 'Uploads in progress' });
    const row = rowWith(uploads, uploadId);
    await row.waitFor();
    const uploadHeaders = await uploads.getByRole('columnheader').allInnerTexts();
    assert.deepEqual(uploadHeaders.map((text) => text.trim()), ['', 'Key', 'Upload ID', 'Initiated', 'Aborted after', 'Parts', 'Bytes so far', 'Actions']);
    // No lifecycle rule covers it: the server-wide expiry (7 days) will.
    assert.ok(cells0(await row.locator('td').allInnerTexts()).some((cell) => cell.endsWith('(server default)')));
    assert.equal(await row.getByRole('rowheader').innerText(), key);
    const cells = await row.locator('td').allInnerTexts();
    assert.ok(cells.includes('1,100'), `part count in ${cells.join(' | ')}`);
    assert.equal(await row.locator(`[title="${bytesOfParts(MANY_PARTS).toLocaleString('en-US')} bytes"]`).count(), 1);
    // The upload ali-oss started is there too, with its part.
    const ossRow = rowWith(uploads, ossUpload.uploadId);
    assert.equal(await ossRow.getByRole('rowheader').innerText(), 'from ali-oss.bin');
    assert.equal(await ossRow.locator('[title="12 bytes"]').count(), 1);
    await page.getByText(`In this bucket: 2 uploads, 1,101 parts`).waitFor();

    // Its parts: ossutil listpart's columns, 1,000 a page.
    await row.getByRole('link', { name: key }).click();
    const parts = page.getByRole('table', { name: 'Parts' });
    await parts.getByRole('rowheader', { name: '1', exact: true }).waitFor();
    const headers = await parts.getByRole('columnheader').allInnerTexts();
    assert.deepEqual(headers.map((text) => text.trim()), ['Part number', 'ETag', 'Size', 'Last modified']);
    assert.equal(await tableRows(page, 'Parts').count(), 1000);
    await page.getByText(`This upload: 1,100 parts, `).waitFor();
    await page.getByText(`(${bytesOfParts(MANY_PARTS).toLocaleString('en-US')} bytes)`).waitFor();
    await page.getByRole('button', { name: 'Next page' }).click();
    const last = parts.getByRole('row').filter({ has: page.getByRole('rowheader', { name: '1100', exact: true }) });
    await last.waitFor();
    assert.equal(await tableRows(page, 'Parts').count(), 100);
    const lastCells = await last.locator('td').allInnerTexts();
    assert.equal(lastCells[0], md5Etag(partBody(MANY_PARTS)));
    assert.equal(await last.locator(`[title="${partBody(MANY_PARTS).length} bytes"]`).count(), 1);
    assert.ok(await page.getByRole('button', { name: 'Next page' }).isDisabled());
    await page.getByRole('button', { name: 'Previous page' }).click();
    await parts.getByRole('rowheader', { name: '1000', exact: true }).waitFor();

    // Abort it here: S3 then knows no such upload.
    await page.getByRole('button', { name: 'Abort' }).click();
    await page.getByRole('table', { name: 'Uploads in progress' }).waitFor();
    await eventually(async () => assert.equal(await rowWith(page.getByRole('table', { name: 'Uploads in progress' }), ossUpload.uploadId).count(), 1));
    assert.equal(await rowWith(page.getByRole('table', { name: 'Uploads in progress' }), uploadId).count(), 0);
    await expectError(s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId })), 404, 'NoSuchUpload');
    await ossClient(server, 'v4', BUCKET).abortMultipartUpload('from ali-oss.bin', ossUpload.uploadId);
    await page.close();
  });

  it('abort many with the checkboxes; a refused abort shows the server’s error verbatim', async () => {
    const bucket = 'abort-many';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const ids = await Promise.all(['a.bin', 'b.bin', 'c.bin', 'a.bin'].map((key) => startUpload(bucket, key, 2).then((id) => ({ key, id }))));
    const page = await signedIn(`buckets/${bucket}/uploads`);
    const table = page.getByRole('table', { name: 'Uploads in progress' });
    await rowWith(table, ids[3]!.id).waitFor();

    for (const { id } of ids.slice(0, 3)) await rowWith(table, id).getByRole('checkbox').check();
    await page.getByRole('button', { name: 'Abort', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Aborted 3 uploads.' }).waitFor();
    await eventually(async () => assert.equal(await tableRows(page, 'Uploads in progress').count(), 1));
    for (const { key, id } of ids.slice(0, 3)) await expectError(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: id })), 404, 'NoSuchUpload');
    await s3.send(new ListPartsCommand({ Bucket: bucket, Key: ids[3]!.key, UploadId: ids[3]!.id }));

    // Gone behind the page's back: the server's NoSuchUpload, as it says it.
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: ids[3]!.key, UploadId: ids[3]!.id }));
    await rowWith(table, ids[3]!.id).getByRole('button', { name: 'Abort' }).click();
    await page.getByRole('alert').filter({ hasText: `${NO_SUCH_UPLOAD} (NoSuchUpload)` }).waitFor();
    await page.close();
  });

  it('keys with spaces, +, #, %, emoji and ../ list, open their parts and abort', async () => {
    const bucket = 'odd-upload-keys';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const key = 'odd/../a + b #1 100% 😀.bin';
    const uploadId = await startUpload(bucket, key, 2);
    const page = await signedIn(`buckets/${bucket}/uploads`);
    const row = rowWith(page.getByRole('table', { name: 'Uploads in progress' }), uploadId);
    await row.waitFor();
    assert.equal(await row.getByRole('rowheader').innerText(), key);
    await row.getByRole('link', { name: key }).click();
    await page.getByRole('heading', { name: `Parts of ${key}` }).waitFor();
    const second = page.getByRole('table', { name: 'Parts' }).getByRole('row').filter({ has: page.getByRole('rowheader', { name: '2', exact: true }) });
    // The heading comes before the parts' page does.
    await second.waitFor();
    assert.equal((await second.locator('td').allInnerTexts())[0], md5Etag(partBody(2)));
    await page.getByRole('button', { name: 'Abort' }).click();
    await page.getByRole('table', { name: 'Uploads in progress' }).getByText('No uploads in progress.').waitFor();
    await expectError(s3.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId })), 404, 'NoSuchUpload');
    await page.close();
  });

  it('pages past 1,000 uploads with the key and upload-id markers', async () => {
    const bucket = 'many-uploads';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const keys = Array.from({ length: 1001 }, (_, index) => `u/${String(index).padStart(4, '0')}`);
    await inBatches(keys, 32, (key) => s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key })));
    const page = await signedIn(`buckets/${bucket}/uploads`);
    await page.getByRole('table', { name: 'Uploads in progress' }).getByRole('rowheader', { name: 'u/0999' }).waitFor();
    assert.equal(await tableRows(page, 'Uploads in progress').count(), 1000);
    await page.getByText('In this bucket: 1,001 uploads, 0 parts').waitFor();
    await page.getByRole('button', { name: 'Next page' }).click();
    await page.getByRole('table', { name: 'Uploads in progress' }).getByRole('rowheader', { name: 'u/1000' }).waitFor();
    assert.equal(await tableRows(page, 'Uploads in progress').count(), 1);
    await page.getByRole('button', { name: 'Previous page' }).click();
    await page.getByRole('table', { name: 'Uploads in progress' }).getByRole('rowheader', { name: 'u/0000' }).waitFor();
    await page.close();
  });

  it('a user sees the upload their 123pan app started in their drive’s bucket, and not root’s bucket’s uploads', async () => {
    const data = randomData(3 * SLICE);
    const created = await ok(server.url, 'POST', '/upload/v2/file/create', { token: await login(server.url), json: { parentFileID: 0, filename: 'from pan.bin', etag: md5(data), size: data.length } });
    assert.ok(created.preuploadID, 'a multipart upload, not an instant one');
    const own = await signedIn(`buckets/${ALICE_BUCKET}/uploads`, ALICE);
    await own.getByRole('table', { name: 'Uploads in progress' }).getByRole('rowheader', { name: 'from pan.bin' }).waitFor();
    await own.close();

    const uploadId = await startUpload(BUCKET, 'root only', 1);
    const page = await signedIn(`buckets/${BUCKET}/uploads`, ALICE);
    await page.getByRole('alert').filter({ hasText: 'Access Denied.' }).first().waitFor();
    assert.equal(await page.getByText(uploadId).count(), 0);
    assert.equal(await page.getByText('root only').count(), 0);
    await page.close();
    await s3.send(new AbortMultipartUploadCommand({ Bucket: BUCKET, Key: 'root only', UploadId: uploadId }));
  });
});

/** The row of a table that shows this upload id. */
function rowWith(table: Locator, uploadId: string): Locator {
  return table.locator('tbody tr').filter({ hasText: uploadId });
}

async function inBatches<T>(items: T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
