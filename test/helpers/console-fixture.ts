import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { launchBrowser, type TestBrowser } from './browser.js';
import { s3Client } from './s3.js';
import { startServer, type TestServer } from './server.js';

/** What a describe of console tests works with. */
export interface ConsoleFixture {
  server: TestServer;
  browser: TestBrowser;
  s3: S3Client;
  /** A temp directory for the files the page uploads. */
  dir: string;
}

/**
 * A server and a browser started side by side, an S3 client with `bucket` created, and a temp
 * directory named from `dirPrefix`. If any step fails, what was started is taken down again.
 */
export async function openConsoleFixture(bucket: string, dirPrefix: string): Promise<ConsoleFixture> {
  const started = await Promise.allSettled([startServer(), launchBrowser()]);
  const [server, browser] = started.map((result) => (result.status === 'fulfilled' ? result.value : undefined)) as [TestServer?, TestBrowser?];
  const partial: Partial<ConsoleFixture> = { server, browser };
  try {
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    partial.s3 = s3Client(server!);
    await partial.s3.send(new CreateBucketCommand({ Bucket: bucket }));
    partial.dir = await mkdtemp(join(tmpdir(), dirPrefix));
    return partial as ConsoleFixture;
  } catch (err) {
    await closeConsoleFixture(partial);
    throw err;
  }
}

/** Takes down whatever of a fixture there is (an `after` runs even when `before` failed). */
export async function closeConsoleFixture(fixture: Partial<ConsoleFixture>): Promise<void> {
  fixture.s3?.destroy();
  await fixture.browser?.close();
  await fixture.server?.cleanup();
  if (fixture.dir) await rm(fixture.dir, { recursive: true, force: true });
}
