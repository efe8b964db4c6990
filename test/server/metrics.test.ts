import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { onEachBackend } from '../helpers/backends.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { s3Client } from '../helpers/s3.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { ossClient } from '../oss/helpers.js';
import { login, panCall, panConfig } from '../pan/helpers.js';

// /-/metrics scraped from a real server before and after real requests of every dialect, on
// each metadata backend (one node: a cluster's proxy would spread the requests over three
// registries). The upload gauges are read from the metadata store at most every 5 s, so the
// tests poll for them.

/** One sample: its metric name, labels, and value. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

interface Scrape {
  text: string;
  samples: Sample[];
  types: Map<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)/gy;

/**
 * Parses the Prometheus text format (0.0.4) strictly: HELP and TYPE lines for every family before
 * its samples, label values quoted and escaped, values numbers. Any other line fails the test.
 */
function parseExposition(text: string): Scrape {
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  const helps = new Set<string>();
  assert.ok(text.endsWith('\n'), 'the exposition ends with a newline');
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) {
      const [name] = line.slice(7).split(' ');
      assert.match(name!, NAME, line);
      helps.add(name!);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [name, type, ...rest] = line.slice(7).split(' ');
      assert.match(name!, NAME, line);
      assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type!), line);
      assert.equal(rest.length, 0, line);
      assert.ok(!types.has(name!), `one TYPE line for ${name}`);
      types.set(name!, type!);
      continue;
    }
    assert.ok(!line.startsWith('#'), `an unknown comment line: ${line}`);
    const match = SAMPLE.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const [, name, labelText, valueText] = match;
    const labels: Record<string, string> = {};
    if (labelText) {
      LABEL.lastIndex = 0;
      let consumed = 0;
      for (let label = LABEL.exec(labelText); label; label = LABEL.exec(labelText)) {
        labels[label[1]!] = label[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
        consumed = LABEL.lastIndex;
      }
      assert.equal(consumed, labelText.length, `labels not in the format: ${line}`);
    }
    const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : /^nan$/i.test(valueText!) ? NaN : Number(valueText);
    // Go's ParseFloat, which Prometheus parses with, takes NaN in any case (prom-client writes `Nan`).
    assert.ok(/^nan$/i.test(valueText!) || !Number.isNaN(value), `not a number: ${line}`);
    const family = [...types.keys()].find((family) => name === family || (/_(bucket|sum|count)$/.test(name!) && name!.replace(/_(bucket|sum|count)$/, '') === family));
    assert.ok(family, `a sample before its TYPE line: ${line}`);
    assert.ok(helps.has(family), `no HELP line for ${family}`);
    if (types.get(family) === 'histogram' && name!.endsWith('_bucket')) assert.ok('le' in labels, `a bucket without le: ${line}`);
    samples.push({ name: name!, labels, value });
  }
  return { text, samples, types };
}

/** The value of the sample with exactly these labels (plus `le` for buckets), or 0 when there is none. */
function value(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels);
  const found = scrape.samples.filter(
    (sample) => sample.name === name && Object.keys(sample.labels).length === wanted.length && wanted.every(([key, v]) => sample.labels[key] === v),
  );
  assert.ok(found.length <= 1, `one sample for ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

async function scrape(server: TestServer, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await fetch(`${server.url}/-/metrics`, { headers });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4; charset=utf-8$/);
  return parseExposition(await response.text());
}

/**
 * Scrapes until `done` holds of the scrape (a request is counted when its response has closed on
 * the server, which may be just after the client has it); the last scrape if it never does.
 */
async function scrapeUntil(server: TestServer, done: (scrape: Scrape) => boolean, timeoutMs = 15_000, headers: Record<string, string> = {}): Promise<Scrape> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await scrape(server, headers);
    if (done(result) || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const requests = (s: Scrape, dialect: string, operation: string, status: number) =>
  value(s, 'tessera_http_requests_total', { dialect, operation, status: String(status) });

onEachBackend(
  (backend, start) => {
    describe(`metrics at /-/metrics (${backend})`, () => {
      let server: TestServer;
      let cleanup: () => Promise<void>;
      let s3: S3Client;

      before(async () => {
        ({ server, cleanup } = await start());
        s3 = s3Client(server);
      });
      after(async () => {
        s3?.destroy();
        await cleanup?.();
      });

      it('counts S3, OSS and 123pan requests by dialect, operation and status, with their latency and bytes', async () => {
        await s3.send(new CreateBucketCommand({ Bucket: 'metrics' }));
        const s3Body = randomBytes(3000);
        const ossBody = randomBytes(5000);
        const oss = ossClient(server, 'v4', 'metrics-oss');
        await oss.putBucket('metrics-oss');
        const before = await scrape(server);

        await s3.send(new PutObjectCommand({ Bucket: 'metrics', Key: 'a.bin', Body: s3Body }));
        const got = await s3.send(new GetObjectCommand({ Bucket: 'metrics', Key: 'a.bin' }));
        assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), s3Body);
        await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'metrics', Key: 'missing' })), { name: 'NoSuchKey' });
        await oss.put('b.bin', ossBody);
        assert.deepEqual((await oss.get('b.bin')).content, ossBody);
        const token = await login(server.url);
        const info = await panCall(server.url, 'GET', '/api/v1/user/info', { token });
        assert.equal(info.body.code, 0);

        const expected: Array<[string, string, number]> = [
          ['s3', 'PutObject', 200],
          ['s3', 'GetObject', 200],
          ['s3', 'GetObject', 404],
          ['oss', 'PutObject', 200],
          ['oss', 'GetObject', 200],
          ['pan', 'api/v1/access_token', 200],
          ['pan', 'api/v1/user/info', 200],
        ];
        const grown = (s: Scrape) => expected.every(([d, o, st]) => requests(s, d, o, st) >= requests(before, d, o, st) + 1);
        const after = await scrapeUntil(server, grown);
        for (const [dialect, operation, status] of expected) {
          assert.equal(requests(after, dialect, operation, status), requests(before, dialect, operation, status) + 1, `${dialect} ${operation} ${status}`);
          // Every request counted is in its latency histogram too (by dialect and operation).
        }
        for (const [dialect, operation, count] of [['s3', 'GetObject', 2], ['s3', 'PutObject', 1], ['oss', 'GetObject', 1], ['pan', 'api/v1/user/info', 1]] as const) {
          const labels = { dialect, operation };
          const observed = value(after, 'tessera_http_request_duration_seconds_count', labels) - value(before, 'tessera_http_request_duration_seconds_count', labels);
          assert.equal(observed, count, `latency observations of ${dialect} ${operation}`);
          assert.equal(value(after, 'tessera_http_request_duration_seconds_bucket', { ...labels, le: '+Inf' }), value(after, 'tessera_http_request_duration_seconds_count', labels));
          assert.ok(value(after, 'tessera_http_request_duration_seconds_sum', labels) > value(before, 'tessera_http_request_duration_seconds_sum', labels));
        }
        const grew = (name: string, dialect: string) => value(after, name, { dialect }) - value(before, name, { dialect });
        assert.ok(grew('tessera_http_received_bytes_total', 's3') >= s3Body.length, 'S3 bytes in: at least the body put');
        assert.ok(grew('tessera_http_sent_bytes_total', 's3') >= s3Body.length, 'S3 bytes out: at least the body got');
        assert.ok(grew('tessera_http_received_bytes_total', 'oss') >= ossBody.length, 'OSS bytes in');
        assert.ok(grew('tessera_http_sent_bytes_total', 'oss') >= ossBody.length, 'OSS bytes out');
        assert.ok(grew('tessera_http_received_bytes_total', 'pan') > 0, 'pan bytes in');
        assert.ok(grew('tessera_http_sent_bytes_total', 'pan') > 0, 'pan bytes out');
        assert.equal(after.types.get('tessera_http_requests_total'), 'counter');
        assert.equal(after.types.get('tessera_http_request_duration_seconds'), 'histogram');
      });

      it('shows an upload in progress and its part in the gauges, and neither after the abort', async () => {
        const part = randomBytes(2 * 1024 * 1024);
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'metrics', Key: 'big.bin' }));
        await s3.send(new UploadPartCommand({ Bucket: 'metrics', Key: 'big.bin', UploadId, PartNumber: 1, Body: part }));
        const open = await scrapeUntil(server, (s) => value(s, 'tessera_multipart_uploads') === 1 && value(s, 'tessera_multipart_upload_parts') === 1);
        assert.equal(value(open, 'tessera_multipart_uploads'), 1);
        assert.equal(value(open, 'tessera_multipart_upload_parts'), 1);
        assert.equal(value(open, 'tessera_multipart_upload_bytes'), part.length);
        // A 2 MiB part is hashed on a worker thread (when the pool has any): the pool started one.
        const max = value(open, 'tessera_hash_pool_threads_max');
        assert.ok(max >= 0 && value(open, 'tessera_hash_pool_threads') <= max);
        if (max > 0) assert.ok(value(open, 'tessera_hash_pool_threads') >= 1, 'a hash worker started for the part');
        assert.ok(value(open, 'tessera_hash_pool_busy_threads') <= value(open, 'tessera_hash_pool_threads'));
        assert.ok(value(open, 'tessera_staging_memory_bytes') > 0, 'the part went through staging slots');

        await s3.send(new AbortMultipartUploadCommand({ Bucket: 'metrics', Key: 'big.bin', UploadId }));
        const gone = await scrapeUntil(server, (s) => value(s, 'tessera_multipart_uploads') === 0);
        assert.equal(value(gone, 'tessera_multipart_uploads'), 0);
        assert.equal(value(gone, 'tessera_multipart_upload_parts'), 0);
        assert.equal(value(gone, 'tessera_multipart_upload_bytes'), 0);
      });

      it("reports the node, its data directory's filesystem, its metadata pool and Node's own metrics, all under tessera_", async () => {
        const s = await scrape(server);
        for (const sample of s.samples) assert.ok(sample.name.startsWith('tessera_'), sample.name);
        const info = s.samples.filter((sample) => sample.name === 'tessera_node_info');
        assert.equal(info.length, 1);
        assert.equal(info[0]!.value, 1);
        assert.match(info[0]!.labels.version!, /^\d+\.\d+\.\d+/);
        assert.equal(info[0]!.labels.metadata, backend === 'SQLite' ? 'sqlite' : 'postgres');
        const free = value(s, 'tessera_blob_store_free_bytes');
        const size = value(s, 'tessera_blob_store_size_bytes');
        assert.ok(size > 0 && free > 0 && free <= size, `free ${free} of ${size}`);
        if (backend === 'SQLite') {
          assert.equal(info[0]!.labels.node_id, undefined, 'one node: no node id');
          assert.ok(!s.types.has('tessera_metadata_pool_connections'), 'SQLite has no pool');
        } else {
          assert.match(info[0]!.labels.node_id!, /^\S+$/);
          const total = value(s, 'tessera_metadata_pool_connections');
          const idle = value(s, 'tessera_metadata_pool_idle_connections');
          assert.ok(total >= 1 && idle >= 0 && idle <= total, `pool: ${idle} idle of ${total}`);
          assert.ok(s.types.has('tessera_metadata_pool_waiting_clients'));
          assert.ok(value(s, 'tessera_metadata_pool_waiting_clients') >= 0);
        }
        // prom-client's default metrics, prefixed.
        assert.ok(value(s, 'tessera_process_resident_memory_bytes') > 0);
        assert.ok(value(s, 'tessera_process_open_fds') > 0);
        assert.equal(s.types.get('tessera_nodejs_eventloop_lag_seconds'), 'gauge');
        assert.equal(s.types.get('tessera_nodejs_gc_duration_seconds'), 'histogram');
        assert.ok(value(s, 'tessera_nodejs_heap_size_used_bytes') > 0);
      });

      it('keeps the operation label bounded when a client names endless unknown 123pan endpoints', async () => {
        for (let start = 0; start < 320; start += 40) {
          await Promise.all(
            Array.from({ length: 40 }, async (_, i) => {
              const response = await fetch(`${server.url}/api/v1/nothing-${start + i}`, { headers: { Platform: 'open_platform' } });
              await response.arrayBuffer();
            }),
          );
        }
        const s = await scrapeUntil(server, (s) => s.samples.some((sample) => sample.labels.operation === 'Unknown'));
        const pan = s.samples.filter((sample) => sample.name === 'tessera_http_requests_total' && sample.labels.dialect === 'pan');
        const operations = new Set(pan.map((sample) => sample.labels.operation));
        // The dialect names an unknown path 'Unknown' (never the path); the metrics' own cap (256, then 'other') is the second line.
        assert.ok(![...operations].some((name) => name!.includes('nothing-')), [...operations].join(', '));
        const unknown = pan.filter((sample) => sample.labels.operation === 'Unknown').reduce((sum, sample) => sum + sample.value, 0);
        assert.ok(unknown >= 320, `${unknown} requests counted as Unknown`);
        assert.ok(operations.has('api/v1/user/info'));
      });

      it('answers HEAD without a body and refuses other methods with 405', async () => {
        const head = await fetch(`${server.url}/-/metrics`, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(await head.text(), '');
        const post = await fetch(`${server.url}/-/metrics`, { method: 'POST', body: 'x' });
        assert.equal(post.status, 405);
        assert.equal(post.headers.get('allow'), 'GET, HEAD');
      });
    });
  },
  { config: panConfig() },
);

describe('metrics behind a bearer token (TESSERA_METRICS_TOKEN)', () => {
  const token = 'metrics-token-4f0c9d1e';
  const fileToken = 'config-file-token-ignored';
  let server: TestServer;

  before(async () => {
    // The environment's token wins over the config file's (as every setting does); info-level
    // logs, so that every request's access-log line is there to look through.
    server = await startServer({ singleNode: true, env: { TESSERA_METRICS_TOKEN: token }, config: { metricsToken: fileToken }, extraArgs: ['--log-level', 'info'] });
  });
  after(async () => {
    await server?.cleanup();
  });

  it('answers 401 with WWW-Authenticate: Bearer without the token or with a wrong one, 200 with it', async () => {
    const none = await fetch(`${server.url}/-/metrics`);
    assert.equal(none.status, 401);
    assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer realm="tessera-metrics"$/);
    assert.doesNotMatch(await none.text(), /tessera_/);

    for (const authorization of [`Bearer ${token}x`, `Bearer ${fileToken}`, `Basic ${Buffer.from(`x:${token}`).toString('base64')}`, token, 'Bearer']) {
      const wrong = await fetch(`${server.url}/-/metrics`, { headers: { authorization } });
      assert.equal(wrong.status, 401, authorization);
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Bearer realm="tessera-metrics"/);
      assert.doesNotMatch(await wrong.text(), /tessera_/);
    }
    const wrong = await fetch(`${server.url}/-/metrics`, { headers: { authorization: 'Bearer not-the-token' } });
    assert.match(wrong.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    await wrong.arrayBuffer();

    const right = await scrape(server, { authorization: `Bearer ${token}` });
    assert.ok(right.samples.length > 0);
    // The scheme is case-insensitive (RFC 7235).
    assert.ok((await scrape(server, { authorization: `bearer ${token}` })).samples.length > 0);
    // The refusals were counted too, as the metrics route's 401s.
    const counted = await scrapeUntil(server, (s) => requests(s, 'metrics', 'Metrics', 401) >= 7, 5_000, { authorization: `Bearer ${token}` });
    assert.equal(requests(counted, 'metrics', 'Metrics', 401), 7);

    // /-/health stays open.
    assert.equal((await fetch(`${server.url}/-/health`)).status, 200);
    assert.ok(server.stdout().includes('"operation":"Metrics"'), 'the scrapes are in the access log');
    assert.ok(!server.stdout().includes(token), 'the token is never logged');
    assert.ok(!server.stdout().includes(fileToken), "the config file's token is never logged");
  });
});

describe('metrics while the metadata database is down', { skip: postgresBinDir() ? false : 'PostgreSQL not installed' }, () => {
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

  it('still answers, keeping the upload gauges at their last values and counting the failed reads', async () => {
    const s3 = s3Client(server);
    try {
      await s3.send(new CreateBucketCommand({ Bucket: 'down' }));
      await s3.send(new CreateMultipartUploadCommand({ Bucket: 'down', Key: 'open' }));
      const up = await scrapeUntil(server, (s) => value(s, 'tessera_multipart_uploads') === 1);
      assert.equal(value(up, 'tessera_multipart_uploads'), 1);
      assert.equal(value(up, 'tessera_metrics_collect_errors_total', { source: 'metadata' }), 0);
      await postgres.stop();
      // Past the 5 s the totals are reused for: the next scrapes ask the database, which is gone.
      const down = await scrapeUntil(server, (s) => value(s, 'tessera_metrics_collect_errors_total', { source: 'metadata' }) >= 1, 20_000);
      assert.ok(value(down, 'tessera_metrics_collect_errors_total', { source: 'metadata' }) >= 1);
      assert.equal(value(down, 'tessera_multipart_uploads'), 1, 'the last value, not a made-up 0');
      assert.ok(value(down, 'tessera_blob_store_free_bytes') > 0, 'the other gauges are read as usual');
    } finally {
      s3.destroy();
    }
  });
});
