import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import pg from 'pg';
import { MIGRATIONS } from '../../src/core/metadata/postgres-schema.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { s3Client } from '../helpers/s3.js';
import { startNode } from '../helpers/server.js';
import { ossRequest, xmlValues } from '../oss/helpers.js';
import { login, panCall, panConfig } from '../pan/helpers.js';
import { s3Failure, skipWithoutPostgres } from './helpers.js';

// Issue #13: three nodes started at the same moment against an empty database all serve. Without
// TESSERA_ROOT_* in the environment they end up with the same generated root credentials (one node
// prints them), which work on every node. Run ROUNDS times, each on a new empty database.

const ROUNDS = 3;
const GENERATED = /^Generated root credentials \(stored in the database\):\n {2}access key: (\S+)\n {2}secret key: (\S+)$/m;

describe('three nodes starting at once against an empty database', { skip: skipWithoutPostgres() }, () => {
  let postgres: TestPostgres;
  const cleanups: Array<() => Promise<unknown>> = [];

  before(async () => {
    postgres = await startPostgres();
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await postgres?.cleanup();
  });

  /** Drops the cluster's database and makes it again, empty. */
  async function emptyDatabase(): Promise<void> {
    const admin = new pg.Client({ connectionString: postgres.url.replace(/\/tessera$/, '/postgres') });
    await admin.connect();
    try {
      await admin.query('DROP DATABASE IF EXISTS tessera WITH (FORCE)');
      await admin.query('CREATE DATABASE tessera');
    } finally {
      await admin.end();
    }
  }

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: all serve, one prints the generated root credentials, every node takes them (S3, OSS), and pan tokens of one node work on the others`, async () => {
      await emptyDatabase();
      const dataDir = await mkdtemp(join(tmpdir(), 'tessera-start-'));
      cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
      const starting = [0, 1, 2].map(() => startNode({ metadata: postgres.url, dataDir, noRootEnv: true, singleNode: true, config: panConfig() }));
      const started = await Promise.allSettled(starting);
      const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
      for (const node of nodes) cleanups.push(() => node.cleanup());
      for (const result of started) assert.equal(result.status, 'fulfilled', result.status === 'rejected' ? String(result.reason) : '');

      const printed = nodes.map((node) => GENERATED.exec(node.stdout()));
      assert.equal(printed.filter(Boolean).length, 1, 'exactly one node printed generated credentials');
      const [, accessKeyId, secretAccessKey] = printed.find(Boolean)!;
      const credentials = { accessKeyId: accessKeyId!, secretAccessKey: secretAccessKey! };
      for (const node of nodes) assert.equal(node.stdout().includes(secretAccessKey!), printed[nodes.indexOf(node)] !== null, 'only that node prints the secret');

      // The root credentials work on every node, in S3 and in OSS; anything else is refused.
      for (const [i, node] of nodes.entries()) {
        const root = s3Client(node, credentials);
        try {
          await root.send(new CreateBucketCommand({ Bucket: `made-on-${i}` }));
        } finally {
          root.destroy();
        }
        const wrong = s3Client(node, { accessKeyId: accessKeyId!, secretAccessKey: 'not-the-secret' });
        try {
          assert.equal((await s3Failure(wrong.send(new ListBucketsCommand({})))).status, 403);
        } finally {
          wrong.destroy();
        }
      }
      for (const node of nodes) {
        const root = s3Client(node, credentials);
        try {
          assert.deepEqual((await root.send(new ListBucketsCommand({}))).Buckets!.map((b) => b.Name), ['made-on-0', 'made-on-1', 'made-on-2']);
        } finally {
          root.destroy();
        }
        const oss = await ossRequest(node, { credentials: { accessKeyId: accessKeyId!, secret: secretAccessKey! } });
        assert.equal(oss.status, 200, oss.body);
        assert.deepEqual(xmlValues(oss.body, 'Name'), ['made-on-0', 'made-on-1', 'made-on-2']);
      }

      // The pan dialect's signing secret was made once for all: a token from one node is good on each.
      const token = await login(nodes[round % 3]!.url);
      for (const node of nodes) assert.equal((await panCall(node.url, 'GET', '/upload/v2/file/domain', { token })).body.code, 0);

      // The schema was made once: each version applied once, in order.
      const client = new pg.Client({ connectionString: postgres.url });
      await client.connect();
      try {
        const versions = await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
        assert.deepEqual(versions.rows.map((row) => row.version), MIGRATIONS.map((migration) => migration.version));
      } finally {
        await client.end();
      }
      for (const node of nodes) assert.equal(await node.stop(), 0);
    });
  }
});

