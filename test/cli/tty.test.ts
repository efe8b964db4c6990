/**
 * Interactive behaviour in a real pseudo-terminal (util-linux `script` allocates one and runs the
 * CLI in it): the confirmation prompt answered by typing, and the live progress bar.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listAllUploads } from '../../src/client/paging.js';
import { CLI } from '../helpers/server.js';
import { cleanEnv, client, creds, runCli, useServerAndWorkDir, waitFor } from './run.js';

const KiB = 1024;

function shellQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

interface PtyRun {
  output: () => string;
  type: (text: string) => void;
  done: Promise<number | null>;
}

/** Runs the CLI with a pseudo-terminal as its stdin, stdout and stderr. */
function inTerminal(args: string[], cwd?: string): PtyRun {
  const command = [process.execPath, CLI, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd, env: cleanEnv({ TERM: 'xterm', COLUMNS: '120' }), stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return {
    output: () => output,
    type: (text) => child.stdin.write(text),
    done: new Promise((resolve) => child.on('close', (code) => resolve(code))),
  };
}

const env = useServerAndWorkDir('tessera-tty-');

/** util-linux `script` gives the CLI a pseudo-terminal; without it these tests cannot run (as with s3cmd elsewhere). */
const noScript = spawnSync('script', ['--version']).status === 0 ? false : 'util-linux `script` is not installed';

describe('in a terminal', { skip: noScript }, () => {
  it('rm -r -m waits at the prompt, and removes after `y` is typed', async () => {
    const c = client(env.server, 's3');
    await c.createBucket('tty-prompt');
    await c.createMultipartUpload('tty-prompt', 'p/one');
    await c.createMultipartUpload('tty-prompt', 'p/two');
    try {
      const run = inTerminal(['rm', '-r', '-m', 's3://tty-prompt/p/', ...creds(env.server)]);
      const question = 'Do you really mean to remove recursively multipart uploadIds of s3://tty-prompt/p/(y or N)? ';
      await waitFor(() => run.output().includes(question), 20_000, 'the prompt');
      const uploads = [];
      for await (const u of listAllUploads(c, 'tty-prompt')) uploads.push(u);
      assert.equal(uploads.length, 2, 'nothing is removed while the question waits');
      run.type('y\n');
      assert.equal(await run.done, 0, run.output());
      assert.match(run.output(), /\(y or N\)\? y\r\n/, 'the typed answer is echoed by the terminal');
      assert.match(run.output(), /\rSucceed: Total 2 uploadIds\. Removed 2 uploadIds\.\r\n/);
      for await (const u of listAllUploads(c, 'tty-prompt')) assert.fail(`left: ${u.key}`);
    } finally {
      c.destroy();
    }
  });

  it('cp draws a live progress bar with bytes, rate and ETA', async () => {
    const c = client(env.server, 'oss');
    await c.createBucket('tty-bar');
    c.destroy();
    const file = join(env.work, 'bar.bin');
    await writeFile(file, randomBytes(3000 * KiB));
    const run = inTerminal(['cp', file, 'oss://tty-bar/bar.bin', '--maxupspeed', '1500', ...creds(env.server)]);
    assert.equal(await run.done, 0, run.output());
    const output = run.output();
    // cli-progress redraws the line in place: blocks for the bar, then percent, bytes, rate and ETA.
    const frames = output.split('\u001b[1G').filter((frame) => frame.includes('ETA:'));
    assert.ok(frames.length >= 3, `several redraws (${frames.length})`);
    for (const frame of frames) {
      assert.match(frame, /^[\u2588\u2591]{30} \d{1,3}% \| [\d.]+ (B|KiB|MiB) \/ 2\.93 MiB \| [\d.]+ (B|KiB|MiB)\/s \| ETA: \S+/);
    }
    assert.ok(frames.some((frame) => /^\u2588+\u2591+ \d{1,2}% /.test(frame)), 'a partly filled bar');
    assert.match(frames.at(-1)!, /^\u2588{30} 100% \| 2\.93 MiB \/ 2\.93 MiB/);
    assert.match(output, /Succeed: Total num: 1, size: 3,072,000\. OK num: 1\(upload 1 files\)\./);
  });

  it('Ctrl-C stops cp at once and gives the cursor back; the next run resumes from the checkpoint', async () => {
    const file = join(env.work, 'interrupted.bin');
    await writeFile(file, randomBytes(12 * 256 * KiB));
    const args = ['cp', file, 'oss://tty-bar/interrupted.bin', '--bigfile-threshold', String(1024 * KiB), '--part-size', String(256 * KiB), ...creds(env.server)];
    const run = inTerminal([...args, '--maxupspeed', '512'], env.work);
    await waitFor(() => /[\u2588]+[\u2591]+ [1-9]\d?% /.test(run.output()), 20_000, 'the bar to move');
    run.type('\u0003');
    assert.equal(await run.done, 130, 'interrupted by SIGINT');
    assert.ok(run.output().includes('\u001b[?25h'), 'the cursor is shown again');
    assert.ok(!run.output().includes('Succeed'));
    const checkpoints = await readdir(join(env.work, '.ossutil_checkpoint'));
    assert.equal(checkpoints.length, 1);
    const resumed = await runCli(args, { cwd: env.work });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stdout, /Succeed: Total num: 1, size: 3,145,728\. OK num: 1\(upload 1 files\)\./);
    const c = client(env.server, 'oss');
    try {
      const head = await c.headObject('tty-bar', 'interrupted.bin');
      assert.equal(head.size, 12 * 256 * KiB);
      assert.match(head.etag, /-12"$/);
    } finally {
      c.destroy();
    }
  });

  it('without a terminal, cp prints ossutil\'s progress lines instead of a bar', async () => {
    const file = join(env.work, 'lines.bin');
    await writeFile(file, randomBytes(1500 * KiB));
    const result = await runCli(['cp', file, 'oss://tty-bar/lines.bin', '--maxupspeed', '1000', ...creds(env.server)], {
      env: { TESSERA_PROGRESS_INTERVAL: '0.25' },
    });
    assert.equal(result.code, 0, result.stderr);
    assert.ok(!/[\u2588\u2591]/.test(result.stdout), 'no bar');
    const lines = result.stdout.split('\r').filter((line) => line.startsWith('Total num:'));
    assert.ok(lines.length >= 2, `progress lines: ${JSON.stringify(result.stdout)}`);
    for (const line of lines) {
      assert.match(line.trimEnd(), /^Total num: 1, size: 1,536,000\. Dealed num: [01](\(upload 1 files\))?, OK size: [\d,]+, Progress: \d+\.\d{3}%, Speed: \d+\.\d{2}KB\/s$/);
    }
  });
});

