/**
 * `tessera cp`: upload (file or `-r` directory), download (object or `-r` prefix) and
 * server-side copy, as ossutil's cp. Files and objects at or above `--bigfile-threshold` go
 * multipart (uploads) or in parallel ranges (downloads) with a checkpoint in `--checkpoint-dir`,
 * so a run that was interrupted (even by SIGKILL or Ctrl-C) resumes and moves only what is still
 * missing. Every transfer is checked end to end.
 */
import { mkdir, readdir, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, sep } from 'node:path';
import { Option, type Command } from 'commander';
import type { StorageClient } from '../client/client.js';
import type { DialectName } from '../client/types.js';
import { ServiceError } from '../client/errors.js';
import { listAllObjects } from '../client/paging.js';
import { RateLimiter } from '../client/streams.js';
import { downloadResumable } from '../client/downloader.js';
import { copyObject } from '../client/transfer.js';
import { uploadFile } from '../client/uploader.js';
import { checkpointOfTemporary } from '../client/checkpoint.js';
import { exit, makeClient, parseCloudUrl, UsageError, withCommonOptions, runner, type CloudUrl, type CommonFlags } from './cloud.js';
import { aclHeader, contentTypeFor, parseMeta, type ObjectHeaders } from './object-headers.js';
import { positiveInt } from './options.js';
import { CopyMonitor } from './progress.js';

interface CpFlags extends CommonFlags {
  recursive?: boolean;
  force?: boolean;
  update?: boolean;
  bigfileThreshold: number;
  partSize?: number;
  parallel?: number;
  jobs: number;
  checkpointDir: string;
  maxupspeed?: number;
  maxdownspeed?: number;
  meta?: string;
  acl?: string;
}

export function registerCp(program: Command): void {
  const command = program
    .command('cp')
    .description('upload, download or copy objects (multipart and resumable above --bigfile-threshold)')
    .argument('<src_url>', 'local path, oss://bucket/key or s3://bucket/key')
    .argument('<dest_url>', 'local path, oss://bucket/key or s3://bucket/key')
    .option('-r, --recursive', 'copy a directory, or every object under a prefix')
    .option('-f, --force', 'no questions asked (cp never prompts; kept for ossutil scripts)')
    .option('-u, --update', 'skip when the destination exists and is not older than the source')
    .option('--bigfile-threshold <bytes>', 'multipart (and resumable) from this size', positiveInt, 104_857_600)
    .option('--part-size <bytes>', "part size (default: ossutil's automatic sizing)", positiveInt)
    .option('--parallel <n>', 'parts in flight per file (default: by part count)', positiveInt)
    .option('-j, --jobs <n>', 'files in flight', positiveInt, 3)
    .option('--checkpoint-dir <dir>', 'where resumable uploads and downloads keep their checkpoints', '.ossutil_checkpoint')
    .addOption(new Option('--maxupspeed <KB/s>', 'upload bandwidth cap, KB/s').argParser(positiveInt))
    .addOption(new Option('--maxdownspeed <KB/s>', 'download bandwidth cap, KB/s').argParser(positiveInt))
    .option('--meta <headers>', 'headers of the objects written: "Content-Type:text/plain#Cache-Control:no-cache#X-Oss-Meta-A:1"')
    .option('--acl <acl>', 'ACL of the objects written: private, public-read, … (S3 canned ACLs; OSS: default, private, public-read, public-read-write)');
  withCommonOptions(command).action(runner(cp));
}

async function cp(command: Command): Promise<void> {
  const [srcText, destText] = command.args as [string, string];
  const flags = command.opts<CpFlags>();
  const src = parseCloudUrl(srcText);
  const dest = parseCloudUrl(destText);
  if (src === undefined && dest === undefined) {
    throw new UsageError(`copy files between local file system is not allowed, if you want to upload, dest_url must start with oss:// or s3://, dest_url: ${destText}`);
  }
  const tty = process.stdout.isTTY === true;
  // Ctrl-C (or a TERM) leaves at once with 130 (143): checkpoints are written atomically, so the
  // same command run again resumes what was under way.
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`\ninterrupted: run the same command again to resume (checkpoints in ${flags.checkpointDir})\n`);
    void exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const written = dest !== undefined ? writtenHeaders(dest.dialect, flags) : undefined;
  if (dest === undefined && (flags.meta !== undefined || flags.acl !== undefined)) throw new UsageError('--meta and --acl apply to objects written: an upload or a copy');
  if (src !== undefined && dest !== undefined) return copyObjects(src, dest, flags, tty, written!);
  if (dest !== undefined) return upload(srcText, dest, flags, tty, written!);
  return download(src!, destText, flags, tty);
}

/** `--meta` and `--acl` as headers for the destination's dialect. */
function writtenHeaders(dialect: DialectName, flags: CpFlags): ObjectHeaders & { given: boolean } {
  const meta = flags.meta !== undefined ? parseMeta(flags.meta) : { metadata: {}, headers: {} };
  if (flags.acl !== undefined) Object.assign(meta.headers, aclHeader(dialect, flags.acl));
  return { ...meta, given: flags.meta !== undefined };
}

/** Runs `work` over `items`, `jobs` at a time; the first failure stops the rest. */
async function pool<T>(items: T[], jobs: number, work: (item: T, signal: AbortSignal) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (next < items.length && failure === undefined) {
      const item = items[next++]!;
      try {
        await work(item, controller.signal);
      } catch (err) {
        if (failure === undefined) failure = err;
        controller.abort(err);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
  if (failure !== undefined) throw failure;
}

/** Runs the transfers under a monitor: its closing lines are printed whatever happens. */
async function monitored<T>(monitor: CopyMonitor, items: T[], jobs: number, work: (item: T, signal: AbortSignal) => Promise<void>): Promise<void> {
  try {
    await pool(items, jobs, async (item, signal) => {
      try {
        await work(item, signal);
      } catch (err) {
        monitor.failed();
        throw err;
      }
    });
  } catch (err) {
    monitor.finish(false);
    throw err;
  }
  monitor.finish(true);
}

function isNotFound(err: unknown): boolean {
  return err instanceof ServiceError && err.status === 404;
}

/** `dir/` + name when the destination names a folder (empty, or ending with `/`). */
function targetKey(destKey: string, name: string): string {
  return destKey === '' || destKey.endsWith('/') ? destKey + name : destKey;
}

function folderPrefix(destKey: string): string {
  return destKey === '' || destKey.endsWith('/') ? destKey : `${destKey}/`;
}

async function walk(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(path)));
    else if (entry.isFile()) files.push(path);
    else if (entry.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isFile()) files.push(path);
  }
  return files.sort();
}

/** Keeps byte counts straight when a transfer reports cumulative figures (which may go down on a retry). */
function progressReporter(monitor: CopyMonitor): (transferred: number, resumed?: number) => void {
  let reported = 0;
  let resumedReported = false;
  return (transferred, resumed = 0) => {
    if (!resumedReported && resumed > 0) {
      monitor.addResumed(resumed);
      resumedReported = true;
    }
    const moved = transferred - resumed;
    monitor.addBytes(moved - reported);
    reported = moved;
  };
}

async function upload(srcPath: string, dest: CloudUrl, flags: CpFlags, tty: boolean, written: ObjectHeaders): Promise<void> {
  if (dest.bucket === '') throw new UsageError(`invalid url: ${dest.dialect}://, the bucket is missing`);
  let info;
  try {
    info = await stat(srcPath);
  } catch {
    throw new Error(`stat ${srcPath}: no such file or directory`);
  }
  let files: Array<{ path: string; key: string }>;
  if (info.isDirectory()) {
    if (!flags.recursive) throw new Error(`source URL:${srcPath} is a directory, please use --recursive option`);
    const prefix = folderPrefix(dest.key);
    files = (await walk(srcPath)).map((path) => ({ path, key: prefix + relative(srcPath, path).split(sep).join('/') }));
  } else {
    files = [{ path: srcPath, key: targetKey(dest.key, basename(srcPath)) }];
  }
  const sized = await Promise.all(files.map(async (f) => ({ ...f, stat: await stat(f.path) })));
  const client = makeClient(dest.dialect, flags, dest.bucket);
  const monitor = new CopyMonitor('upload', tty);
  monitor.start(sized.length, sized.reduce((sum, f) => sum + f.stat.size, 0));
  const limiter = flags.maxupspeed ? new RateLimiter(flags.maxupspeed * 1024) : undefined;
  try {
    await monitored(monitor, sized, flags.jobs, async (file, signal) => {
      if (flags.update && (await destinationIsCurrent(client, dest.bucket, file.key, file.stat.mtimeMs, signal))) {
        monitor.skipped(file.stat.size);
        return;
      }
      const report = progressReporter(monitor);
      await uploadFile(client, {
        bucket: dest.bucket,
        key: file.key,
        file: file.path,
        partSize: flags.partSize,
        parallel: flags.parallel,
        multipartThreshold: flags.bigfileThreshold,
        checkpointDir: flags.checkpointDir,
        contentType: written.contentType ?? contentTypeFor(file.path),
        metadata: written.metadata,
        headers: written.headers,
        limiter,
        signal,
        onProgress: (p) => report(p.transferredBytes, p.resumedBytes),
      });
      monitor.fileDone();
    });
  } catch (err) {
    if (err instanceof ServiceError && err.code === 'NoSuchUpload') {
      process.stdout.write(`Will remove checkpoint dir '${flags.checkpointDir}' automatically. Please try again.\n`);
      await removeCheckpoints(flags.checkpointDir);
    }
    throw err;
  } finally {
    client.destroy();
  }
  await rmdir(flags.checkpointDir).catch(() => undefined);
}

/** `-u`: the object exists and was modified at or after the file (whole seconds, as ossutil compares). */
async function destinationIsCurrent(client: StorageClient, bucket: string, key: string, fileMtimeMs: number, signal: AbortSignal): Promise<boolean> {
  try {
    const head = await client.headObject(bucket, key, { signal });
    return Math.floor(head.lastModified.getTime() / 1000) >= Math.floor(fileMtimeMs / 1000);
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

async function removeCheckpoints(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  // Checkpoints, and the temporary files of saves an interrupted run left (checkpoint.ts).
  const ours = names.filter((n) => (checkpointOfTemporary(n) ?? n).endsWith('.cp'));
  await Promise.all(ours.map((n) => rm(join(dir, n), { force: true })));
  await rmdir(dir).catch(() => undefined);
}

interface RemoteItem {
  key: string;
  size: number;
  lastModified: Date;
  /** Path below the source prefix's folder (`-r`), or the object's base name. */
  relative: string;
}

/** The objects a download or copy covers: one object, or (`-r`) all under the prefix. */
async function remoteItems(client: StorageClient, src: CloudUrl, recursive: boolean): Promise<RemoteItem[]> {
  if (src.bucket === '') throw new UsageError(`invalid url: ${src.dialect}://, the bucket is missing`);
  if (!recursive) {
    if (src.key === '') throw new UsageError(`object key is empty: ${src.dialect}://${src.bucket}, use -r for every object`);
    const head = await client.headObject(src.bucket, src.key);
    return [{ key: src.key, size: head.size, lastModified: head.lastModified, relative: basename(src.key) }];
  }
  const cut = src.key.lastIndexOf('/') + 1;
  const items: RemoteItem[] = [];
  for await (const object of listAllObjects(client, src.bucket, { prefix: src.key })) {
    items.push({ key: object.key, size: object.size, lastModified: object.lastModified, relative: object.key.slice(cut) });
  }
  return items;
}

async function download(src: CloudUrl, destPath: string, flags: CpFlags, tty: boolean): Promise<void> {
  const client = makeClient(src.dialect, flags, src.bucket);
  try {
    const items = await remoteItems(client, src, flags.recursive === true);
    const destInfo = await stat(destPath).catch(() => undefined);
    const intoFolder = flags.recursive || destInfo?.isDirectory() === true || destPath.endsWith('/') || destPath.endsWith(sep);
    const monitor = new CopyMonitor('download', tty);
    monitor.start(items.length, items.reduce((sum, i) => sum + i.size, 0));
    const limiter = flags.maxdownspeed ? new RateLimiter(flags.maxdownspeed * 1024) : undefined;
    await monitored(monitor, items, flags.jobs, async (item, signal) => {
      const file = intoFolder ? join(destPath, ...item.relative.split('/')) : destPath;
      if (item.key.endsWith('/')) {
        await mkdir(file, { recursive: true });
        monitor.fileDone();
        return;
      }
      await mkdir(dirname(file), { recursive: true });
      if (flags.update) {
        const local = await stat(file).catch(() => undefined);
        if (local !== undefined && Math.floor(local.mtimeMs / 1000) >= Math.floor(item.lastModified.getTime() / 1000)) {
          monitor.skipped(item.size);
          return;
        }
      }
      const report = progressReporter(monitor);
      const result = await downloadResumable(client, {
        bucket: src.bucket,
        key: item.key,
        file,
        checkpointDir: flags.checkpointDir,
        multipartThreshold: flags.bigfileThreshold,
        partSize: flags.partSize,
        parallel: flags.parallel,
        knownSize: item.size,
        signal,
        limiter,
        onNotice: (message) => process.stderr.write(`${message}\n`),
        onProgress: (p) => report(p.transferredBytes, p.resumedBytes),
      });
      if (result.ranged) {
        const resumed = result.partsResumed > 0 ? `, resumed ${result.partsResumed} of ${result.partsTotal} ranges` : '';
        process.stderr.write(`${file}: verified ${result.verifiedBy.join(', ')}${resumed}\n`);
      }
      monitor.fileDone();
    });
  } finally {
    client.destroy();
  }
  await rmdir(flags.checkpointDir).catch(() => undefined);
}

async function copyObjects(src: CloudUrl, dest: CloudUrl, flags: CpFlags, tty: boolean, written: ObjectHeaders & { given: boolean }): Promise<void> {
  if (src.dialect !== dest.dialect) throw new UsageError(`a server-side copy stays within one service: ${src.dialect}:// to ${dest.dialect}:// is not supported`);
  if (dest.bucket === '') throw new UsageError(`invalid url: ${dest.dialect}://, the bucket is missing`);
  const client = makeClient(src.dialect, flags, src.bucket);
  try {
    const items = await remoteItems(client, src, flags.recursive === true);
    const monitor = new CopyMonitor('copy', tty);
    monitor.start(items.length, items.reduce((sum, i) => sum + i.size, 0));
    const prefix = flags.recursive ? folderPrefix(dest.key) : undefined;
    await monitored(monitor, items, flags.jobs, async (item, signal) => {
      const key = prefix !== undefined ? prefix + item.relative : targetKey(dest.key, item.relative);
      if (flags.update) {
        const current = await destinationIsCurrent(client, dest.bucket, key, item.lastModified.getTime(), signal);
        if (current) {
          monitor.skipped(item.size);
          return;
        }
      }
      const report = progressReporter(monitor);
      await copyObject(client, {
        source: { bucket: src.bucket, key: item.key },
        target: { bucket: dest.bucket, key },
        multipartThreshold: flags.bigfileThreshold,
        partSize: flags.partSize,
        parallel: flags.parallel,
        // --meta replaces the source's headers and metadata; without it a single copy keeps them.
        contentType: written.given ? written.contentType : undefined,
        metadata: written.given ? written.metadata : undefined,
        headers: written.headers,
        signal,
        onProgress: (p) => report(p.transferredBytes),
      });
      monitor.fileDone();
    });
  } finally {
    client.destroy();
  }
}
