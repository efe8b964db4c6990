// The staging budget (stagingMemoryMiB): the shared-memory slots bodies are staged through stay within
// it however many bodies arrive at once; a body past it waits with its socket unread; a slot whose
// client paused is written out and given back while others wait (so trickling clients cannot starve
// the rest); and waiting for a slot never counts against the client's bodyIdleTimeoutSeconds.
// One process (singleNode): the budget and the metrics read are a node's own.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Agent } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, GetObjectCommand, PutBucketEncryptionCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { openSigned } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';

const MiB = 1024 * 1024;
const BUDGET_MIB = 16;

async function metric(server: TestServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/-/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  assert.ok(line, `${name} is exposed`);
  return Number(line.split(' ')[1]);
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function stored(s3: S3Client, bucket: string, key: string): Promise<string> {
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return sha256(Buffer.from(await got.Body!.transformToByteArray()));
}

function clientFor(server: TestServer): S3Client {
  return s3Client(server, undefined, { requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 64 }) }) });
}

describe('staging budget: many bodies at once, and clients that pause', () => {
  let server: TestServer;
  let s3: S3Client;
  before(async () => {
    server = await startServer({
      singleNode: true,
      config: { stagingMemoryMiB: BUDGET_MIB, bodyIdleTimeoutSeconds: 30 },
      env: { TESSERA_STAGING_RECLAIM_MS: '200' },
    });
    s3 = clientFor(server);
    await s3.send(new CreateBucketCommand({ Bucket: 'many' }));
    await s3.send(new CreateBucketCommand({ Bucket: 'sealed' }));
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket: 'sealed',
        ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      }),
    );
  });
  after(async () => {
    s3.destroy();
    await server.cleanup();
  });

  it('stores 32 bodies sent at once correctly, with the staging memory never above the budget', async () => {
    assert.equal(await metric(server, 'tessera_staging_memory_budget_bytes'), BUDGET_MIB * MiB);
    // 32 bodies of 3 MiB + a bit would want 64 slots of 2 MiB; the budget holds 8.
    const bodies = Array.from({ length: 32 }, (_, i) => randomBytes(3 * MiB + 1000 + i));
    let highest = 0;
    let polling = true;
    const poll = (async () => {
      while (polling) {
        highest = Math.max(highest, await metric(server, 'tessera_staging_memory_bytes'));
        await sleep(20);
      }
    })();
    await Promise.all(bodies.map((body, i) => s3.send(new PutObjectCommand({ Bucket: 'many', Key: `k${i}`, Body: body }))));
    polling = false;
    await poll;
    for (const [i, body] of bodies.entries()) assert.equal(await stored(s3, 'many', `k${i}`), sha256(body), `k${i}`);
    assert.ok(highest > 0, 'the bodies went through the staging slots');
    assert.ok(highest <= BUDGET_MIB * MiB, `staging memory seen ${highest} <= budget`);
    assert.ok((await metric(server, 'tessera_staging_memory_peak_bytes')) <= BUDGET_MIB * MiB, 'the peak stayed within the budget');
    assert.ok((await metric(server, 'tessera_staging_waits_total')) > 0, 'bodies had to wait for a slot: the budget was reached');
    assert.equal(await metric(server, 'tessera_staging_waiting_bodies'), 0);
  });

  it('gives back the slots of clients that paused, so another upload gets through, and stores the paused bodies whole', async () => {
    const reclaimedBefore = await metric(server, 'tessera_staging_slots_reclaimed_total');
    // Twelve clients send the start of a body and pause: more than the budget's 8 slots. Their first bytes
    // are not whole write units (blocks, or 64 KiB records when encrypted): a slot given back is written up
    // to its last whole unit and the rest kept for the next one. Some start with 1.5 MiB (written with
    // O_DIRECT where the filesystem takes it), some with a few KiB (through the page cache), some encrypted.
    const paused = Array.from({ length: 12 }, (_, i) => {
      const bucket = i % 3 === 2 ? 'sealed' : 'many';
      const body = randomBytes(4 * MiB + 777 * i + 5);
      const head = i % 2 === 0 ? 1.5 * MiB + 123 : 100 * 1024 + 321;
      const { req, response } = openSigned(server.url, 'PUT', `/${bucket}/paused${i}`, body.length);
      req.write(body.subarray(0, head));
      return { bucket, key: `paused${i}`, body, head, req, response };
    });
    await sleep(300);
    const other = randomBytes(5 * MiB + 17);
    await s3.send(new PutObjectCommand({ Bucket: 'many', Key: 'other', Body: other }));
    assert.equal(await stored(s3, 'many', 'other'), sha256(other));
    assert.ok((await metric(server, 'tessera_staging_slots_reclaimed_total')) > reclaimedBefore, 'slots were asked back from the paused bodies');
    // Each paused client sends a little more, pauses again, then the rest.
    for (const client of paused) client.req.write(client.body.subarray(client.head, client.head + 70_001));
    await sleep(600);
    for (const client of paused) client.req.end(client.body.subarray(client.head + 70_001));
    for (const client of paused) assert.equal((await client.response).status, 200, client.key);
    for (const client of paused) assert.equal(await stored(s3, client.bucket, client.key), sha256(client.body), client.key);
    assert.ok((await metric(server, 'tessera_staging_memory_peak_bytes')) <= BUDGET_MIB * MiB);
  });
});

describe('staging budget: waiting for a slot is not the client being idle', () => {
  let server: TestServer;
  let s3: S3Client;
  before(async () => {
    // Slots are never asked back here (10 s), and a body that brings nothing for 1 s is cut.
    server = await startServer({
      singleNode: true,
      config: { stagingMemoryMiB: BUDGET_MIB, bodyIdleTimeoutSeconds: 1 },
      env: { TESSERA_STAGING_RECLAIM_MS: '10000' },
    });
    s3 = clientFor(server);
    await s3.send(new CreateBucketCommand({ Bucket: 'wait' }));
  });
  after(async () => {
    s3.destroy();
    await server.cleanup();
  });

  it('a body that waits 3 s for a slot, longer than bodyIdleTimeoutSeconds, is stored', async () => {
    // Eight clients each hold a slot, trickling a byte every 200 ms: they are not idle, and the budget is spent.
    const holders = Array.from({ length: 8 }, (_, i) => {
      const body = randomBytes(64 * 1024 + i);
      const { req, response } = openSigned(server.url, 'PUT', `/wait/holder${i}`, body.length);
      req.write(body.subarray(0, 1000));
      return { key: `holder${i}`, body, sent: 1000, req, response };
    });
    await sleep(300);
    const waiter = randomBytes(3 * MiB + 5);
    const put = s3.send(new PutObjectCommand({ Bucket: 'wait', Key: 'waiter', Body: waiter }));
    let done = false;
    void put.then(
      () => (done = true),
      () => (done = true),
    );
    for (let tick = 0; tick < 15; tick++) {
      await sleep(200);
      for (const holder of holders) holder.req.write(holder.body.subarray(holder.sent, ++holder.sent));
    }
    assert.equal(done, false, 'the upload waited while every slot was held');
    assert.ok((await metric(server, 'tessera_staging_waiting_bodies')) >= 1, 'a body waits for a slot');
    for (const holder of holders) holder.req.end(holder.body.subarray(holder.sent));
    await put;
    assert.equal(await stored(s3, 'wait', 'waiter'), sha256(waiter));
    for (const holder of holders) {
      assert.equal((await holder.response).status, 200, holder.key);
      assert.equal(await stored(s3, 'wait', holder.key), sha256(holder.body), holder.key);
    }
  });
});
