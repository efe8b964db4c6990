import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startCluster, type TestCluster } from '../helpers/cluster.js';
import { openSigned } from '../helpers/raw.js';
import { alive, assertBlobsMatchMetadata, eventually, getBytes, md5, s3At, skipWithoutPostgres, tempDirOf } from './helpers.js';

// Issue #13: a node SIGKILLed in the middle of an upload. The SDK's retries land on live nodes and
// the upload completes with the right bytes; an acknowledged part is never lost; a half-written
// part of the dead node is never listed, and its temp directory is removed by a live node once
// the dead node's lease has run out (shortened here by the environment knobs).

const MiB = 1024 * 1024;
const BUCKET = 'death';
/** A node is gone 1 s after its 3 s lease ran out; every node looks for gone nodes every 250 ms. */
const TIMINGS = { TESSERA_NODE_LEASE_MS: '3000', TESSERA_GONE_NODE_GRACE_MS: '1000', TESSERA_TEMP_SWEEP_INTERVAL_MS: '250' };

/**
 * The SDK's own HTTP handler, sending each large body in 256 KiB pieces 25 ms apart (a slow link),
 * so a part is on its way long enough for the kill to land in the middle of it. Counts the attempts
 * that failed on the network (what the SDK then retries).
 */
class SlowLinkHandler extends NodeHttpHandler {
  readonly networkFailures: string[] = [];

  override async handle(...[request, options]: Parameters<NodeHttpHandler['handle']>): ReturnType<NodeHttpHandler['handle']> {
    const body: unknown = request.body;
    const slowed = body instanceof Uint8Array && body.length >= MiB ? { ...request, body: trickle(body) } : request;
    try {
      return await super.handle(slowed as typeof request, options);
    } catch (err) {
      this.networkFailures.push(String((err as NodeJS.ErrnoException).code ?? (err as Error).message));
      throw err;
    }
  }
}

function trickle(body: Uint8Array): Readable {
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < body.length; offset += 256 * 1024) {
        yield Buffer.from(body.buffer, body.byteOffset + offset, Math.min(256 * 1024, body.length - offset));
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    })(),
  );
}

describe('a node killed in the middle of uploads', { skip: skipWithoutPostgres() }, () => {
  let cluster: TestCluster;
  let nodes: S3Client[];
  let killedAt: Date | undefined;

  before(async () => {
    cluster = await startCluster({ config: { minPartSize: 1 }, env: TIMINGS });
    nodes = cluster.nodes.map((node) => s3At(node));
    await nodes[0]!.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    for (const client of nodes ?? []) client.destroy();
    await cluster?.cleanup();
  });

  it('lib-storage behind the round-robin proxy completes with the right bytes; acknowledged parts stay listed on every live node, the half-written one never; the dead node\'s temp directory is removed', async (t) => {
    // An upload of our own with three acknowledged parts, through the proxy.
    const handler = new SlowLinkHandler();
    const viaProxy = s3At(cluster, { requestHandler: handler });
    const acknowledged = [randomBytes(200_000), randomBytes(300_000), randomBytes(100_000)];
    const { UploadId } = await viaProxy.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'manual.bin' }));
    const etags: string[] = [];
    for (const [i, part] of acknowledged.entries()) {
      etags.push((await viaProxy.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'manual.bin', UploadId, PartNumber: i + 1, Body: part }))).ETag!);
    }

    const victim = cluster.nodes[1]!;
    const victimTemp = await tempDirOf(cluster, victim);
    // Part 4 half-written on the node that will die: 4 of its 8 MiB sent, the first 2 MiB on disk.
    const halfWritten = openSigned(victim.url, 'PUT', `/${BUCKET}/manual.bin?partNumber=4&uploadId=${UploadId}`, 8 * MiB);
    halfWritten.response.catch(() => {});
    halfWritten.req.write(randomBytes(4 * MiB));
    const halfFile = await eventually('the half-written part is in the node\'s temp directory', async () => {
      const names = await readdir(victimTemp);
      return names.length === 1 ? names[0] : undefined;
    });

    // lib-storage: 8 parts of 5 MiB, 4 at a time, round robin over the three nodes.
    const data = randomBytes(40 * MiB);
    const upload = new Upload({ client: viaProxy, params: { Bucket: BUCKET, Key: 'lib-storage.bin', Body: data }, queueSize: 4, partSize: 5 * MiB });
    let partsDone = 0;
    upload.on('httpUploadProgress', () => partsDone++);
    const done = upload.done();
    // Killed once a part was acknowledged and while one of lib-storage's parts is on its way to the node.
    await eventually('a part is acknowledged and another is being received by the node', async () => {
      const receiving = (await readdir(victimTemp)).filter((name) => name !== halfFile);
      return partsDone >= 1 && receiving.length > 0 ? true : undefined;
    }, 1000, 10);
    killedAt = new Date();
    await cluster.kill(1);
    assert.ok((await readdir(victimTemp)).includes(halfFile), 'the dead node left its half-written body');
    const result = await done;
    assert.equal(result.Key, 'lib-storage.bin');
    assert.ok(handler.networkFailures.length > 0, 'an attempt was cut by the kill (and retried)');
    t.diagnostic(`attempts cut by the kill: ${handler.networkFailures.join(', ')}`);
    for (const i of [0, 2]) assert.equal(md5(await getBytes(nodes[i]!, BUCKET, 'lib-storage.bin')), md5(data), `node ${i} serves the right bytes`);
    assert.equal(md5(await getBytes(viaProxy, BUCKET, 'lib-storage.bin')), md5(data));
    await assert.rejects(halfWritten.response, 'the half-written part got no answer');

    // Every acknowledged part is listed on each live node, the half-written one on none.
    for (const i of [0, 2]) {
      const listed = await nodes[i]!.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'manual.bin', UploadId }));
      assert.deepEqual(
        listed.Parts!.map((p) => [p.PartNumber, p.ETag, p.Size]),
        acknowledged.map((part, n) => [n + 1, etags[n], part.length]),
      );
    }

    // A live node removes the dead node's temp directory (its lease ran out, then the grace).
    await eventually('the dead node\'s temp directory is removed', async () => (existsSync(victimTemp) ? undefined : true), 300, 50);
    for (const i of [0, 2]) {
      assert.ok(alive(cluster.nodes[i]!));
      assert.ok(existsSync(await tempDirOf(cluster, cluster.nodes[i]!)), `node ${i}'s own temp directory stays`);
    }

    const completed = await nodes[2]!.send(
      new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: 'manual.bin',
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, n) => ({ PartNumber: n + 1, ETag })) },
      }),
    );
    assert.ok(completed.ETag);
    assert.ok((await getBytes(nodes[0]!, BUCKET, 'manual.bin')).equals(Buffer.concat(acknowledged)));
    viaProxy.destroy();
  });

  it('the node started again joins with a new temp directory and serves what the others wrote', async () => {
    await cluster.restart(1);
    const again = s3At(cluster.nodes[1]!);
    try {
      assert.ok(existsSync(await tempDirOf(cluster, cluster.nodes[1]!)));
      assert.equal((await getBytes(again, BUCKET, 'manual.bin')).length, 600_000);
      // Only the dead node may have left a body renamed into blobs/ but never committed.
      await assertBlobsMatchMetadata(cluster, { orphansBefore: killedAt });
    } finally {
      again.destroy();
    }
  });
});
