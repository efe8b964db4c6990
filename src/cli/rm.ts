/**
 * `tessera rm`: an object; every object under a prefix (`-r`); the incomplete uploads of one key
 * (`-m`) or under a prefix (`-r -m`); both (`-a`); the bucket (`-b`). Recursive removals ask
 * ossutil's question first unless `-f`. An upload already gone (NoSuchUpload) counts as removed.
 */
import type { Command } from 'commander';
import type { StorageClient } from '../client/client.js';
import { ServiceError } from '../client/errors.js';
import { listObjectsPages, listUploadsPages } from '../client/paging.js';
import { makeClient, out, requireCloudUrl, runner, UsageError, withCommonOptions, type CloudUrl, type CommonFlags } from './cloud.js';
import { confirm, StatusLine } from './terminal.js';

interface RmFlags extends CommonFlags {
  recursive?: boolean;
  force?: boolean;
  multipart?: boolean;
  allType?: boolean;
  bucket?: boolean;
}

export function registerRm(program: Command): void {
  const command = program
    .command('rm')
    .aliases(['remove', 'del', 'delete'])
    .description('remove objects (-r under a prefix), incomplete uploads (-m), both (-a), or the bucket (-b)')
    .argument('<url>', 'oss://bucket[/key-or-prefix] or s3://bucket[/key-or-prefix]')
    .option('-r, --recursive', 'everything under the prefix')
    .option('-f, --force', 'do not ask for confirmation')
    .option('-m, --multipart', 'incomplete multipart uploads instead of objects')
    .option('-a, --all-type', 'objects and incomplete multipart uploads')
    .option('-b, --bucket', 'remove the bucket (with -r: after what is in it)');
  withCommonOptions(command).action(runner(rm));
}

/** ossutil's RM monitor: counts and its `Succeed: Total …. Removed ….` line. */
class RemoveTally {
  objects = 0;
  objectsRemoved = 0;
  uploads = 0;
  uploadsRemoved = 0;
  constructor(
    readonly withObjects: boolean,
    readonly withUploads: boolean,
  ) {}

  private list(objects: number, uploads: number): string {
    const parts: string[] = [];
    if (this.withObjects) parts.push(`${objects} objects`);
    if (this.withUploads) parts.push(`${uploads} uploadIds`);
    return parts.join(', ');
  }

  summary(ok: boolean): string {
    const removed = `Removed ${this.list(this.objectsRemoved, this.uploadsRemoved)}.`;
    return ok ? `Succeed: Total ${this.list(this.objects, this.uploads)}. ${removed}\n` : `Total ${this.list(this.objects, this.uploads)}. ${removed} when error happens.\n`;
  }
}

async function rm(command: Command): Promise<void> {
  const [urlText] = command.args as [string];
  const flags = command.opts<RmFlags>();
  const url = requireCloudUrl(urlText);
  if (url.bucket === '') throw new UsageError(`invalid cloud url: ${urlText}, miss bucket`);
  const withUploads = flags.multipart === true || flags.allType === true;
  const withObjects = flags.allType === true || !flags.multipart;
  const removeBucket = flags.bucket === true;
  if (!flags.recursive) {
    if (!removeBucket && url.key === '') {
      throw new UsageError(`remove bucket, miss --bucket option, if you mean remove object, invalid url: ${urlText}, miss object`);
    }
    if (removeBucket && withUploads) {
      throw new UsageError('remove bucket redundant option: --multipart or --all-type, if you mean remove all objects and the bucket meanwhile, you should add --recursive option');
    }
    if (removeBucket && url.key !== '') {
      throw new UsageError(`remove bucket invalid url: ${urlText}, object not empty, if you mean remove object, you should not use --bucket option`);
    }
  }

  // Recursive removals are confirmed first, as ossutil does.
  if (flags.recursive && !flags.force) {
    const what = [withObjects ? 'objects' : '', withUploads ? 'multipart uploadIds' : ''].filter(Boolean).join(' and ');
    if (!(await confirm(`Do you really mean to remove recursively ${what} of ${urlText}(y or N)? `))) {
      out('operation is canceled.\n');
      return;
    }
  }

  const client = makeClient(url.dialect, flags, url.bucket);
  const status = new StatusLine();
  const onlyBucket = removeBucket && !flags.recursive;
  const tally = new RemoveTally(withObjects && !onlyBucket, withUploads);
  try {
    try {
      if (tally.withObjects) await removeObjects(client, url, flags.recursive === true, tally);
      if (tally.withUploads) await removeUploads(client, url, flags.recursive === true, tally);
    } catch (err) {
      if (tally.withObjects || tally.withUploads) out(status.format(tally.summary(false)));
      throw err;
    }
    if (tally.withObjects || tally.withUploads) out(status.format(tally.summary(true)));
    if (removeBucket) {
      if (!flags.force && !(await confirm(`Do you really mean to remove the Bucket: ${url.bucket}(y or N)? `))) {
        out('operation is canceled.\n');
        return;
      }
      await client.deleteBucket(url.bucket);
      out(status.format(`Removed Bucket: ${url.bucket}\n`));
    }
  } finally {
    client.destroy();
  }
}

async function removeObjects(client: StorageClient, url: CloudUrl, recursive: boolean, tally: RemoveTally): Promise<void> {
  if (!recursive) {
    // One object: it counts only if it exists (ossutil heads it first).
    try {
      await client.headObject(url.bucket, url.key);
    } catch (err) {
      if (err instanceof ServiceError && err.status === 404) return;
      throw err;
    }
    tally.objects++;
    await client.deleteObject(url.bucket, url.key);
    tally.objectsRemoved++;
    return;
  }
  for await (const page of listObjectsPages(client, url.bucket, { prefix: url.key })) {
    const keys = page.objects.map((o) => o.key);
    if (keys.length === 0) continue;
    tally.objects += keys.length;
    const result = await client.deleteObjects(url.bucket, keys);
    tally.objectsRemoved += result.deleted.length;
    if (result.errors.length > 0) {
      const first = result.errors[0]!;
      throw new Error(`delete ${first.key}: ${first.code} ${first.message} (${result.errors.length} objects not removed)`);
    }
  }
}

async function removeUploads(client: StorageClient, url: CloudUrl, recursive: boolean, tally: RemoveTally): Promise<void> {
  const targets: Array<{ key: string; uploadId: string }> = [];
  scan: for await (const page of listUploadsPages(client, url.bucket, { prefix: url.key })) {
    for (const upload of page.uploads) {
      // Without -r only the uploads of exactly this key; they list first under it as a prefix.
      if (!recursive && upload.key !== url.key) break scan;
      targets.push(upload);
    }
  }
  tally.uploads += targets.length;
  for (const upload of targets) {
    try {
      await client.abortMultipartUpload(url.bucket, upload.key, upload.uploadId);
    } catch (err) {
      if (!(err instanceof ServiceError && err.code === 'NoSuchUpload')) throw err;
    }
    tally.uploadsRemoved++;
  }
}
