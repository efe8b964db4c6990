/**
 * The console's 123pan drive page and its API (`GET /-/console/api/pan/drives`,
 * `GET /-/console/api/pan/drive`), against files put through the real 123pan API: the console
 * shows them with the file ids the 123pan API gave, folder by folder, and only to the drive's
 * user (and root).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { findChromium, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { CONSOLE, consoleApi, eventually, signInApi, signInPage, tableRows, type ConsoleSession } from '../helpers/console.js';
import { s3Client } from '../helpers/s3.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';
import { ALICE, ALICE_BUCKET, BOB, login, md5, ok, panCall, panConfig } from '../pan/helpers.js';

/** A user no 123pan app acts as: no drive. */
const CAROL = { id: 'carol', displayName: 'Carol', accessKey: 'carol-access-key', secretKey: 'carol-secret-key-0123456789' };
const ROOT = { accessKey: ROOT_ACCESS_KEY, secretKey: ROOT_SECRET_KEY };

interface PanListed {
  fileId: number;
  filename: string;
  type: number;
  size: number;
  etag: string;
  parentFileId: number;
}

describe('console: 123pan drive', () => {
  let server: TestServer;
  let browser: TestBrowser;
  let token: string;
  /** File ids as the 123pan API answered them. */
  const ids: Record<string, number> = {};

  /** single/create through the 123pan API: the new file's id. */
  async function panPut(name: string, text: string, parentFileID: number): Promise<number> {
    const data = Buffer.from(text);
    const form = new FormData();
    for (const [field, value] of Object.entries({ parentFileID: String(parentFileID), filename: name, etag: md5(data), size: String(data.length) })) form.set(field, value);
    form.set('file', new Blob([data]), 'x');
    const { body } = await panCall(server.url, 'POST', '/upload/v2/file/single/create', { token, body: form });
    assert.equal(body.code, 0, body.message);
    return body.data.fileID as number;
  }

  /** A whole folder as the 123pan API lists it. */
  async function panList(parentFileId: number): Promise<PanListed[]> {
    const data = await ok(server.url, 'GET', '/api/v2/file/list', { token, query: { parentFileId, limit: 100, lastFileId: 0 } });
    assert.equal(data.lastFileId, -1);
    return data.fileList;
  }

  async function signedIn(user: { accessKey: string; secretKey: string }, path = ''): Promise<Page> {
    const page = await browser.newPage();
    await signInPage(page, server, user.accessKey, user.secretKey, path);
    return page;
  }

  /** The Drive table's rows: name (with its trash note), file id, type, size, MD5, parent id. */
  async function driveRows(page: Page): Promise<string[][]> {
    const rows = tableRows(page, 'Drive');
    return (await rows.allInnerTexts()).map((row) => row.split('\t').map((cell) => cell.trim()).slice(0, 6));
  }

  before(async () => {
    const config = panConfig();
    // Before anything starts: a server already running when the browser fails would keep the process alive.
    findChromium();
    [server, browser] = await Promise.all([startServer({ config: { ...config, users: [...(config.users as object[]), CAROL] } }), launchBrowser()]);
    token = await login(server.url);
    ids.docs = (await ok(server.url, 'POST', '/upload/v1/file/mkdir', { token, json: { name: 'docs', parentID: 0 } })).dirID;
    ids.deep = (await ok(server.url, 'POST', '/upload/v1/file/mkdir', { token, json: { name: 'deep folder', parentID: ids.docs } })).dirID;
    ids['hello.txt'] = await panPut('hello.txt', 'hello from 123pan', 0);
    ids['notes #1 100%.txt'] = await panPut('notes #1 100%.txt', 'notes', ids.docs!);
    ids['bottom.txt'] = await panPut('bottom.txt', 'at the bottom', ids.deep!);
    // An object put through S3 is in the drive at once, its folder made on first sight.
    const s3 = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
    await s3.send(new PutObjectCommand({ Bucket: ALICE_BUCKET, Key: 'from-s3/readme.md', Body: 'via S3' }));
    s3.destroy();
  });
  after(async () => {
    await browser?.close();
    await server?.cleanup();
  });

  it('API: the drive folder by folder, the same records and file ids as 123pan’s file list; paging by lastFileId', async () => {
    const alice = await signInApi(server, ALICE.accessKey, ALICE.secretKey);
    assert.equal(alice.user.panDrive, true);
    assert.equal((await signInApi(server, CAROL.accessKey, CAROL.secretKey)).user.panDrive, false);

    const drives = await consoleApi(server, alice, 'GET', 'pan/drives');
    assert.equal(drives.status, 200, JSON.stringify(drives.json));
    assert.deepEqual(drives.json, { drives: [{ user: 'alice', displayName: 'Alice', bucket: ALICE_BUCKET, apps: ['alice-app'] }] });

    const top = await consoleApi(server, alice, 'GET', 'pan/drive');
    assert.equal(top.status, 200, JSON.stringify(top.json));
    assert.deepEqual(top.json.drive, { user: 'alice', displayName: 'Alice', bucket: ALICE_BUCKET });
    assert.deepEqual(top.json.folder, { fileId: 0, path: [] });
    assert.equal(top.json.lastFileId, -1);
    assert.deepEqual(top.json.fileList, await panList(0));
    const byName = new Map<string, PanListed>(top.json.fileList.map((file: PanListed) => [file.filename, file]));
    assert.deepEqual([...byName.keys()].sort(), ['docs', 'from-s3', 'hello.txt']);
    assert.deepEqual(
      { ...byName.get('hello.txt'), createAt: undefined, updateAt: undefined, category: undefined },
      { fileId: ids['hello.txt'], filename: 'hello.txt', type: 0, size: 17, etag: md5(Buffer.from('hello from 123pan')), parentFileId: 0, status: 0, trashed: 0, createAt: undefined, updateAt: undefined, category: undefined },
    );
    assert.equal(byName.get('docs')!.fileId, ids.docs);

    const deep = await consoleApi(server, alice, 'GET', `pan/drive?parentFileId=${ids.deep}`);
    assert.equal(deep.status, 200, JSON.stringify(deep.json));
    assert.deepEqual(deep.json.folder, { fileId: ids.deep, path: [{ fileId: ids.docs, filename: 'docs' }, { fileId: ids.deep, filename: 'deep folder' }] });
    assert.deepEqual(deep.json.fileList.map((file: PanListed) => [file.fileId, file.filename, file.parentFileId]), [[ids['bottom.txt'], 'bottom.txt', ids.deep]]);
    assert.deepEqual(deep.json.fileList, await panList(ids.deep!));

    // One entry a page, following lastFileId to -1: every entry once, in the same order.
    const paged: PanListed[] = [];
    let lastFileId = 0;
    for (let page = 0; page < 10 && lastFileId !== -1; page++) {
      const answer = await consoleApi(server, alice, 'GET', `pan/drive?limit=1&lastFileId=${lastFileId}`);
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      assert.equal(answer.json.fileList.length, 1);
      paged.push(...answer.json.fileList);
      lastFileId = answer.json.lastFileId;
    }
    assert.equal(lastFileId, -1);
    assert.deepEqual(paged, top.json.fileList);
  });

  it('API: only the drive’s user and root may read it; a user without a drive and bad input get clear errors', async () => {
    const bob = await signInApi(server, BOB.accessKey, BOB.secretKey);
    const refused = await consoleApi(server, bob, 'GET', `pan/drive?bucket=${ALICE_BUCKET}`);
    assert.equal(refused.status, 403);
    assert.equal(refused.json.code, 'AccessDenied');
    const refusedFolder = await consoleApi(server, bob, 'GET', `pan/drive?bucket=${ALICE_BUCKET}&parentFileId=${ids.docs}`);
    assert.equal(refusedFolder.status, 403);
    // Bob's own drive: no 123pan app has used it yet, so it is empty (and not made by looking).
    const own = await consoleApi(server, bob, 'GET', 'pan/drive');
    assert.equal(own.status, 200, JSON.stringify(own.json));
    assert.deepEqual(own.json, { drive: { user: 'bob', displayName: 'Bob', bucket: 'pan-bob' }, folder: { fileId: 0, path: [] }, lastFileId: -1, fileList: [] });
    // Alice's folder id in Bob's drive names nothing of his.
    const crossed = await consoleApi(server, bob, 'GET', `pan/drive?parentFileId=${ids.docs}`);
    assert.equal(crossed.status, 404);
    assert.deepEqual((await consoleApi(server, bob, 'GET', 'pan/drives')).json, { drives: [{ user: 'bob', displayName: 'Bob', bucket: 'pan-bob', apps: ['bob-app'] }] });

    const carol = await signInApi(server, CAROL.accessKey, CAROL.secretKey);
    assert.deepEqual((await consoleApi(server, carol, 'GET', 'pan/drives')).json, { drives: [] });
    const none = await consoleApi(server, carol, 'GET', 'pan/drive');
    assert.equal(none.status, 404);
    assert.equal(none.json.code, 'NoSuchDrive');
    assert.match(none.json.requestId, /\S/);

    const root: ConsoleSession = await signInApi(server);
    assert.deepEqual(
      (await consoleApi(server, root, 'GET', 'pan/drives')).json.drives.map((drive: { bucket: string }) => drive.bucket),
      [ALICE_BUCKET, 'pan-bob'],
    );
    const asRoot = await consoleApi(server, root, 'GET', `pan/drive?bucket=${ALICE_BUCKET}&parentFileId=${ids.docs}`);
    assert.equal(asRoot.status, 200, JSON.stringify(asRoot.json));
    assert.deepEqual(asRoot.json.fileList, await panList(ids.docs!));
    // Root has no drive of their own: a drive must be named.
    assert.equal((await consoleApi(server, root, 'GET', 'pan/drive')).json.code, 'NoSuchDrive');

    const cases: Array<[string, number, string]> = [
      [`pan/drive?bucket=no-such-drive`, 404, 'NoSuchDrive'],
      [`pan/drive?bucket=${ALICE_BUCKET}&parentFileId=abc`, 400, 'InvalidArgument'],
      [`pan/drive?bucket=${ALICE_BUCKET}&parentFileId=-1`, 400, 'InvalidArgument'],
      [`pan/drive?bucket=${ALICE_BUCKET}&parentFileId=${ids['hello.txt']}`, 400, 'InvalidArgument'],
      [`pan/drive?bucket=${ALICE_BUCKET}&parentFileId=99999999`, 404, 'NoSuchFile'],
      [`pan/drive?bucket=${ALICE_BUCKET}&lastFileId=99999999`, 404, 'NoSuchFile'],
      [`pan/drive?bucket=${ALICE_BUCKET}&limit=0`, 400, 'InvalidArgument'],
      [`pan/drive?bucket=${ALICE_BUCKET}&limit=101`, 400, 'InvalidArgument'],
    ];
    for (const [path, status, code] of cases) {
      const answer = await consoleApi(server, root, 'GET', path);
      assert.deepEqual([answer.status, answer.json.code], [status, code], path);
    }
    assert.equal((await consoleApi(server, root, 'POST', 'pan/drive', {})).status, 405);
    const unsigned = await fetch(new URL('/-/console/api/pan/drive', server.url));
    assert.equal(unsigned.status, 403);
  });

  it('page: Alice browses her drive by folder with the 123pan file ids; breadcrumbs lead back', async () => {
    const page = await signedIn(ALICE);
    const nav = page.getByRole('navigation', { name: 'Main' });
    await nav.getByRole('link', { name: '123pan drive' }).click();
    await page.getByRole('heading', { name: '123pan drive', level: 1 }).waitFor();
    const table = page.getByRole('table', { name: 'Drive' });
    await table.getByRole('rowheader', { name: 'hello.txt' }).waitFor();
    assert.deepEqual(
      await table.getByRole('columnheader').allInnerTexts().then((headers) => headers.map((header) => header.replace(/[▲▼]/g, '').trim())),
      ['Name', 'File ID', 'Type', 'Size', 'MD5', 'Parent file ID', 'Created (UTC+8)', 'Updated (UTC+8)'],
    );
    const fromS3 = (await panList(0)).find((file) => file.filename === 'from-s3')!;
    assert.deepEqual(await driveRows(page), [
      ['docs', String(ids.docs), 'Folder', '', '', '0'],
      ['from-s3', String(fromS3.fileId), 'Folder', '', '', '0'],
      ['hello.txt', String(ids['hello.txt']), 'File', '17 B', md5(Buffer.from('hello from 123pan')), '0'],
    ]);

    await table.getByRole('link', { name: 'docs', exact: true }).click();
    await table.getByRole('rowheader', { name: 'notes #1 100%.txt' }).waitFor();
    assert.deepEqual(await driveRows(page), [
      ['deep folder', String(ids.deep), 'Folder', '', '', String(ids.docs)],
      ['notes #1 100%.txt', String(ids['notes #1 100%.txt']), 'File', '5 B', md5(Buffer.from('notes')), String(ids.docs)],
    ]);
    assert.match(page.url(), new RegExp(`folder=${ids.docs}`));
    await table.getByRole('link', { name: 'deep folder' }).click();
    await table.getByRole('rowheader', { name: 'bottom.txt' }).waitFor();
    const crumbs = page.getByRole('navigation', { name: 'Breadcrumbs' });
    assert.deepEqual(await crumbs.getByRole('listitem').allInnerTexts(), ['Alice’s drive', 'docs', 'deep folder']);
    await crumbs.getByRole('link', { name: 'docs' }).click();
    await table.getByRole('rowheader', { name: 'deep folder' }).waitFor();
    await crumbs.getByRole('link', { name: 'Alice’s drive' }).click();
    await table.getByRole('rowheader', { name: 'hello.txt' }).waitFor();
    // Back goes to the folder before, as with any page.
    await page.goBack();
    await table.getByRole('rowheader', { name: 'deep folder' }).waitFor();
    await page.context().close();
  });

  it('page: Bob cannot see Alice’s drive, Carol has none and is told so, root picks any drive', async () => {
    const bob = await signedIn(BOB, `pan?bucket=${ALICE_BUCKET}`);
    await bob.getByRole('alert').filter({ hasText: 'AccessDenied' }).waitFor();
    assert.equal(await bob.getByText('hello.txt').count(), 0);
    assert.equal(await tableRows(bob, 'Drive').getByRole('rowheader').count(), 0);
    await bob.context().close();

    const carol = await signedIn(CAROL);
    assert.deepEqual(await carol.getByRole('navigation', { name: 'Main' }).getByRole('link').allInnerTexts(), ['Buckets']);
    await carol.goto(new URL(`${CONSOLE}pan`, server.url).href);
    await carol.getByText('You have no 123pan drive.').waitFor();
    assert.equal(await carol.getByRole('alert').count(), 0);
    assert.equal(await carol.getByRole('table', { name: 'Drive' }).count(), 0);
    await carol.context().close();

    const root = await signedIn(ROOT, 'pan');
    assert.deepEqual(await root.getByRole('navigation', { name: 'Main' }).getByRole('link').allInnerTexts(), ['Buckets', '123pan drive', 'Users']);
    const drive = root.getByLabel('Drive', { exact: true });
    await eventually(async () => assert.equal(await drive.inputValue(), ALICE_BUCKET));
    await root.getByRole('table', { name: 'Drive' }).getByRole('rowheader', { name: 'hello.txt' }).waitFor();
    await drive.selectOption('pan-bob');
    await root.getByText('This folder is empty.').waitFor();
    assert.match(root.url(), /bucket=pan-bob/);
    await root.context().close();
  });
});
