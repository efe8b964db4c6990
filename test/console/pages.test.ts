/**
 * The console in a real browser (Debian's Chromium, headless, through playwright-core) against
 * a real server process. The tests find every control by its role and accessible name, the
 * names the issue gives ("Access key", "Secret key", "Sign in", tables "Buckets" and "Objects",
 * "Create bucket", "Upload", "Delete", "Share"): the accessibility contract is what they drive.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Locator, Page } from 'playwright-core';
import { findChromium, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { CONSOLE, eventually, issueAs, ROOT_USER, signInPage, tableRows } from '../helpers/console.js';
import { expectError } from '../helpers/assertions.js';
import { checksumOf } from '../helpers/checksums.js';
import { s3Client } from '../helpers/s3.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';

const ALICE = { id: 'alice', displayName: 'Alice', accessKey: 'alice-access-key', secretKey: 'alice-secret-key-0123456789' };
const BUCKET = 'console-pages';
const HOUR = 3600 * 1000;

describe('console pages in a browser', () => {
  let server: TestServer;
  let browser: TestBrowser;
  let s3: S3Client;

  before(async () => {
    // Before anything starts: a server already running when the browser fails would keep the process alive.
    findChromium();
    [server, browser] = await Promise.all([startServer({ config: { users: [ALICE] } }), launchBrowser()]);
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3?.destroy();
    await browser?.close();
    await server?.cleanup();
  });

  /** A fresh browser context, signed in as root (or `user`), on `path` of the console. */
  async function signedIn(path = '', user = { accessKey: ROOT_ACCESS_KEY, secretKey: ROOT_SECRET_KEY }): Promise<Page> {
    const page = await browser.newPage();
    await signInPage(page, server, user.accessKey, user.secretKey, path);
    return page;
  }

  async function objectBytes(key: string): Promise<string> {
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return got.Body!.transformToString();
  }

  async function listedKeys(prefix: string): Promise<string[]> {
    const answer = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
    return (answer.Contents ?? []).map((object) => object.Key!);
  }

  it('a wrong key says so on the sign-in page, and nothing is stored', async () => {
    const page = await browser.newPage();
    await page.goto(new URL(CONSOLE, server.url).href);
    await page.getByLabel('Access key').fill(ROOT_ACCESS_KEY);
    await page.getByLabel('Secret key').fill('not the secret');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong access key or secret key' }).waitFor();
    assert.equal(await page.getByLabel('Secret key').inputValue(), '');
    assert.deepEqual(await page.evaluate('[sessionStorage.length, localStorage.length]'), [0, 0]);
  });

  it('root signs in: the shell names the user; only temporary credentials are kept, in sessionStorage; sign-out forgets them', async () => {
    const page = await signedIn();
    await page.getByRole('banner').getByText('Signed in as root (root)').waitFor();
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Buckets' }).waitFor();
    const stored = await page.evaluate<{ session: string; local: number }>("({ session: Object.values(sessionStorage).join('\\n'), local: localStorage.length })");
    assert.equal(stored.local, 0);
    assert.match(stored.session, /"accessKeyId":"ASIA/);
    assert.ok(!stored.session.includes(ROOT_SECRET_KEY), 'the long-term secret is not stored');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.getByRole('status').filter({ hasText: 'You signed out.' }).waitFor();
    assert.equal(await page.evaluate('sessionStorage.length'), 0);
  });

  it('Buckets: create (a bad name shows the server’s error verbatim), object count and bytes, delete only when empty', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'counted/a.txt', Body: 'x'.repeat(1500) }));
    const page = await signedIn();
    const buckets = page.getByRole('table', { name: 'Buckets' });
    await buckets.getByRole('link', { name: BUCKET }).waitFor();

    await page.getByLabel('Bucket name').fill('Bad_Name');
    await page.getByRole('button', { name: 'Create bucket' }).click();
    await page.getByRole('alert').filter({ hasText: 'The specified bucket is not valid.' }).waitFor();

    await page.getByLabel('Bucket name').fill('console-made');
    await page.getByRole('button', { name: 'Create bucket' }).click();
    await buckets.getByRole('link', { name: 'console-made' }).waitFor();
    await s3.send(new HeadBucketCommand({ Bucket: 'console-made' }));

    // Counts and bytes as the store has them.
    const listed = (await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }))).Contents ?? [];
    const row = rowOf(buckets, BUCKET);
    const cells = await row.locator('td').allInnerTexts();
    assert.ok(cells.includes(String(listed.length)), `object count ${listed.length} in ${cells.join(' | ')}`);
    const bytes = listed.reduce((sum, object) => sum + (object.Size ?? 0), 0);
    assert.equal(await row.locator(`[title="${bytes.toLocaleString('en-US')} bytes"]`).count(), 1);

    // Not empty: the server's error; empty: gone.
    page.on('dialog', (dialog) => void dialog.accept());
    await row.getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('alert').filter({ hasText: 'The bucket you tried to delete is not empty.' }).waitFor();
    await rowOf(buckets, 'console-made').getByRole('button', { name: 'Delete' }).click();
    await buckets.getByRole('link', { name: 'console-made' }).waitFor({ state: 'detached' });
    await expectError(s3.send(new HeadBucketCommand({ Bucket: 'console-made' })), 404);
  });

  it('Objects: upload through the page, list it, browse a prefix with breadcrumbs, upload (and drop) into the prefix', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'docs/readme.txt', Body: 'read me' }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'docs/sub/deep.txt', Body: 'deep' }));
    const page = await signedIn();
    await page.getByRole('table', { name: 'Buckets' }).getByRole('link', { name: BUCKET }).click();
    const objects = page.getByRole('table', { name: 'Objects' });
    await objects.getByRole('link', { name: 'docs/' }).waitFor();

    const hello = Buffer.from('hello from the browser');
    await uploadThroughPage(page, [{ name: 'hello.txt', mimeType: 'text/plain', buffer: hello }]);
    await page.getByRole('status').filter({ hasText: 'Uploaded 1 file.' }).waitFor();
    await objects.getByRole('rowheader', { name: 'hello.txt' }).waitFor();
    assert.equal(await objectBytes('hello.txt'), 'hello from the browser');
    // The page sent the file's CRC-32, which the server checked and kept.
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'hello.txt', ChecksumMode: 'ENABLED' }));
    assert.equal(head.ChecksumCRC32, checksumOf('crc32', hello));
    assert.equal(head.ContentType, 'text/plain');

    await objects.getByRole('link', { name: 'docs/' }).click();
    await objects.getByRole('rowheader', { name: 'readme.txt' }).waitFor();
    await objects.getByRole('link', { name: 'sub/' }).waitFor();
    const crumbs = page.getByRole('navigation', { name: 'Breadcrumbs' });
    assert.deepEqual(await crumbs.getByRole('listitem').allInnerTexts(), ['Buckets', BUCKET, 'docs']);
    assert.equal(await objects.getByRole('rowheader', { name: 'hello.txt' }).count(), 0);
    assert.match(page.url(), /\/-\/console\/buckets\/console-pages\/objects\?prefix=docs%2F$/);

    await uploadThroughPage(page, [
      { name: 'in-docs.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(70_000, 1) },
      { name: 'notes.md', mimeType: 'text/markdown', buffer: Buffer.from('# notes') },
    ]);
    await page.getByRole('status').filter({ hasText: 'Uploaded 2 files.' }).waitFor();
    await objects.getByRole('rowheader', { name: 'in-docs.bin' }).waitFor();
    assert.equal((await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'docs/in-docs.bin' }))).ContentLength, 70_000);
    assert.equal(await objectBytes('docs/notes.md'), '# notes');

    // Files dropped on the page upload there too.
    const dropped = await page.evaluateHandle(
      "(() => { const transfer = new DataTransfer(); transfer.items.add(new File(['dropped bytes'], 'dropped.txt', { type: 'text/plain' })); return transfer; })()",
    );
    await objects.dispatchEvent('drop', { dataTransfer: dropped });
    await objects.getByRole('rowheader', { name: 'dropped.txt' }).waitFor();
    assert.equal(await objectBytes('docs/dropped.txt'), 'dropped bytes');

    // Back up through the breadcrumbs; the browser's back button too.
    await crumbs.getByRole('link', { name: BUCKET }).click();
    await objects.getByRole('rowheader', { name: 'hello.txt' }).waitFor();
    await page.goBack();
    await objects.getByRole('rowheader', { name: 'readme.txt' }).waitFor();
  });

  it('Objects: sort by name, size and last modified', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sorting/b-large', Body: Buffer.alloc(3000) }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sorting/c-small', Body: Buffer.alloc(10) }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sorting/a-medium', Body: Buffer.alloc(500) }));
    const page = await signedIn(`buckets/${BUCKET}/objects?prefix=sorting%2F`);
    const objects = page.getByRole('table', { name: 'Objects' });
    const names = () => objects.getByRole('rowheader').allInnerTexts();
    await eventually(async () => assert.deepEqual(await names(), ['a-medium', 'b-large', 'c-small']));
    const sizeHeader = objects.getByRole('columnheader', { name: 'Size' });
    await sizeHeader.getByRole('button').click();
    await eventually(async () => assert.deepEqual(await names(), ['c-small', 'a-medium', 'b-large']));
    assert.equal(await sizeHeader.getAttribute('aria-sort'), 'ascending');
    await sizeHeader.getByRole('button').click();
    await eventually(async () => assert.deepEqual(await names(), ['b-large', 'a-medium', 'c-small']));
    assert.equal(await sizeHeader.getAttribute('aria-sort'), 'descending');
    await objects.getByRole('columnheader', { name: 'Last modified' }).getByRole('button').click();
    await eventually(async () => assert.deepEqual(await names(), ['b-large', 'c-small', 'a-medium']));
    await objects.getByRole('columnheader', { name: 'Name' }).getByRole('button').click();
    await eventually(async () => assert.deepEqual(await names(), ['a-medium', 'b-large', 'c-small']));
  });

  it('Objects: pages past 1,000 keys with continuation tokens, and back', async () => {
    const keys = Array.from({ length: 1100 }, (_, index) => `many/key-${String(index).padStart(4, '0')}`);
    await inBatches(keys, 32, (key) => s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: key })));
    const page = await signedIn(`buckets/${BUCKET}/objects?prefix=many%2F`);
    const rows = tableRows(page, 'Objects');
    const objects = page.getByRole('table', { name: 'Objects' });
    await objects.getByRole('rowheader', { name: 'key-0999' }).waitFor();
    assert.equal(await rows.count(), 1000);
    assert.equal(await page.getByRole('button', { name: 'Previous page' }).isDisabled(), true);
    await page.getByRole('button', { name: 'Next page' }).click();
    await objects.getByRole('rowheader', { name: 'key-1099' }).waitFor();
    assert.equal(await rows.count(), 100);
    assert.equal(await objects.getByRole('rowheader', { name: 'key-1000' }).count(), 1);
    assert.equal(await page.getByRole('button', { name: 'Next page' }).isDisabled(), true);
    await page.getByRole('navigation', { name: 'Pages' }).getByText('Page 2 · entries 1,001–1,100').waitFor();
    await page.getByRole('button', { name: 'Previous page' }).click();
    await objects.getByRole('rowheader', { name: 'key-0000' }).waitFor();
    assert.equal(await rows.count(), 1000);
  });

  it('Objects: delete one, and many at once with the checkboxes', async () => {
    for (const name of ['one', 'two', 'three', 'four', 'keep']) {
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `deleting/${name}.txt`, Body: name }));
    }
    const page = await signedIn(`buckets/${BUCKET}/objects?prefix=deleting%2F`);
    page.on('dialog', (dialog) => void dialog.accept());
    const objects = page.getByRole('table', { name: 'Objects' });
    await objects.getByRole('rowheader', { name: 'one.txt' }).waitFor();

    await rowOf(objects, 'one.txt').getByRole('button', { name: 'Delete' }).click();
    await objects.getByRole('rowheader', { name: 'one.txt' }).waitFor({ state: 'detached' });
    assert.deepEqual(await listedKeys('deleting/'), ['deleting/four.txt', 'deleting/keep.txt', 'deleting/three.txt', 'deleting/two.txt']);

    const deleteSelected = page.getByRole('button', { name: 'Delete', exact: true });
    assert.equal(await deleteSelected.isDisabled(), true);
    for (const name of ['two.txt', 'three.txt', 'four.txt']) await objects.getByRole('checkbox', { name: `Select ${name}` }).check();
    await page.getByText('3 objects selected').waitFor();
    await deleteSelected.click();
    await page.getByRole('status').filter({ hasText: 'Deleted 3 objects.' }).waitFor();
    await objects.getByRole('rowheader', { name: 'two.txt' }).waitFor({ state: 'detached' });
    assert.deepEqual(await listedKeys('deleting/'), ['deleting/keep.txt']);
    await objects.getByRole('rowheader', { name: 'keep.txt' }).waitFor();
  });

  it('Objects: keys with spaces, #, %, ?, emoji and ../ list and download correctly', async () => {
    const keys = ['odd/with space.txt', 'odd/hash#tag.txt', 'odd/100%.txt', 'odd/what?.txt', 'odd/emoji 😀.txt', 'odd/../up.txt', 'odd/plus+sign.txt'];
    for (const key of keys) await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: `content of ${key}` }));
    const page = await signedIn(`buckets/${BUCKET}/objects?prefix=odd%2F`);
    const objects = page.getByRole('table', { name: 'Objects' });
    for (const key of keys.filter((key) => !key.includes('../'))) {
      const name = key.slice('odd/'.length);
      await objects.getByRole('rowheader', { name, exact: true }).waitFor();
      assert.equal(await download(page, rowOf(objects, name)), `content of ${key}`, key);
    }
    await objects.getByRole('link', { name: '../' }).click();
    await objects.getByRole('rowheader', { name: 'up.txt' }).waitFor();
    assert.deepEqual(await page.getByRole('navigation', { name: 'Breadcrumbs' }).getByRole('listitem').allInnerTexts(), ['Buckets', BUCKET, 'odd', '..']);
    assert.equal(await download(page, rowOf(objects, 'up.txt')), 'content of odd/../up.txt');
  });

  it('Objects: details show what HEAD says (content type, size, ETag, user metadata)', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'meta/photo.jpg', Body: 'not really a photo', ContentType: 'image/jpeg', Metadata: { colour: 'blue', camera: 'pinhole' } }));
    const head = await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'meta/photo.jpg' }));
    const page = await signedIn(`buckets/${BUCKET}/objects?prefix=meta%2F`);
    await rowOf(page.getByRole('table', { name: 'Objects' }), 'photo.jpg').getByRole('button', { name: 'Details' }).click();
    const dialog = page.getByRole('dialog', { name: 'Details of meta/photo.jpg' });
    await dialog.getByText('image/jpeg').waitFor();
    const details = await dialog.locator('dl').innerText();
    assert.match(details, /Size\s+18 B \(18 bytes\)/);
    assert.ok(details.includes(head.ETag!), `${head.ETag} in ${details}`);
    const metadata = dialog.getByRole('table', { name: 'User metadata' });
    assert.equal(await metadata.getByRole('row', { name: 'colour blue' }).count(), 1);
    assert.equal(await metadata.getByRole('row', { name: 'camera pinhole' }).count(), 1);
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
  });

  it('Objects: Share makes a link with the chosen expiry, copies it to the clipboard, and plain HTTP fetches it', async () => {
    const body = Buffer.from('shared bytes 😀 #1');
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'shared/report #1.txt', Body: body }));
    const page = await signedIn(`buckets/${BUCKET}/objects?prefix=shared%2F`);
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await rowOf(page.getByRole('table', { name: 'Objects' }), 'report #1.txt').getByRole('button', { name: 'Share' }).click();
    const dialog = page.getByRole('dialog', { name: 'Share shared/report #1.txt' });
    await dialog.getByLabel('Link expires in').selectOption({ label: '7 days' });
    await dialog.getByRole('button', { name: 'Create link' }).click();
    await dialog.getByRole('status').filter({ hasText: 'Link copied to the clipboard.' }).waitFor();
    const link = await dialog.getByLabel('Link', { exact: true }).inputValue();
    assert.equal(await page.evaluate('navigator.clipboard.readText()'), link);
    const url = new URL(link);
    assert.equal(url.origin, server.url);
    assert.equal(url.searchParams.get('X-Amz-Expires'), String(7 * 24 * 3600));
    const response = await fetch(link);
    assert.equal(response.status, 200);
    assert.deepEqual(Buffer.from(await response.arrayBuffer()), body);
  });

  it('a user other than root sees only their own buckets; root’s bucket is refused to them', async () => {
    const page = await signedIn('', ALICE);
    await page.getByRole('banner').getByText('Signed in as Alice').waitFor();
    await page.getByLabel('Bucket name').fill('alice-own');
    await page.getByRole('button', { name: 'Create bucket' }).click();
    const buckets = page.getByRole('table', { name: 'Buckets' });
    await buckets.getByRole('link', { name: 'alice-own' }).waitFor();
    assert.deepEqual(await buckets.getByRole('rowheader').allInnerTexts(), ['alice-own']);
    await page.goto(new URL(`${CONSOLE}buckets/${BUCKET}/objects`, server.url).href);
    await page.getByRole('alert').filter({ hasText: 'Access Denied. (AccessDenied)' }).waitFor();
    assert.equal(await tableRows(page, 'Objects').getByRole('rowheader').count(), 0);
  });

  it('an expired session sends the page back to sign-in, which then returns to the page', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'after-sign-in/x.txt', Body: 'x' }));
    const stale = issueAs(server, ROOT_USER, new Date(Date.now() - 2 * HOUR));
    const page = await browser.newPage();
    // The tab believes its session is good for another hour; the server knows better.
    const stored = { ...stale, expiration: new Date(Date.now() + HOUR).toISOString(), region: 'us-east-1', user: { id: 'root', displayName: 'root', root: true } };
    await page.addInitScript({
      content: `if (!sessionStorage.getItem('planted')) {
        sessionStorage.setItem('tessera.console.session', ${JSON.stringify(JSON.stringify(stored))});
        sessionStorage.setItem('planted', '1');
      }`,
    });
    await page.goto(new URL(`${CONSOLE}buckets/${BUCKET}/objects`, server.url).href);
    await page.getByRole('status').filter({ hasText: 'Your session has expired. Sign in again.' }).waitFor();
    assert.equal(await page.evaluate("sessionStorage.getItem('tessera.console.session')"), null);
    await page.getByLabel('Access key').fill(ROOT_ACCESS_KEY);
    await page.getByLabel('Secret key').fill(ROOT_SECRET_KEY);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: BUCKET, level: 1 }).waitFor();
    await page.getByRole('table', { name: 'Objects' }).getByRole('link', { name: 'after-sign-in/' }).waitFor();
  });
});

/** The row of a table whose row header (the name cell) is exactly `name`. */
function rowOf(table: Locator, name: string): Locator {
  return table.getByRole('row').filter({ has: table.page().getByRole('rowheader', { name, exact: true }) });
}

/** Chooses files in the file chooser the "Upload" button opens. */
async function uploadThroughPage(page: Page, files: Array<{ name: string; mimeType: string; buffer: Buffer }>): Promise<void> {
  const chooser = page.waitForEvent('filechooser');
  await page.getByRole('button', { name: 'Upload', exact: true }).click();
  await (await chooser).setFiles(files);
}

/** Clicks a row's "Download" and reads what the browser saved. */
async function download(page: Page, row: Locator): Promise<string> {
  const started = page.waitForEvent('download');
  await row.getByRole('button', { name: 'Download' }).click();
  const saved = await started;
  const path = await saved.path();
  assert.ok(path, `download of ${saved.suggestedFilename()} failed: ${String(await saved.failure())}`);
  return readFile(path, 'utf8');
}

async function inBatches<T>(items: T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
