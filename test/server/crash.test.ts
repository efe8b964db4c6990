import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { request } from 'node:http';
import { readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { openSigned, readBody, signedRequest, unsignedPayloadHeaders, type RawResponse } from '../helpers/raw.js';
import { filesUnder, startServer, type TestServer } from '../helpers/server.js';

const MiB = 1024 * 1024;

const md5Hex = (data: Buffer) => createHash('md5').update(data).digest('hex');

function sendSigned(baseUrl: string, method: string, pathAndQuery: string, body: Buffer): Promise<RawResponse> {
  const { req, response } = openSigned(baseUrl, method, pathAndQuery, body.length);
  req.end(body);
  return response;
}

/** GET of a whole object as bytes (signed, fresh connection). */
function getBytes(baseUrl: string, pathAndQuery: string): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  const url = new URL(pathAndQuery, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: 'GET',
        path: url.pathname + url.search,
        headers: unsignedPayloadHeaders(baseUrl, 'GET', pathAndQuery, 0),
        agent: false,
      },
      (res) => void readBody(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end();
  });
}

function unquote(etag: unknown): string {
  return String(etag).replace(/"/g, '');
}

function parseListParts(xml: string): Array<{ partNumber: number; etag: string; size: number }> {
  return [...xml.matchAll(/<Part>([\s\S]*?)<\/Part>/g)].map((match) => {
    const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(match[1]!)?.[1] ?? '';
    return { partNumber: Number(field('PartNumber')), etag: unquote(field('ETag').replace(/&quot;/g, '"')), size: Number(field('Size')) };
  });
}

/** Polls until `count()` equals `expected` or the deadline passes; returns the last count. */
async function pollCount(count: () => Promise<number>, expected: number, deadlineMs = 10_000): Promise<number> {
  const until = Date.now() + deadlineMs;
  let last = await count();
  while (last !== expected && Date.now() < until) {
    await sleep(100);
    last = await count();
  }
  return last;
}

/** Polls until `dir` holds at least one file. */
async function waitForFile(dir: string, deadlineMs = 30_000): Promise<void> {
  const until = Date.now() + deadlineMs;
  while ((await readdir(dir)).length === 0) {
    if (Date.now() > until) throw new Error(`no file appeared in ${dir}`);
    await sleep(10);
  }
}

async function createBucket(server: TestServer, bucket: string): Promise<void> {
  const res = await signedRequest(server.url, 'PUT', `/${bucket}`);
  assert.equal(res.status, 200, res.body);
}

/** A planted blob file nothing refers to, dated before the restart: what a crash between rename and commit leaves. */
async function plantOrphanBlob(dataDir: string): Promise<string> {
  const id = randomBytes(16).toString('hex');
  const path = join(dataDir, 'blobs', id.slice(0, 2), id);
  await writeFile(path, randomBytes(1000));
  const past = new Date(Date.now() - 60_000);
  await utimes(path, past, past);
  return path;
}

describe('crash safety (SIGKILL mid-write)', () => {
  const servers: TestServer[] = [];
  after(async () => {
    // Restarted servers share the first one's data dir: stop them before it is removed.
    for (const server of servers.reverse()) await server.cleanup();
  });

  it('after a kill during concurrent UploadParts, every acknowledged part is listed and every listed part is whole', async (t) => {
    const config = { minPartSize: 1 };
    const first = await startServer({ config });
    servers.push(first);
    const bucket = 'crash-parts';
    const key = 'big/object.bin';
    await createBucket(first, bucket);
    const created = await signedRequest(first.url, 'POST', `/${bucket}/${key}?uploads`);
    assert.equal(created.status, 200, created.body);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(created.body)?.[1];
    assert.ok(uploadId);

    const PARTS = 40;
    const CONCURRENCY = 12;
    const bodies = new Map<number, Buffer>();
    for (let n = 1; n <= PARTS; n++) bodies.set(n, randomBytes(randomInt(1 * MiB, 4 * MiB + 1)));
    const acknowledged = new Map<number, string>();
    const inFlight = new Set<number>();
    let killed = false;

    // A part that never finishes sending: it is mid-write (a temp file exists) when the kill comes.
    const stalledNumber = PARTS + 1;
    const stalled = openSigned(first.url, 'PUT', `/${bucket}/${key}?partNumber=${stalledNumber}&uploadId=${uploadId}`, 4 * MiB);
    stalled.response.catch(() => {});
    stalled.req.write(randomBytes(2 * MiB));

    let next = 1;
    let reachedThreshold!: () => void;
    const threshold = new Promise<void>((resolve) => (reachedThreshold = resolve));
    const worker = async () => {
      while (!killed && next <= PARTS) {
        const n = next++;
        inFlight.add(n);
        try {
          const res = await sendSigned(first.url, 'PUT', `/${bucket}/${key}?partNumber=${n}&uploadId=${uploadId}`, bodies.get(n)!);
          if (res.status === 200) {
            acknowledged.set(n, unquote(res.headers.etag));
            if (acknowledged.size >= 10) reachedThreshold();
          } else if (!killed) {
            throw new Error(`part ${n}: ${res.status} ${res.body}`);
          }
        } catch (err) {
          if (!killed) throw err;
        } finally {
          inFlight.delete(n);
        }
      }
    };
    const workers = Array.from({ length: CONCURRENCY }, worker);
    const failed = Promise.all(workers).then(() => {
      throw new Error('all parts finished before the kill');
    });
    await Promise.race([threshold, failed]);
    failed.catch(() => {});
    await waitForFile(join(first.dataDir, 'tmp'));
    const unanswered = [...inFlight];
    killed = true;
    await first.kill();
    await Promise.all(workers);
    const ackedAtKill = new Map(acknowledged);
    t.diagnostic(`acknowledged before the kill: ${ackedAtKill.size}, in flight: ${unanswered.length}`);
    assert.ok(unanswered.length > 0, 'some parts were in flight at the kill');

    const tmpAfterKill = await readdir(join(first.dataDir, 'tmp'));
    assert.ok(tmpAfterKill.length > 0, 'the kill left partly written temp files behind');
    const orphan = await plantOrphanBlob(first.dataDir);

    const second = await startServer({ config, dataDir: first.dataDir });
    servers.push(second);
    assert.deepEqual(await readdir(join(second.dataDir, 'tmp')), [], 'temp files are removed at start');

    const listed = await signedRequest(second.url, 'GET', `/${bucket}/${key}?uploadId=${uploadId}&max-parts=1000`);
    assert.equal(listed.status, 200, listed.body);
    const parts = parseListParts(listed.body);
    const listedByNumber = new Map(parts.map((part) => [part.partNumber, part]));
    t.diagnostic(`listed after restart: ${parts.length}`);

    for (const [n, etag] of ackedAtKill) {
      assert.equal(listedByNumber.get(n)?.etag, etag, `acknowledged part ${n} is listed with its ETag`);
    }
    assert.ok(!listedByNumber.has(stalledNumber), 'the half-sent part is not listed');
    for (const part of parts) {
      const body = bodies.get(part.partNumber);
      assert.ok(body, `listed part ${part.partNumber} was sent`);
      assert.equal(part.etag, md5Hex(body), `listed part ${part.partNumber}'s ETag is the MD5 of what was sent`);
      assert.equal(part.size, body.length, `listed part ${part.partNumber}'s size is what was sent`);
    }

    // Orphans (the planted one and any the kill left between rename and commit) are swept right after start.
    const blobDir = join(second.dataDir, 'blobs');
    const blobCount = await pollCount(async () => (await filesUnder(blobDir)).length, parts.length);
    assert.equal(blobCount, parts.length, 'one blob file per listed part, no orphans');
    await assert.rejects(stat(orphan), { code: 'ENOENT' });

    // Every listed part reads back: complete with all of them and compare the whole object.
    const completeXml =
      '<CompleteMultipartUpload>' +
      parts.map((part) => `<Part><PartNumber>${part.partNumber}</PartNumber><ETag>"${part.etag}"</ETag></Part>`).join('') +
      '</CompleteMultipartUpload>';
    const completed = await signedRequest(second.url, 'POST', `/${bucket}/${key}?uploadId=${uploadId}`, { body: completeXml });
    assert.equal(completed.status, 200, completed.body);
    const expected = Buffer.concat(parts.map((part) => bodies.get(part.partNumber)!));
    const expectedEtag = `${createHash('md5').update(Buffer.concat(parts.map((p) => Buffer.from(p.etag, 'hex')))).digest('hex')}-${parts.length}`;
    assert.equal(unquote(/<ETag>([^<]+)<\/ETag>/.exec(completed.body)?.[1]?.replace(/&quot;/g, '"')), expectedEtag);

    const got = await getBytes(second.url, `/${bucket}/${key}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.length, expected.length);
    assert.ok(got.body.equals(expected), 'the completed object is the concatenation of the listed parts');
    assert.equal((await filesUnder(blobDir)).length, parts.length, 'completion copies no bytes');
  });

  it('after a kill during concurrent overwrites of one key, GET returns one whole version, never a torn mix', async (t) => {
    const first = await startServer();
    servers.push(first);
    const bucket = 'crash-puts';
    const key = 'the-key';
    await createBucket(first, bucket);

    const VERSIONS = 40;
    const CONCURRENCY = 8;
    const bodies = Array.from({ length: VERSIONS }, () => randomBytes(randomInt(1 * MiB, 3 * MiB + 1)));
    const byMd5 = new Map(bodies.map((body, index) => [md5Hex(body), index]));
    const startedAt = new Map<number, number>();
    const ackedAt = new Map<number, number>();
    const inFlight = new Set<number>();
    let clock = 0;
    let killed = false;

    const stalled = openSigned(first.url, 'PUT', `/${bucket}/${key}`, 4 * MiB);
    stalled.response.catch(() => {});
    stalled.req.write(randomBytes(2 * MiB));

    let next = 0;
    let reachedThreshold!: () => void;
    const threshold = new Promise<void>((resolve) => (reachedThreshold = resolve));
    const worker = async () => {
      while (!killed && next < VERSIONS) {
        const v = next++;
        inFlight.add(v);
        startedAt.set(v, ++clock);
        try {
          const res = await sendSigned(first.url, 'PUT', `/${bucket}/${key}`, bodies[v]!);
          if (res.status === 200) {
            assert.equal(unquote(res.headers.etag), md5Hex(bodies[v]!));
            ackedAt.set(v, ++clock);
            if (ackedAt.size >= 8) reachedThreshold();
          } else if (!killed) {
            throw new Error(`version ${v}: ${res.status} ${res.body}`);
          }
        } catch (err) {
          if (!killed) throw err;
        } finally {
          inFlight.delete(v);
        }
      }
    };
    const workers = Array.from({ length: CONCURRENCY }, worker);
    const failed = Promise.all(workers).then(() => {
      throw new Error('all writes finished before the kill');
    });
    await Promise.race([threshold, failed]);
    failed.catch(() => {});
    await waitForFile(join(first.dataDir, 'tmp'));
    const unanswered = new Set(inFlight);
    killed = true;
    await first.kill();
    await Promise.all(workers);
    const acked = new Map(ackedAt);
    t.diagnostic(`acknowledged before the kill: ${acked.size}, in flight: ${unanswered.size}`);
    assert.ok(unanswered.size > 0, 'some writes were in flight at the kill');
    const orphan = await plantOrphanBlob(first.dataDir);

    const second = await startServer({ dataDir: first.dataDir });
    servers.push(second);
    assert.deepEqual(await readdir(join(second.dataDir, 'tmp')), [], 'temp files are removed at start');

    const got = await getBytes(second.url, `/${bucket}/${key}`);
    assert.equal(got.status, 200, 'an acknowledged write survives the crash');
    const version = byMd5.get(md5Hex(got.body));
    assert.ok(version !== undefined, 'the object is exactly one of the versions sent');
    assert.ok(got.body.equals(bodies[version]!));
    assert.equal(unquote(got.headers.etag), md5Hex(bodies[version]!));
    assert.ok(acked.has(version) || unanswered.has(version), `version ${version} was acknowledged or in flight at the kill`);
    // An overwrite acknowledged after this version's acknowledgement was also committed after it: it must have won.
    const ackedAtVersion = acked.get(version);
    if (ackedAtVersion !== undefined) {
      const newer = [...acked].filter(([v]) => startedAt.get(v)! > ackedAtVersion).map(([v]) => v);
      assert.deepEqual(newer, [], `no acknowledged overwrite started after version ${version} was acknowledged`);
    }
    t.diagnostic(`version after restart: ${version} (${acked.has(version) ? 'acknowledged' : 'in flight'})`);

    const blobCount = await pollCount(async () => (await filesUnder(join(second.dataDir, 'blobs'))).length, 1);
    assert.equal(blobCount, 1, 'only the surviving version keeps a blob file');
    await assert.rejects(stat(orphan), { code: 'ENOENT' });
  });
});
