import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, type TestServer } from '../helpers/server.js';
import { APP, login, md5, ok, randomData, s3Md5, SLICE, startPanServer } from './helpers.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('tessera pan (CLI) against the pan-only listener', () => {
  let server: TestServer;
  let panUrl: string;
  let work: string;
  let env: NodeJS.ProcessEnv;

  /** Runs the CLI; `killWhen` may SIGKILL it once its stderr says enough. */
  const cli = (args: string[], killWhen?: (stderr: string) => boolean): Promise<Run> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLI, 'pan', ...args], { env, cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr += chunk;
        if (killWhen?.(stderr)) child.kill('SIGKILL');
      });
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });

  before(async () => {
    server = await startPanServer({}, { extraArgs: ['--pan-address', '127.0.0.1:0'] });
    panUrl = /Tessera 123pan API listening on (http:\/\/\S+)/.exec(server.stdout())![1]!;
    work = await mkdtemp(join(tmpdir(), 'tessera-pan-cli-'));
    env = { ...process.env, XDG_CONFIG_HOME: join(work, 'config') };
    delete env.TESSERA_PAN_CONFIG;
  });
  after(async () => {
    await server?.cleanup();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('serves only the pan dialect on --pan-address, with servers[] pointing at it', async () => {
    assert.notEqual(panUrl, server.url);
    const s3Style = await fetch(`${panUrl}/`);
    assert.equal(s3Style.status, 404);
    assert.equal(((await s3Style.json()) as { code: number }).code, 404);
    const token = await login(panUrl);
    const created = await ok(panUrl, 'POST', '/upload/v2/file/create', { token, json: { parentFileID: 0, filename: 'where.bin', etag: md5(Buffer.from('where')), size: 5 } });
    assert.deepEqual(created.servers, [panUrl]);
  });

  it('login keeps the token in $XDG_CONFIG_HOME/tessera/pan.json, mode 0600; a wrong secret fails', async () => {
    const wrong = await cli(['login', '--endpoint', panUrl, '--client-id', APP.clientID, '--client-secret', 'nope']);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /^Error: .*401/m);
    const good = await cli(['login', '--endpoint', panUrl, '--client-id', APP.clientID, '--client-secret', APP.clientSecret]);
    assert.equal(good.code, 0, good.stderr);
    const path = join(work, 'config', 'tessera', 'pan.json');
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    const saved = JSON.parse(await readFile(path, 'utf8'));
    assert.equal(saved.endpoint, panUrl);
    assert.equal(saved.accessToken.split('.').length, 3);
  });

  it('mkdir, upload (V1 and V2, instant the second time), ls, download and rm', async () => {
    const folder = await cli(['mkdir', 'cli-docs']);
    assert.equal(folder.code, 0, folder.stderr);
    const folderId = folder.stdout.trim();
    assert.match(folderId, /^\d+$/);
    const data = randomData(5 * SLICE + 100);
    await writeFile(join(work, 'report.bin'), data);
    const v1 = await cli(['upload', 'report.bin', '--parent', folderId, '--v1', '--json']);
    assert.equal(v1.code, 0, v1.stderr);
    const first = JSON.parse(v1.stdout);
    assert.deepEqual([first.reuse, first.slices, first.uploadedSlices], [false, 6, 6]);
    assert.equal(await s3Md5(server, 'cli-docs/report.bin'), md5(data));
    const v2 = await cli(['upload', 'report.bin', '--name', 'again.bin', '--v2']);
    assert.equal(v2.code, 0, v2.stderr);
    assert.match(v2.stdout, /instant upload/);

    const listed = await cli(['ls', folderId, '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const entries = JSON.parse(listed.stdout);
    assert.deepEqual(entries.map((entry: { filename: string; fileId: number }) => [entry.filename, entry.fileId]), [['report.bin', first.fileID]]);
    const table = await cli(['ls']);
    assert.match(table.stdout, /^fileId\s+type\s+size/);
    assert.match(table.stdout, /dir\s.*cli-docs/);
    assert.match(table.stdout, /again\.bin/);

    const downloaded = await cli(['download', String(first.fileID), '-o', 'copy.bin']);
    assert.equal(downloaded.code, 0, downloaded.stderr);
    assert.deepEqual(await readFile(join(work, 'copy.bin')), data);

    const removed = await cli(['rm', String(first.fileID)]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.deepEqual(JSON.parse((await cli(['ls', folderId, '--json'])).stdout), []);
  });

  it('resumes an upload killed midway; parts lists what is stored', async () => {
    const data = randomData(40 * SLICE + 9);
    await writeFile(join(work, 'big.bin'), data);
    const killed = await cli(['upload', 'big.bin', '--v2', '--parallel', '1'], (stderr) => (stderr.match(/slice \d+ stored/g) ?? []).length >= 3);
    assert.equal(killed.code, null, 'the upload was killed before it finished');
    // The same file created again is the same session.
    const token = await login(server.url);
    const { preuploadID } = await ok(server.url, 'POST', '/upload/v2/file/create', { token, json: { parentFileID: 0, filename: 'big.bin', etag: md5(data), size: data.length } });
    const parts = await cli(['parts', preuploadID, '--json']);
    assert.equal(parts.code, 0, parts.stderr);
    const listing = JSON.parse(parts.stdout).parts;
    assert.ok(listing.length >= 3, `parts stored: ${listing.length}`);
    assert.deepEqual(listing[0], { partNumber: '1', size: SLICE, etag: md5(data.subarray(0, SLICE)) });
    const tableRun = await cli(['parts', preuploadID]);
    assert.match(tableRun.stdout, new RegExp(`^partNumber\\s+size\\s+etag\\n1\\s+${SLICE}\\s+${md5(data.subarray(0, SLICE))}`));

    const resumed = await cli(['upload', 'big.bin', '--v2', '--json']);
    assert.equal(resumed.code, 0, resumed.stderr);
    const result = JSON.parse(resumed.stdout);
    assert.equal(result.preuploadID, preuploadID);
    assert.equal(result.skippedSlices, listing.length);
    assert.equal(result.uploadedSlices, 41 - listing.length);
    assert.equal(await s3Md5(server, 'big.bin'), md5(data));
  });
});
