/**
 * Resumable multipart upload of large files on the Objects page, in a real browser against a
 * real server: the bytes arrive whole, Pause and Resume, and a reload mid-upload resumes
 * through ListParts without sending again the parts the server already holds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Page, Route } from 'playwright-core';
import type { TestBrowser } from '../helpers/browser.js';
import { closeConsoleFixture, openConsoleFixture } from '../helpers/console-fixture.js';
import { eventually, issueAs, ROOT_USER, signInPage } from '../helpers/console.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, type TestServer } from '../helpers/server.js';

const BUCKET = 'console-resumable';
const MIB = 1024 * 1024;
const FILE_BYTES = 30 * MIB;
/** The console's default part size: 30 MiB makes 6 parts. */
const PART_COUNT = 6;

describe('resumable upload of large files in the console', () => {
  let server: TestServer;
  let browser: TestBrowser;
  let s3: S3Client;
  let dir: string;
  before(async () => {
    ({ server, browser, s3, dir } = await openConsoleFixture(BUCKET, 'tessera-console-resumable-'));
  });
  after(() => closeConsoleFixture({ server, browser, s3, dir }));

  /** A file of random bytes on disk, written 1 MiB at a time; its SHA-256. */
  async function makeFile(name: string, bytes = FILE_BYTES): Promise<{ path: string; sha256: string }> {
    const path = join(dir, name);
    const hash = createHash('sha256');
    const handle = await open(path, 'w');
    try {
      for (let written = 0; written < bytes; written += MIB) {
        const chunk = randomBytes(Math.min(MIB, bytes - written));
        hash.update(chunk);
        await handle.write(chunk);
      }
    } finally {
      await handle.close();
    }
    return { path, sha256: hash.digest('hex') };
  }

  async function objectSha256(key: string): Promise<string> {
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    const hash = createHash('sha256');
    for await (const chunk of got.Body as Readable) hash.update(chunk as Buffer);
    return hash.digest('hex');
  }

  async function signedInOnObjects(): Promise<Page> {
    const page = await browser.newPage();
    await signInPage(page, server, undefined, undefined, `buckets/${BUCKET}/objects`);
    await page.getByRole('table', { name: 'Objects' }).waitFor();
    return page;
  }

  /** Counts, per part number, the UploadPart requests the server answered 200 (across reloads). */
  function countPartsSent(page: Page, key: string): Map<number, number> {
    const counts = new Map<number, number>();
    page.on('requestfinished', async (request) => {
      const url = new URL(request.url());
      const partNumber = url.searchParams.get('partNumber');
      if (request.method() !== 'PUT' || partNumber === null || decodeURIComponent(url.pathname) !== `/${BUCKET}/${key}`) return;
      const response = await request.response();
      if (response?.status() === 200) counts.set(Number(partNumber), (counts.get(Number(partNumber)) ?? 0) + 1);
    });
    return counts;
  }

  /** Holds (never lets leave the browser) the UploadPart requests for parts 3 and up, until unrouted. */
  async function holdPartsFrom3(page: Page): Promise<() => Promise<void>> {
    const matcher = (url: URL) => Number(url.searchParams.get('partNumber') ?? '0') >= 3;
    const held: Route[] = [];
    await page.route(matcher, (route) => {
      held.push(route);
    });
    return () => page.unroute(matcher);
  }

  async function uploadIdOf(key: string): Promise<string> {
    let uploadId: string | undefined;
    await eventually(async () => {
      const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
      uploadId = listed.Uploads?.find((upload) => upload.Key === key)?.UploadId;
      assert.ok(uploadId, `an upload of ${key} was started`);
    });
    return uploadId!;
  }

  /** Waits until the server holds parts 1 and 2 of the upload (parts 3+ are held in the browser). */
  async function firstTwoPartsListed(key: string): Promise<Array<{ PartNumber?: number; ETag?: string; LastModified?: Date }>> {
    const uploadId = await uploadIdOf(key);
    let parts: Array<{ PartNumber?: number; ETag?: string; LastModified?: Date }> = [];
    await eventually(async () => {
      const listed = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: key, UploadId: uploadId }));
      parts = listed.Parts ?? [];
      assert.deepEqual(parts.map((part) => part.PartNumber), [1, 2]);
    });
    return parts;
  }

  async function waitUploaded(page: Page, name: string): Promise<void> {
    const bar = page.getByRole('progressbar', { name: `Upload of ${name}` });
    await page.getByText(`Uploaded ${(FILE_BYTES / MIB).toFixed(1)} MiB.`).waitFor({ timeout: 60_000 });
    assert.equal(await bar.getAttribute('aria-valuenow'), '100');
    await page.getByRole('table', { name: 'Objects' }).getByRole('rowheader', { name }).waitFor();
  }

  it('a 30 MiB file goes multipart, 4 parts at a time, with a progress bar, and arrives whole', async () => {
    const { path, sha256 } = await makeFile('big.bin');
    const page = await signedInOnObjects();
    const counts = countPartsSent(page, 'big.bin');
    await page.locator('input[type=file]:not([webkitdirectory])').setInputFiles(path);
    const bar = page.getByRole('progressbar', { name: 'Upload of big.bin' });
    await bar.waitFor();
    assert.equal(await bar.getAttribute('aria-valuemin'), '0');
    assert.equal(await bar.getAttribute('aria-valuemax'), '100');
    await waitUploaded(page, 'big.bin');

    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'big.bin' }));
    assert.equal(head.ContentLength, FILE_BYTES);
    assert.match(head.ETag ?? '', new RegExp(`-${PART_COUNT}"$`), 'a multipart ETag of 6 parts');
    assert.equal(await objectSha256('big.bin'), sha256);
    assert.deepEqual([...counts.entries()].sort((a, b) => a[0] - b[0]), Array.from({ length: PART_COUNT }, (_, i) => [i + 1, 1]));
    // Complete forgot the upload: nothing is left in localStorage, and nothing open on the server.
    assert.equal(await page.evaluate("localStorage.getItem('tessera.console.resumable-uploads')"), null);
    const open = await s3.send(new ListMultipartUploadsCommand({ Bucket: BUCKET }));
    assert.equal(open.Uploads?.length ?? 0, 0);
  });

  it('Pause stops sending; Resume asks the server for its parts and sends only the rest', async () => {
    const { path, sha256 } = await makeFile('paused.bin');
    const page = await signedInOnObjects();
    const counts = countPartsSent(page, 'paused.bin');
    const release = await holdPartsFrom3(page);
    await page.locator('input[type=file]:not([webkitdirectory])').setInputFiles(path);
    await firstTwoPartsListed('paused.bin');
    await page.getByRole('button', { name: 'Pause paused.bin' }).click();
    await page.getByText(/^Paused at /).waitFor();
    await release();
    await page.getByRole('button', { name: 'Resume paused.bin' }).click();
    await page.getByText('resumed: 2 parts already on the server').first().waitFor();
    await waitUploaded(page, 'paused.bin');
    assert.equal(await objectSha256('paused.bin'), sha256);
    assert.deepEqual([...counts.entries()].sort((a, b) => a[0] - b[0]), Array.from({ length: PART_COUNT }, (_, i) => [i + 1, 1]), 'each part sent once');
  });

  it('a reload mid-upload: choosing the same file again resumes, and the parts sent before are not sent again', async () => {
    const { path, sha256 } = await makeFile('reloaded.bin');
    const page = await signedInOnObjects();
    const counts = countPartsSent(page, 'reloaded.bin');
    const release = await holdPartsFrom3(page);
    await page.locator('input[type=file]:not([webkitdirectory])').setInputFiles(path);
    const before = await firstTwoPartsListed('reloaded.bin');
    const uploadId = await uploadIdOf('reloaded.bin');

    // What survives the reload: the upload id under the file's fingerprint, no credential.
    const stored = JSON.parse((await page.evaluate<string | null>("localStorage.getItem('tessera.console.resumable-uploads')")) ?? '{}') as Record<string, { uploadId: string }>;
    assert.deepEqual(Object.values(stored).map((entry) => entry.uploadId), [uploadId]);
    const session = JSON.parse((await page.evaluate<string | null>("sessionStorage.getItem('tessera.console.session')")) ?? '{}') as { secretAccessKey: string; sessionToken: string };
    const local = await page.evaluate<string>('JSON.stringify(localStorage)');
    assert.ok(!local.includes(session.secretAccessKey) && !local.includes(session.sessionToken), 'no credential in localStorage');

    // The held parts die with the page (unrouting first would let them go).
    await page.reload();
    await release();
    await page.getByRole('table', { name: 'Objects' }).waitFor();
    await page.getByText('choose the same file with Upload to resume it').waitFor();
    // The server kept the parts sent before the reload, untouched.
    const still = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'reloaded.bin', UploadId: uploadId }));
    assert.deepEqual(still.Parts?.map((part) => [part.PartNumber, part.ETag, part.LastModified?.getTime()]), before.map((part) => [part.PartNumber, part.ETag, part.LastModified?.getTime()]));

    await page.locator('input[type=file]:not([webkitdirectory])').setInputFiles(path);
    await page.getByText('resumed: 2 parts already on the server').first().waitFor();
    await waitUploaded(page, 'reloaded.bin');
    assert.equal(await objectSha256('reloaded.bin'), sha256);
    assert.deepEqual([...counts.entries()].sort((a, b) => a[0] - b[0]), Array.from({ length: PART_COUNT }, (_, i) => [i + 1, 1]), 'parts 1 and 2 were not sent again');
    assert.equal(await page.evaluate("localStorage.getItem('tessera.console.resumable-uploads')"), null);
  });

  it('an expired session returns to sign-in and keeps a paused upload: after signing in, the same file resumes', async () => {
    const { path, sha256 } = await makeFile('expired.bin');
    const page = await signedInOnObjects();
    const counts = countPartsSent(page, 'expired.bin');
    const release = await holdPartsFrom3(page);
    await page.locator('input[type=file]:not([webkitdirectory])').setInputFiles(path);
    await firstTwoPartsListed('expired.bin');
    await page.getByRole('button', { name: 'Pause expired.bin' }).click();
    await page.getByText(/^Paused at /).waitFor();
    await release();

    // The tab's credentials are replaced by genuine ones that expired an hour ago (the tab
    // believes them good): the server answers ExpiredToken and the page goes to sign-in.
    const stale = issueAs(server, ROOT_USER, new Date(Date.now() - 2 * 3600 * 1000));
    const stored = { ...stale, expiration: new Date(Date.now() + 3600 * 1000).toISOString(), region: 'us-east-1', user: { id: 'root', displayName: 'root', root: true } };
    await page.evaluate(`sessionStorage.setItem('tessera.console.session', ${JSON.stringify(JSON.stringify(stored))})`);
    await page.reload();
    await page.getByText('Your session has expired. Sign in again.').waitFor();
    const remembered = await page.evaluate<string | null>("localStorage.getItem('tessera.console.resumable-uploads')");
    assert.match(remembered ?? '', /expired\.bin/, 'the paused upload is still remembered');

    await page.getByLabel('Access key').fill(ROOT_ACCESS_KEY);
    await page.getByLabel('Secret key').fill(ROOT_SECRET_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('choose the same file with Upload to resume it').waitFor();
    await page.locator('input[type=file]:not([webkitdirectory])').setInputFiles(path);
    await page.getByText('resumed: 2 parts already on the server').first().waitFor();
    await waitUploaded(page, 'expired.bin');
    assert.equal(await objectSha256('expired.bin'), sha256);
    assert.deepEqual([...counts.entries()].sort((a, b) => a[0] - b[0]), Array.from({ length: PART_COUNT }, (_, i) => [i + 1, 1]), 'each part sent once');
  });

  it('a network drop stops the upload with a message; Resume sends only the parts the server lacks', async () => {
    const { path, sha256 } = await makeFile('dropped.bin');
    const page = await signedInOnObjects();
    const counts = countPartsSent(page, 'dropped.bin');
    // Parts 3 and up fail in the browser as if the network had gone, once parts 1 and 2 are
    // answered: a failure cancels the parts in flight, and one the server stored but whose answer
    // the browser never saw is (rightly) not sent again, so it would count 0 here.
    const matcher = (url: URL) => Number(url.searchParams.get('partNumber') ?? '0') >= 3;
    await page.route(matcher, async (route) => {
      await eventually(() => assert.ok(counts.has(1) && counts.has(2), 'parts 1 and 2 answered'));
      await route.abort('internetdisconnected');
    });
    await page.locator('input[type=file]:not([webkitdirectory])').setInputFiles(path);
    await page.getByText(/^Stopped at .*Resume sends only the missing parts\.$/).waitFor();
    const alert = page.getByRole('region', { name: 'Uploads' }).getByRole('alert');
    await alert.waitFor();
    // The network failure itself is told, not the cancellation of the other parts in flight.
    assert.match((await alert.textContent()) ?? '', /Failed to fetch|could not be reached/);
    await page.unroute(matcher);
    await page.getByRole('button', { name: 'Resume dropped.bin' }).click();
    await waitUploaded(page, 'dropped.bin');
    assert.equal(await objectSha256('dropped.bin'), sha256);
    const sent = [...counts.entries()].sort((a, b) => a[0] - b[0]);
    assert.deepEqual(sent, Array.from({ length: PART_COUNT }, (_, i) => [i + 1, 1]), 'each part reached the server once');
  });
});
