/**
 * `tessera listpart URL UPLOAD_ID` and `tessera getallpartsize URL`: the parts of incomplete
 * uploads, paged with ListParts (max-parts 1000 from marker 0, following NextPartNumberMarker)
 * to the end, in ossutil's exact columns and totals, or as JSON for scripts.
 */
import { Option, type Command } from 'commander';
import { listAllParts, listAllUploads } from '../client/paging.js';
import type { PartSummary } from '../client/types.js';
import { cloudUrlString, makeClient, out, requireCloudUrl, runner, UsageError, withCommonOptions, type CommonFlags } from './cloud.js';
import { megabytes, padEnd, utcTime } from './format.js';

interface ListPartFlags extends CommonFlags {
  outputFormat?: 'json';
}

export function registerParts(program: Command): void {
  const listpart = program
    .command('listpart')
    .description('list the parts of an incomplete multipart upload')
    .argument('<cloud_url>', 'oss://bucket/object or s3://bucket/object')
    .argument('<upload_id>', 'the upload id (see ls -m)')
    .addOption(new Option('--output-format <format>', 'json: one JSON document instead of the table').choices(['json']));
  withCommonOptions(listpart).action(runner(listPart));

  const allPartSize = program
    .command('getallpartsize')
    .description("every incomplete multipart upload's parts in a bucket, and their total size")
    .argument('<bucket_url>', 'oss://bucket or s3://bucket');
  withCommonOptions(allPartSize).action(runner(getAllPartSize));
}

function totalsLine(count: number, bytes: number): string {
  return `\ntotal part count:${count}\ttotal part size(MB):${megabytes(bytes)}\n\n`;
}

async function listPart(command: Command): Promise<{ elapsed: boolean }> {
  const [urlText, uploadId] = command.args as [string, string];
  const flags = command.opts<ListPartFlags>();
  const url = requireCloudUrl(urlText);
  if (url.bucket === '') throw new UsageError(`bucket name is empty, url is ${urlText}`);
  if (url.key === '') throw new UsageError('object name is empty');
  const client = makeClient(url.dialect, flags, url.bucket);
  try {
    if (flags.outputFormat === 'json') {
      const parts: PartSummary[] = [];
      for await (const part of listAllParts(client, url.bucket, url.key, uploadId)) parts.push(part);
      out(
        `${JSON.stringify(
          {
            bucket: url.bucket,
            key: url.key,
            uploadId,
            parts: parts.map((p) => ({ partNumber: p.partNumber, etag: p.etag, size: p.size, lastModified: p.lastModified.toISOString() })),
            totalPartCount: parts.length,
            totalPartSize: parts.reduce((sum, p) => sum + p.size, 0),
          },
          null,
          2,
        )}\n`,
      );
      return { elapsed: false };
    }
    let count = 0;
    let bytes = 0;
    for await (const part of listAllParts(client, url.bucket, url.key, uploadId)) {
      if (count === 0) out(`${padEnd('PartNumber', 10)}\t${padEnd('Etag', 32)}\t${padEnd('Size(Byte)', 10)}\tLastModifyTime\n`);
      out(`${padEnd(part.partNumber, 10)}\t${padEnd(part.etag, 32)}\t${padEnd(part.size, 10)}\t${utcTime(part.lastModified)}\n`);
      count++;
      bytes += part.size;
    }
    if (count > 0) out(totalsLine(count, bytes));
    return { elapsed: true };
  } finally {
    client.destroy();
  }
}

async function getAllPartSize(command: Command): Promise<void> {
  const [urlText] = command.args as [string];
  const flags = command.opts<CommonFlags>();
  const url = requireCloudUrl(urlText);
  if (url.bucket === '') throw new UsageError(`bucket name is empty, url is ${urlText}`);
  const client = makeClient(url.dialect, flags, url.bucket);
  try {
    const uploads: Array<{ key: string; uploadId: string }> = [];
    for await (const upload of listAllUploads(client, url.bucket)) uploads.push(upload);
    let count = 0;
    let bytes = 0;
    for (const upload of uploads) {
      for await (const part of listAllParts(client, url.bucket, upload.key, upload.uploadId)) {
        if (count === 0) out(`${padEnd('PartNumber', 10)}\t${padEnd('UploadId', 32)}\t${padEnd('Size(Byte)', 10)}\tPath\n`);
        out(`${padEnd(part.partNumber, 10)}\t${padEnd(upload.uploadId, 32)}\t${padEnd(part.size, 10)}\t${cloudUrlString(url.dialect, url.bucket, upload.key)}\n`);
        count++;
        bytes += part.size;
      }
    }
    if (bytes > 0) out(totalsLine(count, bytes));
  } finally {
    client.destroy();
  }
}
