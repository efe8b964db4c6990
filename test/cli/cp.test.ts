import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkpointPath, loadCheckpoint } from '../../src/client/checkpoint.js';
import type { StorageClient } from '../../src/client/client.js';
import { listAllUploads } from '../../src/client/paging.js';
import { multipartEtag } from '../../src/client/streams.js';
import { DIALECTS, client, countOperation, creds, fileMd5, md5Hex, runCli, settledParts, spawnCli, uploadPartLines, useServerAndWorkDir, waitFor } from './run.js';

const KiB = 1024;
const ELAPSED = /\n\n\d+\.\d{6}\(s\) elapsed\n$/;

/** The closing lines of a cp run: the last status line (after ossutil's `\r` redraws) and the average speed. */
function closing(stdout: string): { status: string; speed: string } {
  assert.match(stdout, ELAPSED);
  const text = stdout.replace(ELAPSED, '');
  const match = /\r([^\r]*)\n\naverage speed (\d+)\(byte\/s\)$/.exec(text);
  assert.ok(match, `ends with the Succeed line and the average speed: ${JSON.stringify(text.slice(-200))}`);
  return { status: match[1]!, speed: match[2]! };
}

const env = useServerAndWorkDir('tessera-cp-');

for (const dialect of DIALECTS) {
  describe(`tessera cp (${dialect}://)`, () => {
    const bucket = `cp-${dialect}`;
    const url = (key = '') => `${dialect}://${bucket}${key ? `/${key}` : ''}`;
    let c: StorageClient;

    before(async () => {
      c = client(env.server, dialect);
      await c.createBucket(bucket);
    });

    after(() => c.destroy());

    it('a multipart upload killed with SIGKILL resumes the same upload, sends only the missing parts, and the object matches', async () => {
      const dir = join(env.work, `resume-${dialect}`);
      await mkdir(dir, { recursive: true });
      const file = join(dir, 'big.bin');
      const data = randomBytes(24 * 256 * KiB);
      await writeFile(file, data);
      const key = 'backups/big.bin';
      const checkpointDir = join(dir, '.ossutil_checkpoint');
      const cpFile = checkpointPath(checkpointDir, file, `${dialect}://${bucket}/${key}`);
      const args = ['cp', file, url(key), '--bigfile-threshold', String(1024 * KiB), '--part-size', String(256 * KiB), ...creds(env.server)];

      // First run, throttled so it can be caught half-way, killed once a few parts are recorded.
      const first = spawnCli([...args, '--parallel', '2', '--maxupspeed', '1024'], { cwd: dir });
      first.stdin!.end();
      const exited = new Promise((resolve) => first.on('exit', resolve));
      await waitFor(async () => ((await loadCheckpoint(cpFile))?.Parts.filter((p) => p.IsCompleted).length ?? 0) >= 4, 30_000, 'four recorded parts');
      first.kill('SIGKILL');
      await exited;
      // What a save cut short by the kill leaves (it lands only now and then on its own): gone with the checkpoint.
      await writeFile(`${cpFile}.999999.tmp`, '{"Magic":');

      const checkpoint = await loadCheckpoint(cpFile);
      assert.ok(checkpoint, 'ossutil-named checkpoint left behind');
      assert.equal(checkpoint.ObjectKey, key);
      assert.equal(checkpoint.FileStat.Size, data.length);
      assert.equal(checkpoint.Parts.length, 24);
      const recorded = checkpoint.Parts.filter((p) => p.IsCompleted).map((p) => p.Chunk.Number);
      const stored = await settledParts(c, bucket, key, checkpoint.UploadID);
      assert.ok(recorded.every((n) => stored.includes(n)), 'every recorded part is on the server');
      assert.ok(stored.length < 24, `the kill came before the end (${stored.length} parts stored)`);
      await assert.rejects(c.headObject(bucket, key), 'no object yet');

      const sentBefore = uploadPartLines(env.server, bucket, key).length;
      const second = await runCli(args, { cwd: dir });
      assert.equal(second.code, 0, second.stderr);
      const { status } = closing(second.stdout);
      assert.equal(status, 'Succeed: Total num: 1, size: 6,291,456. OK num: 1(upload 1 files).');
      await waitFor(() => uploadPartLines(env.server, bucket, key).length >= sentBefore + 24 - stored.length, 5_000, 'access log lines');
      assert.equal(uploadPartLines(env.server, bucket, key).length - sentBefore, 24 - stored.length, 'UploadPart requests of the rerun: the missing parts only');

      const uploadsLeft = [];
      for await (const upload of listAllUploads(c, bucket, { prefix: key })) uploadsLeft.push(upload);
      assert.deepEqual(uploadsLeft, [], 'the interrupted upload was completed, not replaced by a new one');
      await assert.rejects(c.listParts(bucket, key, checkpoint.UploadID), /upload does not exist/i);
      assert.deepEqual(await readdir(dir), ['big.bin'], 'the checkpoint and its directory are removed');

      const head = await c.headObject(bucket, key);
      const partMd5s = Array.from({ length: 24 }, (_, i) => md5Hex(data.subarray(i * 256 * KiB, (i + 1) * 256 * KiB)));
      assert.equal(head.etag.replace(/"/g, '').toLowerCase(), multipartEtag(partMd5s));
      const copy = join(dir, 'downloaded.bin');
      const download = await runCli(['cp', url(key), copy, ...creds(env.server)]);
      assert.equal(download.code, 0, download.stderr);
      assert.equal(closing(download.stdout).status, 'Succeed: Total num: 1, size: 6,291,456. OK num: 1(download 1 objects).');
      assert.equal(await fileMd5(copy), md5Hex(data), 'the object is the file');
    });

    it('-r uploads a directory, downloads and copies it back; -u skips what is current', async () => {
      const source = join(env.work, `tree-${dialect}`);
      await mkdir(join(source, 'sub', 'deeper'), { recursive: true });
      const files: Record<string, Buffer> = {
        'x.txt': Buffer.from('top level'),
        'sub/y.bin': randomBytes(200 * KiB),
        'sub/deeper/z.txt': Buffer.from('deep down'),
      };
      for (const [name, content] of Object.entries(files)) await writeFile(join(source, ...name.split('/')), content);
      const total = Object.values(files).reduce((sum, b) => sum + b.length, 0);
      const size = total.toLocaleString('en-US');

      const up = await runCli(['cp', '-r', source, url('tree'), ...creds(env.server)]);
      assert.equal(up.code, 0, up.stderr);
      assert.equal(closing(up.stdout).status, `Succeed: Total num: 3, size: ${size}. OK num: 3(upload 3 files).`);
      for (const [name, content] of Object.entries(files)) {
        assert.equal((await c.headObject(bucket, `tree/${name}`)).size, content.length, name);
      }

      const target = join(env.work, `tree-${dialect}-down`);
      const down = await runCli(['cp', '-r', url('tree/'), target, ...creds(env.server)]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal(closing(down.stdout).status, `Succeed: Total num: 3, size: ${size}. OK num: 3(download 3 objects).`);
      for (const [name, content] of Object.entries(files)) assert.equal(await fileMd5(join(target, ...name.split('/'))), md5Hex(content), name);

      const copied = await runCli(['cp', '-r', url('tree/'), url('copy/'), ...creds(env.server)]);
      assert.equal(copied.code, 0, copied.stderr);
      assert.equal(closing(copied.stdout).status, `Succeed: Total num: 3, size: ${size}. OK num: 3(copy 3 objects).`);
      for (const name of Object.keys(files)) {
        assert.equal((await c.headObject(bucket, `copy/${name}`)).etag, (await c.headObject(bucket, `tree/${name}`)).etag, name);
      }

      const again = await runCli(['cp', '-r', '-u', source, url('tree'), ...creds(env.server)]);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(closing(again.stdout).status, `Succeed: Total num: 3, size: ${size}. OK num: 3(skip 3 files), Skip size: ${size}.`);
    });

    it('copies a large object server-side part by part (UploadPartCopy), checked end to end', async () => {
      const data = randomBytes(250 * KiB);
      await c.putObject(bucket, 'source.bin', data);
      const before = countOperation(env.server, 'UploadPartCopy');
      const result = await runCli(
        ['cp', url('source.bin'), url('dest/'), '--bigfile-threshold', String(100 * KiB), '--part-size', String(100 * KiB), ...creds(env.server)],
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(closing(result.stdout).status, 'Succeed: Total num: 1, size: 256,000. OK num: 1(copy 1 objects).');
      await waitFor(() => countOperation(env.server, 'UploadPartCopy') >= before + 3, 5_000, 'access log');
      assert.equal(countOperation(env.server, 'UploadPartCopy') - before, 3);
      const { body } = await c.getObject(bucket, 'dest/source.bin');
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      assert.equal(md5Hex(Buffer.concat(chunks)), md5Hex(data));
    });

    it('errors: a missing local file exits 1 with Error; local to local is wrong usage (exit 2)', async () => {
      const missing = await runCli(['cp', join(env.work, 'no-such-file'), url('x'), ...creds(env.server)]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /^Error: stat .*no-such-file: no such file or directory\n$/);
      const local = await runCli(['cp', join(env.work, 'a'), join(env.work, 'b'), ...creds(env.server)]);
      assert.equal(local.code, 2);
      assert.match(local.stderr, /copy files between local file system is not allowed/);
      assert.match(local.stderr, /Usage: tessera cp/);
      const absent = await runCli(['cp', url('no-such-object'), join(env.work, 'x'), ...creds(env.server)]);
      assert.equal(absent.code, 1);
      assert.match(absent.stderr, new RegExp(`^Error: ${dialect}: service returned error: StatusCode=404, ErrorCode=NoSuchKey`));
    });
  });
}
