import assert from 'node:assert/strict';
import { request, type ClientRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateBucketCommand, CreateMultipartUploadCommand, GetObjectCommand, ListObjectsV2Command, ListPartsCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { openSigned, readResponse, unsignedPayloadHeaders, type RawResponse } from '../helpers/raw.js';
import { s3Client } from '../helpers/s3.js';
import { filesUnder, startServer, type TestServer } from '../helpers/server.js';

const BUCKET = 'slow';

/** A root-signed PUT of `length` bytes from `localAddress`, left open for the caller to trickle its body. */
function openFrom(server: TestServer, localAddress: string, path: string, length: number): { req: ClientRequest; response: Promise<RawResponse> } {
  let req!: ClientRequest;
  const response = new Promise<RawResponse>((resolve, reject) => {
    req = request(
      { host: '127.0.0.1', port: server.port, localAddress, method: 'PUT', path, headers: unsignedPayloadHeaders(server.url, 'PUT', path, length), agent: false },
      (res) => void readResponse(res).then(resolve, reject),
    );
    req.on('error', reject);
  });
  return { req, response };
}

async function tempFiles(server: TestServer): Promise<string[]> {
  return (await filesUnder(server.dataDir)).filter((path) => path.slice(server.dataDir.length).startsWith('/tmp/'));
}

describe('a body that stops coming (bodyIdleTimeoutSeconds)', () => {
  let server: TestServer;
  let s3: S3Client;
  before(async () => {
    server = await startServer({ config: { bodyIdleTimeoutSeconds: 1 } });
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3.destroy();
    await server.cleanup();
  });

  it('ends a PUT whose client went quiet with RequestTimeout, stores nothing, and leaves no temp file', async () => {
    const { req, response } = openSigned(server.url, 'PUT', `/${BUCKET}/stalled`, 1 << 20);
    req.write(Buffer.alloc(100 * 1024, 1));
    const answer = await response;
    assert.equal(answer.status, 400);
    assert.match(answer.body.toString(), /<Code>RequestTimeout<\/Code>/);
    assert.equal(answer.headers.connection, 'close');
    req.destroy();
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET }));
    assert.equal(listed.KeyCount, 0);
    for (let tries = 0; (await tempFiles(server)).length > 0 && tries < 50; tries++) await sleep(100);
    assert.deepEqual(await tempFiles(server), []);
  });

  it('a part whose body stops is never listed', async () => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'big' }));
    const { req, response } = openSigned(server.url, 'PUT', `/${BUCKET}/big?partNumber=1&uploadId=${UploadId}`, 6 << 20);
    req.write(Buffer.alloc(256 * 1024, 2));
    assert.equal((await response).status, 400);
    req.destroy();
    const parts = await s3.send(new ListPartsCommand({ Bucket: BUCKET, Key: 'big', UploadId }));
    assert.equal(parts.Parts?.length ?? 0, 0);
  });

  it('a body that keeps coming, however slowly, is not cut', async () => {
    const chunks = 8;
    const { req, response } = openSigned(server.url, 'PUT', `/${BUCKET}/trickled`, chunks);
    for (let i = 0; i < chunks; i++) {
      req.write(Buffer.from([65 + i]));
      await sleep(300);
    }
    req.end();
    assert.equal((await response).status, 200);
    const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'trickled' }));
    assert.equal(await got.Body!.transformToString(), 'ABCDEFGH');
  });
});

describe('a thousand trickling connections from one address (maxConnectionsPerAddress)', () => {
  const CAP = 200;
  const HOSTILE = 1_000;
  let server: TestServer;
  let s3: S3Client;
  before(async () => {
    server = await startServer({ config: { maxConnectionsPerAddress: CAP }, extraArgs: ['--log-level', 'info'] });
    s3 = s3Client(server);
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  });
  after(async () => {
    s3.destroy();
    await server.cleanup();
  });

  it('serves other clients while they hold their share, and answers the rest of them SlowDown (503)', async () => {
    // The hostile client is 127.0.0.2 (loopback all the same); the well-behaved one is 127.0.0.1.
    const open = Array.from({ length: HOSTILE }, (_, i) => openFrom(server, '127.0.0.2', `/${BUCKET}/trickle-${i}`, 1 << 20));
    let refused = 0;
    const outcomes = open.map(({ response }) =>
      response.then(
        (r) => {
          if (r.status === 503 && /<Code>SlowDown<\/Code>/.test(r.body.toString())) refused++;
          return r.status;
        },
        () => 'cut',
      ),
    );
    for (const { req } of open) req.write(Buffer.alloc(16, 7));
    // A thousand connects at once overflow the listen backlog: the last ones come in on SYN retries, seconds later.
    for (let waited = 0; refused < HOSTILE - CAP && waited < 60_000; waited += 100) await sleep(100);
    assert.equal(refused, HOSTILE - CAP, 'every connection past the cap is answered SlowDown (503)');
    for (let i = 0; i < 3; i++) {
      const body = `served while ${CAP} connections trickle (${i})`;
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: `calm-${i}`, Body: body }));
      const got = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: `calm-${i}` }));
      assert.equal(await got.Body!.transformToString(), body);
    }
    for (const { req } of open) req.destroy();
    const settled = await Promise.all(outcomes);
    // The admitted ones were still sending when the test cut them; none got any answer but those two.
    assert.equal(settled.filter((outcome) => outcome === 'cut').length, CAP);
    // A refused connection's request never reaches a handler: the access log names it TooManyConnections.
    await sleep(500);
    const lines = server.stdout().split('\n').filter((line) => line.includes('"path":"/slow/trickle-'));
    assert.equal(lines.filter((line) => line.includes('"operation":"TooManyConnections"')).length, HOSTILE - CAP);
    assert.equal(lines.filter((line) => line.includes('"operation":"PutObject"')).length, CAP);
  });
});
