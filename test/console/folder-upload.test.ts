/**
 * Folder upload on the console's Objects page: "Upload folder" (an `<input type=file
 * webkitdirectory>`, given a real directory through Playwright's file chooser) and folders
 * dropped on the page (`webkitGetAsEntry`, walked with `readEntries`). Each file arrives under
 * the folder shown + its path from the chosen folder down; large files go the resumable
 * multipart way.
 *
 * A folder drop from the operating system cannot be synthesized: CDP's Input.dispatchDragEvent
 * with a directory path does give the page a directory entry, but Chromium refuses to read it
 * (readEntries and file() fail with EncodingError: the dropped paths' isolated file system is
 * registered only for a real drag from the desktop). So the drop test builds a real directory
 * tree in Chromium's sandboxed file system (webkitRequestFileSystem: genuine
 * FileSystemDirectoryEntry objects, read with the same readEntries batches) and drops it with a
 * drop event whose DataTransfer lists it: the page's walking code runs as for a real drop.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import type { TestBrowser } from '../helpers/browser.js';
import { closeConsoleFixture, openConsoleFixture } from '../helpers/console-fixture.js';
import { signInPage } from '../helpers/console.js';
import type { TestServer } from '../helpers/server.js';

const BUCKET = 'console-folders';
const MIB = 1024 * 1024;
/** Over this, a file goes multipart (set small for the test; parts stay at S3's 5 MiB least). */
const THRESHOLD = MIB;

/**
 * Run in the page (a string: the tests compile without the DOM's types): builds a directory tree
 * in Chromium's sandboxed file system (webkitRequestFileSystem, so the entries are genuine
 * FileSystemDirectoryEntry objects read with readEntries' batches) and drops it, with a loose
 * file beside it, on the Objects table.
 */
const DROP_A_FOLDER = `(async () => {
  const fs = await new Promise((resolve, reject) => window.webkitRequestFileSystem(0, 16 * 1024 * 1024, resolve, reject));
  const directory = (parent, name) => new Promise((resolve, reject) => parent.getDirectory(name, { create: true }, resolve, reject));
  const file = (parent, name, text) =>
    new Promise((resolve, reject) =>
      parent.getFile(name, { create: true }, (entry) => entry.createWriter((writer) => {
        writer.onwriteend = () => resolve();
        writer.onerror = reject;
        writer.write(new Blob([text]));
      }, reject), reject));
  const top = await directory(fs.root, 'dropped folder');
  await file(top, 'top #1.txt', 'top');
  const nested = await directory(await directory(top, 'a%b'), 'c d');
  await file(nested, '😀.txt', 'deep emoji');
  await directory(top, 'empty');
  const many = await directory(top, 'many');
  for (let index = 0; index < 130; index++) await file(many, 'f-' + String(index).padStart(3, '0') + '.txt', 'file ' + index);

  const loose = new File(['loose bytes'], 'loose file.txt', { type: 'text/plain' });
  const items = [
    { kind: 'file', webkitGetAsEntry: () => top, getAsFile: () => null },
    { kind: 'file', webkitGetAsEntry: () => null, getAsFile: () => loose },
  ];
  const drop = new DragEvent('drop', { bubbles: true, cancelable: true });
  Object.defineProperty(drop, 'dataTransfer', { value: { items, files: [loose], types: ['Files'] } });
  document.querySelector('table').dispatchEvent(drop);
})()`;

describe('console: folder upload', () => {
  let server: TestServer;
  let browser: TestBrowser;
  let s3: S3Client;
  let dir: string;
  before(async () => {
    ({ server, browser, s3, dir } = await openConsoleFixture(BUCKET, 'tessera-console-folders-'));
  });
  after(() => closeConsoleFixture({ server, browser, s3, dir }));

  async function keysUnder(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
      keys.push(...(page.Contents ?? []).map((object) => object.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return keys.sort();
  }

  async function bytesOf(key: string): Promise<Buffer> {
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await got.Body!.transformToByteArray());
  }

  async function objectsPage(prefix: string): Promise<Page> {
    const page = await browser.newPage();
    await signInPage(page, server, undefined, undefined, `buckets/${BUCKET}/objects?prefix=${encodeURIComponent(prefix)}`);
    await page.evaluate(`localStorage.setItem('tessera.console.upload-settings', ${JSON.stringify(JSON.stringify({ multipartThresholdBytes: THRESHOLD }))})`);
    await page.getByRole('table', { name: 'Objects' }).waitFor();
    return page;
  }

  it('"Upload folder" sends every file of a chosen directory under the folder shown + its relative path; nested folders, odd names, a large file multipart', async () => {
    const root = join(dir, 'album 2024');
    const files: Record<string, Buffer> = {
      'a b.txt': Buffer.from('spaces'),
      'sub #1/100% done.txt': Buffer.from('hash and percent'),
      'sub #1/deeper/😀 smile.txt': Buffer.from('emoji'),
      'sub #1/deeper/what?.txt': Buffer.from('a question mark'),
      'sub #1/deeper/plus+and&.txt': Buffer.from('plus and ampersand'),
      'big/large.bin': randomBytes(6 * MIB + 123),
    };
    for (const [path, data] of Object.entries(files)) {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), data);
    }
    // An empty folder adds nothing: the browser does not list it, and S3 has no folders.
    await mkdir(join(root, 'empty'), { recursive: true });

    const page = await objectsPage('dest/');
    const chooser = page.waitForEvent('filechooser');
    await page.getByRole('button', { name: 'Upload folder' }).click();
    await (await chooser).setFiles(root);
    await page.getByRole('status').filter({ hasText: 'Uploaded 5 files.' }).waitFor({ timeout: 30_000 });
    const bar = page.getByRole('progressbar', { name: 'Upload of large.bin' });
    await page.getByText('Uploaded 6.00 MiB.').waitFor({ timeout: 60_000 });
    assert.equal(await bar.getAttribute('aria-valuenow'), '100');

    const expected = Object.keys(files).map((path) => `dest/album 2024/${path}`).sort();
    assert.deepEqual(await keysUnder('dest/'), expected);
    for (const [path, data] of Object.entries(files)) assert.ok((await bytesOf(`dest/album 2024/${path}`)).equals(data), path);
    // The large file went as a multipart upload (2 parts of at least 5 MiB), the others whole.
    assert.match((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'dest/album 2024/big/large.bin' }))).ETag!, /-2"$/);
    assert.doesNotMatch((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'dest/album 2024/a b.txt' }))).ETag!, /-/);

    // The page shows the new folder; it opens to the nested ones.
    const objects = page.getByRole('table', { name: 'Objects' });
    await objects.getByRole('link', { name: 'album 2024/' }).click();
    await objects.getByRole('link', { name: 'sub #1/' }).click();
    await objects.getByRole('link', { name: 'deeper/' }).click();
    for (const name of ['😀 smile.txt', 'what?.txt', 'plus+and&.txt']) await objects.getByRole('rowheader', { name, exact: true }).waitFor();
    await page.context().close();
  });

  it('a folder dropped on the page is walked to the bottom (past readEntries’ batches of 100); a file dropped beside it goes too', async () => {
    const page = await objectsPage('');
    // A real directory tree in Chromium's sandboxed file system, then a drop event carrying it.
    await page.evaluate(DROP_A_FOLDER);
    await page.getByRole('status').filter({ hasText: 'Uploaded 133 files.' }).waitFor({ timeout: 60_000 });
    const keys = await keysUnder('');
    const many = Array.from({ length: 130 }, (_, index) => `dropped folder/many/f-${String(index).padStart(3, '0')}.txt`);
    assert.deepEqual(
      keys,
      ['dropped folder/a%b/c d/😀.txt', ...many, 'dropped folder/top #1.txt', 'loose file.txt', ...keys.filter((key) => key.startsWith('dest/'))].sort(),
    );
    assert.equal((await bytesOf('dropped folder/a%b/c d/😀.txt')).toString(), 'deep emoji');
    assert.equal((await bytesOf('dropped folder/many/f-129.txt')).toString(), 'file 129');
    assert.equal((await bytesOf('loose file.txt')).toString(), 'loose bytes');
    await page.getByRole('table', { name: 'Objects' }).getByRole('link', { name: 'dropped folder/' }).waitFor();
    await page.context().close();
  });
});
