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

const OUT = join(REPO_ROOT, 'docs', 'console');
const ALICE = { id: 'alice', displayName: 'Alice', accessKey: 'alice-access-key', secretKey: 'alice-secret-key-0123456789' };

async function main(): Promise<void> {
  await mkdir(OUT, { recursive: true });
  const [server, browser] = await Promise.all([startServer({ config: { users: [ALICE] }, singleNode: true }), launchBrowser()]);
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
      await page.getByText(/MiB\/s · about/).waitFor();
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
