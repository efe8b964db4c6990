import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';

import { readResponse, signedRequest, unsignedPayloadHeaders, type RawResponse } from '../helpers/raw.js';
import { startServer, type TestServer } from '../helpers/server.js';

const MiB = 1024 * 1024;
const PART_SIZE = 64 * MiB;
const PARTS = 16;
const CONCURRENCY = 8;
/** The bound the project promises: uploading or downloading 1 GiB grows the server by less than this. */
const RSS_BOUND = 100 * MiB;

/** The server's resident set, from /proc (Linux). */
function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for ${pid}`);
  return Number(match[1]) * 1024;
}

/** Samples a process's RSS every 100 ms until stopped; `peak()` is the largest sample since the last `reset()`. */
class RssSampler {
  private max = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    this.max = rssOf(pid);
    this.timer = setInterval(() => {
      try {
        this.max = Math.max(this.max, rssOf(this.pid));
      } catch {
        // The process is gone: the test will say why.
      }
    }, 100);
  }

  reset(): void {
    this.max = rssOf(this.pid);
  }

  peak(): number {
    this.max = Math.max(this.max, rssOf(this.pid));
    return this.max;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

/**
 * Part `n`'s bytes: 64 chunks of 1 MiB, each a copy of one pseudo-random buffer
 * stamped with (part, chunk) so that no two chunks in the object are the same.
 * Generated as they are sent; the MD5 is computed on the way.
 */
function partStream(base: Buffer, partNumber: number, md5: Hash): Readable {
  function* chunks(): Generator<Buffer> {
    for (let i = 0; i < PART_SIZE / base.length; i++) {
      const chunk = Buffer.from(base);
      chunk.writeUInt32BE(partNumber, 0);
      chunk.writeUInt32BE(i, 4);
      md5.update(chunk);
      yield chunk;
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}

/** A signed, unsigned-payload PUT whose body is streamed with back-pressure. */
function putStream(baseUrl: string, pathAndQuery: string, body: Readable, length: number): Promise<RawResponse> {
  const url = new URL(pathAndQuery, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: 'PUT', path: url.pathname + url.search, headers: unsignedPayloadHeaders(baseUrl, 'PUT', pathAndQuery, length) },
      (res) => void readResponse(res).then(resolve, reject),
    );
    req.on('error', reject);
    pipeline(body, req).catch(reject);
  });
}

/** Streams a GET, keeping nothing: counts the bytes and MD5s each `PART_SIZE` slice. */
function getStreamed(baseUrl: string, pathAndQuery: string): Promise<{ status: number; size: number; partMd5s: string[] }> {
  const url = new URL(pathAndQuery, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: 'GET', path: url.pathname + url.search, headers: unsignedPayloadHeaders(baseUrl, 'GET', pathAndQuery) },
      (res) => {
        let size = 0;
        let hash = createHash('md5');
        let inSlice = 0;
        const partMd5s: string[] = [];
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          let offset = 0;
          while (offset < chunk.length) {
            const take = Math.min(chunk.length - offset, PART_SIZE - inSlice);
            hash.update(chunk.subarray(offset, offset + take));
            offset += take;
            inSlice += take;
            if (inSlice === PART_SIZE) {
              partMd5s.push(hash.digest('hex'));
              hash = createHash('md5');
              inSlice = 0;
            }
          }
        });
        res.on('end', () => {
          if (inSlice > 0) partMd5s.push(hash.digest('hex'));
          resolve({ status: res.statusCode ?? 0, size, partMd5s });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('memory stays flat on 1 GiB', () => {
  let server: TestServer;
  let sampler: RssSampler;
  let baseline = 0;
  const bucket = 'memory';
  const key = 'one-gib.bin';
  const partMd5s: string[] = [];

  before(async () => {
    // One process's RSS: never a cluster.
    server = await startServer({ singleNode: true });
    const pid = server.process.pid!;
    const created = await signedRequest(server.url, 'PUT', `/${bucket}`);
    assert.equal(created.status, 200, created.body);
    // Warm the paths up (module loading, JIT) with a small object, so the baseline is a running server's.
    const warm = await putStream(server.url, `/${bucket}/warm-up`, Readable.from([randomBytes(4 * MiB)]), 4 * MiB);
    assert.equal(warm.status, 200, warm.body);
    assert.equal((await getStreamed(server.url, `/${bucket}/warm-up`)).size, 4 * MiB);
    await sleep(500);
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      samples.push(rssOf(pid));
      await sleep(100);
    }
    baseline = samples.sort((a, b) => a - b)[samples.length >> 1]!;
    sampler = new RssSampler(pid);
  });

  after(async () => {
    sampler?.stop();
    await server?.cleanup();
  });

  it('uploading 16 parts of 64 MiB, 8 at a time, grows RSS by less than 100 MiB', async (t) => {
    const init = await signedRequest(server.url, 'POST', `/${bucket}/${key}?uploads`);
    assert.equal(init.status, 200, init.body);
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(init.body)?.[1];
    assert.ok(uploadId);

    const base = randomBytes(MiB);
    sampler.reset();
    let next = 1;
    const worker = async () => {
      while (next <= PARTS) {
        const n = next++;
        const md5 = createHash('md5');
        const res = await putStream(server.url, `/${bucket}/${key}?partNumber=${n}&uploadId=${uploadId}`, partStream(base, n, md5), PART_SIZE);
        assert.equal(res.status, 200, res.body);
        const expected = md5.digest('hex');
        assert.equal(String(res.headers.etag).replace(/"/g, ''), expected, `part ${n}'s ETag`);
        partMd5s[n - 1] = expected;
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const peak = sampler.peak();
    t.diagnostic(`upload: baseline ${mib(baseline)}, peak ${mib(peak)}, growth ${mib(peak - baseline)}`);
    assert.ok(peak - baseline < RSS_BOUND, `RSS grew by ${mib(peak - baseline)} during the upload (bound ${mib(RSS_BOUND)})`);

    const completeXml =
      '<CompleteMultipartUpload>' +
      partMd5s.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>"${etag}"</ETag></Part>`).join('') +
      '</CompleteMultipartUpload>';
    const completed = await signedRequest(server.url, 'POST', `/${bucket}/${key}?uploadId=${uploadId}`, { body: completeXml });
    assert.equal(completed.status, 200, completed.body);
    const expectedEtag = `${createHash('md5').update(Buffer.concat(partMd5s.map((m) => Buffer.from(m, 'hex')))).digest('hex')}-${PARTS}`;
    const etag = /<ETag>([^<]+)<\/ETag>/.exec(completed.body)?.[1]?.replace(/&quot;|"/g, '');
    assert.equal(etag, expectedEtag);
    const head = await signedRequest(server.url, 'HEAD', `/${bucket}/${key}`);
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(PARTS * PART_SIZE));
    assert.equal(String(head.headers.etag).replace(/"/g, ''), expectedEtag);
  });

  it('downloading the 1 GiB object keeps RSS flat too', async (t) => {
    assert.equal(partMd5s.length, PARTS, 'the upload test ran first');
    const before = rssOf(server.process.pid!);
    sampler.reset();
    const got = await getStreamed(server.url, `/${bucket}/${key}`);
    const peak = sampler.peak();
    t.diagnostic(
      `download: baseline ${mib(baseline)}, before ${mib(before)}, peak ${mib(peak)}, growth over baseline ${mib(peak - baseline)}`,
    );
    assert.equal(got.status, 200);
    assert.equal(got.size, PARTS * PART_SIZE);
    assert.deepEqual(got.partMd5s, partMd5s, 'every 64 MiB slice of the download is the part sent');
    assert.ok(peak - baseline < RSS_BOUND, `RSS grew by ${mib(peak - baseline)} over the baseline during the download (bound ${mib(RSS_BOUND)})`);
  });
});
