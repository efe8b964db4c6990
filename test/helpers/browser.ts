import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * A headless Chromium for the console's tests: Debian's own (`apt-get install chromium`),
 * driven by playwright-core. Never a browser downloaded at install time.
 */
const DEBIAN_CHROMIUM = '/usr/bin/chromium';

export function findChromium(): string {
  const candidates = [process.env.TESSERA_TEST_CHROMIUM, DEBIAN_CHROMIUM, ...(process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'chromium'))];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Next candidate.
    }
  }
  throw new Error(
    `Chromium not found (looked for ${DEBIAN_CHROMIUM} and chromium on PATH): the console's browser tests need Debian's chromium package (apt-get install chromium), as .ci/run installs it.`,
  );
}

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (no cookies, no storage) and a page in it, closed by close(). */
  newPage(options?: { acceptDownloads?: boolean }): Promise<Page>;
  close(): Promise<void>;
}

export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({
    executablePath: findChromium(),
    headless: true,
    // The sandbox needs user namespaces, which containers (and root) often lack.
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
  });
  const contexts: BrowserContext[] = [];
  return {
    browser,
    newPage: async (options = {}) => {
      const context = await browser.newContext({ acceptDownloads: options.acceptDownloads ?? true, viewport: { width: 1280, height: 800 } });
      contexts.push(context);
      return context.newPage();
    },
    close: async () => {
      await Promise.allSettled(contexts.map((context) => context.close()));
      await browser.close();
    },
  };
}
