import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** Where `npm run build` puts the bundle (Vite's outDir): dist/console, seen from dist/src/server/console/. */
export const BUNDLE_DIR = fileURLToPath(new URL('../../../console/', import.meta.url));

/** One file of the built console, held in memory: the bundle is small and fixed for the life of the process. */
export interface BundleFile {
  /** Path inside the bundle, `/`-separated, no leading slash: `index.html`, `assets/index-3f2a.js`. */
  path: string;
  body: Buffer;
  /** The same bytes gzipped, when that saves something. */
  gzipped?: Buffer;
  contentType: string;
  etag: string;
  /** Hashed names (`assets/…`) never change content: cached for a year; everything else is revalidated. */
  immutable: boolean;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.webp': 'image/webp',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};
const COMPRESSIBLE = new Set(['.html', '.js', '.mjs', '.css', '.json', '.map', '.svg', '.txt']);
/** Vite writes hashed file names under this directory. */
const HASHED_DIR = 'assets/';

/**
 * The console's bundle as a fixed set of files, read once at start from `dir` (Vite's output).
 * Only regular files found under it are ever served: a request names a key of this map or
 * nothing, so no `..`, encoding or absolute path can reach outside, and a symbolic link (which
 * could point anywhere) is not taken in at all.
 */
export class ConsoleBundle {
  private constructor(
    private readonly files: Map<string, BundleFile>,
    readonly dir: string,
  ) {}

  /** The bundle under `dir`; an empty one (every page 503) when it was not built. */
  static async load(dir: string): Promise<ConsoleBundle> {
    const files = new Map<string, BundleFile>();
    try {
      await collect(dir, '', files);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    return new ConsoleBundle(files, dir);
  }

  get built(): boolean {
    return this.files.has('index.html');
  }

  get(path: string): BundleFile | undefined {
    return this.files.get(path);
  }

  get index(): BundleFile | undefined {
    return this.files.get('index.html');
  }
}

async function collect(root: string, prefix: string, into: Map<string, BundleFile>): Promise<void> {
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = prefix + entry.name;
    // Dirent describes the link itself: a symbolic link is neither a file nor a directory here.
    if (entry.isDirectory()) await collect(root, path + '/', into);
    else if (entry.isFile()) into.set(path, describe(path, await readFile(join(root, path))));
  }
}

function describe(path: string, body: Buffer): BundleFile {
  const extension = extname(path).toLowerCase();
  const gzipped = COMPRESSIBLE.has(extension) && body.length > 512 ? gzipSync(body, { level: 9 }) : undefined;
  return {
    path,
    body,
    gzipped: gzipped && gzipped.length < body.length ? gzipped : undefined,
    contentType: CONTENT_TYPES[extension] ?? 'application/octet-stream',
    // Weak: the gzipped and the plain bytes are the same file.
    etag: `W/"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    immutable: path.startsWith(HASHED_DIR),
  };
}
