/**
 * Uploads at the edges, on the console's Objects page in a real browser against a real server: a
 * 0-byte file, a key with `?` (and other characters URLs give a meaning to), and a 5 GiB file.
 *
 * The 5 GiB file is sparse (fs.truncate: no disk taken) and is NOT sent whole: CI machines have
 * small disks and the server would store 5 GiB. Its upload is checked for what only a file that
 * big shows: it goes multipart with a plan within S3's 10,000 parts, the first parts reach the
 * server with the right sizes (ListParts), the progress bar counts against 5 GiB, and Abort leaves
 * nothing behind; a 50 GiB one gets parts large enough to stay within 10,000. Sending every part
 * is what the 30 MiB uploads of resumable-upload.test.ts check.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Locator, Page, Route } from 'playwright-core';
import { expectError } from '../helpers/assertions.js';
import type { TestBrowser } from '../helpers/browser.js';
import { closeConsoleFixture, openConsoleFixture } from '../helpers/console-fixture.js';
import { eventually, signInPage } from '../helpers/console.js';
import type { TestServer } from '../helpers/server.js';

const BUCKET = 'console-edges';
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
/** The console's default part size, and S3's least. */
const PART_BYTES = 5 * MIB;

describe('console: uploads at the edges', () => {
  let server: TestServer;
  let browser: TestBrowser;
  let s3: S3Client;
  let dir: string;
  before(async () => {
    ({ server, browser, s3, dir } = await openConsoleFixture(BUCKET, 'tessera-console-edges-'));
  });
  after(() => closeConsoleFixture({ server, browser, s3, dir }));

  async function objectsPage(): Promise<Page> {
    const page = await browser.newPage();
    await signInPage(page, server, undefined, undefined, `buckets/${BUCKET}/objects`);
    await page.getByRole('table', { name: 'Objects' }).waitFor();
    return page;
  }

  /** Chooses files with "Upload" (the input behind the button, not the folder one). */
  async function chooseFiles(page: Page, paths: string[]): Promise<void> {
    const chooser = page.waitForEvent('filechooser');
    await page.getByRole('button', { name: 'Upload', exact: true }).click();
    await (await chooser).setFiles(paths);
  }

  const rowOf = (page: Page, name: string): Locator =>
    page.getByRole('table', { name: 'Objects' }).getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });

  async function body(key: string): Promise<Buffer> {
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  }

  it('a 0-byte file uploads and lists as 0 bytes; keys with ?, #, &, = and % arrive as named', async () => {
    const names = ['empty.txt', 'what?.txt', 'a?b=c&d #1 100%.txt', '?'];
    const contents: Record<string, Buffer> = {
      'empty.txt': Buffer.alloc(0),
      'what?.txt': Buffer.from('a question mark'),
      'a?b=c&d #1 100%.txt': Buffer.from('looks like a query string'),
      '?': Buffer.from('only a question mark'),
    };
    const paths = [];
    for (const name of names) {
      const path = join(dir, name);
      await writeFile(path, contents[name]!);
      paths.push(path);
    }
    const page = await objectsPage();
    await chooseFiles(page, paths);
    await page.getByRole('status').filter({ hasText: `Uploaded ${names.length} files.` }).waitFor();

    for (const name of names) {
      assert.ok((await body(name)).equals(contents[name]!), name);
      const row = rowOf(page, name);
      await row.waitFor();
      const size = contents[name]!.length;
      assert.equal(await row.locator(`[title="${size} bytes"]`).innerText(), `${size} B`, name);
    }
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'empty.txt' }));
    assert.equal(head.ContentLength, 0);
    // What HEAD says of the 0-byte object, as the page shows it.
    await rowOf(page, 'empty.txt').getByRole('button', { name: 'Details' }).click();
    const details = page.getByRole('dialog', { name: 'Details of empty.txt' });
    await details.getByText(head.ETag!).waitFor();
    assert.match(await details.locator('dl').innerText(), /Size\s+0 B \(0 bytes\)/);
    await page.context().close();
  });

  /**
   * Chooses a sparse file of `size` bytes with Upload while the browser holds parts 3 and up
   * (never sent): waits until the server holds parts 1 and 2, checks their sizes against the part
   * size the page planned (and remembers to resume), and returns the upload.
   */
  async function startHeldUpload(name: string, size: number): Promise<{ page: Page; uploadId: string; partBytes: number }> {
    const path = join(dir, name);
    await writeFile(path, '');
    await truncate(path, size);

    const page = await objectsPage();
    const held: Route[] = [];
    await page.route((url) => Number(url.searchParams.get('partNumber') ?? '0') >= 3, (route) => {
      held.push(route);
    });
    await chooseFiles(page, [path]);

    let uploadId: string | undefined;
    await eventually(async () => {
      const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
      uploadId = listed.Uploads?.find((upload) => upload.Key === name)?.UploadId;
      assert.ok(uploadId, 'a multipart upload was started');
    });
    // The page remembers the upload once CreateMultipartUpload's answer reaches it, which may be just
    // after the server lists it.
    let plan = undefined as { uploadId: string; partBytes: number; size: number } | undefined;
    await eventually(async () => {
      const remembered = JSON.parse((await page.evaluate<string | null>("localStorage.getItem('tessera.console.resumable-uploads')")) ?? '{}') as Record<
        string,
        { uploadId: string; partBytes: number; size: number }
      >;
      plan = Object.values(remembered).find((entry) => entry.uploadId === uploadId);
      assert.ok(plan, 'the upload is remembered with its part size');
    });
    if (!plan) throw new Error('unreachable: eventually passed without a plan');
    const { partBytes } = plan;
    assert.equal(plan.size, size);
    assert.ok(Math.ceil(size / plan.partBytes) <= 10_000, `${Math.ceil(size / plan.partBytes)} parts`);

    await eventually(async () => {
      const listed = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: name, UploadId: uploadId }));
      assert.deepEqual(
        (listed.Parts ?? []).map((part) => [part.PartNumber, part.Size]),
        [
          [1, partBytes],
          [2, partBytes],
        ],
      );
    }, 60_000);
    // The four parallel parts: 1 and 2 sent, then 3 to 6 held.
    await eventually(() => assert.equal(held.length, 4));
    return { page, uploadId: uploadId!, partBytes: plan.partBytes };
  }

  async function abortAndCheckGone(page: Page, name: string, uploadId: string): Promise<void> {
    await page.getByRole('button', { name: `Abort ${name}` }).click();
    await page.getByText('Aborted; the parts sent were deleted.').waitFor();
    await expectError(s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: name, UploadId: uploadId })), 404, 'NoSuchUpload');
    const after = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    assert.equal(after.Uploads?.some((upload) => upload.Key === name) ?? false, false);
    await expectError(s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: name })), 404);
    assert.equal(await page.evaluate("localStorage.getItem('tessera.console.resumable-uploads')"), null);
  }

  it('a 5 GiB file goes multipart within 10,000 parts; its first parts reach the server with the right sizes; the bar counts against 5 GiB; Abort leaves nothing', async () => {
    const name = 'five-gib.bin';
    const { page, uploadId, partBytes } = await startHeldUpload(name, 5 * GIB);
    assert.equal(partBytes, PART_BYTES);
    assert.equal(Math.ceil((5 * GIB) / partBytes), 1024);

    const bar = page.getByRole('progressbar', { name: `Upload of ${name}` });
    await eventually(async () => assert.equal(await bar.getAttribute('aria-valuetext'), '0% (10.0 MiB of 5.00 GiB)'));
    assert.equal(await bar.getAttribute('aria-valuenow'), '0');
    assert.equal(await bar.getAttribute('aria-valuemax'), '100');
    await page.getByText('10.0 MiB of 5.00 GiB (0%)').waitFor();

    await abortAndCheckGone(page, name, uploadId);
    await page.context().close();
  });

  it('a file over 10,000 × 5 MiB (50 GiB, sparse) gets larger parts: exactly 10,000 of them, never a 10,001st', async () => {
    const name = 'fifty-gib.bin';
    const size = 50 * GIB;
    const { page, uploadId, partBytes } = await startHeldUpload(name, size);
    assert.equal(partBytes, Math.ceil(size / 10_000));
    assert.ok(partBytes > PART_BYTES);
    assert.equal(Math.ceil(size / partBytes), 10_000);
    await page.getByText(`${((2 * partBytes) / MIB).toFixed(1)} MiB of 50.0 GiB (0%)`).waitFor();
    await abortAndCheckGone(page, name, uploadId);
    await page.context().close();
  });
});
