import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { StorageClient } from '../../src/client/client.js';
import { listAllUploads } from '../../src/client/paging.js';
import type { UploadSummary } from '../../src/client/types.js';
import { PutBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/s3.js';
import type { TestServer } from '../helpers/server.js';
import { client, creds, DIALECTS, md5Hex, quotedEtag, runCli, startLoggingServer } from './run.js';

const TAB = '    ';
const ELAPSED = /\n\n\d+\.\d{6}\(s\) elapsed\n$/;

/** Go's Time.String() without fractions, in the zone the test names. */
function goTime(date: Date, offsetHours: number, zone: string): string {
  const shifted = new Date(date.getTime() + offsetHours * 3_600_000);
  const sign = offsetHours < 0 ? '-' : '+';
  const offset = `${sign}${String(Math.abs(offsetHours)).padStart(2, '0')}00`;
  return `${shifted.toISOString().replace('T', ' ').slice(0, 19)} ${offset} ${zone}`;
}

function body(stdout: string): string {
  assert.match(stdout, ELAPSED);
  return stdout.replace(ELAPSED, '\n');
}

/** The last status line: ossutil redraws in place with `\r`. */
function lastStatus(stdout: string): string {
  return body(stdout).split('\r').at(-1)!;
}

async function uploadsOf(c: StorageClient, bucket: string, prefix = ''): Promise<UploadSummary[]> {
  const all: UploadSummary[] = [];
  for await (const upload of listAllUploads(c, bucket, { prefix })) all.push(upload);
  return all;
}

let server: TestServer;

before(async () => {
  server = await startLoggingServer();
});

after(async () => {
  await server?.cleanup();
});

for (const dialect of DIALECTS) {
  describe(`tessera ls and rm (${dialect}://)`, () => {
    const bucket = `lsrm-${dialect}`;
    const url = (key = '') => `${dialect}://${bucket}${key ? `/${key}` : ''}`;
    const objects: Record<string, string> = { 'a.txt': 'hello', 'dir/b.txt': 'bee', 'dir/sub/c.txt': 'sea, deeper' };
    let c: StorageClient;

    before(async () => {
      c = client(server, dialect);
      await c.createBucket(bucket);
      for (const [key, value] of Object.entries(objects)) await c.putObject(bucket, key, value);
      for (const key of ['dir/big.bin', 'dir/big.bin', 'dir/big.bin2', 'other.bin']) {
        const { uploadId } = await c.createMultipartUpload(bucket, key);
        await c.uploadPart(bucket, key, uploadId, 1, `part of ${key}`);
      }
    });

    after(() => c.destroy());

    it('ls -m: ossutil columns, local times as Go prints them, and the footer', async () => {
      const uploads = await uploadsOf(c, bucket);
      assert.equal(uploads.length, 4);
      const header = `${'InitiatedTime'.padEnd(30)}${TAB}${'UploadID'.padEnd(32)}${TAB}ObjectName\n`;
      for (const [tz, hours, zone] of [
        ['UTC', 0, 'UTC'],
        ['Asia/Shanghai', 8, 'CST'],
        ['America/Sao_Paulo', -3, '-03'],
      ] as const) {
        const result = await runCli(['ls', '-m', url(), ...creds(server)], { env: { TZ: tz } });
        assert.equal(result.code, 0, result.stderr);
        const rows = uploads.map((u) => `${goTime(u.initiated, hours, zone).padEnd(30)}${TAB}${u.uploadId.padEnd(32)}${TAB}${url(u.key)}\n`).join('');
        assert.equal(body(result.stdout), `${header}${rows}UploadID Number is: 4\n`, `TZ=${tz}`);
      }
    });

    it('ls -m adds AbortTime when the bucket has rules that abort uploads in progress: the rule\'s date, or - for an upload no rule covers', async () => {
      const ruled = `${bucket}-ruled`;
      await c.createBucket(ruled);
      const s3 = s3Client(server);
      try {
        await s3.send(
          new PutBucketLifecycleConfigurationCommand({
            Bucket: ruled,
            LifecycleConfiguration: { Rules: [{ ID: 'tmp-week', Filter: { Prefix: 'tmp/' }, Status: 'Enabled', AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 } }] },
          }),
        );
      } finally {
        s3.destroy();
      }
      await c.createMultipartUpload(ruled, 'keep.bin');
      await c.createMultipartUpload(ruled, 'tmp/a.bin');
      const uploads = await uploadsOf(c, ruled);
      const result = await runCli(['ls', '-m', `${dialect}://${ruled}`, ...creds(server)], { env: { TZ: 'UTC' } });
      assert.equal(result.code, 0, result.stderr);
      const DAY = 24 * 60 * 60 * 1000;
      const rows = uploads.map((u) => {
        // Seven days after it started, rounded up to midnight UTC, as S3 rounds.
        const abort = u.key.startsWith('tmp/') ? goTime(new Date(Math.ceil((u.initiated.getTime() + 7 * DAY) / DAY) * DAY), 0, 'UTC') : '-';
        return `${goTime(u.initiated, 0, 'UTC').padEnd(30)}${TAB}${abort.padEnd(30)}${TAB}${u.uploadId.padEnd(32)}${TAB}${dialect}://${ruled}/${u.key}\n`;
      });
      const header = `${'InitiatedTime'.padEnd(30)}${TAB}${'AbortTime'.padEnd(30)}${TAB}${'UploadID'.padEnd(32)}${TAB}ObjectName\n`;
      assert.equal(body(result.stdout), `${header}${rows.join('')}UploadID Number is: 2\n`);
    });

    it('ls -m under a prefix, short form (-s), limited (--limited-num), after a marker', async () => {
      const uploads = await uploadsOf(c, bucket, 'dir/');
      const short = await runCli(['ls', url('dir/'), '-m', '-s', ...creds(server)]);
      assert.equal(short.code, 0, short.stderr);
      assert.equal(
        body(short.stdout),
        `${'UploadID'.padEnd(32)}${TAB}ObjectName\n${uploads.map((u) => `${u.uploadId.padEnd(32)}${TAB}${url(u.key)}\n`).join('')}UploadID Number is: 3\n`,
      );
      const limited = await runCli(['ls', url(), '-m', '-s', '--limited-num', '2', ...creds(server)]);
      assert.match(body(limited.stdout), /\nUploadID Number is: 2\n$/);
      const after = await runCli(['ls', url(), '-m', '-s', '--marker', 'dir/big.bin', ...creds(server)]);
      assert.equal(after.code, 0, after.stderr);
      assert.deepEqual(
        body(after.stdout).trim().split('\n').slice(1, -1).map((line) => line.split(TAB)[1]),
        [url('dir/big.bin2'), url('other.bin')],
      );
    });

    it('ls objects: long form, -s, -d, and -a (objects, then uploads)', async () => {
      const long = await runCli(['ls', url(), ...creds(server)]);
      assert.equal(long.code, 0, long.stderr);
      const lines = body(long.stdout).split('\n');
      assert.equal(lines[0], `${'LastModifiedTime'.padEnd(30)}${'Size(B)'.padStart(12)}  ${'StorageClass'.padStart(12)}   ${'ETAG'.padEnd(36)}  ObjectName`);
      const storageClass = dialect === 'oss' ? 'Standard' : 'STANDARD';
      Object.entries(objects).forEach(([key, value], i) => {
        const etag = quotedEtag(dialect, md5Hex(value)).replace(/"/g, '');
        assert.match(lines[i + 1]!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC {0,}/);
        assert.equal(lines[i + 1]!.slice(30), `${String(value.length).padStart(12)}  ${storageClass.padStart(12)}   ${etag.padEnd(36)}  ${url(key)}`);
      });
      assert.equal(lines[4], 'Object Number is: 3');

      const short = await runCli(['ls', '-s', url('dir/'), ...creds(server)]);
      assert.equal(body(short.stdout), `${url('dir/b.txt')}\n${url('dir/sub/c.txt')}\nObject Number is: 2\n`);
      const folders = await runCli(['ls', '-d', url(), ...creds(server)]);
      assert.equal(body(folders.stdout), `${url('a.txt')}\n${url('dir/')}\nObject and Directory Number is: 2\n`);
      const all = await runCli(['ls', '-a', '-s', url('dir/b'), ...creds(server)]);
      const uploads = await uploadsOf(c, bucket, 'dir/b');
      assert.equal(
        body(all.stdout),
        `${url('dir/b.txt')}\nObject Number is: 1\n${'UploadID'.padEnd(32)}${TAB}ObjectName\n` +
          uploads.map((u) => `${u.uploadId.padEnd(32)}${TAB}${url(u.key)}\n`).join('') +
          'UploadID Number is: 3\n',
      );
    });

    it('ls without a bucket lists buckets', async () => {
      const result = await runCli(['ls', '-s', `${dialect}://`, ...creds(server)]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(body(result.stdout), new RegExp(`(^|\\n)${dialect}://${bucket}\\n[^]*Bucket Number is: \\d+\\n$`));
    });

    it("rm -m removes the uploads of exactly one key, without asking", async () => {
      const result = await runCli(['rm', url('dir/big.bin'), '-m', ...creds(server)]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(lastStatus(result.stdout), 'Succeed: Total 2 uploadIds. Removed 2 uploadIds.\n');
      assert.deepEqual(
        (await uploadsOf(c, bucket)).map((u) => u.key),
        ['dir/big.bin2', 'other.bin'],
      );
    });

    it("rm -r -m asks ossutil's question: N keeps everything, y removes", async () => {
      const question = `Do you really mean to remove recursively multipart uploadIds of ${url('dir/')}(y or N)? `;
      const no = await runCli(['rm', '-r', '-m', url('dir/'), ...creds(server)], { input: 'N\n' });
      assert.equal(no.code, 0, no.stderr);
      assert.equal(body(no.stdout), `${question}operation is canceled.\n`);
      assert.equal((await uploadsOf(c, bucket)).length, 2);

      const noInput = await runCli(['rm', '-r', '-m', url('dir/'), ...creds(server)]);
      assert.equal(body(noInput.stdout), `${question}operation is canceled.\n`, 'end of input is a no');

      const yes = await runCli(['rm', '-r', '-m', url('dir/'), ...creds(server)], { input: 'y\n' });
      assert.equal(yes.code, 0, yes.stderr);
      assert.ok(body(yes.stdout).startsWith(question));
      assert.equal(lastStatus(yes.stdout), 'Succeed: Total 1 uploadIds. Removed 1 uploadIds.\n');
      assert.deepEqual(
        (await uploadsOf(c, bucket)).map((u) => u.key),
        ['other.bin'],
      );
    });

    it('rm -r -m -f removes without asking; rm -a removes an object and its uploads', async () => {
      const forced = await runCli(['rm', '-r', '-m', '-f', url(), ...creds(server)]);
      assert.equal(forced.code, 0, forced.stderr);
      assert.ok(!forced.stdout.includes('Do you really mean'));
      assert.equal(lastStatus(forced.stdout), 'Succeed: Total 1 uploadIds. Removed 1 uploadIds.\n');
      assert.equal((await uploadsOf(c, bucket)).length, 0);

      const { uploadId } = await c.createMultipartUpload(bucket, 'a.txt');
      const both = await runCli(['rm', '-a', url('a.txt'), ...creds(server)]);
      assert.equal(both.code, 0, both.stderr);
      assert.equal(lastStatus(both.stdout), 'Succeed: Total 1 objects, 1 uploadIds. Removed 1 objects, 1 uploadIds.\n');
      await assert.rejects(c.headObject(bucket, 'a.txt'));
      await assert.rejects(c.listParts(bucket, 'a.txt', uploadId));
    });

    it('rm -r -f removes every object under a prefix; rm -b removes the empty bucket', async () => {
      const result = await runCli(['rm', '-r', '-f', url('dir/'), ...creds(server)]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(lastStatus(result.stdout), 'Succeed: Total 2 objects. Removed 2 objects.\n');
      const gone = await runCli(['rm', '-b', '-f', url(), ...creds(server)]);
      assert.equal(gone.code, 0, gone.stderr);
      assert.equal(lastStatus(gone.stdout), `Removed Bucket: ${bucket}\n`);
      const listing = await runCli(['ls', url(), ...creds(server)]);
      assert.equal(listing.code, 1);
      assert.match(listing.stderr, new RegExp(`^Error: ${dialect}: service returned error: StatusCode=404, ErrorCode=NoSuchBucket, `));
    });

    it('wrong usage prints the help and exits 2', async () => {
      const noObject = await runCli(['rm', url(), ...creds(server)]);
      assert.equal(noObject.code, 2);
      assert.match(noObject.stderr, /miss object/);
      assert.match(noObject.stderr, /Usage: tessera rm/);
      const localPath = await runCli(['ls', 'bucket/key', ...creds(server)]);
      assert.equal(localPath.code, 2);
      assert.match(localPath.stderr, /Usage: tessera ls/);
    });
  });
}

describe('mb, stat, getallpartsize, rb', () => {
  for (const dialect of DIALECTS) {
    it(`${dialect}://: make a bucket, describe it and an object, sum its uploads, remove it`, async () => {
      const bucket = `misc-${dialect}`;
      const made = await runCli(['mb', `${dialect}://${bucket}`, ...creds(server)]);
      assert.equal(made.code, 0, made.stderr);
      assert.match(made.stdout, /^\n\d+\.\d{6}\(s\) elapsed\n$/);
      const c = client(server, dialect);
      try {
        await c.putObject(bucket, 'note.txt', 'a short note');
        const object = await runCli(['stat', `${dialect}://${bucket}/note.txt`, ...creds(server)]);
        assert.equal(object.code, 0, object.stderr);
        const rows = Object.fromEntries(body(object.stdout).trim().split('\n').map((line) => [line.slice(0, 28).trim(), line.slice(30)]));
        assert.equal(rows['Content-Length'], '12');
        assert.equal(rows.Etag, quotedEtag(dialect, md5Hex('a short note')).replace(/"/g, ''));
        assert.match(rows['Last-Modified']!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
        if (dialect === 'oss') assert.equal(rows['X-Oss-Object-Type'], 'Normal');
        const info = await runCli(['stat', `${dialect}://${bucket}`, ...creds(server)]);
        assert.equal(info.code, 0, info.stderr);
        assert.match(body(info.stdout), new RegExp(`^Name {14}: ${bucket}\nLocation {10}: (oss-)?us-east-1\nCreationDate {6}: \\d{4}-`));

        const sizes = [150 * 1024, 100 * 1024];
        const { uploadId } = await c.createMultipartUpload(bucket, 'big/one');
        for (const [i, size] of sizes.entries()) await c.uploadPart(bucket, 'big/one', uploadId, i + 1, Buffer.alloc(size, i));
        const sum = await runCli(['getallpartsize', `${dialect}://${bucket}`, ...creds(server)]);
        assert.equal(sum.code, 0, sum.stderr);
        const row = (a: string | number, b: string, c2: string | number, d: string) => `${String(a).padEnd(10)}\t${b.padEnd(32)}\t${String(c2).padEnd(10)}\t${d}\n`;
        assert.equal(
          body(sum.stdout),
          row('PartNumber', 'UploadId', 'Size(Byte)', 'Path') +
            row(1, uploadId, sizes[0]!, `${dialect}://${bucket}/big/one`) +
            row(2, uploadId, sizes[1]!, `${dialect}://${bucket}/big/one`) +
            '\ntotal part count:2\ttotal part size(MB):0.24\n\n',
        );
        await c.abortMultipartUpload(bucket, 'big/one', uploadId);
        await c.deleteObject(bucket, 'note.txt');
      } finally {
        c.destroy();
      }
      const removed = await runCli(['rb', `${dialect}://${bucket}`, ...creds(server)]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(body(removed.stdout), `Removed Bucket: ${bucket}\n`);
      const again = await runCli(['rb', `${dialect}://${bucket}`, ...creds(server)]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, /ErrorCode=NoSuchBucket/);
    });
  }
});

describe('ls configuration sources', () => {
  it('reads the endpoint and credentials from the environment and from the file `tessera config` writes', async () => {
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'tessera-config-'));
    try {
      const [, endpoint, , id, , secret] = creds(server);
      const viaEnv = await runCli(['ls', '-s'], { env: { TESSERA_ENDPOINT: endpoint, TESSERA_ACCESS_KEY_ID: id, TESSERA_ACCESS_KEY_SECRET: secret } });
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
      assert.match(viaEnv.stdout, /Bucket Number is: \d+\n/);
      const viaOssEnv = await runCli(['ls', '-s', 's3://'], { env: { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret } });
      assert.equal(viaOssEnv.code, 0, viaOssEnv.stderr);

      const file = join(dir, 'ossutilconfig');
      const written = await runCli(['config', '-e', endpoint!, '-i', id!, '-k', secret!, '-c', file]);
      assert.equal(written.code, 0, written.stderr);
      const text = await readFile(file, 'utf8');
      assert.match(text, /^\[Credentials\]\nlanguage=EN\nendpoint=http:\/\/127\.0\.0\.1:\d+\naccessKeyID=tessera-root\naccessKeySecret=\S+\n/);
      const viaFile = await runCli(['ls', '-s', '-c', file]);
      assert.equal(viaFile.code, 0, viaFile.stderr);
      const viaDefault = await runCli(['ls', '-s'], { env: { TESSERA_CONFIG_FILE: file } });
      assert.equal(viaDefault.code, 0, viaDefault.stderr);
      const wrongKey = await runCli(['ls', '-s', '-c', file, '-k', 'not-the-secret']);
      assert.equal(wrongKey.code, 1, 'the option wins over the file');
      assert.match(wrongKey.stderr, /ErrorCode=SignatureDoesNotMatch/);
      const nothing = await runCli(['ls']);
      assert.equal(nothing.code, 1);
      assert.match(nothing.stderr, /^Error: no endpoint/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--sign-version v4 signs OSS requests with OSS4-HMAC-SHA256 (a region is needed)', async () => {
    const v4 = await runCli(['ls', '-s', '--sign-version', 'v4', '--region', 'cn-hangzhou', ...creds(server)]);
    assert.equal(v4.code, 0, v4.stderr);
    assert.match(v4.stdout, /Bucket Number is: \d+\n/);
    const noRegion = await runCli(['ls', '-s', '--sign-version', 'v4', ...creds(server)]);
    assert.equal(noRegion.code, 1);
    assert.match(noRegion.stderr, /V4 signing needs a region/);
    const wrongVersion = await runCli(['ls', '-s', '--sign-version', 'v3', ...creds(server)]);
    assert.equal(wrongVersion.code, 2);
  });

  it('an unreachable endpoint: Error with the network failure, exit 1', async () => {
    const result = await runCli(['ls', '-s', '-e', 'http://127.0.0.1:1', '-i', 'a', '-k', 'b', '--retry-times', '1']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^retrying 1\/1 in \d+\.\d s: connect ECONNREFUSED 127\.0\.0\.1:1\nError: .*ECONNREFUSED/);
  });
});

