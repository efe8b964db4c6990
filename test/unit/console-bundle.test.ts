/**
 * The console's bundle is a fixed set of regular files: a symbolic link in the build output
 * (to a file or a directory outside it) is never taken in, so no request can reach its target.
 * Served through the real route and HTTP front on a socket, from a bundle made here.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage } from '../../src/core/storage.js';
import { TemporaryCredentials } from '../../src/core/temporary-credentials.js';
import { UserDirectory } from '../../src/core/users.js';
import { ConsoleBundle } from '../../src/server/console/assets.js';
import { bundlePath, ConsoleRoute } from '../../src/server/console/route.js';
import { SignInLimiter } from '../../src/server/console/sign-in-limiter.js';
import { closeHttpServer, createHttpServer } from '../../src/server/http.js';
import { createLogger } from '../../src/server/logger.js';
import { rawRequest } from '../helpers/raw.js';

/** These tests serve the bundle only: no 123pan app, so no drive. */
const NO_PAN = { apps: [], service: () => Promise.reject(new Error('no 123pan service in this test')) };

describe('console bundle', () => {
  let dir: string;
  let outside: string;
  let dataDir: string;
  let storage: Storage;
  let server: Server;
  let url: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-bundle-'));
    outside = await mkdtemp(join(tmpdir(), 'tessera-outside-'));
    dataDir = await mkdtemp(join(tmpdir(), 'tessera-bundle-data-'));
    await writeFile(join(outside, 'secret.txt'), 'SECRET OUTSIDE THE BUNDLE');
    await mkdir(join(dir, 'assets'));
    await writeFile(join(dir, 'index.html'), '<!doctype html><div id="app"></div>');
    await writeFile(join(dir, 'assets', 'app-1234.js'), 'console.log(1);'.repeat(100));
    await writeFile(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
    await symlink(join(outside, 'secret.txt'), join(dir, 'assets', 'leak.js'));
    await symlink(join(outside, 'secret.txt'), join(dir, 'leak.txt'));
    await symlink(join(outside, 'secret.txt'), join(dir, 'leak'));
    await symlink(outside, join(dir, 'linked'));

    storage = await Storage.open(dataDir, { minPartSize: 1, uploadExpiryMs: 60_000 });
    const users = new UserDirectory([]);
    const route = new ConsoleRoute(await ConsoleBundle.load(dir), {
      storage,
      users,
      temporary: new TemporaryCredentials(randomBytes(32), users),
      limiter: new SignInLimiter(),
      region: 'us-east-1',
      pan: NO_PAN,
    });
    server = createHttpServer([route], createLogger('silent'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    assert.ok(address && typeof address === 'object');
    url = `http://127.0.0.1:${address.port}`;
  });

  after(async () => {
    if (server) await closeHttpServer(server, 1000);
    await storage?.close();
    for (const path of [dir, outside, dataDir]) if (path) await rm(path, { recursive: true, force: true });
  });

  it('takes in only regular files, each with its type', async () => {
    const bundle = await ConsoleBundle.load(dir);
    assert.ok(bundle.built);
    assert.equal(bundle.get('assets/app-1234.js')?.contentType, 'text/javascript; charset=utf-8');
    assert.equal(bundle.get('favicon.svg')?.contentType, 'image/svg+xml');
    assert.equal(bundle.get('assets/app-1234.js')?.immutable, true);
    assert.equal(bundle.get('index.html')?.immutable, false);
    for (const path of ['assets/leak.js', 'leak.txt', 'leak', 'linked/secret.txt']) assert.equal(bundle.get(path), undefined, path);
  });

  it('never serves what a symbolic link points at', async () => {
    for (const path of ['/-/console/assets/leak.js', '/-/console/leak.txt', '/-/console/linked/secret.txt']) {
      const res = await rawRequest(url + path, {});
      assert.equal(res.status, 404, path);
      assert.doesNotMatch(res.body, /SECRET/, path);
    }
    // A name without a dot is a client route: the page, still never the link's target.
    const route = await rawRequest(url + '/-/console/leak', {});
    assert.equal(route.status, 200);
    assert.equal(route.body, '<!doctype html><div id="app"></div>');
  });

  it('serves the files it has', async () => {
    const res = await rawRequest(url + '/-/console/favicon.svg', {});
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'image/svg+xml');
    assert.equal(res.headers['cache-control'], 'no-store');
  });

  it('a bundle that was not built answers 503 with what to do', async () => {
    const empty = await ConsoleBundle.load(join(dir, 'no-such-dir'));
    assert.equal(empty.built, false);
    const users = new UserDirectory([]);
    const route = new ConsoleRoute(empty, { storage, users, temporary: new TemporaryCredentials(randomBytes(32), users), limiter: new SignInLimiter(), region: 'us-east-1', pan: NO_PAN });
    const bare = createHttpServer([route], createLogger('silent'));
    await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
    try {
      const address = bare.address();
      assert.ok(address && typeof address === 'object');
      const res = await rawRequest(`http://127.0.0.1:${address.port}/-/console/`, {});
      assert.equal(res.status, 503);
      assert.match(res.body, /npm run build/);
    } finally {
      await closeHttpServer(bare, 1000);
    }
  });

  it('reads each segment of a path once and refuses what could name another place', () => {
    assert.equal(bundlePath(''), '');
    assert.equal(bundlePath('assets/app-1234.js'), 'assets/app-1234.js');
    assert.equal(bundlePath('buckets/my%20bucket/objects'), 'buckets/my bucket/objects');
    for (const raw of ['..', '.', 'a/../b', '%2e%2e/x', 'a%2fb', 'a%5cb', 'a\\b', '%00', 'a//b', '/etc/passwd', '%E0%A4%A', '%c0%ae']) {
      assert.equal(bundlePath(raw), undefined, raw);
    }
  });
});
