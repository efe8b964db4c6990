import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { postgresBinDir, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { rawRequest, type RawResponse } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

// `/-/ready`: 200 only while the metadata store answers and the blob directory takes a write;
// 503 naming what failed otherwise, and 200 again once it is repaired. Unsigned, like /-/health.

interface ReadyBody {
  status: string;
  failed?: string[];
  checks?: Record<string, string>;
}

const ready = async (server: TestServer, method = 'GET'): Promise<RawResponse & { json?: ReadyBody }> => {
  const res = await rawRequest(`${server.url}/-/ready`, { method });
  return { ...res, json: res.body ? (JSON.parse(res.body) as ReadyBody) : undefined };
};

/** Polls /-/ready until its status is `status` (a repaired store may take a moment to be seen). */
async function readyBecomes(server: TestServer, status: number, timeoutMs = 15_000): Promise<RawResponse & { json?: ReadyBody }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await ready(server);
    if (res.status === status || Date.now() > deadline) return res;
    await sleep(100);
  }
}

/** Makes the node's temp directory (where the probe writes) a plain file, so no file can be made in it; returns the repair. */
async function breakTempDir(tempDir: string): Promise<() => Promise<void>> {
  await rm(tempDir, { recursive: true, force: true });
  await writeFile(tempDir, 'not a directory');
  return async () => {
    await rm(tempDir, { force: true });
    await mkdir(tempDir);
  };
}

describe('/-/ready on one node (SQLite)', () => {
  let server: TestServer;

  before(async () => {
    server = await startServer({ singleNode: true });
  });

  after(async () => {
    await server?.cleanup();
  });

  it('answers 200 {"status":"ready"} without credentials; HEAD has no body', async () => {
    const res = await ready(server);
    assert.equal(res.status, 200);
    assert.equal(res.body, '{"status":"ready"}');
    assert.equal(res.headers['content-type'], 'application/json');
    const head = await ready(server, 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
  });

  it('answers 503 naming the blob directory while it takes no write, and 200 once repaired', async () => {
    const repair = await breakTempDir(join(server.dataDir, 'tmp'));
    try {
      const res = await ready(server);
      assert.equal(res.status, 503);
      assert.deepEqual(res.json, { status: 'not ready', failed: ['blobs'], checks: { metadata: 'ok', blobs: 'ENOTDIR' } });
      // Nothing about the data directory's path goes to an unauthenticated caller.
      assert.doesNotMatch(res.body, new RegExp(server.dataDir));
      assert.equal((await ready(server, 'HEAD')).status, 503);
      // The log says what failed, once.
      await sleep(100);
      const warnings = server.stdout().split('\n').filter((line) => line.includes('"msg":"not ready"'));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /ENOTDIR/);
    } finally {
      await repair();
    }
    const res = await ready(server);
    assert.equal(res.status, 200);
    assert.equal(res.body, '{"status":"ready"}');
    // The probe leaves nothing behind.
    assert.deepEqual(await readdir(join(server.dataDir, 'tmp')), []);
  });
});

const skipReason = (): string | undefined => {
  if (postgresBinDir()) return undefined;
  if (process.env.CI) assert.fail('PostgreSQL server binaries are missing on CI');
  return 'PostgreSQL not installed';
};

describe('/-/ready in cluster mode (PostgreSQL)', { skip: skipReason() }, () => {
  let postgres: TestPostgres;
  let server: TestServer;

  before(async () => {
    postgres = await startPostgres();
    server = await startServer({ metadata: postgres.url });
  });

  after(async () => {
    await server?.cleanup();
    await postgres?.cleanup();
  });

  it('answers 200, then 503 naming the metadata store while PostgreSQL is down, then 200 once it is back', async () => {
    assert.equal((await ready(server)).status, 200);
    await postgres.stop();
    const down = await readyBecomes(server, 503);
    assert.equal(down.status, 503);
    assert.equal(down.json?.status, 'not ready');
    assert.deepEqual(down.json?.failed, ['metadata']);
    assert.equal(down.json?.checks?.blobs, 'ok');
    assert.notEqual(down.json?.checks?.metadata, 'ok');
    // Unauthenticated: the database's address is not in the answer.
    assert.doesNotMatch(down.body, new RegExp(String(postgres.port)));
    await postgres.start();
    const back = await readyBecomes(server, 200);
    assert.equal(back.status, 200);
    assert.equal(back.body, '{"status":"ready"}');
  });

  it("answers 503 naming the blob directory when this node's temp directory takes no write", async () => {
    // One node: its temp files go in tmp/<node id>/.
    const [nodeDir] = await readdir(join(server.dataDir, 'tmp'));
    assert.ok(nodeDir, 'the node has a temp directory of its own');
    const repair = await breakTempDir(join(server.dataDir, 'tmp', nodeDir));
    try {
      const res = await ready(server);
      assert.equal(res.status, 503);
      assert.deepEqual(res.json, { status: 'not ready', failed: ['blobs'], checks: { metadata: 'ok', blobs: 'ENOTDIR' } });
    } finally {
      await repair();
    }
    assert.equal((await ready(server)).status, 200);
  });
});
