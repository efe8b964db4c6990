import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { postgresBinDir } from '../helpers/postgres.js';
import { rawRequest, signedRequest } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

// The cluster the S3, OSS and Pan suites run on with TESSERA_TEST_CLUSTER=1 (npm run test:cluster):
// three `tessera serve --metadata <PostgreSQL> --data <shared dir>` behind the round-robin proxy.

const skipReason = (): string | undefined => {
  if (postgresBinDir()) return undefined;
  // .ci/run installs Debian's postgresql; on CI this must not skip.
  if (process.env.CI) assert.fail('PostgreSQL server binaries are missing on CI');
  return 'PostgreSQL not installed';
};

interface Logged {
  msg?: string;
  operation?: string;
  path?: string;
}

const accessLog = (server: TestServer): Logged[] =>
  server
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Logged)
    .filter((line) => line.msg === 'request');

const health = async (url: string): Promise<number> => (await rawRequest(`${url}/-/health`, {})).status;

/** Runs `body` with TESSERA_TEST_CLUSTER set to `value`, as `npm run test:cluster` sets it. */
async function withClusterSwitch<T>(value: string | undefined, body: () => Promise<T>): Promise<T> {
  const saved = process.env.TESSERA_TEST_CLUSTER;
  if (value === undefined) delete process.env.TESSERA_TEST_CLUSTER;
  else process.env.TESSERA_TEST_CLUSTER = value;
  try {
    return await body();
  } finally {
    if (saved === undefined) delete process.env.TESSERA_TEST_CLUSTER;
    else process.env.TESSERA_TEST_CLUSTER = saved;
  }
}

describe('test cluster', { skip: skipReason() }, () => {
  let cluster: TestCluster;
  const cleanups: Array<() => Promise<unknown>> = [];

  before(async () => {
    cluster = await startCluster({ extraArgs: ['--log-level', 'info', '--pan-address', '127.0.0.1:0'] });
    cleanups.push(() => cluster.cleanup());
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('starts three nodes on one PostgreSQL and one data directory, behind the proxy', () => {
    assert.equal(cluster.nodes.length, 3);
    assert.equal(cluster.url, cluster.proxy.url);
    assert.ok(cluster.proxy.process.pid !== process.pid && cluster.proxy.process.exitCode === null, 'the proxy runs in a process of its own');
    assert.equal(cluster.process, cluster.nodes[0]!.process);
    for (const node of cluster.nodes) {
      const args = node.process.spawnargs;
      assert.equal(args[args.indexOf('--metadata') + 1], cluster.postgres.url);
      assert.equal(args[args.indexOf('--data') + 1], cluster.dataDir);
      assert.equal(node.dataDir, cluster.dataDir);
      assert.notEqual(node.url, cluster.url);
    }
    assert.equal(new Set(cluster.nodes.map((node) => node.url)).size, 3);
  });

  it('spreads requests over the nodes in turn, and stdout() is every node\'s, with the proxy\'s address', async () => {
    const before = await cluster.proxy.requestsBy();
    for (let i = 0; i < 6; i++) assert.equal(await health(cluster.url), 200);
    assert.deepEqual(await cluster.proxy.requestsBy(), before.map((count) => count + 2));
    const out = cluster.stdout();
    assert.equal(out.split('\n').filter((line) => line === `Tessera listening on ${cluster.url}`).length, 3);
    assert.equal(out.split('\n').filter((line) => line === `Tessera 123pan API listening on ${cluster.panUrl}`).length, 3);
    for (const node of cluster.nodes) assert.ok(!out.includes(node.url), `${node.url} is written as the proxy's`);
    // Each node logged its own share, and the cluster's stdout holds them all.
    const ownHealth = (node: TestServer) => node.stdout().split('\n').filter((line) => line.includes('"operation":"Health"')).length;
    const shares = await eventually(() => cluster.nodes.map(ownHealth), (counts) => counts.every((n) => n >= 2));
    assert.ok(shares.every((n) => n >= 2), `every node logged its share: ${shares.join(', ')}`);
    const total = shares.reduce((a, b) => a + b, 0);
    assert.equal(accessLog(cluster).filter((line) => line.operation === 'Health').length, total);
  });

  it('serves the same buckets and objects from every node', async () => {
    assert.equal((await signedRequest(cluster.url, 'PUT', '/shared')).status, 200);
    const put = await signedRequest(cluster.url, 'PUT', '/shared/one.txt', { body: 'written once' });
    assert.equal(put.status, 200, put.body);
    for (const node of cluster.nodes) {
      const got = await signedRequest(node.url, 'GET', '/shared/one.txt');
      assert.equal(got.status, 200, `${node.url}: ${got.body}`);
      assert.equal(got.body, 'written once');
    }
  });

  it('kill(i) takes one node down, the proxy skips it, restart(i) brings it back on the same database and directory', async () => {
    const killed = cluster.nodes[1]!;
    await cluster.kill(1);
    assert.equal(killed.process.signalCode, 'SIGKILL');
    for (let i = 0; i < 6; i++) assert.equal((await signedRequest(cluster.url, 'GET', '/shared/one.txt')).body, 'written once');
    await cluster.restart(1);
    const revived = cluster.nodes[1]!;
    assert.notEqual(revived, killed);
    assert.equal(revived.process.spawnargs[revived.process.spawnargs.indexOf('--metadata') + 1], cluster.postgres.url);
    const before = (await cluster.proxy.requestsBy())[1]!;
    for (let i = 0; i < 3; i++) assert.equal((await signedRequest(cluster.url, 'GET', '/shared/one.txt')).body, 'written once');
    assert.equal((await cluster.proxy.requestsBy())[1], before + 1);
    assert.equal((await signedRequest(revived.url, 'GET', '/shared/one.txt')).body, 'written once');
  });

  it('keeps the metadata in PostgreSQL, not in a meta.db in the shared directory', async () => {
    const top = await readdir(cluster.dataDir);
    assert.ok(!top.some((name) => name.startsWith('meta.db')), top.join(','));
    const client = new pg.Client({ connectionString: cluster.postgres.url });
    await client.connect();
    try {
      const tables = await client.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'");
      assert.ok(tables.rows[0].n > 0, 'the schema is in PostgreSQL');
    } finally {
      await client.end();
    }
  });

  it('stop() ends every node; a restart on the same dataDir is the same cluster; cleanup() removes it all', async () => {
    assert.equal(await cluster.stop(), 0);
    for (const node of cluster.nodes) assert.equal(node.process.exitCode, 0);
    await assert.rejects(connected(cluster.url), /ECONNREFUSED/, 'the proxy is gone too');
    assert.notEqual(cluster.proxy.process.exitCode ?? cluster.proxy.process.signalCode, null, 'its process ended');
    const second = await withClusterSwitch('1', () => startServer({ dataDir: cluster.dataDir }));
    cleanups.push(() => second.cleanup());
    assert.equal((second as TestCluster).postgres, cluster.postgres, 'the same database');
    assert.equal((second as TestCluster).nodes.length, 3);
    assert.equal((await signedRequest(second.url, 'GET', '/shared/one.txt')).body, 'written once');
    await second.cleanup();
    assert.ok(existsSync(cluster.dataDir), 'the directory is the first cluster\'s to remove');
    await cluster.cleanup();
    assert.ok(!existsSync(cluster.dataDir));
    const client = new pg.Client({ connectionString: cluster.postgres.url });
    await assert.rejects(client.connect(), /ECONNREFUSED/);
  });
});

describe('the cluster switch', { skip: skipReason() }, () => {
  it('startServer() starts a cluster with TESSERA_TEST_CLUSTER=1, one process without it or with singleNode', async () => {
    const clustered = await withClusterSwitch('1', () => startServer());
    try {
      assert.equal((clustered as TestCluster).nodes?.length, 3);
      assert.equal(await health(clustered.url), 200);
      assert.ok(existsSync(join(clustered.dataDir, 'blobs')));
    } finally {
      await clustered.cleanup();
    }
    for (const single of [await withClusterSwitch(undefined, () => startServer()), await withClusterSwitch('1', () => startServer({ singleNode: true }))]) {
      try {
        assert.equal((single as Partial<TestCluster>).nodes, undefined);
        assert.ok(!single.process.spawnargs.includes('--metadata'));
        assert.equal(await health(single.url), 200);
      } finally {
        await single.cleanup();
      }
    }
  });
});

/** A new TCP connection to the URL's port (not a kept-alive one). */
function connected(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(new URL(url).port), '127.0.0.1', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** Polls `read` until `done` accepts its value (the access-log line of a request may land after its response). */
async function eventually<T>(read: () => T, done: (value: T) => boolean): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = read();
    if (done(value)) return value;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return read();
}
