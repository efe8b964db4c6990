/**
 * `tessera ls`: buckets; objects (`-s` short, `-d` one level, `--limited-num`, `--marker`);
 * incomplete multipart uploads (`-m`); both (`-a`). Columns, headers and footers as ossutil prints
 * them, times in the local zone as Go prints a time.Time.
 */
import { Option, type Command } from 'commander';
import type { StorageClient } from '../client/client.js';
import { listObjectsPages, listUploadsPages } from '../client/paging.js';
import { abortOf, REAL_DAYS } from '../core/lifecycle.js';
import type { DialectName } from '../client/types.js';
import { cloudUrlString, makeClient, out, parseCloudUrl, requireCloudUrl, runner, UsageError, withCommonOptions, type CommonFlags } from './cloud.js';
import { nonNegativeInt } from './options.js';
import { localTime, padEnd, padStart } from './format.js';

/** ossutil's FormatTAB. */
export const TAB = '    ';

interface LsFlags extends CommonFlags {
  shortFormat?: boolean;
  directory?: boolean;
  multipart?: boolean;
  allType?: boolean;
  limitedNum: number;
  marker?: string;
  uploadIdMarker?: string;
}

export function registerLs(program: Command): void {
  const command = program
    .command('ls')
    .alias('list')
    .description('list buckets, objects (-s, -d) or incomplete multipart uploads (-m, -a)')
    .argument('[url]', 'oss://bucket[/prefix], s3://bucket[/prefix]; none (or oss://, s3://) lists buckets')
    .option('-s, --short-format', 'names only')
    .option('-d, --directory', 'one level: objects and subdirectories of the prefix')
    .option('-m, --multipart', 'incomplete multipart uploads')
    .option('-a, --all-type', 'objects, then incomplete multipart uploads')
    .addOption(new Option('--limited-num <n>', 'at most this many entries').argParser(nonNegativeInt).default(-1, 'all'))
    .option('--marker <marker>', 'start after this key (or bucket name)')
    .option('--upload-id-marker <id>', 'with -m: start after this upload id of the --marker key');
  withCommonOptions(command).action(runner(ls));
}

async function ls(command: Command): Promise<void> {
  const [urlText] = command.args as [string | undefined];
  const flags = command.opts<LsFlags>();
  const url = urlText === undefined ? undefined : parseCloudUrl(urlText) ?? requireCloudUrl(urlText);
  const dialect: DialectName = url?.dialect ?? 'oss';
  if (url === undefined || url.bucket === '') {
    if (flags.directory) throw new UsageError('ListBucket does not support option: "directory"');
    const client = makeClient(dialect, flags);
    try {
      await listBuckets(client, dialect, flags);
    } finally {
      client.destroy();
    }
    return;
  }
  const client = makeClient(dialect, flags, url.bucket);
  const budget = { left: flags.limitedNum };
  try {
    if (!flags.multipart || flags.allType) await listObjects(client, url.bucket, url.key, flags, budget);
    if (flags.multipart || flags.allType) await listUploads(client, url.bucket, url.key, flags, budget);
  } finally {
    client.destroy();
  }
}

async function listBuckets(client: StorageClient, dialect: DialectName, flags: LsFlags): Promise<void> {
  let count = 0;
  let marker = flags.marker ?? '';
  const limit = flags.limitedNum;
  while (limit < 0 || count < limit) {
    const page = await client.listBuckets({ marker });
    if (count === 0 && !flags.shortFormat && page.buckets.length > 0) {
      out(`${padEnd('CreationTime', 30)} ${padStart('Region', 20)}${TAB}${padStart('StorageClass', 12)}${TAB}BucketName\n`);
    }
    for (const bucket of page.buckets) {
      if (limit >= 0 && count >= limit) break;
      const name = cloudUrlString(dialect, bucket.name);
      if (flags.shortFormat) out(`${name}\n`);
      else out(`${padEnd(localTime(bucket.creationDate), 30)} ${padStart(bucket.location, 20)}${TAB}${padStart(bucket.storageClass, 12)}${TAB}${name}\n`);
      count++;
    }
    if (!page.isTruncated || !page.nextMarker) break;
    marker = page.nextMarker;
  }
  out(`Bucket Number is: ${count}\n`);
}

function trimQuotes(etag: string): string {
  return etag.replace(/^"|"$/g, '');
}

async function listObjects(client: StorageClient, bucket: string, prefix: string, flags: LsFlags, budget: { left: number }): Promise<void> {
  let count = 0;
  let first = true;
  const dialect = client.dialect;
  if (budget.left !== 0) {
    const pages = listObjectsPages(client, bucket, { prefix, marker: flags.marker, delimiter: flags.directory ? '/' : undefined });
    for await (const page of pages) {
      if (first && !flags.shortFormat && !flags.directory && page.objects.length > 0) {
        out(`${padEnd('LastModifiedTime', 30)}${padStart('Size(B)', 12)}  ${padStart('StorageClass', 12)}   ${padEnd('ETAG', 36)}  ObjectName\n`);
      }
      first = false;
      for (const object of page.objects) {
        if (budget.left === 0) break;
        const name = cloudUrlString(dialect, bucket, object.key);
        if (flags.shortFormat || flags.directory) out(`${name}\n`);
        else out(`${padEnd(localTime(object.lastModified), 30)}${padStart(object.size, 12)}  ${padStart(object.storageClass, 12)}   ${padEnd(trimQuotes(object.etag), 36)}  ${name}\n`);
        budget.left--;
        count++;
      }
      if (flags.directory) {
        for (const common of page.commonPrefixes) {
          if (budget.left === 0) break;
          out(`${cloudUrlString(dialect, bucket, common)}\n`);
          budget.left--;
          count++;
        }
      }
      if (budget.left === 0) break;
    }
  }
  out(flags.directory ? `Object and Directory Number is: ${count}\n` : `Object Number is: ${count}\n`);
}

async function listUploads(client: StorageClient, bucket: string, prefix: string, flags: LsFlags, budget: { left: number }): Promise<void> {
  let count = 0;
  let first = true;
  const short = flags.shortFormat || flags.directory;
  if (budget.left !== 0) {
    // ossutil's columns, and AbortTime after InitiatedTime when the bucket has rules that abort uploads.
    const rules = short ? undefined : await client.uploadAbortRules(bucket);
    const withAbort = rules !== undefined && rules.rules.some((rule) => rule.enabled && rule.abortIncompleteMultipartUpload);
    const pages = listUploadsPages(client, bucket, {
      prefix,
      keyMarker: flags.marker,
      uploadIdMarker: flags.uploadIdMarker,
      delimiter: flags.directory ? '/' : undefined,
    });
    for await (const page of pages) {
      if (first && page.uploads.length > 0) {
        if (short) out(`${padEnd('UploadID', 32)}${TAB}ObjectName\n`);
        else out(`${padEnd('InitiatedTime', 30)}${TAB}${withAbort ? `${padEnd('AbortTime', 30)}${TAB}` : ''}${padEnd('UploadID', 32)}${TAB}ObjectName\n`);
      }
      first = false;
      for (const upload of page.uploads) {
        if (budget.left === 0) break;
        const name = cloudUrlString(client.dialect, bucket, upload.key);
        if (short) out(`${padEnd(upload.uploadId, 32)}${TAB}${name}\n`);
        else {
          const due = withAbort ? abortOf(rules!, upload.key, upload.initiated, REAL_DAYS) : undefined;
          const abortColumn = withAbort ? `${padEnd(due ? localTime(due.date) : '-', 30)}${TAB}` : '';
          out(`${padEnd(localTime(upload.initiated), 30)}${TAB}${abortColumn}${padEnd(upload.uploadId, 32)}${TAB}${name}\n`);
        }
        budget.left--;
        count++;
      }
      if (budget.left === 0) break;
    }
  }
  out(`UploadID Number is: ${count}\n`);
}
