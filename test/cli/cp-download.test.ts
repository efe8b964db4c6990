/**
 * Resumable downloads: a large object fetched in ranges is interrupted with SIGINT (exit 130,
 * checkpoint and partial file left), run again, and completes fetching only the missing ranges
 * (counted server-side: the access log's bytesOut of every GetObject); an object changed in
 * between starts over. Real server, real CLI processes.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { StorageClient } from '../../src/client/client.js';
import { downloadCheckpointPath, loadDownloadCheckpoint } from '../../src/client/download-checkpoint.js';
import { uploadFile } from '../../src/client/uploader.js';
import { s3Client } from '../helpers/s3.js';
import { DIALECTS, accessLog, client, creds, fileMd5, md5Hex, runCli, spawnCli, useServerAndWorkDir, waitFor, type CliResult } from './run.js';

const MiB = 1024 * 1024;
const SIZE = 40 * MiB;
const env = useServerAndWorkDir('tessera-cp-download-');

/** Bytes the server sent for GetObject requests on a key so far. */
function getBytes(bucket: string, key: string): number {
  return accessLog(env.server)
    .filter((line) => line.operation === 'GetObject' && line.path === `/${bucket}/${key}`)
    .reduce((sum, line) => sum + (line.bytesOut ?? 0), 0);
}

/** A CLI run, interrupted with SIGINT once its checkpoint records `parts` ranges. */
async function interrupted(args: string[], cwd: string, checkpoint: string, parts: number): Promise<CliResult & { signal: NodeJS.Signals | null }> {
  const child = spawnCli(args, { cwd });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdin!.end();
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  await waitFor(async () => ((await loadDownloadCheckpoint(checkpoint))?.PartStat.filter(Boolean).length ?? 0) >= parts, 60_000, `${parts} recorded ranges`);
  child.kill('SIGINT');
  const { code, signal } = await exited;
  return { code, signal, stdout, stderr };
}

for (const dialect of DIALECTS) {
  describe(`tessera cp: resumable download (${dialect}://)`, () => {
    const bucket = `cpd-${dialect}`;
    const url = (key: string) => `${dialect}://${bucket}/${key}`;
    let c: StorageClient;
    let work: string;

    before(async () => {
      c = client(env.server, dialect);
      await c.createBucket(bucket);
      work = join(env.work, dialect);
      await mkdir(work, { recursive: true });
    });
    after(() => c.destroy());

    it('Ctrl-C exits 130 leaving the checkpoint; the rerun fetches only the missing ranges and checks the object', async () => {
      const data = randomBytes(SIZE);
      const source = join(work, 'source.bin');
      await writeFile(source, data);
      const key = 'big/object.bin';
      // Uploaded in 1 MiB parts: a 40-part ETag the download can recompute from its ranges.
      await uploadFile(c, { bucket, key, file: source, partSize: MiB, multipartThreshold: MiB });
      const target = join(work, 'copy.bin');
      const checkpoint = downloadCheckpointPath(join(work, '.ossutil_checkpoint'), url(key), target);
      const args = ['cp', url(key), target, '--bigfile-threshold', String(MiB), '--part-size', String(MiB), '--parallel', '2', ...creds(env.server)];

      const before = getBytes(bucket, key);
      const first = await interrupted([...args, '--maxdownspeed', '4096'], work, checkpoint, 6);
      assert.equal(first.code, 130, `exit 130 on SIGINT (${first.signal}): ${first.stderr}`);
      assert.match(first.stderr, /interrupted: run the same command again to resume/);
      const saved = await loadDownloadCheckpoint(checkpoint);
      assert.ok(saved, 'the checkpoint is left');
      const done = saved.PartStat.filter(Boolean).length;
      assert.equal(saved.Parts.length, 40);
      assert.ok(done >= 6 && done < 40, `interrupted part-way (${done} ranges)`);
      assert.equal((await stat(`${target}.tessera-download`)).size, SIZE, 'the partial file, at the object size');
      await assert.rejects(stat(target), 'nothing under the target name yet');
      await waitFor(() => getBytes(bucket, key) > before, 5_000, 'the access log');
      const firstBytes = getBytes(bucket, key) - before;
      // What a save cut short by the Ctrl-C leaves (it lands only now and then on its own): gone with the checkpoint.
      await writeFile(`${checkpoint}.999999.tmp`, '{"Magic":');

      const second = await runCli(args, { cwd: work });
      assert.equal(second.code, 0, second.stderr);
      const verified = dialect === 'oss' ? 'size, etag, crc64' : 'size, etag';
      assert.match(second.stderr, new RegExp(`copy\\.bin: verified ${verified}, resumed (\\d+) of 40 ranges`));
      const resumed = Number(/resumed (\d+) of 40/.exec(second.stderr)![1]);
      assert.ok(resumed >= done, `the rerun took up the ${done} recorded ranges (${resumed})`);
      assert.equal(await fileMd5(target), md5Hex(data), 'the file is the object');
      assert.deepEqual((await readdir(work)).sort(), ['copy.bin', 'source.bin'], 'no partial file, no checkpoint (nor its directory) left');

      await new Promise((resolve) => setTimeout(resolve, 300));
      const secondBytes = getBytes(bucket, key) - before - firstBytes;
      assert.ok(secondBytes >= (40 - resumed) * MiB, `the missing ranges were fetched (${secondBytes} bytes)`);
      assert.ok(secondBytes < (40 - resumed + 2) * MiB, `only the missing ranges (${secondBytes} bytes for ${40 - resumed} ranges)`);
      assert.ok(secondBytes < SIZE, 'fewer bytes than the whole object');
    });

    it('an object changed since the interruption is downloaded again from the start, and says so', async () => {
      const key = 'big/changing.bin';
      await c.putObject(bucket, key, randomBytes(8 * MiB));
      const target = join(work, 'changing.bin');
      const checkpoint = downloadCheckpointPath(join(work, '.ossutil_checkpoint'), url(key), target);
      const args = ['cp', url(key), target, '--bigfile-threshold', String(MiB), '--part-size', String(MiB), '--parallel', '1', ...creds(env.server)];
      const first = await interrupted([...args, '--maxdownspeed', '2048'], work, checkpoint, 2);
      assert.equal(first.code, 130, first.stderr);

      const replaced = randomBytes(8 * MiB);
      await c.putObject(bucket, key, replaced);
      const second = await runCli(args, { cwd: work });
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stderr, /changed since the interrupted download \(ETag, size or last-modified\): starting over/);
      assert.match(second.stderr, new RegExp(`changing\\.bin: verified size, md5${dialect === 'oss' ? ', crc64' : ''}\\n`), 'nothing resumed');
      assert.equal(await fileMd5(target), md5Hex(replaced), 'the file is the new object');
    });

    if (dialect === 's3') {
      it("checks an S3 full-object checksum (x-amz-checksum-*) besides the ETag", async () => {
        const data = randomBytes(3 * MiB);
        const s3 = s3Client(env.server);
        try {
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'sum/crc32c.bin', Body: data, ChecksumAlgorithm: 'CRC32C' }));
        } finally {
          s3.destroy();
        }
        const target = join(work, 'crc32c.bin');
        const result = await runCli(['cp', url('sum/crc32c.bin'), target, '--bigfile-threshold', String(MiB), '--part-size', String(MiB), ...creds(env.server)], { cwd: work });
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stderr, /crc32c\.bin: verified size, md5, x-amz-checksum-crc32c\n/);
        assert.equal(await fileMd5(target), md5Hex(data));
      });
    }
  });
}
