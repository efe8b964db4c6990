/**
 * What `cp` says about the objects it writes (Content-Type by extension, --meta, --acl), checked
 * with the SDKs' HEAD and an anonymous GET; and the CLI-wide rules: a bad number is a usage
 * error naming its option (exit 2), a dead endpoint says it is retrying at the first failure.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeletePublicAccessBlockCommand, HeadObjectCommand, PutBucketOwnershipControlsCommand, type S3Client } from '@aws-sdk/client-s3';
import type { StorageClient } from '../../src/client/client.js';
import { s3Client } from '../helpers/s3.js';
import { ossClient, type AliOss } from '../oss/helpers.js';
import { DIALECTS, client, creds, runCli, useServerAndWorkDir } from './run.js';

const KiB = 1024;
const env = useServerAndWorkDir('tessera-cp-headers-');

interface Head {
  contentType?: string;
  cacheControl?: string;
  contentDisposition?: string;
  metadata: Record<string, string>;
}

/** A port nothing listens on: one the system just gave out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

for (const dialect of DIALECTS) {
  describe(`tessera cp: Content-Type, --meta, --acl (${dialect}://)`, () => {
    const bucket = `cph-${dialect}`;
    const url = (key = '') => `${dialect}://${bucket}${key ? `/${key}` : ''}`;
    let c: StorageClient;
    let s3: S3Client;
    let oss: AliOss;

    /** HEAD through the dialect's own SDK: @aws-sdk/client-s3 or ali-oss. */
    async function sdkHead(key: string): Promise<Head> {
      if (dialect === 's3') {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return { contentType: head.ContentType, cacheControl: head.CacheControl, contentDisposition: head.ContentDisposition, metadata: head.Metadata ?? {} };
      }
      const head = await oss.head(key);
      const headers = head.res.headers as Record<string, string>;
      return { contentType: headers['content-type'], cacheControl: headers['cache-control'], contentDisposition: headers['content-disposition'], metadata: head.meta ?? {} };
    }

    before(async () => {
      c = client(env.server, dialect);
      await c.createBucket(bucket);
      s3 = s3Client(env.server);
      oss = ossClient(env.server, 'v1', bucket, 'ip-path');
      if (dialect === 's3') {
        // As on AWS, a new bucket refuses ACLs (BucketOwnerEnforced) and blocks public ones: the owner opens it first.
        await s3.send(new PutBucketOwnershipControlsCommand({ Bucket: bucket, OwnershipControls: { Rules: [{ ObjectOwnership: 'ObjectWriter' }] } }));
        await s3.send(new DeletePublicAccessBlockCommand({ Bucket: bucket }));
      }
    });
    after(() => {
      c.destroy();
      s3.destroy();
    });

    it('sets Content-Type from the extension (single PUT and multipart), application/octet-stream when unknown', async () => {
      const dir = join(env.work, `types-${dialect}`);
      await mkdir(dir, { recursive: true });
      const files: Record<string, [Buffer, string]> = {
        'notes.txt': [Buffer.from('hello'), 'text/plain'],
        'data.json': [Buffer.from('{"a":1}'), 'application/json'],
        'pixel.png': [randomBytes(64), 'image/png'],
        'blob.zzqx': [randomBytes(64), 'application/octet-stream'],
        'big.json': [randomBytes(250 * KiB), 'application/json'],
      };
      for (const [name, [content]] of Object.entries(files)) await writeFile(join(dir, name), content);
      const result = await runCli(['cp', '-r', dir, url('types/'), '--bigfile-threshold', String(100 * KiB), '--part-size', String(100 * KiB), ...creds(env.server)]);
      assert.equal(result.code, 0, result.stderr);
      for (const [name, [, type]] of Object.entries(files)) {
        assert.match((await sdkHead(`types/${name}`)).contentType ?? '', new RegExp(`^${type.replace('/', '\\/')}(;|$)`), name);
      }
      assert.match((await c.headObject(bucket, 'types/big.json')).etag, /-3"$/, 'big.json went multipart');
    });

    it('--meta sets standard headers and user metadata (either prefix), on PUT and on multipart', async () => {
      const file = join(env.work, `meta-${dialect}.bin`);
      await writeFile(file, randomBytes(250 * KiB));
      const meta = 'Content-Type:text/plain#X-Oss-Meta-A:1#X-Amz-Meta-Color:blue#Cache-Control:no-cache#Content-Disposition:attachment; filename="m.txt"';
      for (const [key, threshold] of [['meta/single.bin', 1024 * KiB], ['meta/multi.bin', 100 * KiB]] as const) {
        const result = await runCli(['cp', file, url(key), '--meta', meta, '--bigfile-threshold', String(threshold), '--part-size', String(100 * KiB), ...creds(env.server)]);
        assert.equal(result.code, 0, result.stderr);
        const head = await sdkHead(key);
        assert.equal(head.contentType, 'text/plain', key);
        assert.equal(head.cacheControl, 'no-cache', key);
        assert.equal(head.contentDisposition, 'attachment; filename="m.txt"', key);
        assert.deepEqual({ ...head.metadata }, { a: '1', color: 'blue' }, key);
      }
      // A copy with --meta replaces the source's.
      const copied = await runCli(['cp', url('meta/single.bin'), url('meta/copy.bin'), '--meta', 'X-Amz-Meta-Copied:yes', ...creds(env.server)]);
      assert.equal(copied.code, 0, copied.stderr);
      assert.deepEqual({ ...(await sdkHead('meta/copy.bin')).metadata }, { copied: 'yes' });
    });

    it('--acl public-read: an anonymous GET reads the object; without it, it is refused', async () => {
      const file = join(env.work, `acl-${dialect}.txt`);
      await writeFile(file, 'for everyone');
      const open = await runCli(['cp', file, url('acl/open.txt'), '--acl', 'public-read', ...creds(env.server)]);
      assert.equal(open.code, 0, open.stderr);
      const closed = await runCli(['cp', file, url('acl/closed.txt'), ...creds(env.server)]);
      assert.equal(closed.code, 0, closed.stderr);
      const anonymous = await fetch(`${env.server.url}/${bucket}/acl/open.txt`);
      assert.equal(anonymous.status, 200);
      assert.equal(await anonymous.text(), 'for everyone');
      const refused = await fetch(`${env.server.url}/${bucket}/acl/closed.txt`);
      assert.equal(refused.status, 403);
    });

    it('a wrong --meta or --acl is wrong usage (exit 2), naming what is wrong', async () => {
      const file = join(env.work, `bad-${dialect}.txt`);
      await writeFile(file, 'x');
      const cases: Array<[string[], RegExp]> = [
        [['--meta', 'X-Unknown-Header:1'], /unsupported header "X-Unknown-Header"/],
        [['--meta', 'Content-Type'], /"Content-Type" is not Header:value/],
        [['--meta', 'Cache-Control:no-cache#'], /"" is not Header:value/],
        [['--acl', 'everyone'], /--acl: "everyone" is not/],
        [['--acl', dialect === 'oss' ? 'authenticated-read' : 'default'], /--acl: .* is not/],
      ];
      for (const [args, message] of cases) {
        const result = await runCli(['cp', file, url('bad.txt'), ...args, ...creds(env.server)]);
        assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
        assert.match(result.stderr, message);
      }
      await assert.rejects(c.headObject(bucket, 'bad.txt'), 'nothing was written');
    });
  });
}

describe('tessera: numbers and retries', () => {
  it('every invalid number is wrong usage: exit 2 and a message naming the option', async () => {
    const file = join(env.work, 'n.txt');
    await writeFile(file, 'x');
    const cases: Array<[string[], string]> = [
      [['ls', 's3://b', '--limited-num', '-3'], '--limited-num'],
      [['ls', 's3://b', '--retry-times', 'many'], '--retry-times'],
      [['cp', file, 's3://b/k', '--part-size', '0'], '--part-size'],
      [['cp', file, 's3://b/k', '--parallel', 'abc'], '--parallel'],
      [['cp', file, 's3://b/k', '--jobs', '2.5'], '--jobs'],
      [['cp', file, 's3://b/k', '--bigfile-threshold', '1e6'], '--bigfile-threshold'],
      [['cp', file, 's3://b/k', '--maxupspeed', '0'], '--maxupspeed'],
      [['cp', 's3://b/k', file, '--maxdownspeed', '-5'], '--maxdownspeed'],
      [['api', 'list-parts', '--bucket', 'b', '--key', 'k', '--upload-id', 'u', '--max-parts', '0'], '--max-parts'],
      [['api', 'list-multipart-uploads', '--bucket', 'b', '--max-uploads', 'x'], '--max-uploads'],
      [['pan', 'upload', file, '--parallel', '0'], '--parallel'],
      [['pan', 'upload', file, '--duplicate', '3'], '--duplicate'],
      [['pan', 'upload', file, '--parent', '-1'], '--parent'],
      [['migrate', '--from', env.work, '--to', 'postgres://x/y', '--batch-size', '0'], '--batch-size'],
    ];
    for (const [args, option] of cases) {
      const result = await runCli([...args, '-e', 'http://127.0.0.1:1', '-i', 'a', '-k', 'b'].slice(0, args[0] === 'pan' || args[0] === 'migrate' ? args.length : undefined));
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`option '${option}[ ,]|option '-[a-z], ${option} `), `${args.join(' ')} names ${option}: ${result.stderr}`);
    }
  });

  it('a dead endpoint prints a retry line at the first failed attempt, for each retrying command', async () => {
    const port = await closedPort();
    const dead = ['-e', `http://127.0.0.1:${port}`, '-i', 'a', '-k', 'b', '--retry-times', '2'];
    const file = join(env.work, 'r.txt');
    await writeFile(file, 'x');
    for (const args of [['ls', '-s'], ['cp', file, 'oss://b/k'], ['cp', 's3://b/k', join(env.work, 'r2.txt')], ['rm', '-f', 's3://b/k']]) {
      const result = await runCli([...args, ...dead]);
      assert.equal(result.code, 1, result.stderr);
      const line = new RegExp(`^retrying 1/2 in \\d+\\.\\d s: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`, 'm');
      assert.match(result.stderr, line, `${args[0]}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`^retrying 2/2 in `, 'm'));
      assert.doesNotMatch(result.stderr, /retrying 3\//, '--retry-times 2 retries twice');
    }
  });
});
