/**
 * `tessera pan` as a user sees it (a real server, the real CLI process): the preuploadID printed
 * while the upload runs, hashing and upload progress, Ctrl-C and the resume, an instant upload,
 * an upload completed by another process meanwhile, times in the local zone, and a login refused.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../helpers/s3.js';
import { CLI, type TestServer } from '../helpers/server.js';
import { ALICE, ALICE_BUCKET, APP, login, md5, ok, poll, postSliceV2, randomData, s3Md5, SLICE, slicesOf, startPanServer } from './helpers.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface Running {
  child: ChildProcess;
  stderr: () => string;
  done: Promise<Run>;
}

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Waits until `check` holds, polling; fails after 20 s. */
async function until(check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('tessera pan upload, ls and login, as the user sees them', () => {
  let server: TestServer;
  let work: string;
  let env: NodeJS.ProcessEnv;

  const start = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Running => {
    const child = spawn(process.execPath, [CLI, 'pan', ...args], { env: { ...env, ...extraEnv }, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const done = new Promise<Run>((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    return { child, stderr: () => stderr, done };
  };
  const cli = (args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> => start(args, extraEnv).done;

  before(async () => {
    server = await startPanServer();
    work = await mkdtemp(join(tmpdir(), 'tessera-pan-ux-'));
    env = { ...process.env, XDG_CONFIG_HOME: join(work, 'config'), TZ: 'UTC' };
    delete env.TESSERA_PAN_CONFIG;
    // No periodic hashing lines: the tests read stderr line by line.
    env.TESSERA_PROGRESS_INTERVAL = '3600';
    const logged = await cli(['login', '--endpoint', server.url, '--client-id', APP.clientID, '--client-secret', APP.clientSecret]);
    assert.equal(logged.code, 0, logged.stderr);
  });
  after(async () => {
    await server?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('login with an app the server does not have says where apps are declared', async () => {
    const refused = await cli(['login', '--endpoint', server.url, '--client-id', 'ghost-app', '--client-secret', 'whatever'], {
      XDG_CONFIG_HOME: join(work, 'ghost-config'),
    });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^Error: .* refused clientID "ghost-app" with that secret \(.*code 401\)/m);
    assert.match(refused.stderr, /the server has no app "ghost-app"\. A Tessera server's apps are declared in its config file, under "panApps"/);
  });

  it('prints the preuploadID while the upload runs; parts works with it from elsewhere', async () => {
    const data = randomData(40 * SLICE + 3);
    await writeFile(join(work, 'watched.bin'), data);
    const upload = start(['upload', 'watched.bin', '--parallel', '1']);
    await until(() => /slice \d+ stored/.test(upload.stderr()), 'a slice stored');
    upload.child.kill('SIGSTOP');
    try {
      const id = /^preuploadID ([0-9a-f]+) \(41 slices of 65536 bytes; "tessera pan parts \1" lists those stored\)$/m.exec(upload.stderr())?.[1];
      assert.ok(id, upload.stderr());
      const parts = await cli(['parts', id, '--json']);
      assert.equal(parts.code, 0, parts.stderr);
      const listing = JSON.parse(parts.stdout).parts as Array<{ partNumber: string; size: number; etag: string }>;
      assert.ok(listing.length >= 1 && listing.length < 41, `parts while it runs: ${listing.length}`);
      assert.deepEqual(listing[0], { partNumber: '1', size: SLICE, etag: md5(data.subarray(0, SLICE)) });
      const root = JSON.parse((await cli(['ls', '--json'])).stdout) as Array<{ filename: string }>;
      assert.ok(!root.some((entry) => entry.filename === 'watched.bin'), 'not a file yet');
    } finally {
      upload.child.kill('SIGCONT');
    }
    const run = await upload.done;
    assert.equal(run.code, 0, run.stderr);
    // The hashing phase says what it does; the preuploadID comes before the slices.
    const lines = run.stderr.split('\n');
    assert.equal(lines[0], `hashing watched.bin: MD5 of ${data.length} bytes (for instant upload)`);
    assert.match(lines[1]!, new RegExp(`^hashed watched\\.bin: MD5 ${md5(data)} \\(${data.length} bytes in \\d+\\.\\d s\\)$`));
    assert.match(lines[2]!, /^preuploadID [0-9a-f]+ /);
    assert.match(lines[3]!, /^slice 1 stored \(1\/41\)$/);
    assert.ok(lines.includes('all slices sent; completing (the server checks the whole MD5)'));
    assert.match(run.stdout, new RegExp(`^uploaded watched\\.bin as fileID \\d+: 41 of 41 slices sent \\(MD5 ${md5(data)}, checked\\)\\n$`));
    assert.equal(await s3Md5(server, 'watched.bin'), md5(data));
  });

  it('Ctrl-C exits 130, says how to resume, and the same command then finishes the file', async () => {
    const data = randomData(40 * SLICE + 11);
    await writeFile(join(work, 'stopped.bin'), data);
    const args = ['upload', 'stopped.bin', '--parallel', '1'];
    const upload = start(args);
    await until(() => (upload.stderr().match(/slice \d+ stored/g) ?? []).length >= 2, 'two slices stored');
    // Stopped first, so the SIGINT lands mid-upload whatever the timing.
    upload.child.kill('SIGSTOP');
    upload.child.kill('SIGINT');
    upload.child.kill('SIGCONT');
    const stopped = await upload.done;
    assert.equal(stopped.code, 130, stopped.stderr);
    const id = /^preuploadID ([0-9a-f]+) /m.exec(stopped.stderr)![1]!;
    assert.match(
      stopped.stderr,
      new RegExp(`\\ninterrupted: the slices stored so far stay on the server under preuploadID ${id}; run the same command again \\(same file, folder and name\\) to resume \\("tessera pan parts ${id}" lists them\\)\\n$`),
    );
    assert.ok(!stopped.stdout.includes('uploaded'));

    const resumed = await cli([...args, '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const result = JSON.parse(resumed.stdout);
    assert.equal(result.preuploadID, id);
    assert.ok(result.skippedSlices >= 2, `skipped ${result.skippedSlices}`);
    assert.equal(result.skippedSlices + result.uploadedSlices, 41);
    // The stored slices are read back from the file and compared (their MD5) before anything is sent.
    assert.match(
      resumed.stderr,
      new RegExp(`^preuploadID ${id} .*\\nchecking the ${result.skippedSlices} slices the server holds against stopped\\.bin \\(MD5 of each\\)\\nresuming: ${result.skippedSlices} of 41 slices are on the server already\\n`, 'm'),
    );
    assert.equal(await s3Md5(server, 'stopped.bin'), md5(data));
  });

  it('an instant upload says that nothing was sent', async () => {
    const data = randomData(3 * SLICE);
    await writeFile(join(work, 'first.bin'), data);
    assert.equal((await cli(['upload', 'first.bin'])).code, 0);
    const again = await cli(['upload', 'first.bin', '--name', 'second.bin']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, new RegExp(`^first\\.bin is already on the server \\(instant upload\\), nothing sent: fileID \\d+ \\(MD5 ${md5(data)}, checked\\)\\n$`));
    assert.ok(!/preuploadID|slice/.test(again.stderr), again.stderr);
    assert.equal(await s3Md5(server, 'second.bin'), md5(data));

    // The same command again: the name is taken, by this very file.
    const rerun = await cli(['upload', 'first.bin']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stdout, new RegExp(`^first\\.bin is already on the server as fileID \\d+ \\(same name, MD5 ${md5(data)} and size\\), nothing sent\\n$`));
    // The name taken by other bytes: the server's refusal, exit 1.
    await writeFile(join(work, 'first.bin'), randomData(3 * SLICE));
    const other = await cli(['upload', 'first.bin']);
    assert.equal(other.code, 1);
    assert.match(other.stderr, /^Error: \/upload\/v2\/file\/create: .*first\.bin.*\(code 400\)$/m);
    assert.equal(await s3Md5(server, 'first.bin'), md5(data), 'the file on the server is untouched');
  });

  it('an upload completed meanwhile by another process is reported as such', async () => {
    const data = randomData(40 * SLICE + 5);
    await writeFile(join(work, 'raced.bin'), data);
    const upload = start(['upload', 'raced.bin', '--parallel', '1']);
    await until(() => /slice \d+ stored/.test(upload.stderr()), 'a slice stored');
    upload.child.kill('SIGSTOP');
    try {
      // Another client of the same app creates the same file: the same session, which it completes.
      const token = await login(server.url);
      const created = await ok(server.url, 'POST', '/upload/v2/file/create', { token, json: { parentFileID: 0, filename: 'raced.bin', etag: md5(data), size: data.length } });
      assert.equal(created.preuploadID, /^preuploadID ([0-9a-f]+) /m.exec(upload.stderr())![1]);
      const slices = slicesOf(data, SLICE);
      for (let i = 0; i < slices.length; i++) {
        const sent = await postSliceV2(server.url, token, created.preuploadID, i + 1, slices[i]!);
        assert.equal(sent.body.code, 0, JSON.stringify(sent.body));
      }
      await poll(async () => {
        const answer = await ok(server.url, 'POST', '/upload/v1/file/upload_async_result', { token, json: { preuploadID: created.preuploadID } }).catch(async () =>
          ok(server.url, 'POST', '/upload/v2/file/upload_complete', { token, json: { preuploadID: created.preuploadID } }).catch(() => undefined),
        );
        return answer?.completed ? answer : undefined;
      });
    } finally {
      upload.child.kill('SIGCONT');
    }
    const run = await upload.done;
    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      new RegExp(`^raced\\.bin was completed meanwhile by another upload of the same file \\(preuploadID [0-9a-f]+\\): fileID \\d+; this run stored \\d+ of 41 slices \\(MD5 ${md5(data)}, checked\\)\\n$`),
    );
    assert.equal(await s3Md5(server, 'raced.bin'), md5(data));
  });

  it('an upload that fails midway names its preuploadID and how to go on; the rerun finishes', async () => {
    const data = randomData(40 * SLICE + 1);
    await writeFile(join(work, 'gone.bin'), data);
    const upload = start(['upload', 'gone.bin', '--parallel', '1']);
    await until(() => /slice \d+ stored/.test(upload.stderr()), 'a slice stored');
    upload.child.kill('SIGSTOP');
    // The upload under the session goes away (aborted through S3 by the drive's owner).
    const s3 = s3Client(server, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
    try {
      const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: ALICE_BUCKET, Prefix: 'gone.bin' }));
      assert.equal(listed.Uploads?.length, 1);
      await s3.send(new AbortMultipartUploadCommand({ Bucket: ALICE_BUCKET, Key: 'gone.bin', UploadId: listed.Uploads![0]!.UploadId }));
    } finally {
      s3.destroy();
      upload.child.kill('SIGCONT');
    }
    const failed = await upload.done;
    assert.equal(failed.code, 1, failed.stderr);
    const id = /^preuploadID ([0-9a-f]+) /m.exec(failed.stderr)![1]!;
    assert.match(failed.stderr, new RegExp(`\\npreuploadID ${id}: run the same command again \\(same file, folder and name\\) to resume from the slices the server still holds\\nError: `));
    const again = await cli(['upload', 'gone.bin']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(await s3Md5(server, 'gone.bin'), md5(data));
  });

  it('without a terminal, a long hashing prints how far it is', async () => {
    await writeFile(join(work, 'long.bin'), randomData(8 * 1024 * 1024));
    // A name the server refuses: create fails once the hashing is done, nothing is uploaded.
    const run = await cli(['upload', 'long.bin', '--name', 'not*allowed.bin'], { TESSERA_PROGRESS_INTERVAL: '0.001' });
    assert.equal(run.code, 1);
    const lines = run.stderr.split('\n');
    assert.equal(lines[0], 'hashing long.bin: MD5 of 8388608 bytes (for instant upload)');
    const ticks = lines.filter((line) => line.startsWith('hashing long.bin: ') && line !== lines[0]);
    assert.ok(ticks.length >= 1, run.stderr);
    for (const tick of ticks) assert.match(tick, /^hashing long\.bin: \d+ \/ 8388608 bytes \(\d{1,3}\.\d%\)$/);
    assert.match(run.stderr, /^Error: \/upload\/v2\/file\/create: filename .*\(code 400\)$/m);
  });

  it('ls prints times in the zone of TZ, named', async () => {
    const entries = JSON.parse((await cli(['ls', '--json'])).stdout) as Array<{ filename: string; updateAt: string }>;
    const entry = entries.find((e) => e.filename === 'first.bin')!;
    // 123pan writes Beijing time.
    assert.match(entry.updateAt, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    const instant = new Date(`${entry.updateAt.replace(' ', 'T')}+08:00`);
    const utc = instant.toISOString().slice(0, 19).replace('T', ' ');
    const row = (out: string) => out.split('\n').find((line) => line.endsWith(' first.bin'))!;
    const inShanghai = await cli(['ls'], { TZ: 'Asia/Shanghai' });
    assert.match(inShanghai.stdout, /^fileId\s+type\s+size\s+updateAt\s+etag\s+name$/m);
    assert.ok(row(inShanghai.stdout).includes(` ${entry.updateAt} CST `), row(inShanghai.stdout));
    const inUtc = await cli(['ls'], { TZ: 'UTC' });
    assert.ok(row(inUtc.stdout).includes(` ${utc} UTC `), row(inUtc.stdout));
    // A zone tzdata names by its offset only.
    const inDubai = await cli(['ls'], { TZ: 'Asia/Dubai' });
    const dubai = new Date(instant.getTime() + 4 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
    assert.ok(row(inDubai.stdout).includes(` ${dubai} +04:00 `), row(inDubai.stdout));
  });

  /** The CLI in a pseudo-terminal (util-linux `script`): its output, keys typed, its exit status. */
  const inTerminal = (args: string[]) => {
    const command = [process.execPath, CLI, 'pan', ...args].map(shellQuote).join(' ');
    const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: work, env: { ...env, TERM: 'xterm', COLUMNS: '160' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    return {
      output: () => output,
      type: (text: string) => child.stdin.write(text),
      done: new Promise<number | null>((resolve) => child.on('close', resolve)),
    };
  };

  const noScript = spawnSync('script', ['--version']).status === 0 ? false : 'util-linux `script` is not installed';

  it('on a terminal: a hashing bar, then an upload bar with rate and ETA', { skip: noScript }, async () => {
    const data = randomData(40 * SLICE);
    await writeFile(join(work, 'drawn.bin'), data);
    const run = inTerminal(['upload', 'drawn.bin']);
    assert.equal(await run.done, 0, run.output());
    const output = run.output();
    const frames = output.split('\u001b[1G');
    const bar = (label: string) => new RegExp(`^${label} +[\\u2588\\u2591]{30} \\d{1,3}% \\| [\\d.]+ (B|KiB|MiB) / 2\\.50 MiB \\| [\\d.]+ (B|KiB|MiB)/s \\| ETA: \\S+`);
    assert.ok(frames.some((frame) => bar('hashing').test(frame)), output);
    assert.ok(frames.some((frame) => bar('uploading').test(frame)), output);
    assert.ok(frames.some((frame) => /^uploading [\u2588]{30} 100% \| 2\.50 MiB \/ 2\.50 MiB/.test(frame)), output);
    assert.ok(!/slice \d+ stored/.test(output), 'no per-slice lines on a terminal');
    assert.match(output, /preuploadID [0-9a-f]+ \(40 slices/);
    assert.match(output, new RegExp(`uploaded drawn\\.bin as fileID \\d+: 40 of 40 slices sent \\(MD5 ${md5(data)}, checked\\)`));
  });

  it('on a terminal, Ctrl-C stops the bar, gives the cursor back and exits 130', { skip: noScript }, async () => {
    const data = randomData(200 * SLICE);
    await writeFile(join(work, 'typed.bin'), data);
    const run = inTerminal(['upload', 'typed.bin']);
    await until(() => /preuploadID [0-9a-f]+ \(200 slices/.test(run.output()), 'the preuploadID');
    run.type('\u0003');
    assert.equal(await run.done, 130, run.output());
    const id = /preuploadID ([0-9a-f]+) /.exec(run.output())![1]!;
    assert.ok(run.output().includes(`interrupted: the slices stored so far stay on the server under preuploadID ${id}`), run.output());
    assert.ok(run.output().lastIndexOf('\u001b[?25h') > run.output().lastIndexOf('\u001b[?25l'), 'the cursor is shown again');
    assert.ok(!run.output().includes('uploaded typed.bin'));
    const resumed = await cli(['upload', 'typed.bin', '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(JSON.parse(resumed.stdout).preuploadID, id);
    assert.equal(await s3Md5(server, 'typed.bin'), md5(data));
  });
});
