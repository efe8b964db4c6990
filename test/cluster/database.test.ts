import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { openSigned, signedRequest } from '../helpers/raw.js';
import { startNode } from '../helpers/server.js';
import { assertOssError, ossRequest, xmlValue } from '../oss/helpers.js';
import { login, panCall, panConfig } from '../pan/helpers.js';
import {
  alive,
  assertBlobsMatchMetadata,
  eventually,
  getBytes,
  md5,
  s3Once,
  s3Failure,
  skipWithoutPostgres,
  sleep,
  tempDirOf,
  tempFiles,
} from './helpers.js';

// Issue #13: the metadata database unreachable at start (the node exits non-zero, naming the URL
// with its password masked) and lost while running (503 in each dialect's own format, nothing
// half-written becomes visible, the nodes recover by themselves when it is back, never a crash).

const MiB = 1024 * 1024;
const BUCKET = 'outage';
/** Short leases and frequent background work, so both meet the outage (and a lease runs out during it). */
const TIMINGS = { TESSERA_NODE_LEASE_MS: '1500', TESSERA_GONE_NODE_GRACE_MS: '1000', TESSERA_TEMP_SWEEP_INTERVAL_MS: '250' };

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

describe('the metadata database unreachable at start', { skip: skipWithoutPostgres() }, () => {
  it('the node exits non-zero with a message naming the URL, its password masked', async () => {
    const port = await closedPort();
    for (const [url, shown] of [
      [`postgres://tessera:hunter2@127.0.0.1:${port}/tessera`, `postgres://tessera:***@127.0.0.1:${port}/tessera`],
      [`postgresql://tessera@127.0.0.1:${port}/tessera?password=hunter2`, `postgresql://tessera@127.0.0.1:${port}/tessera?password=***`],
    ] as const) {
      const failure = await startNode({ metadata: url, singleNode: true }).then(
        async (node) => {
          await node.cleanup();
          return assert.fail('the node started without its database');
        },
        (err: Error) => err.message,
      );
      const code = Number(/server exited with (\d+)/.exec(failure)?.[1]);
      assert.ok(code > 0, failure);
      const stderr = failure.slice(failure.indexOf('stderr:'));
      assert.ok(stderr.includes(`cannot open the metadata database ${shown}`), stderr);
      assert.match(stderr, /ECONNREFUSED/);
      assert.ok(!failure.includes('hunter2'), 'the password is never printed');
      assert.ok(!/\n\s+at /.test(stderr), 'a message, not a stack trace');
    }
  });
});

describe('the metadata database lost while running', { skip: skipWithoutPostgres() }, () => {
  let cluster: TestCluster;
  let s3: S3Client[];
  let token: string;
  let uploadId: string;
  const firstPart = randomBytes(300_000);

  before(async () => {
    cluster = await startCluster({ config: { ...panConfig(), minPartSize: 1, sweepIntervalSeconds: 0.25 }, env: TIMINGS });
    s3 = cluster.nodes.map((node) => s3Once(node));
    await s3[0]!.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3[1]!.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'kept.txt', Body: 'written before the outage' }));
    uploadId = (await s3[2]!.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'interrupted.bin' }))).UploadId!;
    await s3[0]!.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'interrupted.bin', UploadId: uploadId, PartNumber: 1, Body: firstPart }));
    token = await login(cluster.nodes[0]!.url);
  });
  after(async () => {
    for (const client of s3 ?? []) client.destroy();
    await cluster?.cleanup();
  });

  /** Every dialect on every node answers 503 in its own format. */
  async function assertUnavailableEverywhere(): Promise<void> {
    for (const [i, node] of cluster.nodes.entries()) {
      const raw = await signedRequest(node.url, 'GET', `/${BUCKET}/kept.txt`);
      assert.equal(raw.status, 503, `node ${i}: ${raw.body}`);
      assert.equal(xmlValue(raw.body, 'Code'), 'ServiceUnavailable', raw.body);
      assert.match(raw.body, /^<\?xml[^>]*\?>\s*<Error>/);
      assert.deepEqual(await s3Failure(getBytes(s3[i]!, BUCKET, 'kept.txt')), { code: 'ServiceUnavailable', status: 503 }, `node ${i}: the SDK reads it`);

      assertOssError(await ossRequest(node, { bucket: BUCKET, key: 'kept.txt' }), 503, 'ServiceUnavailable');

      const pan = await panCall(node.url, 'GET', '/api/v2/file/list', { token, query: { parentFileId: 0, limit: 10 } });
      assert.equal(typeof pan.body.code, 'number');
      assert.notEqual(pan.body.code, 0, `node ${i}: ${JSON.stringify(pan.body)}`);
      assert.equal(pan.body.data, null);
      assert.ok(pan.body.message.length > 0 && pan.body['x-traceID'].length > 0);

      // The health check needs no database: the node itself is up.
      assert.equal((await fetch(`${node.url}/-/health`)).status, 200);
    }
  }

  /** Every dialect on every node works again, by itself. */
  async function assertRecovered(): Promise<void> {
    for (const [i, node] of cluster.nodes.entries()) {
      await eventually(`node ${i} answers again`, async () => ((await signedRequest(node.url, 'GET', `/${BUCKET}/kept.txt`)).status === 200 ? true : undefined), 200, 50);
      assert.equal((await getBytes(s3[i]!, BUCKET, 'kept.txt')).toString(), 'written before the outage');
      const oss = await ossRequest(node, { bucket: BUCKET, key: 'kept.txt' });
      assert.equal(oss.status, 200, oss.body);
      const pan = await panCall(node.url, 'GET', '/api/v2/file/list', { token, query: { parentFileId: 0, limit: 10 } });
      assert.equal(pan.body.code, 0, pan.body.message);
      // A new body is received, stored and committed on each node (its temp directory is still there).
      const body = randomBytes(3 * MiB);
      await s3[i]!.send(new PutObjectCommand({ Bucket: BUCKET, Key: `after-${i}.bin`, Body: body }));
      assert.equal(md5(await getBytes(s3[(i + 1) % 3]!, BUCKET, `after-${i}.bin`)), md5(body));
    }
  }

  it('stopped: 503 in each dialect\'s format on every node; a part in flight is not listed with the upload; every node recovers by itself; none crashed', async () => {
    // Part 2 in flight on node 1: its first 2 MiB on disk when the database goes.
    const inFlightTemp = await tempDirOf(cluster, cluster.nodes[1]!);
    const inFlight = openSigned(cluster.nodes[1]!.url, 'PUT', `/${BUCKET}/interrupted.bin?partNumber=2&uploadId=${uploadId}`, 6 * MiB);
    inFlight.req.write(randomBytes(3 * MiB));
    await eventually('the part is being received', async () => ((await readdir(inFlightTemp)).length > 0 ? true : undefined));

    await cluster.postgres.stop();
    inFlight.req.end(randomBytes(3 * MiB));
    const answer = await inFlight.response;
    assert.equal(answer.status, 503, answer.body);
    assert.equal(xmlValue(answer.body, 'Code'), 'ServiceUnavailable');

    await assertUnavailableEverywhere();
    // Long enough for every node's lease to run out and its background work to fail a few times.
    await sleep(3000);
    await assertUnavailableEverywhere();
    for (const node of cluster.nodes) assert.ok(alive(node), 'no node crashed');

    await cluster.postgres.start();
    await assertRecovered();
    for (const [i] of cluster.nodes.entries()) {
      const listed = await s3[i]!.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'interrupted.bin', UploadId: uploadId }));
      assert.deepEqual(listed.Parts!.map((p) => [p.PartNumber, p.ETag]), [[1, `"${md5(firstPart)}"`]], `node ${i}`);
    }
    assert.deepEqual(await tempFiles(cluster), [], 'the interrupted body went');
    await assertBlobsMatchMetadata(cluster);
    for (const node of cluster.nodes) assert.ok(alive(node), 'no node crashed');
  });

  it('killed (SIGKILL) and started again: the same; the upload goes on and completes', async () => {
    await cluster.postgres.kill();
    await assertUnavailableEverywhere();
    await cluster.postgres.start();
    await assertRecovered();
    const done = await s3[2]!.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'interrupted.bin',
        UploadId: uploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: `"${md5(firstPart)}"` }] },
      }),
    );
    assert.ok(done.ETag);
    assert.ok((await getBytes(s3[0]!, BUCKET, 'interrupted.bin')).equals(firstPart));
    await assertBlobsMatchMetadata(cluster);
    for (const node of cluster.nodes) assert.ok(alive(node), 'no node crashed');
  });
});
