import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { GetObjectCommand, HeadBucketCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';
import { s3Client } from '../helpers/s3.js';

// The command-line S3 clients people actually use, each run as a subprocess
// against a real `tessera serve`, with every setting given on its command line
// or in a temp config file (never the user's home). What they did is checked
// through the server with the SDK, not taken from their exit codes alone. The
// settings here are the ones docs/s3-clients.md documents.

const MiB = 1024 * 1024;
/** A key every client has to percent-encode: space, plus, parentheses, non-ASCII. */
const ODD_NAME = 'we ird+ü (1).txt';
const TOOL_TIMEOUT_MS = 120_000;

interface Digest {
  size: number;
  sha256: string;
  md5: string;
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Every path `which -a` finds for a command, one per real file. */
function whichAll(command: string): string[] {
  const found = spawnSync('which', ['-a', command], { encoding: 'utf8' });
  if (found.status !== 0) return [];
  const seen = new Set<string>();
  const paths: string[] = [];
  for (const path of found.stdout.split('\n').map((line) => line.trim()).filter(Boolean)) {
    let real: string;
    try {
      real = realpathSync(path);
    } catch {
      continue;
    }
    if (seen.has(real)) continue;
    seen.add(real);
    paths.push(path);
  }
  return paths;
}

/**
 * The environment a tool runs in: this one without anything that configures
 * an S3 client (AWS_*, RCLONE_*, …), with HOME and XDG dirs in a temp dir so
 * no tool reads or writes the user's own config.
 */
function toolEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(AWS_|RCLONE_|S3CMD|BOTO_|BOTO3_)/i.test(name)) env[name] = value;
  }
  return {
    ...env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_CACHE_HOME: join(home, '.cache'),
    ...extra,
  };
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: TOOL_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs a tool and requires exit status 0, showing what it printed otherwise. */
async function ok(command: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<RunResult> {
  const result = await run(command, args, env, cwd);
  assert.equal(
    result.code,
    0,
    `${command} ${args.join(' ')} exited with ${result.code ?? result.signal}\n--- stderr\n${result.stderr}\n--- stdout\n${result.stdout}`,
  );
  return result;
}

/** Writes `size` random bytes in 1 MiB pieces and returns their digests. */
async function makeFile(path: string, size: number): Promise<Digest> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  const out = createWriteStream(path);
  for (let left = size; left > 0; ) {
    const chunk = randomBytes(Math.min(MiB, left));
    sha256.update(chunk);
    md5.update(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
    left -= chunk.length;
  }
  out.end();
  await finished(out);
  return { size, sha256: sha256.digest('hex'), md5: md5.digest('hex') };
}

async function digestOf(stream: AsyncIterable<Buffer | Uint8Array>): Promise<Digest> {
  const sha256 = createHash('sha256');
  const md5 = createHash('md5');
  let size = 0;
  for await (const chunk of stream) {
    sha256.update(chunk);
    md5.update(chunk);
    size += chunk.length;
  }
  return { size, sha256: sha256.digest('hex'), md5: md5.digest('hex') };
}

function fileDigest(path: string): Promise<Digest> {
  return digestOf(createReadStream(path));
}

/** What the server holds under a key, read back through the SDK. */
async function objectDigest(client: S3Client, bucket: string, key: string): Promise<Digest> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return digestOf(out.Body as Readable);
}

async function objectText(client: S3Client, bucket: string, key: string): Promise<string> {
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return out.Body!.transformToString('utf8');
}

/** Key → size of everything in a bucket, as the server lists it. */
async function listing(client: S3Client, bucket: string): Promise<Record<string, number>> {
  const out = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
  assert.equal(out.IsTruncated, false);
  return Object.fromEntries((out.Contents ?? []).map((o) => [o.Key!, o.Size!]));
}

/** A multipart object of `parts` parts has an ETag ending in `-<parts>`. */
async function assertMultipart(client: S3Client, bucket: string, key: string, size: number, parts: number): Promise<string> {
  const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  assert.equal(head.ContentLength, size);
  assert.match(head.ETag ?? '', new RegExp(`^"[0-9a-f]{32}-${parts}"$`), `${key} should be a ${parts}-part upload`);
  return head.ETag!;
}

async function assertBucketGone(client: S3Client, bucket: string): Promise<void> {
  await assert.rejects(client.send(new HeadBucketCommand({ Bucket: bucket })), (err: unknown) => {
    assert.equal((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 404);
    return true;
  });
}

function hostPort(server: TestServer): string {
  return `127.0.0.1:${server.port}`;
}

/** The `.s3cfg` of docs/s3-clients.md. */
function s3cmdConfig(server: TestServer): string {
  return [
    '[default]',
    `host_base = ${hostPort(server)}`,
    `host_bucket = ${hostPort(server)}`,
    'use_https = False',
    'signature_v2 = False',
    'bucket_location = us-east-1',
    `access_key = ${ROOT_ACCESS_KEY}`,
    `secret_key = ${ROOT_SECRET_KEY}`,
    '',
  ].join('\n');
}

/** The `rclone.conf` section of docs/s3-clients.md. */
function rcloneConfig(server: TestServer): string {
  return [
    '[tessera]',
    'type = s3',
    'provider = Other',
    `endpoint = ${server.url}`,
    `access_key_id = ${ROOT_ACCESS_KEY}`,
    `secret_access_key = ${ROOT_SECRET_KEY}`,
    'region = us-east-1',
    'force_path_style = true',
    '',
  ].join('\n');
}

/**
 * The `~/.aws/config` and `~/.aws/credentials` profile of docs/s3-clients.md.
 * Commands that don't name the profile run on environment variables alone.
 */
function awsConfig(): string {
  return ['[profile tessera]', 'region = us-east-1', 's3 =', '    addressing_style = path', ''].join('\n');
}

function awsCredentials(): string {
  return ['[tessera]', `aws_access_key_id = ${ROOT_ACCESS_KEY}`, `aws_secret_access_key = ${ROOT_SECRET_KEY}`, ''].join('\n');
}

/** boto3 with the settings of docs/s3-clients.md; one phase per call so the test can look in between. */
const BOTO3_SCRIPT = `
import json, sys
import boto3
from botocore.config import Config

endpoint, access_key, secret_key, phase, bucket, big_key, big_path, small_key, small_path = sys.argv[1:10]
s3 = boto3.client(
    "s3",
    endpoint_url=endpoint,
    region_name="us-east-1",
    aws_access_key_id=access_key,
    aws_secret_access_key=secret_key,
    config=Config(s3={"addressing_style": "path"}),
)
if phase == "up":
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(big_path, bucket, big_key)
    with open(small_path, "rb") as f:
        s3.put_object(Bucket=bucket, Key=small_key, Body=f.read())
    listed = s3.list_objects_v2(Bucket=bucket)
    print(json.dumps({o["Key"]: o["Size"] for o in listed.get("Contents", [])}))
elif phase == "down":
    s3.download_file(bucket, big_key, big_path)
    head = s3.head_object(Bucket=bucket, Key=big_key)
    s3.delete_object(Bucket=bucket, Key=big_key)
    s3.delete_object(Bucket=bucket, Key=small_key)
    s3.delete_bucket(Bucket=bucket)
    print(json.dumps({"ContentLength": head["ContentLength"], "ETag": head["ETag"]}))
`;

const S3CMD = whichAll('s3cmd')[0];
const RCLONE = whichAll('rclone')[0];
const AWS = whichAll('aws');
const PYTHON = whichAll('python3')[0];

describe('command-line S3 clients against a real server', { concurrency: true, timeout: 10 * TOOL_TIMEOUT_MS }, () => {
  let server: TestServer;
  let client: S3Client;
  let work: string;
  let big20: string;
  let big20Digest: Digest;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tessera-cli-'));
    server = await startServer();
    client = s3Client(server);
    big20 = join(work, 'big20.bin');
    big20Digest = await makeFile(big20, 20 * MiB);
  });

  after(async () => {
    client?.destroy();
    await server?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** A fresh directory for one tool: its HOME, its config files and its downloads. */
  async function toolDir(name: string): Promise<string> {
    const dir = join(work, name);
    await mkdir(join(dir, 'home'), { recursive: true });
    return dir;
  }

  it('s3cmd: mb, put (single and 5 MiB multipart), ls, get, info, del, rb', { timeout: TOOL_TIMEOUT_MS * 5 }, async (t) => {
    if (!S3CMD) return t.skip('s3cmd not installed');
    const dir = await toolDir('s3cmd');
    const env = toolEnv(join(dir, 'home'));
    const config = join(dir, 's3cfg');
    await writeFile(config, s3cmdConfig(server));
    const s3cmd = (...args: string[]) => ok(S3CMD, ['-c', config, ...args], env, dir);
    const bucket = 'cli-s3cmd';
    const small = join(dir, ODD_NAME);
    await writeFile(small, 'hello from s3cmd\n');

    await s3cmd('mb', `s3://${bucket}`);
    await client.send(new HeadBucketCommand({ Bucket: bucket }));

    // The same settings as flags, with no config file at all.
    const flagsOnly = await ok(
      S3CMD,
      [
        '-c', join(dir, 'absent.s3cfg'),
        `--access_key=${ROOT_ACCESS_KEY}`,
        `--secret_key=${ROOT_SECRET_KEY}`,
        `--host=${hostPort(server)}`,
        `--host-bucket=${hostPort(server)}`,
        '--no-ssl',
        '--region=us-east-1',
        'ls',
      ],
      env,
      dir,
    );
    assert.match(flagsOnly.stdout, new RegExp(`\\ss3://${bucket}\\s*$`, 'm'));

    await s3cmd('put', small, `s3://${bucket}/${ODD_NAME}`);
    await s3cmd('put', '--multipart-chunk-size-mb=5', big20, `s3://${bucket}/dir/big.bin`);
    assert.deepEqual(await listing(client, bucket), { 'dir/big.bin': 20 * MiB, [ODD_NAME]: 17 });
    await assertMultipart(client, bucket, 'dir/big.bin', 20 * MiB, 4);
    assert.deepEqual(await objectDigest(client, bucket, 'dir/big.bin'), big20Digest);
    assert.equal(await objectText(client, bucket, ODD_NAME), 'hello from s3cmd\n');

    const top = await s3cmd('ls', `s3://${bucket}`);
    assert.match(top.stdout, new RegExp(`^\\s*DIR\\s+s3://${bucket}/dir/$`, 'm'));
    assert.match(top.stdout, new RegExp(`\\s17\\s+s3://${bucket}/we ird\\+ü \\(1\\)\\.txt$`, 'm'));
    const inDir = await s3cmd('ls', `s3://${bucket}/dir/`);
    assert.match(inDir.stdout, new RegExp(`\\s${20 * MiB}\\s+s3://${bucket}/dir/big\\.bin$`, 'm'));

    await s3cmd('get', `s3://${bucket}/dir/big.bin`, join(dir, 'got.bin'));
    assert.deepEqual(await fileDigest(join(dir, 'got.bin')), big20Digest);
    await s3cmd('get', `s3://${bucket}/${ODD_NAME}`, join(dir, 'got.txt'));
    assert.equal(await readFile(join(dir, 'got.txt'), 'utf8'), 'hello from s3cmd\n');

    const objectInfo = await s3cmd('info', `s3://${bucket}/dir/big.bin`);
    assert.match(objectInfo.stdout, new RegExp(`File size:\\s+${20 * MiB}$`, 'm'));
    assert.match(objectInfo.stdout, new RegExp(`MD5 sum:\\s+${big20Digest.md5}$`, 'm'));
    // Bucket info asks for ?location (among sub-resources Tessera answers 501 to, which s3cmd shows as "none").
    const bucketInfo = await s3cmd('info', `s3://${bucket}`);
    assert.match(bucketInfo.stdout, /Location:\s+us-east-1$/m);

    const notEmpty = await run(S3CMD, ['-c', config, 'rb', `s3://${bucket}`], env, dir);
    assert.notEqual(notEmpty.code, 0);
    assert.match(notEmpty.stderr, /409 \(BucketNotEmpty\)/);

    await s3cmd('del', `s3://${bucket}/dir/big.bin`, `s3://${bucket}/${ODD_NAME}`);
    assert.deepEqual(await listing(client, bucket), {});
    await s3cmd('rb', `s3://${bucket}`);
    await assertBucketGone(client, bucket);
  });

  it('rclone: mkdir, copy (5 MiB multipart), ls, lsf, check, cat, delete, rmdir', { timeout: TOOL_TIMEOUT_MS * 5 }, async (t) => {
    if (!RCLONE) return t.skip('rclone not installed');
    const dir = await toolDir('rclone');
    const configFile = join(dir, 'rclone.conf');
    await writeFile(configFile, rcloneConfig(server));
    // `tess:` is configured through the environment, `tessera:` through the config file.
    const env = toolEnv(join(dir, 'home'), {
      RCLONE_CONFIG: configFile,
      RCLONE_CONFIG_TESS_TYPE: 's3',
      RCLONE_CONFIG_TESS_PROVIDER: 'Other',
      RCLONE_CONFIG_TESS_ENDPOINT: server.url,
      RCLONE_CONFIG_TESS_ACCESS_KEY_ID: ROOT_ACCESS_KEY,
      RCLONE_CONFIG_TESS_SECRET_ACCESS_KEY: ROOT_SECRET_KEY,
      RCLONE_CONFIG_TESS_REGION: 'us-east-1',
      RCLONE_CONFIG_TESS_FORCE_PATH_STYLE: 'true',
    });
    const rclone = (...args: string[]) => ok(RCLONE, args, env, dir);
    const bucket = 'cli-rclone';
    const source = join(dir, 'src');
    await mkdir(join(source, 'sub'), { recursive: true });
    await writeFile(join(source, ODD_NAME), 'hello from rclone\n');
    const big30 = await makeFile(join(source, 'sub', 'big30.bin'), 30 * MiB);

    await rclone('mkdir', `tess:${bucket}`);
    await client.send(new HeadBucketCommand({ Bucket: bucket }));

    await rclone('copy', source, `tess:${bucket}/data`, '--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M');
    assert.deepEqual(await listing(client, bucket), { [`data/${ODD_NAME}`]: 18, 'data/sub/big30.bin': 30 * MiB });
    await assertMultipart(client, bucket, 'data/sub/big30.bin', 30 * MiB, 6);
    assert.deepEqual(await objectDigest(client, bucket, 'data/sub/big30.bin'), big30);
    assert.equal(await objectText(client, bucket, `data/${ODD_NAME}`), 'hello from rclone\n');

    const ls = await rclone('ls', `tess:${bucket}`);
    const sizes = Object.fromEntries(
      ls.stdout
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => {
          const match = /^\s*(\d+) (.+)$/.exec(line);
          assert.ok(match, `rclone ls line: ${line}`);
          return [match[2]!, Number(match[1])];
        }),
    );
    assert.deepEqual(sizes, { [`data/${ODD_NAME}`]: 18, 'data/sub/big30.bin': 30 * MiB });

    const lsf = await rclone('lsf', '-R', `tessera:${bucket}`);
    assert.deepEqual(
      lsf.stdout.split('\n').filter(Boolean).sort(),
      ['data/', `data/${ODD_NAME}`, 'data/sub/', 'data/sub/big30.bin'].sort(),
    );

    // check compares sizes and MD5s (for the multipart object, the MD5 rclone stored in its metadata).
    const check = await rclone('check', source, `tessera:${bucket}/data`);
    assert.match(check.stderr, /: 0 differences found/);
    assert.match(check.stderr, /: 2 matching files/);
    assert.doesNotMatch(check.stderr, /could not be checked/);

    const cat = await rclone('cat', `tess:${bucket}/data/${ODD_NAME}`);
    assert.equal(cat.stdout, 'hello from rclone\n');

    await rclone('delete', `tess:${bucket}`);
    assert.deepEqual(await listing(client, bucket), {});
    await rclone('rmdir', `tess:${bucket}`);
    await assertBucketGone(client, bucket);
  });

  if (AWS.length === 0) {
    it('aws CLI', (t) => {
      t.skip('aws not installed');
    });
  }
  AWS.forEach((awsPath, index) => {
    it(`aws CLI (${awsPath}): s3 mb/cp (8 MiB multipart)/ls/rm/rb, s3api list-objects-v2/head-object/list-buckets`, { timeout: TOOL_TIMEOUT_MS * 5 }, async (t) => {
      const dir = await toolDir(`aws-${index}`);
      const configFile = join(dir, 'aws-config');
      const credentialsFile = join(dir, 'aws-credentials');
      await writeFile(configFile, awsConfig());
      await writeFile(credentialsFile, awsCredentials());
      const common = {
        AWS_CONFIG_FILE: configFile,
        AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
        AWS_PAGER: '',
        AWS_EC2_METADATA_DISABLED: 'true',
      };
      const env = toolEnv(join(dir, 'home'), {
        ...common,
        AWS_ACCESS_KEY_ID: ROOT_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY: ROOT_SECRET_KEY,
        AWS_DEFAULT_REGION: 'us-east-1',
      });
      const aws = (...args: string[]) => ok(awsPath, ['--endpoint-url', server.url, ...args], env, dir);
      const bucket = `cli-aws-${index}`;
      const small = join(dir, ODD_NAME);
      await writeFile(small, 'hello from aws\n');

      const version = await ok(awsPath, ['--version'], env, dir);
      t.diagnostic(`${awsPath}: ${(version.stdout || version.stderr).trim()}`);

      await aws('s3', 'mb', `s3://${bucket}`);
      await client.send(new HeadBucketCommand({ Bucket: bucket }));

      await aws('s3', 'cp', '--no-progress', big20, `s3://${bucket}/dir/big.bin`);
      await aws('s3', 'cp', '--no-progress', small, `s3://${bucket}/${ODD_NAME}`);
      assert.deepEqual(await listing(client, bucket), { 'dir/big.bin': 20 * MiB, [ODD_NAME]: 15 });
      const etag = await assertMultipart(client, bucket, 'dir/big.bin', 20 * MiB, 3);
      assert.deepEqual(await objectDigest(client, bucket, 'dir/big.bin'), big20Digest);
      assert.equal(await objectText(client, bucket, ODD_NAME), 'hello from aws\n');

      const ls = await aws('s3', 'ls', '--recursive', `s3://${bucket}`);
      const sizes = Object.fromEntries(
        ls.stdout
          .split('\n')
          .filter((line) => line.trim() !== '')
          .map((line) => {
            const match = /^\S+ \S+\s+(\d+) (.+)$/.exec(line);
            assert.ok(match, `aws s3 ls line: ${line}`);
            return [match[2]!, Number(match[1])];
          }),
      );
      assert.deepEqual(sizes, { 'dir/big.bin': 20 * MiB, [ODD_NAME]: 15 });

      const listed = JSON.parse((await aws('s3api', 'list-objects-v2', '--bucket', bucket, '--output', 'json')).stdout) as {
        Contents: Array<{ Key: string; Size: number; ETag: string }>;
      };
      assert.deepEqual(
        listed.Contents.map((o) => [o.Key, o.Size]),
        [['dir/big.bin', 20 * MiB], [ODD_NAME, 15]],
      );
      assert.equal(listed.Contents[0]!.ETag, etag);

      const head = JSON.parse((await aws('s3api', 'head-object', '--bucket', bucket, '--key', 'dir/big.bin', '--output', 'json')).stdout) as {
        ContentLength: number;
        ETag: string;
      };
      assert.equal(head.ContentLength, 20 * MiB);
      assert.equal(head.ETag, etag);

      await aws('s3', 'cp', '--no-progress', `s3://${bucket}/dir/big.bin`, join(dir, 'got.bin'));
      assert.deepEqual(await fileDigest(join(dir, 'got.bin')), big20Digest);

      // The credentials-file profile of the docs, with no keys in the environment.
      const profileEnv = toolEnv(join(dir, 'home'), { ...common, AWS_PROFILE: 'tessera' });
      const buckets = JSON.parse((await ok(awsPath, ['--endpoint-url', server.url, 's3api', 'list-buckets', '--output', 'json'], profileEnv, dir)).stdout) as {
        Buckets: Array<{ Name: string }>;
      };
      assert.ok(buckets.Buckets.some((b) => b.Name === bucket), JSON.stringify(buckets));

      await aws('s3', 'rm', `s3://${bucket}/dir/big.bin`);
      await aws('s3', 'rm', `s3://${bucket}/${ODD_NAME}`);
      assert.deepEqual(await listing(client, bucket), {});
      await aws('s3', 'rb', `s3://${bucket}`);
      await assertBucketGone(client, bucket);
    });
  });

  it('boto3: create_bucket, upload_file (8 MiB multipart), put_object, list, download_file, head, delete', { timeout: TOOL_TIMEOUT_MS * 3 }, async (t) => {
    if (!PYTHON) return t.skip('python3 not installed');
    const dir = await toolDir('boto3');
    const env = toolEnv(join(dir, 'home'));
    const probe = await run(PYTHON, ['-c', 'import boto3'], env, dir);
    if (probe.code !== 0) return t.skip('boto3 not installed');
    const bucket = 'cli-boto3';
    const small = join(dir, ODD_NAME);
    await writeFile(small, 'hello from boto3\n');
    const boto3 = (phase: string, bigPath: string) =>
      ok(PYTHON, ['-c', BOTO3_SCRIPT, server.url, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, phase, bucket, 'dir/big.bin', bigPath, ODD_NAME, small], env, dir);

    const up = await boto3('up', big20);
    assert.deepEqual(JSON.parse(up.stdout), { 'dir/big.bin': 20 * MiB, [ODD_NAME]: 17 });
    assert.deepEqual(await listing(client, bucket), { 'dir/big.bin': 20 * MiB, [ODD_NAME]: 17 });
    const etag = await assertMultipart(client, bucket, 'dir/big.bin', 20 * MiB, 3);
    assert.deepEqual(await objectDigest(client, bucket, 'dir/big.bin'), big20Digest);
    assert.equal(await objectText(client, bucket, ODD_NAME), 'hello from boto3\n');

    const down = await boto3('down', join(dir, 'got.bin'));
    assert.deepEqual(JSON.parse(down.stdout), { ContentLength: 20 * MiB, ETag: etag });
    assert.deepEqual(await fileDigest(join(dir, 'got.bin')), big20Digest);
    await assertBucketGone(client, bucket);
  });
});
