import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './server.js';

/**
 * Bundles a browser script of test/browser/pages (plain JS: the project's tsc has no DOM types)
 * into one IIFE with Vite's JS API, resolving its imports from the project's node_modules as a
 * browser would get them. The bundle is cached in the temp dir by the entry's content and the
 * versions of Vite and the AWS SDK, so only the first run pays for the build.
 */
export async function bundleBrowserScript(entryName: string): Promise<string> {
  const entry = join(REPO_ROOT, 'test', 'browser', 'pages', entryName);
  const versions = await Promise.all(['vite', '@aws-sdk/client-s3'].map(async (name) => JSON.parse(await readFile(join(REPO_ROOT, 'node_modules', name, 'package.json'), 'utf8')).version as string));
  const key = createHash('sha256').update(await readFile(entry)).update(versions.join(' ')).digest('hex').slice(0, 16);
  const cacheDir = join(tmpdir(), 'tessera-browser-bundles');
  const cached = join(cacheDir, `${entryName}.${key}.js`);
  if (await exists(cached)) return readFile(cached, 'utf8');

  const { build } = await import('vite');
  const outDir = join(cacheDir, `build-${key}-${process.pid}`);
  await build({
    configFile: false,
    root: REPO_ROOT,
    logLevel: 'warn',
    define: { 'process.env.NODE_ENV': '"production"' },
    build: {
      outDir,
      emptyOutDir: true,
      minify: false,
      sourcemap: false,
      lib: { entry, name: 'TesseraTestPage', formats: ['iife'], fileName: () => 'bundle.js' },
    },
  });
  await mkdir(cacheDir, { recursive: true });
  // Renamed into place whole, so a concurrent run never reads half a bundle.
  await rename(join(outDir, 'bundle.js'), cached);
  await rm(outDir, { recursive: true, force: true });
  return readFile(cached, 'utf8');
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
