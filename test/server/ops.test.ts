import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';

import { openSigned, rawRequest, signedRequest } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import { CLI, filesUnder, ROOT_ACCESS_KEY, ROOT_SECRET_KEY, startServer, type TestServer } from '../helpers/server.js';

const MiB = 1024 * 1024;

// --- helpers -----------------------------------------------------------------

/** The test's environment without any TESSERA_* variable, so only what a case sets is seen. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('TESSERA_')) env[name] = value;
  return { ...env, ...extra };
}

interface Cli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
  /** Resolves with the first match of `pattern` in stdout; rejects if the process exits first. */
  waitForStdout(pattern: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** SIGKILL if still running. */
  kill(): Promise<void>;
}

/** Runs the built CLI as a real process (for the cases the harness cannot express). */
function spawnCli(args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Cli {
  const child = spawn(process.execPath, [CLI, ...args], { env: options.env ?? cleanEnv(), cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStdout: (pattern, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} in time\nstdout: ${out}\nstderr: ${err}`)), timeoutMs);
        const check = () => {
          const match = pattern.exec(out);
          if (match) {
            clearTimeout(timer);
            child.stdout!.off('data', check);
            resolve(match);
          }
        };
        child.stdout!.on('data', check);
        check();
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`exited with ${code} before ${pattern}\nstdout: ${out}\nstderr: ${err}`));
        });
      }),
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Waits for a process to exit, failing after `timeoutMs`. */
async function exitCode(cli: Cli, timeoutMs = 20_000): Promise<number | null> {
  let timer!: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not exit in time\nstdout: ${cli.stdout()}\nstderr: ${cli.stderr()}`)), timeoutMs);
  });
  try {
    return await Promise.race([cli.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const rootEnv = { TESSERA_ROOT_USER: ROOT_ACCESS_KEY, TESSERA_ROOT_PASSWORD: ROOT_SECRET_KEY };

function sdk(url: string, credentials = { accessKeyId: ROOT_ACCESS_KEY, secretAccessKey: ROOT_SECRET_KEY }): S3Client {
  return s3Client({ url } as TestServer, credentials);
}

/** Polls `probe` every 100 ms until it returns true or the deadline passes. */
async function eventually(probe: () => Promise<boolean>, deadlineMs: number): Promise<boolean> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > until) return false;
    await sleep(100);
  }
}

interface LogLine {
  level: string;
  msg: string;
  requestId?: string;
  user?: string;
  dialect?: string;
  operation?: string;
  status?: number;
  errorCode?: string;
  bytesIn?: number;
  bytesOut?: number;
  durationMs?: number;
}

function jsonLines(stdout: string): LogLine[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

const md5Hex = (data: Buffer) => createHash('md5').update(data).digest('hex');

// --- tests -------------------------------------------------------------------

describe('operations', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  async function server(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
    // About one process (its output, root credentials, signals): never a cluster.
    const started = await startServer({ ...options, singleNode: true });
    cleanups.push(() => started.cleanup());
    return started;
  }

  async function tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-ops-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  it('GET /-/health answers 200 without auth, while S3 requests still need a signature', async () => {
    const s = await server();
    const health = await rawRequest(`${s.url}/-/health`, {});
    assert.equal(health.status, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
    const head = await rawRequest(`${s.url}/-/health`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    const anonymous = await rawRequest(`${s.url}/`, {});
    assert.equal(anonymous.status, 403);
    assert.match(anonymous.body, /<Code>AccessDenied<\/Code>/);
  });

  it('the start line names the real port', async () => {
    const s = await server();
    const match = /^Tessera listening on http:\/\/127\.0\.0\.1:(\d+)$/m.exec(s.stdout());
    assert.ok(match, s.stdout());
    const port = Number(match[1]);
    assert.ok(port > 0, 'port 0 was resolved to the port actually bound');
    assert.equal((await rawRequest(`http://127.0.0.1:${port}/-/health`, {})).status, 200);
  });

  it('without root env vars, the first start generates root credentials (0600 file) and later starts reuse them', async () => {
    const first = await server({ noRootEnv: true });
    const printed = first.stdout();
    assert.match(printed, /Generated root credentials/);
    const accessKey = /access key: (\S+)/.exec(printed)?.[1];
    const secretKey = /secret key: (\S+)/.exec(printed)?.[1];
    assert.ok(accessKey && secretKey, printed);
    assert.notEqual(accessKey, ROOT_ACCESS_KEY);

    const file = join(first.dataDir, 'root-credentials.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600, 'readable by the owner only');
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { accessKey, secretKey });

    const credentials = { accessKeyId: accessKey, secretAccessKey: secretKey };
    await sdk(first.url, credentials).send(new CreateBucketCommand({ Bucket: 'generated-root' }));
    // There is no built-in default: the harness's usual root pair is unknown here.
    await assert.rejects(sdk(first.url).send(new ListBucketsCommand({})), { name: 'InvalidAccessKeyId' });
    assert.equal(await first.stop(), 0);

    const second = await server({ noRootEnv: true, dataDir: first.dataDir });
    assert.doesNotMatch(second.stdout(), /Generated root credentials|secret key/);
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { accessKey, secretKey }, 'the stored pair is kept');
    const listed = await sdk(second.url, credentials).send(new ListBucketsCommand({}));
    assert.deepEqual(listed.Buckets?.map((b) => b.Name), ['generated-root']);
  });

  it('TESSERA_DATA and TESSERA_ADDRESS work in place of flags, and flags override them', async () => {
    const dataDir = await tempDir();
    const viaEnv = spawnCli(['serve'], { env: cleanEnv({ ...rootEnv, TESSERA_DATA: dataDir, TESSERA_ADDRESS: '127.0.0.1:0' }) });
    cleanups.push(() => viaEnv.kill());
    const url = (await viaEnv.waitForStdout(/Tessera listening on (http:\/\/127\.0\.0\.1:(\d+))/))[1]!;
    assert.notEqual(new URL(url).port, '0');
    await sdk(url).send(new CreateBucketCommand({ Bucket: 'env-configured' }));
    assert.ok((await stat(join(dataDir, 'meta.db'))).isFile(), 'metadata lives in TESSERA_DATA');
    viaEnv.child.kill('SIGTERM');
    assert.equal(await exitCode(viaEnv), 0);

    const flagDir = await tempDir();
    const viaFlags = spawnCli(['serve', '--data', flagDir, '--address', '127.0.0.1:0'], {
      env: cleanEnv({ ...rootEnv, TESSERA_DATA: dataDir, TESSERA_ADDRESS: 'not-an-address' }),
    });
    cleanups.push(() => viaFlags.kill());
    const flagUrl = (await viaFlags.waitForStdout(/Tessera listening on (http:\/\/\S+)/))[1]!;
    const listed = await sdk(flagUrl).send(new ListBucketsCommand({}));
    assert.deepEqual(listed.Buckets ?? [], [], '--data wins over TESSERA_DATA: a fresh store');
    assert.ok((await stat(join(flagDir, 'meta.db'))).isFile());
    viaFlags.child.kill('SIGTERM');
    assert.equal(await exitCode(viaFlags), 0);
  });

  it('SIGTERM with uploads in flight exits 0; afterwards each in-flight object is complete or absent', async (t) => {
    const s = await server({ extraArgs: ['--log-level', 'info'] });
    const bucket = 'sigterm';
    assert.equal((await signedRequest(s.url, 'PUT', `/${bucket}`)).status, 200);

    // One upload the client finishes after the signal (within the grace time), one it never finishes.
    const finishing = randomBytes(8 * MiB);
    const finished = openSigned(s.url, 'PUT', `/${bucket}/finishing`, finishing.length);
    finished.req.write(finishing.subarray(0, 4 * MiB));
    const stalled = openSigned(s.url, 'PUT', `/${bucket}/stalled`, 8 * MiB);
    const stalledOutcome = stalled.response.then(
      (res) => `answered ${res.status}`,
      (err: NodeJS.ErrnoException) => `cut (${err.code ?? err.message})`,
    );
    stalled.req.write(randomBytes(2 * MiB));
    const tmp = join(s.dataDir, 'tmp');
    assert.ok(await eventually(async () => (await readdir(tmp)).length === 2, 10_000), 'both uploads are being written');

    const exit = s.stop();
    await eventually(async () => s.stdout().includes('"shutting down"'), 10_000);
    await assert.rejects(rawRequest(`${s.url}/-/health`, {}), { code: 'ECONNREFUSED' }, 'no new connections once stopping');
    finished.req.end(finishing.subarray(4 * MiB));
    const answer = await finished.response;
    assert.equal(answer.status, 200, answer.body);
    assert.equal(String(answer.headers.etag).replace(/"/g, ''), md5Hex(finishing));

    assert.equal(await exit, 0, 'a clean stop exits 0');
    t.diagnostic(`stalled upload: ${await stalledOutcome}`);
    assert.match(await stalledOutcome, /^cut/, 'the stalled upload was cut, not acknowledged');

    const restarted = await server({ dataDir: s.dataDir });
    assert.deepEqual(await readdir(join(restarted.dataDir, 'tmp')), []);
    const got = await signedRequest(restarted.url, 'GET', `/${bucket}/finishing`);
    assert.equal(got.status, 200);
    assert.equal(got.headers['content-length'], String(finishing.length));
    assert.equal(String(got.headers.etag).replace(/"/g, ''), md5Hex(finishing));
    const missing = await signedRequest(restarted.url, 'GET', `/${bucket}/stalled`);
    assert.equal(missing.status, 404);
    assert.match(missing.body, /<Code>NoSuchKey<\/Code>/);
    const blobs = join(restarted.dataDir, 'blobs');
    assert.ok(await eventually(async () => (await filesUnder(blobs)).length === 1, 5_000), 'only the finished object has bytes on disk');
  });

  it('with --log-level info, each request writes one JSON access-log line; a NoSuchKey is info, not a server fault', async () => {
    const s = await server({ extraArgs: ['--log-level', 'info'] });
    const bucket = 'access-log';
    const body = randomBytes(100_000);
    const created = await signedRequest(s.url, 'PUT', `/${bucket}`);
    const put = await signedRequest(s.url, 'PUT', `/${bucket}/object`, { body });
    const get = await signedRequest(s.url, 'GET', `/${bucket}/object`);
    const missing = await signedRequest(s.url, 'GET', `/${bucket}/no-such-key`);
    const health = await rawRequest(`${s.url}/-/health`, {});
    assert.deepEqual([created.status, put.status, get.status, missing.status, health.status], [200, 200, 200, 404, 200]);

    const ids = [created, put, get, missing].map((res) => String(res.headers['x-amz-request-id']));
    const logged = await eventually(async () => {
      const lines = jsonLines(s.stdout());
      return ids.every((id) => lines.some((line) => line.requestId === id)) && lines.some((line) => line.operation === 'Health');
    }, 5_000);
    assert.ok(logged, s.stdout());
    const lines = jsonLines(s.stdout());
    const lineOf = (id: string) => {
      const matching = lines.filter((line) => line.requestId === id);
      assert.equal(matching.length, 1, `exactly one line for request ${id}`);
      return matching[0]!;
    };

    for (const [id, operation, status] of [
      [ids[0]!, 'CreateBucket', 200],
      [ids[1]!, 'PutObject', 200],
      [ids[2]!, 'GetObject', 200],
      [ids[3]!, 'GetObject', 404],
    ] as const) {
      const line = lineOf(id);
      assert.equal(line.level, 'info');
      assert.equal(line.msg, 'request');
      assert.equal(line.user, 'root');
      assert.equal(line.dialect, 's3');
      assert.equal(line.operation, operation);
      assert.equal(line.status, status);
      assert.equal(typeof line.bytesIn, 'number');
      assert.equal(typeof line.bytesOut, 'number');
      assert.ok(typeof line.durationMs === 'number' && line.durationMs >= 0);
    }
    const putLine = lineOf(ids[1]!);
    assert.ok(putLine.bytesIn! >= body.length && putLine.bytesIn! < body.length + 8192, `PUT bytesIn ${putLine.bytesIn} counts the body`);
    const getLine = lineOf(ids[2]!);
    assert.ok(getLine.bytesOut! >= body.length && getLine.bytesOut! < body.length + 8192, `GET bytesOut ${getLine.bytesOut} counts the body`);
    assert.ok(getLine.bytesIn! > 0 && getLine.bytesIn! < 8192);
    const missingLine = lineOf(ids[3]!);
    assert.equal(missingLine.errorCode, 'NoSuchKey');
    const healthLine = lines.find((line) => line.operation === 'Health')!;
    assert.equal(healthLine.status, 200);
    assert.equal(healthLine.user, undefined);

    const faults = lines.filter((line) => line.level === 'error' || line.level === 'fatal' || line.level === 'warn');
    assert.deepEqual(faults, [], 'client errors are not logged as server faults');
  });

  it('the stale-upload sweep aborts an upload left alone and deletes its part files', async () => {
    const s = await server({ config: { uploadExpirySeconds: 1, sweepIntervalSeconds: 1 } });
    const bucket = 'sweep';
    assert.equal((await signedRequest(s.url, 'PUT', `/${bucket}`)).status, 200);
    const init = await signedRequest(s.url, 'POST', `/${bucket}/left-alone?uploads`);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(init.body)?.[1];
    assert.ok(uploadId, init.body);
    const part = await signedRequest(s.url, 'PUT', `/${bucket}/left-alone?partNumber=1&uploadId=${uploadId}`, { body: randomBytes(64 * 1024) });
    assert.equal(part.status, 200, part.body);
    const blobs = join(s.dataDir, 'blobs');
    assert.equal((await filesUnder(blobs)).length, 1, 'the part is on disk');

    const listUploads = async () => (await signedRequest(s.url, 'GET', `/${bucket}?uploads`)).body;
    assert.ok(
      await eventually(async () => !(await listUploads()).includes(uploadId), 10_000),
      'the stale upload is no longer listed',
    );
    assert.ok(await eventually(async () => (await filesUnder(blobs)).length === 0, 5_000), 'its part file is deleted');
    const late = await signedRequest(s.url, 'PUT', `/${bucket}/left-alone?partNumber=2&uploadId=${uploadId}`, { body: 'late' });
    assert.equal(late.status, 404);
    assert.match(late.body, /<Code>NoSuchUpload<\/Code>/);
  });

  it('leftovers in <data>/tmp are removed at start', async () => {
    const dataDir = await tempDir();
    await mkdir(join(dataDir, 'tmp', 'nested'), { recursive: true });
    await writeFile(join(dataDir, 'tmp', '0123456789abcdef0123456789abcdef'), randomBytes(4096));
    await writeFile(join(dataDir, 'tmp', 'nested', 'junk'), 'junk');
    const s = await server({ dataDir });
    assert.deepEqual(await readdir(join(dataDir, 'tmp')), []);
    assert.equal((await rawRequest(`${s.url}/-/health`, {})).status, 200);
  });

  describe('bad configuration exits non-zero with a clear message', () => {
    async function failing(args: string[]): Promise<{ code: number | null; stderr: string; stdout: string }> {
      const dataDir = await tempDir();
      const cli = spawnCli(['serve', '--data', dataDir, ...args], { env: cleanEnv(rootEnv) });
      cleanups.push(() => cli.kill());
      const code = await exitCode(cli);
      assert.doesNotMatch(cli.stdout(), /Tessera listening/);
      assert.doesNotMatch(cli.stderr(), /^\s+at /m, 'no stack trace');
      return { code, stderr: cli.stderr(), stdout: cli.stdout() };
    }

    it('a config file that is not JSON', async () => {
      const dir = await tempDir();
      const config = join(dir, 'broken.json');
      await writeFile(config, '{ "minPartSize": ');
      const { code, stderr } = await failing(['--address', '127.0.0.1:0', '--config', config]);
      assert.notEqual(code, 0);
      assert.match(stderr, /^Error: /m);
      assert.ok(stderr.includes(config), `names the file: ${stderr}`);
    });

    it('a config file with an invalid value', async () => {
      const dir = await tempDir();
      const config = join(dir, 'invalid.json');
      await writeFile(config, JSON.stringify({ minPartSize: -5 }));
      const { code, stderr } = await failing(['--address', '127.0.0.1:0', '--config', config]);
      assert.notEqual(code, 0);
      assert.match(stderr, /minPartSize must be a positive number/);
    });

    it('an --address that is not HOST:PORT, or a port out of range', async () => {
      for (const address of ['nonsense', '127.0.0.1:70000']) {
        const { code, stderr } = await failing(['--address', address]);
        assert.notEqual(code, 0);
        assert.match(stderr, new RegExp(`invalid address "${address}": expected HOST:PORT`));
      }
    });

    it('a --metadata (or TESSERA_METADATA) that is not a PostgreSQL URL', async () => {
      const { code, stderr } = await failing(['--address', '127.0.0.1:0', '--metadata', 'mysql://root:hunter2@db/tessera']);
      assert.equal(code, 2);
      assert.match(stderr, /^Error: metadata: the scheme "mysql" is not PostgreSQL's; expected postgres:\/\/USER:PASS@HOST:PORT\/DB/m);
      assert.doesNotMatch(stderr, /hunter2/, 'the password is not repeated');
    });

    it('an --address whose port is taken', async () => {
      const blocker = createNetServer();
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => new Promise((resolve) => blocker.close(resolve)));
      const port = (blocker.address() as { port: number }).port;
      const { code, stderr } = await failing(['--address', `127.0.0.1:${port}`]);
      assert.notEqual(code, 0);
      assert.match(stderr, new RegExp(`^Error: .*127\\.0\\.0\\.1:${port}.*EADDRINUSE`, 'm'));
    });
  });

  it("npm start's command with no arguments listens on 127.0.0.1:9000 with ./data", async (t) => {
    const free = await new Promise<boolean>((resolve) => {
      const probe = createNetServer();
      probe.once('error', () => resolve(false));
      probe.listen(9000, '127.0.0.1', () => probe.close(() => resolve(true)));
    });
    if (!free) {
      t.skip('127.0.0.1:9000 is in use');
      return;
    }
    const cwd = await tempDir();
    const cli = spawnCli(['serve'], { cwd, env: cleanEnv() });
    cleanups.push(() => cli.kill());
    let line: RegExpExecArray;
    try {
      line = await cli.waitForStdout(/Tessera listening on (\S+)/);
    } catch (err) {
      if (/EADDRINUSE/.test(cli.stderr())) {
        t.skip('127.0.0.1:9000 was taken meanwhile');
        return;
      }
      throw err;
    }
    assert.equal(line[1], 'http://127.0.0.1:9000');
    assert.equal((await rawRequest('http://127.0.0.1:9000/-/health', {})).status, 200);
    assert.ok((await stat(join(cwd, 'data', 'meta.db'))).isFile(), 'the data directory defaults to ./data');
    assert.equal((await stat(join(cwd, 'data', 'root-credentials.json'))).mode & 0o777, 0o600);
    cli.child.kill('SIGTERM');
    assert.equal(await exitCode(cli), 0);
  });
});
