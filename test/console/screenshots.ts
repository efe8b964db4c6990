/**
 * `npm run screenshots`: PNGs of each console page, made by the tests' browser (Debian's
 * Chromium) against a real server with a little data, saved to docs/console/ for the README and
 * docs/console.md. Not a test (it asserts nothing): run it after changing how a page looks.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, CreateMultipartUploadCommand, PutBucketCorsCommand, PutObjectCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import type { Page } from 'playwright-core';
import { launchBrowser } from '../helpers/browser.js';
import { CONSOLE, signInPage } from '../helpers/console.js';
import { s3Client } from '../helpers/s3.js';
import { REPO_ROOT, startServer } from '../helpers/server.js';
import { ALICE, APP, BOB, login, md5, NO_LIMITS, ok, panCall } from '../pan/helpers.js';

const OUT = join(REPO_ROOT, 'docs', 'console');

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const [server, browser] = await Promise.all([startServer({ config: { users: [ALICE, BOB], panApps: [APP], panRateLimits: NO_LIMITS }, singleNode: true }), launchBrowser()]);
  const s3 = s3Client(server);
  try {
    for (const bucket of ['photos', 'backups', 'datasets']) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const objects: Array<[string, string, number, string?]> = [
      ['photos', '2024/tokyo/shibuya crossing.jpg', 2_400_000, 'image/jpeg'],
      ['photos', '2024/tokyo/fushimi inari.jpg', 3_100_000, 'image/jpeg'],
      ['photos', '2025/lisbon/tram #28.jpg', 1_800_000, 'image/jpeg'],
      ['photos', 'albums.json', 1_200, 'application/json'],
      ['photos', 'README.md', 640, 'text/markdown'],
      ['photos', 'cover 😀.png', 420_000, 'image/png'],
      ['backups', 'db/2025-06-01.sql.gz', 9_600_000],
      ['datasets', 'train/part-0001.parquet', 5_000_000],
    ];
    for (const [bucket, key, size, type] of objects) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(size, 7), ContentType: type, Metadata: key.endsWith('.png') ? { camera: 'pinhole', by: 'alice' } : undefined }));
    }

    // Uploads left in progress, as a crashed backup job would leave them.
    const inProgress: Array<[string, number, number]> = [
      ['db/2025-06-02.sql.gz', 24, 256 * 1024],
      ['vm/disk.qcow2', 7, 1024 * 1024],
      ['vm/disk.qcow2', 0, 0],
    ];
    let uploadWithParts = '';
    for (const [key, parts, size] of inProgress) {
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'backups', Key: key }));
      for (let number = 1; number <= parts; number++) {
        await s3.send(new UploadPartCommand({ Bucket: 'backups', Key: key, UploadId, PartNumber: number, Body: Buffer.alloc(number === parts ? size / 3 : size, number) }));
      }
      if (parts === 24) uploadWithParts = UploadId!;
    }

    // Alice's 123pan drive, filled through the 123pan API as her app would; her and Bob's buckets.
    const token = await login(server.url);
    const mkdir = async (name: string, parentID: number) => (await ok(server.url, 'POST', '/upload/v1/file/mkdir', { token, json: { name, parentID } })).dirID as number;
    const panPut = async (filename: string, size: number, parentFileID: number) => {
      const data = Buffer.alloc(size, filename.length);
      const form = new FormData();
      for (const [field, value] of Object.entries({ parentFileID: String(parentFileID), filename, etag: md5(data), size: String(size) })) form.set(field, value);
      form.set('file', new Blob([data]), filename);
      const { body } = await panCall(server.url, 'POST', '/upload/v2/file/single/create', { token, body: form });
      if (body.code !== 0) throw new Error(`single/create ${filename}: ${body.message}`);
    };
    const trips = await mkdir('Trips', 0);
    await mkdir('Invoices', 0);
    const lisbon = await mkdir('Lisbon 2025', trips);
    await panPut('notes.txt', 2_300, 0);
    await panPut('budget #2.xlsx', 48_000, 0);
    await panPut('itinerary.pdf', 310_000, trips);
    await panPut('tram 28.jpg', 1_900_000, lisbon);
    await panPut('alfama 😀.jpg', 2_200_000, lisbon);
    for (const [user, bucket, key, size] of [
      [ALICE, 'alice-notes', 'journal/2025-06.md', 12_000],
      [BOB, 'bob-laptop', 'laptop/home.tar.zst', 3_400_000],
    ] as const) {
      const client = s3Client(server, { accessKeyId: user.accessKey, secretAccessKey: user.secretKey });
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.alloc(size, 1) }));
      if (user === BOB) await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'laptop/photos.tar.zst' }));
      client.destroy();
    }

    const alice = await browser.newPage();
    await signInPage(alice, server, ALICE.accessKey, ALICE.secretKey);
    await alice.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: '123pan drive' }).click();
    const drive = alice.getByRole('table', { name: 'Drive' });
    await drive.getByRole('link', { name: 'Trips', exact: true }).click();
    await drive.getByRole('link', { name: 'Lisbon 2025' }).click();
    await drive.getByRole('rowheader', { name: 'tram 28.jpg' }).waitFor();
    await shoot(alice, 'pan-drive');
    await alice.context().close();

    const signIn = await browser.newPage();
    await signIn.goto(new URL(CONSOLE, server.url).href);
    await signIn.getByLabel('Access key').fill('wrong-key');
    await signIn.getByLabel('Secret key').fill('not the secret');
    await signIn.getByRole('button', { name: 'Sign in' }).click();
    await signIn.getByRole('alert').waitFor();
    await shoot(signIn, 'sign-in');

    const page = await browser.newPage();
    await signInPage(page, server);
    await page.getByRole('table', { name: 'Buckets' }).getByRole('link', { name: 'photos' }).waitFor();
    await shoot(page, 'buckets');

    await page.getByRole('link', { name: 'photos' }).click();
    await page.getByRole('table', { name: 'Objects' }).getByRole('link', { name: '2024/' }).waitFor();
    await page.getByRole('checkbox', { name: 'Select albums.json' }).check();
    await page.getByRole('checkbox', { name: 'Select README.md' }).check();
    await shoot(page, 'objects');

    await page.getByRole('checkbox', { name: 'Select all' }).uncheck();
    await page.getByRole('button', { name: 'Details of cover 😀.png' }).click();
    await page.getByRole('dialog').getByText('image/png').waitFor();
    await shoot(page, 'object-details');
    await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();

    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await page.getByRole('button', { name: 'Share cover 😀.png' }).click();
    await page.getByLabel('Link expires in').selectOption({ label: '7 days' });
    await page.getByRole('button', { name: 'Create link' }).click();
    await page.getByRole('dialog').getByRole('status').filter({ hasText: 'Link copied' }).waitFor();
    await shoot(page, 'share');
    await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();

    await page.getByRole('link', { name: '2024/' }).click();
    await page.getByRole('link', { name: 'tokyo/' }).click();
    await page.getByRole('table', { name: 'Objects' }).getByRole('rowheader', { name: 'shibuya crossing.jpg' }).waitFor();
    await shoot(page, 'objects-folder');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Buckets' }).click();
    await page.getByRole('link', { name: 'backups' }).click();
    await page.getByRole('link', { name: 'Uploads in progress' }).click();
    const uploads = page.getByRole('table', { name: 'Uploads in progress' });
    await uploads.locator('tbody tr').filter({ hasText: uploadWithParts }).getByRole('checkbox').check();
    await shoot(page, 'uploads');

    await uploads.locator('tbody tr').filter({ hasText: uploadWithParts }).getByRole('link').click();
    await page.getByRole('table', { name: 'Parts' }).getByRole('rowheader', { name: '24', exact: true }).waitFor();
    await shoot(page, 'parts');

    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click();
    await page.getByRole('table', { name: 'Users' }).getByRole('rowheader', { name: 'bob' }).waitFor();
    await shoot(page, 'users');

    await s3.send(
      new PutBucketCorsCommand({
        Bucket: 'photos',
        CORSConfiguration: {
          CORSRules: [
            { ID: 'web-uploads', AllowedOrigins: ['https://app.example.com'], AllowedMethods: ['PUT', 'POST'], AllowedHeaders: ['*'], ExposeHeaders: ['ETag'], MaxAgeSeconds: 3000 },
            { AllowedOrigins: ['*'], AllowedMethods: ['GET', 'HEAD'] },
          ],
        },
      }),
    );
    await page.goto(new URL(CONSOLE + 'buckets/photos/cors', server.url).href);
    await page.getByRole('table', { name: 'CORS rules' }).getByRole('rowheader', { name: 'https://app.example.com' }).waitFor();
    await shoot(page, 'bucket-cors');

    // A large upload in progress: parts 3 and up are held in the browser, so the bar stops at 2 of 6.
    const dir = await mkdtemp(join(tmpdir(), 'tessera-screenshots-'));
    try {
      const file = join(dir, 'site-backup-2025-06.tar');
      await writeFile(file, Buffer.alloc(30 * 1024 * 1024, 7));
      await page.route((url) => Number(url.searchParams.get('partNumber') ?? '0') >= 3, () => undefined);
      await page.getByRole('link', { name: 'Buckets' }).first().click();
      await page.getByRole('table', { name: 'Buckets' }).getByRole('link', { name: 'backups' }).click();
      await page.getByRole('table', { name: 'Objects' }).getByRole('link', { name: 'db/' }).waitFor();
      await page.locator('input[type=file]:not([webkitdirectory])').setInputFiles(file);
      // Any unit: a busy machine measures KiB/s.
      await page.getByText(/B\/s · about/).waitFor();
      await shoot(page, 'upload');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  } finally {
    s3.destroy();
    await browser.close();
    await server.cleanup();
  }
}

async function shoot(page: Page, name: string): Promise<void> {
  const path = join(OUT, `${name}.png`);
  await page.screenshot({ path });
  console.log(`wrote ${path}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
