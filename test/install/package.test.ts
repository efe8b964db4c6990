import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, PutObjectCommand, S3Client, CreateBucketCommand } from '@aws-sdk/client-s3';
import { REPO_ROOT } from '../helpers/server.js';

const run = promisify(execFile);

/**
 * The package as a user gets it (docs/install.md): `npm pack` of the checkout, then
 * `npm install -g` of that tarball into a prefix of its own. better-sqlite3 compiles there (about a
 * minute and a half on 2 cores): this is the slow test of the suite, and the only one that proves the
 * tarball carries everything `tessera` needs at run time (dist/src, dist/console, the dependencies).
 */
describe('npm pack, then npm install -g of the tarball', { timeout: 600_000 }, () => {
  let work: string;
  let bin: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tessera-install-'));
    // --ignore-scripts: pack dist/ as the suite built it; a build here would rewrite dist/ under the other tests.
    const packed = await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], { cwd: REPO_ROOT, maxBuffer: 64 << 20 });
    const [{ filename }] = JSON.parse(packed.stdout) as Array<{ filename: string }>;
    await run('npm', ['install', '--global', '--prefix', join(work, 'global'), '--prefer-offline', '--no-audit', '--no-fund', join(work, filename!)], {
      cwd: work,
      maxBuffer: 64 << 20,
    });
    bin = join(work, 'global', 'bin', 'tessera');
  });
  after(async () => rm(work, { recursive: true, force: true }));

  it('puts a tessera on the PATH that prints the version of package.json', async () => {
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    const printed = await run(bin, ['--version']);
    assert.equal(printed.stdout.trim(), version);
  });

  it('npx --no-install tessera runs the checkout\'s own CLI (never the registry\'s unrelated package)', async () => {
    const printed = await run('npx', ['--no-install', 'tessera', '--version'], { cwd: REPO_ROOT });
    const { version } = JSON.parse(await readFile(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(printed.stdout.trim(), version);
  });

  it('serves S3 and the web console from the installed package alone', async () => {
    const data = join(work, 'data');
    const server = spawn(bin, ['serve', '--data', data, '--address', '127.0.0.1:0', '--log-level', 'warn'], {
      cwd: work,
      env: { ...process.env, TESSERA_ROOT_USER: 'installed-root', TESSERA_ROOT_PASSWORD: 'installed-root-secret-0123' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        server.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
          out += chunk;
          const match = /Tessera listening on (http:\/\/\S+)/.exec(out);
          if (match) resolve(match[1]!);
        });
        server.once('exit', (code) => reject(new Error(`the installed server exited with ${code}: ${out}`)));
      });
      const console = await fetch(`${url}/-/console/`);
      assert.equal(console.status, 200);
      assert.match(await console.text(), /<div id="app">|<script/);
      const s3 = new S3Client({
        endpoint: url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: 'installed-root', secretAccessKey: 'installed-root-secret-0123' },
      });
      await s3.send(new CreateBucketCommand({ Bucket: 'installed' }));
      await s3.send(new PutObjectCommand({ Bucket: 'installed', Key: 'hello.txt', Body: 'from the tarball' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: 'installed', Key: 'hello.txt' }));
      assert.equal(await got.Body!.transformToString(), 'from the tarball');
      s3.destroy();
    } finally {
      server.kill('SIGTERM');
    }
  });
});
