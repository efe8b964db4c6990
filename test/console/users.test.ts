/**
 * The console's Users page and its API (`GET /-/console/api/users`), root only: every user with
 * their access key id (never a secret), their buckets with objects, bytes and uploads in progress.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CreateBucketCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { findChromium, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { CONSOLE, consoleApi, signInApi, signInPage, tableRows } from '../helpers/console.js';
import { s3Client } from '../helpers/s3.js';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';
import { ALICE, APP, BOB, BOB_APP, panConfig } from '../pan/helpers.js';

const CAROL = { id: 'carol', displayName: 'Carol', accessKey: 'carol-access-key', secretKey: 'carol-secret-key-0123456789' };
const SECRETS = [ROOT_SECRET_KEY, ALICE.secretKey, BOB.secretKey, CAROL.secretKey, APP.clientSecret, BOB_APP.clientSecret];
const ROOT = { accessKey: ROOT_ACCESS_KEY, secretKey: ROOT_SECRET_KEY };

/** The API's answer without creation times (they are the server's clock). */
function withoutTimes(answer: any): any {
  const strip = (bucket: { created?: string }) => {
    assert.ok(!Number.isNaN(Date.parse(bucket.created ?? '')), 'created is a time');
    const { created: _created, ...rest } = bucket;
    return rest;
  };
  return {
    users: answer.users.map((user: { buckets: object[] }) => ({ ...user, buckets: user.buckets.map(strip) })),
    bucketsOfUnknownOwners: answer.bucketsOfUnknownOwners.map(strip),
  };
}

function assertNoSecret(text: string, where: string): void {
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${where} holds a secret`);
}

describe('console: users and keys', () => {
  let server: TestServer;
  let browser: TestBrowser;
  const config = () => {
    const base = panConfig();
    return { ...base, users: [...(base.users as object[]), CAROL] };
  };

  before(async () => {
    // Before anything starts: a server already running when the browser fails would keep the process alive.
    findChromium();
    [server, browser] = await Promise.all([startServer({ config: config() }), launchBrowser()]);
    const as = (user: { accessKey: string; secretKey: string }) => s3Client(server, { accessKeyId: user.accessKey, secretAccessKey: user.secretKey });
    const alice = as(ALICE);
    await alice.send(new CreateBucketCommand({ Bucket: 'alice-photos' }));
    await alice.send(new PutObjectCommand({ Bucket: 'alice-photos', Key: 'a.jpg', Body: Buffer.alloc(100, 1) }));
    await alice.send(new PutObjectCommand({ Bucket: 'alice-photos', Key: 'b.jpg', Body: Buffer.alloc(250, 2) }));
    alice.destroy();
    const bob = as(BOB);
    await bob.send(new CreateBucketCommand({ Bucket: 'bob-backups' }));
    await bob.send(new PutObjectCommand({ Bucket: 'bob-backups', Key: 'x', Body: Buffer.alloc(10, 3) }));
    const { UploadId } = await bob.send(new CreateMultipartUploadCommand({ Bucket: 'bob-backups', Key: 'big.tar' }));
    await bob.send(new UploadPartCommand({ Bucket: 'bob-backups', Key: 'big.tar', UploadId, PartNumber: 1, Body: Buffer.alloc(1000, 4) }));
    await bob.send(new CreateMultipartUploadCommand({ Bucket: 'bob-backups', Key: 'empty.tar' }));
    bob.destroy();
    const root = as(ROOT);
    await root.send(new CreateBucketCommand({ Bucket: 'root-logs' }));
    root.destroy();
  });
  after(async () => {
    await browser?.close();
    await server?.cleanup();
  });

  async function signedIn(user: { accessKey: string; secretKey: string }, path = ''): Promise<Page> {
    const page = await browser.newPage();
    await signInPage(page, server, user.accessKey, user.secretKey, path);
    return page;
  }

  const zero = { buckets: 0, objects: 0, bytes: 0, uploads: 0, uploadBytes: 0 };
  const expected = {
    users: [
      { id: 'root', displayName: 'root', root: true, accessKeyId: ROOT_ACCESS_KEY, panDrives: [], buckets: [{ name: 'root-logs', objects: 0, bytes: 0, uploads: 0, uploadBytes: 0 }], totals: { ...zero, buckets: 1 } },
      {
        id: 'alice',
        displayName: 'Alice',
        root: false,
        accessKeyId: ALICE.accessKey,
        panDrives: [{ bucket: 'pan-alice', apps: ['alice-app'] }],
        buckets: [{ name: 'alice-photos', objects: 2, bytes: 350, uploads: 0, uploadBytes: 0 }],
        totals: { buckets: 1, objects: 2, bytes: 350, uploads: 0, uploadBytes: 0 },
      },
      {
        id: 'bob',
        displayName: 'Bob',
        root: false,
        accessKeyId: BOB.accessKey,
        panDrives: [{ bucket: 'pan-bob', apps: ['bob-app'] }],
        buckets: [{ name: 'bob-backups', objects: 1, bytes: 10, uploads: 2, uploadBytes: 1000 }],
        totals: { buckets: 1, objects: 1, bytes: 10, uploads: 2, uploadBytes: 1000 },
      },
      { id: 'carol', displayName: 'Carol', root: false, accessKeyId: CAROL.accessKey, panDrives: [], buckets: [], totals: zero },
    ],
    bucketsOfUnknownOwners: [],
  };

  it('API: root gets every user with their buckets, bytes and uploads in progress, never a secret; others get 403 AccessDenied', async () => {
    const root = await signInApi(server);
    const answer = await consoleApi(server, root, 'GET', 'users');
    assert.equal(answer.status, 200, JSON.stringify(answer.json));
    assert.deepEqual(withoutTimes(answer.json), expected);
    assertNoSecret(JSON.stringify(answer.json), 'the API answer');

    for (const user of [ALICE, CAROL]) {
      const session = await signInApi(server, user.accessKey, user.secretKey);
      const refused = await consoleApi(server, session, 'GET', 'users');
      assert.equal(refused.status, 403);
      assert.equal(refused.json.code, 'AccessDenied');
      assert.equal(typeof refused.json.message, 'string');
      assert.match(refused.json.requestId, /\S/);
      assertNoSecret(JSON.stringify(refused.json), 'the refusal');
    }
    assert.equal((await consoleApi(server, root, 'POST', 'users', {})).status, 405);
    assert.equal((await fetch(new URL('/-/console/api/users', server.url))).status, 403);
  });

  it('page: root sees every user and every bucket with its bytes; no secret key anywhere on the page', async () => {
    const page = await signedIn(ROOT);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('heading', { name: 'Users', level: 1 }).waitFor();
    const users = page.getByRole('table', { name: 'Users' });
    await users.getByRole('rowheader', { name: 'carol' }).waitFor();
    const rows = (await tableRows(page, 'Users').allInnerTexts()).map((row) => row.split('\t').map((cell) => cell.trim()));
    assert.deepEqual(rows, [
      ['alice', 'Alice', 'No', ALICE.accessKey, 'pan-alice', '1', '2', '350 B', '0', '0 B'],
      ['bob', 'Bob', 'No', BOB.accessKey, 'pan-bob', '1', '1', '10 B', '2', '1000 B'],
      ['carol', 'Carol', 'No', CAROL.accessKey, '', '0', '0', '0 B', '0', '0 B'],
      ['root', 'root', 'Yes', ROOT_ACCESS_KEY, '', '1', '0', '0 B', '0', '0 B'],
    ]);
    const buckets = (await tableRows(page, 'Buckets by owner').allInnerTexts()).map((row) => row.split('\t').map((cell) => cell.trim()));
    assert.deepEqual(
      buckets.map((row) => [row[0], row[1], ...row.slice(3)]),
      [
        ['alice-photos', 'alice', '2', '350 B', '0', '0 B'],
        ['bob-backups', 'bob', '1', '10 B', '2', '1000 B'],
        ['root-logs', 'root', '0', '0 B', '0', '0 B'],
      ],
    );
    assertNoSecret(await page.content(), 'the page’s HTML');
    assertNoSecret(await page.locator('body').innerText(), 'the page’s text');
    // A bucket opens its objects.
    await page.getByRole('table', { name: 'Buckets by owner' }).getByRole('link', { name: 'alice-photos' }).click();
    await page.getByRole('table', { name: 'Objects' }).getByRole('rowheader', { name: 'b.jpg' }).waitFor();
    await page.context().close();
  });

  it('page: a user who is not root has no Users entry and the address is not found', async () => {
    const page = await signedIn(ALICE);
    assert.deepEqual(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allInnerTexts(), ['Buckets', '123pan drive']);
    await page.goto(new URL(`${CONSOLE}users`, server.url).href);
    await page.getByRole('heading', { name: 'Page not found', level: 1 }).waitFor();
    assert.equal(await page.getByRole('table', { name: 'Users' }).count(), 0);
    assertNoSecret(await page.content(), 'the page’s HTML');
    await page.context().close();
  });

  it('a bucket whose owner left the config is still shown, under its old owner', async () => {
    const carol = s3Client(server, { accessKeyId: CAROL.accessKey, secretAccessKey: CAROL.secretKey });
    await carol.send(new CreateBucketCommand({ Bucket: 'carol-old' }));
    await carol.send(new PutObjectCommand({ Bucket: 'carol-old', Key: 'left.txt', Body: 'left behind' }));
    carol.destroy();
    await server.stop();
    const first = server;
    const base = panConfig();
    server = await startServer({ dataDir: first.dataDir, config: base });
    try {
      const root = await signInApi(server);
      const answer = await consoleApi(server, root, 'GET', 'users');
      assert.deepEqual(answer.json.users.map((user: { id: string }) => user.id), ['root', 'alice', 'bob']);
      assert.deepEqual(withoutTimes(answer.json).bucketsOfUnknownOwners, [{ owner: 'carol', name: 'carol-old', objects: 1, bytes: 11, uploads: 0, uploadBytes: 0 }]);
      const page = await signedIn(ROOT, 'users');
      const row = page.getByRole('table', { name: 'Buckets by owner' }).getByRole('row', { name: 'carol-old' });
      await row.waitFor();
      assert.match(await row.innerText(), /carol \(no longer a user\)/);
      await page.context().close();
    } finally {
      await server.stop();
      server = first;
    }
  });
});
