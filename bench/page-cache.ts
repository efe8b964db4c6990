/**
 * Rows 5h and 5c: a contender's stored files put in the page cache (hot) or taken out of it
 * (cold) before the download, so the row measures the server and not where its bytes happen
 * to be. Node has no posix_fadvise binding; coreutils' `dd iflag=nocache count=0` calls
 * posix_fadvise(POSIX_FADV_DONTNEED) on the whole file, which drops its clean pages (after a
 * `sync`, all of them). That is preferred to `echo 1 > /proc/sys/vm/drop_caches`: dropping
 * every cache on the machine would also evict the harness's source file (the next contender's
 * row 1 would read it from disk) and whatever else runs there. drop_caches is the fallback
 * where dd cannot evict (some filesystems ignore the advice) and /proc/sys/vm is writable.
 * util-linux's `fincore` checks what is left in the cache, where it is installed.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

export interface CacheState {
  /** How the files were put in or taken out of the cache. */
  method: string;
  /** Bytes of the files in the page cache afterwards (fincore), undefined where fincore is missing. */
  residentBytes?: number;
  totalBytes: number;
}

/** Every regular file under `dir`, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) files.push(join(entry.parentPath, entry.name));
  }
  return files;
}

function run(command: string, args: string[]): string | undefined {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

/** Bytes of `files` in the page cache, and their sizes, per fincore (undefined resident where it is missing). */
function residency(files: string[]): { resident?: number; total: number } {
  let resident = 0;
  let total = 0;
  let known = true;
  // A few hundred paths per call keeps the command line short.
  for (let i = 0; i < files.length; i += 200) {
    const out = run('fincore', ['--bytes', '--noheadings', '--raw', '--output', 'RES,SIZE', ...files.slice(i, i + 200)]);
    if (out === undefined) {
      known = false;
      continue;
    }
    for (const line of out.trim().split('\n')) {
      const [res, size] = line.trim().split(/\s+/).map(Number);
      if (Number.isFinite(res) && Number.isFinite(size)) {
        resident += res!;
        total += size!;
      }
    }
  }
  return { resident: known ? resident : undefined, total };
}

/** Takes every file under `dir` out of the page cache (see the module comment for how). */
export async function evictDirectory(dir: string): Promise<CacheState> {
  const files = await filesUnder(dir);
  run('sync', []);
  for (const file of files) run('dd', [`if=${file}`, 'iflag=nocache', 'count=0', 'status=none']);
  let { resident, total } = residency(files);
  let method = 'posix_fadvise(DONTNEED) per file (dd iflag=nocache count=0) after sync';
  if (resident !== undefined && resident > total / 100) {
    try {
      writeFileSync('/proc/sys/vm/drop_caches', '1');
      method = 'sync; echo 1 > /proc/sys/vm/drop_caches (fadvise left pages cached)';
      ({ resident, total } = residency(files));
    } catch {
      // Not root, or /proc/sys read-only: the residency says how cold it is.
    }
  }
  return { method, residentBytes: resident, totalBytes: total };
}

/** Reads every file under `dir` once, so the next read of them comes from the page cache. */
export async function warmDirectory(dir: string): Promise<CacheState> {
  const files = await filesUnder(dir);
  const buffer = Buffer.allocUnsafe(1 << 20);
  for (const file of files) {
    let fd: number;
    try {
      fd = openSync(file, 'r');
    } catch {
      continue; // gone since the listing (a temp file)
    }
    try {
      while (readSync(fd, buffer, 0, buffer.length, null) > 0);
    } finally {
      closeSync(fd);
    }
  }
  const { resident, total } = residency(files);
  return { method: 'every file read once', residentBytes: resident, totalBytes: total };
}
