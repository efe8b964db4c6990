/** `tessera mb`, `tessera rb` and `tessera stat` (a bucket or an object). */
import type { Command } from 'commander';
import { makeClient, out, requireCloudUrl, runner, UsageError, withCommonOptions, type CommonFlags } from './cloud.js';
import { localTime, padEnd } from './format.js';

export function registerBucketCommands(program: Command): void {
  withCommonOptions(program.command('mb').description('make a bucket').argument('<cloud_url>', 'oss://bucket or s3://bucket')).action(
    runner(async (command) => {
      const { client, bucket } = bucketTarget(command);
      try {
        await client.createBucket(bucket);
      } finally {
        client.destroy();
      }
    }),
  );

  withCommonOptions(program.command('rb').description('remove an empty bucket (see rm -r -b for a full one)').argument('<cloud_url>', 'oss://bucket or s3://bucket')).action(
    runner(async (command) => {
      const { client, bucket } = bucketTarget(command);
      try {
        await client.deleteBucket(bucket);
        out(`Removed Bucket: ${bucket}\n`);
      } finally {
        client.destroy();
      }
    }),
  );

  withCommonOptions(program.command('stat').description("a bucket's or an object's description").argument('<cloud_url>', 'oss://bucket[/object] or s3://bucket[/object]')).action(
    runner(stat),
  );
}

function bucketTarget(command: Command) {
  const [urlText] = command.args as [string];
  const url = requireCloudUrl(urlText);
  if (url.bucket === '') throw new UsageError(`invalid cloud url: ${urlText}, miss bucket`);
  if (url.key !== '') throw new UsageError(`invalid cloud url: ${urlText}, a bucket url has no object`);
  return { client: makeClient(url.dialect, command.opts<CommonFlags>(), url.bucket), bucket: url.bucket };
}

/** Response headers that describe the exchange, not the object. */
const TRANSPORT_HEADERS = new Set(['date', 'connection', 'keep-alive', 'server', 'transfer-encoding', 'x-oss-request-id', 'x-amz-request-id', 'x-amz-id-2', 'x-oss-server-time']);

/** Go's canonical MIME header form: `x-oss-hash-crc64ecma` → `X-Oss-Hash-Crc64ecma`. */
function canonicalHeader(name: string): string {
  return name
    .split('-')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1).toLowerCase())
    .join('-');
}

async function stat(command: Command): Promise<void> {
  const [urlText] = command.args as [string];
  const url = requireCloudUrl(urlText);
  if (url.bucket === '') throw new UsageError(`invalid cloud url: ${urlText}, miss bucket`);
  const client = makeClient(url.dialect, command.opts<CommonFlags>(), url.bucket);
  try {
    if (url.key === '') {
      const info = await client.bucketInfo(url.bucket);
      const rows: Array<[string, string | undefined]> = [
        ['Name', info.name],
        ['Location', info.location],
        ['CreationDate', info.creationDate ? localTime(info.creationDate) : undefined],
        ['ExtranetEndpoint', info.extranetEndpoint],
        ['IntranetEndpoint', info.intranetEndpoint],
        ['ACL', info.acl],
        ['Owner', info.owner],
        ['StorageClass', info.storageClass],
      ];
      for (const [name, value] of rows) if (value !== undefined) out(`${padEnd(name, 18)}: ${value}\n`);
      return;
    }
    const info = await client.headObject(url.bucket, url.key);
    const rows = Object.entries(info.headers)
      .filter(([name]) => !TRANSPORT_HEADERS.has(name))
      .map(([name, value]): [string, string] => {
        if (name === 'etag') return ['Etag', value.replace(/"/g, '')];
        if (name === 'last-modified') return ['Last-Modified', localTime(new Date(value))];
        return [canonicalHeader(name), value];
      })
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [name, value] of rows) out(`${padEnd(name, 28)}: ${value}\n`);
  } finally {
    client.destroy();
  }
}
