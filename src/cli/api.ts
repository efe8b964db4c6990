/**
 * `tessera api <operation>`: single multipart operations with JSON output, as ossutil 2.x's
 * `ossutil api …`: list-parts, list-multipart-uploads, abort-multipart-upload,
 * complete-multipart-upload. Element names are those of the XML answers.
 */
import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import type { StorageClient } from '../client/client.js';
import { listAllParts } from '../client/paging.js';
import type { CompletedPart, DialectName } from '../client/types.js';
import { makeClient, out, runner, UsageError, withCommonOptions, type CommonFlags } from './cloud.js';
import { nonNegativeInt, positiveInt } from './options.js';

interface ApiFlags extends CommonFlags {
  dialect: DialectName;
  bucket: string;
  key?: string;
  uploadId?: string;
  encodingType?: 'url';
  outputFormat?: string;
  maxParts?: number;
  partNumberMarker?: number;
  prefix?: string;
  delimiter?: string;
  keyMarker?: string;
  uploadIdMarker?: string;
  maxUploads?: number;
  completeMultipartUpload?: string;
  completeAll?: boolean;
}

function operation(parent: Command, name: string, description: string, needsKey: boolean): Command {
  const command = parent
    .command(name)
    .description(description)
    .addOption(new Option('--dialect <dialect>', 'the service dialect').choices(['oss', 's3']).default('oss'))
    .requiredOption('--bucket <bucket>', 'bucket name')
    .addOption(new Option('--encoding-type <type>', 'url: keys in the output URL-encoded').choices(['url']))
    .addOption(new Option('--output-format <format>', 'output format').choices(['json']).default('json'));
  if (needsKey) command.requiredOption('--key <key>', 'object key').requiredOption('--upload-id <id>', 'upload id');
  return withCommonOptions(command);
}

export function registerApi(program: Command): void {
  const api = program.command('api').description('single multipart operations with JSON output (as ossutil 2.x api)');

  operation(api, 'list-parts', 'ListParts: one page of the parts of an upload', true)
    .option('--max-parts <n>', 'parts per page (at most 1000)', positiveInt)
    .option('--part-number-marker <n>', 'list parts after this number', nonNegativeInt)
    .action(runner(listParts));

  operation(api, 'list-multipart-uploads', 'ListMultipartUploads: one page of the incomplete uploads of a bucket', false)
    .option('--prefix <prefix>', 'keys starting with this')
    .option('--delimiter <delimiter>', 'group keys by this')
    .option('--key-marker <key>', 'start after this key')
    .option('--upload-id-marker <id>', 'with --key-marker: start after this upload id')
    .option('--max-uploads <n>', 'uploads per page (at most 1000)', positiveInt)
    .action(runner(listUploads));

  operation(api, 'abort-multipart-upload', 'AbortMultipartUpload', true).action(
    runner(async (command) => {
      const flags = command.opts<ApiFlags>();
      await withClient(flags, (client) => client.abortMultipartUpload(flags.bucket, flags.key!, flags.uploadId!));
      return { elapsed: false };
    }),
  );

  operation(api, 'complete-multipart-upload', 'CompleteMultipartUpload', true)
    .option('--complete-multipart-upload <json>', 'the parts: {"Part":[{"PartNumber":1,"ETag":"…"}]}, or file://path to such a file')
    .option('--complete-all', 'complete with every part the upload has (listed first)')
    .action(runner(complete));
}

async function withClient<T>(flags: ApiFlags, work: (client: StorageClient) => Promise<T>): Promise<T> {
  const client = makeClient(flags.dialect, flags, flags.bucket);
  try {
    return await work(client);
  } finally {
    client.destroy();
  }
}

function printJson(value: unknown): { elapsed: false } {
  out(`${JSON.stringify(value, null, 2)}\n`);
  return { elapsed: false };
}

function encoder(flags: ApiFlags): (value: string) => string {
  if (flags.encodingType !== 'url') return (value) => value;
  return (value) => encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

async function listParts(command: Command): Promise<{ elapsed: false }> {
  const flags = command.opts<ApiFlags>();
  const encode = encoder(flags);
  const page = await withClient(flags, (client) =>
    client.listParts(flags.bucket, flags.key!, flags.uploadId!, { maxParts: flags.maxParts, partNumberMarker: flags.partNumberMarker }),
  );
  return printJson({
    Bucket: page.bucket,
    Key: encode(page.key),
    UploadId: page.uploadId,
    EncodingType: flags.encodingType,
    PartNumberMarker: page.partNumberMarker,
    NextPartNumberMarker: page.nextPartNumberMarker,
    MaxParts: page.maxParts,
    IsTruncated: page.isTruncated,
    Part: page.parts.map((p) => ({ PartNumber: p.partNumber, LastModified: p.lastModified.toISOString(), ETag: p.etag, Size: p.size })),
  });
}

async function listUploads(command: Command): Promise<{ elapsed: false }> {
  const flags = command.opts<ApiFlags>();
  const encode = encoder(flags);
  const page = await withClient(flags, (client) =>
    client.listMultipartUploads(flags.bucket, {
      prefix: flags.prefix,
      delimiter: flags.delimiter,
      keyMarker: flags.keyMarker,
      uploadIdMarker: flags.uploadIdMarker,
      maxUploads: flags.maxUploads,
    }),
  );
  return printJson({
    Bucket: page.bucket,
    EncodingType: flags.encodingType,
    KeyMarker: encode(page.keyMarker),
    UploadIdMarker: page.uploadIdMarker,
    NextKeyMarker: encode(page.nextKeyMarker),
    NextUploadIdMarker: page.nextUploadIdMarker,
    Delimiter: page.delimiter === undefined ? undefined : encode(page.delimiter),
    Prefix: encode(page.prefix),
    MaxUploads: page.maxUploads,
    IsTruncated: page.isTruncated,
    Upload: page.uploads.map((u) => ({ Key: encode(u.key), UploadId: u.uploadId, Initiated: u.initiated.toISOString() })),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
  });
}

/** `{"Part":[{"PartNumber":1,"ETag":"…"}]}` (or `Parts`, or a bare array), inline or from file://. */
async function partsArgument(value: string): Promise<CompletedPart[]> {
  const textValue = value.startsWith('file://') ? await readFile(value.slice('file://'.length), 'utf8') : value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(textValue);
  } catch {
    throw new UsageError('--complete-multipart-upload is not JSON');
  }
  const record = parsed as { Part?: unknown; Parts?: unknown };
  const list = Array.isArray(parsed) ? parsed : (record.Part ?? record.Parts);
  if (!Array.isArray(list)) throw new UsageError('--complete-multipart-upload needs {"Part":[{"PartNumber":1,"ETag":"…"}]}');
  return list.map((item: { PartNumber?: unknown; ETag?: unknown }) => {
    const partNumber = Number(item.PartNumber);
    if (!Number.isInteger(partNumber) || typeof item.ETag !== 'string') throw new UsageError('every part needs a PartNumber and an ETag');
    return { partNumber, etag: item.ETag };
  });
}

async function complete(command: Command): Promise<{ elapsed: false }> {
  const flags = command.opts<ApiFlags>();
  if ((flags.completeMultipartUpload === undefined) === (flags.completeAll !== true)) {
    throw new UsageError('give exactly one of --complete-multipart-upload and --complete-all');
  }
  const given = flags.completeMultipartUpload !== undefined ? await partsArgument(flags.completeMultipartUpload) : undefined;
  const result = await withClient(flags, async (client) => {
    let parts = given;
    if (parts === undefined) {
      parts = [];
      for await (const part of listAllParts(client, flags.bucket, flags.key!, flags.uploadId!)) parts.push({ partNumber: part.partNumber, etag: part.etag });
    }
    return client.completeMultipartUpload(flags.bucket, flags.key!, flags.uploadId!, parts);
  });
  return printJson({
    Location: result.location,
    Bucket: result.bucket,
    Key: encoder(flags)(result.key),
    ETag: result.etag,
    HashCrc64ecma: result.crc64,
  });
}
