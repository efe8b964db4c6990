import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { openMetadata } from '../../src/core/metadata/open.js';
import type { Metadata } from '../../src/core/metadata/types.js';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import {
  assertBlobsMatchMetadata,
  blobFiles,
  eventually,
  getBytes,
  md5,
  randomBody,
  referencedBlobs,
  s3Failure,
  s3Once,
  settle,
  skipWithoutPostgres,
  sleep,
} from './helpers.js';

// Issue #13's background work on a cluster: the stale-upload sweep and the orphan-blob sweep run
// on one node at a time (under a lease in the database) and never delete what another node
// commits. Every node sweeps every SWEEP_S seconds here, and uploads go stale after EXPIRY_S.

const EXPIRY_S = 4;
const SWEEP_S = 0.2;
const BUCKET = 'sweeps';
const KiB = 1024;
/** What a blob file nothing refers to looks like once it is older than the orphan sweep's grace (1 h). */
const TWO_HOURS_AGO = new Date(Date.now() - 2 * 3600_000);

describe('background work across nodes', { skip: skipWithoutPostgres() }, () => {
  let cluster: TestCluster;
  let s3: S3Client[];
  /** The cluster's metadata, opened as another node would: to hold a job's lease as that node. */
  let store: Metadata;
  const node = (i: number) => s3[i % 3]!;

  before(async () => {
    cluster = await startCluster({ config: { minPartSize: 1, uploadExpirySeconds: EXPIRY_S, sweepIntervalSeconds: SWEEP_S } });
    s3 = cluster.nodes.map((n) => s3Once(n));
    store = await openMetadata({ dataDir: cluster.dataDir, url: cluster.postgres.url });
    await s3[0]!.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  afterEach(async () => {
    await release('job:stale-uploads');
    await release('job:orphan-blobs');
  });
  after(async () => {
    for (const client of s3 ?? []) client.destroy();
    await store?.close();
    await cluster?.cleanup();
  });

  /** Takes a job's lease as a node that is busy with the job (waiting for a node that runs it now to finish). */
  async function hold(name: string): Promise<void> {
    await eventually(`the lease ${name} is free`, async () => {
      const now = new Date();
      return (await store.acquireLease(name, 'busy-node', new Date(now.getTime() + 3600_000), now)) ? true : undefined;
    });
  }
  /** Lets the lease go (as the busy node would, by dying: it runs out). */
  async function release(name: string): Promise<void> {
    const now = new Date();
    await store.acquireLease(name, 'busy-node', new Date(now.getTime() - 1000), now);
  }

  async function createWithParts(on: number, key: string, parts: Buffer[]): Promise<string> {
    const { UploadId } = await node(on).send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
    for (const [i, part] of parts.entries()) {
      await node(on + 1 + i).send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId, PartNumber: i + 1, Body: part }));
    }
    return UploadId!;
  }
  function complete(on: number, key: string, uploadId: string, parts: Buffer[]) {
    return node(on).send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((part, i) => ({ PartNumber: i + 1, ETag: `"${md5(part)}"` })) },
      }),
    );
  }
  const openUploads = async (on: number, prefix: string) =>
    ((await node(on).send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix }))).Uploads ?? []).map((u) => u.UploadId);

  it('an upload in progress across nodes while every node sweeps is left alone; once really stale it is aborted and its parts deleted', async () => {
    const started = Date.now();
    const parts = [0, 1, 2, 3, 4].map(() => randomBody(1, 16 * KiB));
    const uploadId = await createWithParts(0, 'live/one.bin', parts);
    const completed = await settle(complete(1, 'live/one.bin', uploadId, parts));
    const age = (Date.now() - started) / 1000;
    if (age < EXPIRY_S) assert.ok(completed.ok, `an upload ${age} s old is not stale: ${JSON.stringify(completed)}`);
    if (completed.ok) for (let i = 0; i < 3; i++) assert.ok((await getBytes(node(i), BUCKET, 'live/one.bin')).equals(Buffer.concat(parts)));

    const stale = await createWithParts(2, 'stale/one.bin', [randomBody(1, 16 * KiB), randomBody(1, 16 * KiB)]);
    assert.deepEqual(await openUploads(0, 'stale/'), [stale]);
    await eventually('the stale upload is aborted', async () => ((await openUploads(1, 'stale/')).length === 0 ? true : undefined), 400, 50);
    for (let i = 0; i < 3; i++) {
      assert.equal((await s3Failure(node(i).send(new ListPartsCommand({ Bucket: BUCKET, Key: 'stale/one.bin', UploadId: stale })))).code, 'NoSuchUpload');
    }
    // The completed object outlived the sweeps: its parts are its bytes, not a stale upload's.
    if (completed.ok) assert.ok((await getBytes(node(2), BUCKET, 'live/one.bin')).equals(Buffer.concat(parts)));
    await assertBlobsMatchMetadata(cluster);
  });

  it('the stale-upload sweep runs under one lease for the whole cluster: while another node holds it, no node aborts anything', async () => {
    await hold('job:stale-uploads');
    const uploadId = await createWithParts(0, 'held/one.bin', [randomBody(1, 8 * KiB)]);
    // Well past the expiry, with every node trying every SWEEP_S.
    await sleep((EXPIRY_S + 1) * 1000);
    for (let i = 0; i < 3; i++) assert.deepEqual(await openUploads(i, 'held/'), [uploadId], `node ${i} lists it`);
    await release('job:stale-uploads');
    await eventually('the stale upload is aborted once the lease is free', async () => ((await openUploads(2, 'held/')).length === 0 ? true : undefined), 400, 50);
    await assertBlobsMatchMetadata(cluster);
  });

  it('Completes racing the sweep of the same stale uploads: each upload is a whole object or aborted, never an object without its bytes', async (t) => {
    const count = 40;
    await hold('job:stale-uploads');
    const uploads = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const parts = [randomBody(1, 8 * KiB), randomBody(1, 8 * KiB)];
        return { key: `racing/${i}.bin`, parts, uploadId: await createWithParts(i, `racing/${i}.bin`, parts) };
      }),
    );
    await sleep((EXPIRY_S + 0.5) * 1000);
    // Every upload is stale now: the sweep starts within SWEEP_S of the release, while the Completes go out.
    await release('job:stale-uploads');
    const outcomes = await Promise.all(
      uploads.map(async (upload, i) => {
        await sleep(i * 15);
        return settle(complete(i, upload.key, upload.uploadId, upload.parts));
      }),
    );
    let completed = 0;
    for (const [i, outcome] of outcomes.entries()) {
      const { key, parts } = uploads[i]!;
      if (outcome.ok) {
        completed++;
        for (let n = 0; n < 3; n++) {
          const got = await settle(getBytes(node(n), BUCKET, key));
          assert.ok(got.ok && got.value.equals(Buffer.concat(parts)), `${key} completed, then read on node ${n}: ${got.ok ? `${got.value.length} bytes` : JSON.stringify(got)}`);
        }
      } else {
        assert.deepEqual([outcome.code, outcome.status], ['NoSuchUpload', 404], `${key}: ${outcome.message}`);
        assert.equal((await s3Failure(getBytes(node(i), BUCKET, key))).code, 'NoSuchKey');
      }
    }
    t.diagnostic(`${completed} of ${count} completed before the sweep aborted them`);
    await eventually('every stale upload is gone', async () => ((await openUploads(0, 'racing/')).length === 0 ? true : undefined), 400, 50);
    await assertBlobsMatchMetadata(cluster);
  });

  it('the orphan sweep runs under one lease for the whole cluster, deletes old blob files nothing refers to, and never one that is referenced or being written', async () => {
    // A referenced blob file made to look two hours old: old, but an object's bytes.
    const kept = randomBytes(10 * KiB);
    const before = await referencedBlobs(cluster);
    await node(0).send(new PutObjectCommand({ Bucket: BUCKET, Key: 'orphans/kept.bin', Body: kept }));
    const [keptBlob, ...others] = [...(await referencedBlobs(cluster))].filter((id) => !before.has(id));
    assert.ok(keptBlob !== undefined && others.length === 0, 'the object is one blob');
    const pathOf = (id: string) => join(cluster.dataDir, 'blobs', id.slice(0, 2), id);
    for (const id of await referencedBlobs(cluster)) await utimes(pathOf(id), TWO_HOURS_AGO, TWO_HOURS_AGO);

    await hold('job:orphan-blobs');
    // Orphans as a crash between a body's rename into blobs/ and its commit leaves them.
    const orphans = [0, 1, 2].map(() => randomBytes(16).toString('hex'));
    for (const id of orphans) {
      await copyFile(pathOf(keptBlob), pathOf(id));
      await utimes(pathOf(id), TWO_HOURS_AGO, TWO_HOURS_AGO);
    }
    await sleep(10 * SWEEP_S * 1000);
    const held = await blobFiles(cluster.dataDir);
    for (const id of orphans) assert.ok(held.has(id), 'no node sweeps while another holds the lease');

    await release('job:orphan-blobs');
    // Writes on every node while the sweeps run.
    const written = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const body = randomBody(1, 8 * KiB);
        await node(i).send(new PutObjectCommand({ Bucket: BUCKET, Key: `orphans/written-${i}.bin`, Body: body }));
        return body;
      }),
    );
    await eventually('the orphans are deleted', async () => {
      const files = await blobFiles(cluster.dataDir);
      return orphans.every((id) => !files.has(id)) ? true : undefined;
    });
    for (const [i, body] of written.entries()) assert.ok((await getBytes(node(i + 1), BUCKET, `orphans/written-${i}.bin`)).equals(body));
    assert.ok((await getBytes(node(2), BUCKET, 'orphans/kept.bin')).equals(kept), 'an old referenced blob is kept');
    await assertBlobsMatchMetadata(cluster);
  });
});
