import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { postgresBinDir } from '../helpers/postgres.js';
import { REPO_ROOT } from '../helpers/server.js';

interface Cell {
  summary?: { median: number; samples: number[] };
  na?: string;
}
interface Report {
  quick: boolean;
  contenders: Array<{ id: string }>;
  metrics: Array<{ row: string; id: string; cells: Record<string, Cell> }>;
}

const CONTENDERS = ['tessera', 'tessera-sse', 'tessera-oss', 'tessera-pan', 's3rver', 'tus', 'floor'];

/** Contenders a row cannot be measured for, and so shows as n/a (the table's footnotes say why). */
const NOT_APPLICABLE: Record<string, string[]> = {
  '2': ['tessera-sse'],
  '2b': ['tessera-sse'],
  '3a': ['tessera-sse', 'tessera-pan', 'tus', 'floor'],
  '3': ['tessera-sse', 'tessera-oss', 'tessera-pan', 'tus', 'floor'],
  '3b': ['tessera-sse', 'tessera-oss', 'tessera-pan', 'tus', 'floor'],
  '4': ['tessera-sse', 'tessera-pan', 's3rver', 'tus', 'floor'],
  '4p9': ['tessera-sse', 'tessera-pan', 's3rver', 'tus', 'floor'],
  '4b': ['tessera-sse', 'tessera-pan', 's3rver', 'tus', 'floor'],
  '4p9b': ['tessera-sse', 'tessera-pan', 's3rver', 'tus', 'floor'],
  '5r': ['tus'],
};

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

// The harness checks what it measures (ETags, sizes, downloaded bytes) and fails on a wrong answer;
// this runs all of it small, so CI notices when a contender or a row stops working.
describe('npm run bench -- --quick', () => {
  it('measures every row for every contender that supports it and writes the table', { timeout: 600_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-test-'));
    try {
      const harness = join(REPO_ROOT, 'dist', 'bench', 'run.js');
      const { code, output } = await run(['--initial-old-space-size=64', harness, '--quick', '--results-dir', dir]);
      assert.equal(code, 0, output.slice(-4000));

      const report = JSON.parse(await readFile(join(dir, 'quick.json'), 'utf8')) as Report;
      assert.equal(report.quick, true);
      assert.deepEqual(report.contenders.map((c) => c.id), CONTENDERS);
      const rows = new Set(report.metrics.map((m) => m.row));
      for (const row of ['1', '1b', '1c', '2', '2b', '3', '4', '4p9', '5h', '5c', '5hb', '5cb', '5r', '6']) assert.ok(rows.has(row), `row ${row}`);
      for (const metric of report.metrics) {
        const missing = CONTENDERS.filter((id) => metric.cells[id]?.na !== undefined);
        assert.deepEqual(missing, NOT_APPLICABLE[metric.row] ?? [], `n/a cells of row ${metric.row}`);
        for (const id of CONTENDERS.filter((c) => !missing.includes(c))) {
          const samples = metric.cells[id]?.summary?.samples ?? [];
          assert.ok(samples.length > 0 && samples.every((v) => Number.isFinite(v) && v > 0), `row ${metric.row}, ${id}: ${JSON.stringify(samples)}`);
        }
      }
      const markdown = await readFile(join(dir, 'quick.md'), 'utf8');
      assert.match(markdown, /\| 1 \| Upload a 128 MiB file as 16 MiB parts, 4 in flight \|/);
      // The proxy's CPU rows belong to a contender behind the proxy; none of these is.
      assert.ok(!rows.has('1d') && !rows.has('2c'));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  // Tessera in cluster mode: 3 nodes on PostgreSQL behind the proxy (the one-node `tessera-pg` is the
  // same module without the proxy, left out to keep this short).
  it('measures every row for Tessera on PostgreSQL, 3 nodes behind the proxy', { timeout: 600_000 }, async (t) => {
    if (!postgresBinDir()) {
      // .ci/run installs Debian's postgresql; on CI this must not skip.
      if (process.env.CI) assert.fail('PostgreSQL server binaries are missing on CI');
      return t.skip('PostgreSQL not installed');
    }
    const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-test-'));
    try {
      const harness = join(REPO_ROOT, 'dist', 'bench', 'run.js');
      const { code, output } = await run(['--initial-old-space-size=64', harness, '--quick', '--contenders', 'tessera-3pg', '--results-dir', dir]);
      assert.equal(code, 0, output.slice(-4000));
      const report = JSON.parse(await readFile(join(dir, 'quick.json'), 'utf8')) as Report;
      assert.deepEqual(report.contenders.map((c) => c.id), ['tessera-3pg']);
      const rows = report.metrics.map((m) => m.row);
      for (const row of ['1', '1b', '1c', '1d', '2', '2b', '2c', '3a', '3', '3b', '4', '4p9', '4b', '4p9b', '5h', '5c', '5hb', '5cb', '5r', '6']) assert.ok(rows.includes(row), `row ${row}`);
      for (const metric of report.metrics) {
        const samples = metric.cells['tessera-3pg']?.summary?.samples ?? [];
        assert.ok(samples.length > 0 && samples.every((v) => Number.isFinite(v) && v > 0), `row ${metric.row}: ${JSON.stringify(metric.cells['tessera-3pg'])}`);
      }
      // PostgreSQL's CPU is in the server's, and the log says how much of it was PostgreSQL's.
      assert.match(output, /tessera-3pg row 2: .* \(3 nodes [\d.]+ \+ PostgreSQL [\d.]+\); proxy [\d.]+ ms\/request besides/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// The scale bench of ListObjectVersions, small: its fixture and every page it times still work.
describe('npm run bench:versions', () => {
  it('fills a versioned bucket by SQL and times every page position on each backend', { timeout: 300_000 }, async () => {
    const backends = postgresBinDir() ? ['sqlite', 'postgres'] : ['sqlite'];
    if (backends.length === 1 && process.env.CI) assert.fail('PostgreSQL server binaries are missing on CI');
    const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-test-'));
    try {
      const harness = join(REPO_ROOT, 'dist', 'bench', 'scale-versions.js');
      const { code, output } = await run([harness, '--sizes', '2000', '--samples', '1', '--backends', backends.join(','), '--results-dir', dir]);
      assert.equal(code, 0, output.slice(-4000));
      const report = JSON.parse(await readFile(join(dir, 'scale-versions.json'), 'utf8')) as {
        results: Array<{ backend: string; versions: number; pages: Record<string, { wire?: { samples: number[] }; whole?: { samples: number[] } }> }>;
      };
      assert.deepEqual(report.results.map((r) => [r.backend, r.versions]), backends.map((b) => [b, 2000]));
      for (const result of report.results) {
        assert.equal(Object.keys(result.pages).length, 4);
        for (const [position, times] of Object.entries(result.pages)) {
          for (const samples of [times.wire?.samples, times.whole?.samples]) {
            assert.ok(samples?.length === 1 && samples[0]! > 0, `${result.backend}, ${position}: ${JSON.stringify(times)}`);
          }
        }
      }
      assert.match(await readFile(join(dir, 'scale-versions.md'), 'utf8'), /\| SQLite \| 2,000 \|/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// The scale curves (issue #19), small: every series is measured on each backend and plotted.
describe('npm run bench:scale -- --quick', () => {
  it('measures every series on each backend and writes the table, the JSON and a PNG per series', { timeout: 300_000 }, async () => {
    const backends = postgresBinDir() ? ['sqlite', 'postgres'] : ['sqlite'];
    if (backends.length === 1 && process.env.CI) assert.fail('PostgreSQL server binaries are missing on CI');
    const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-test-'));
    try {
      const harness = join(REPO_ROOT, 'dist', 'bench', 'scale.js');
      const { code, output } = await run(['--initial-old-space-size=64', harness, '--quick', '--backends', backends.join(','), '--results-dir', dir]);
      assert.equal(code, 0, output.slice(-4000));
      const report = JSON.parse(await readFile(join(dir, 'scale-quick.json'), 'utf8')) as ScaleJson;
      assert.equal(report.quick, true);
      const positive = (value: unknown, what: string) => assert.ok(typeof value === 'number' && Number.isFinite(value) && value > 0, `${what}: ${JSON.stringify(value)}`);
      const summary = (s: { samples: number[] } | undefined, what: string) => {
        assert.ok(s && s.samples.length > 0, `${what}: no samples`);
        for (const v of s.samples) positive(v, what);
      };
      for (const [name, results, sizes] of [
        ['ListObjectsV2', report.listObjects, report.sizes.objects],
        ['ListMultipartUploads', report.listUploads, report.sizes.uploads],
      ] as const) {
        assert.deepEqual(results.map((r) => [r.backend, r.count]), backends.flatMap((b) => sizes.map((s) => [b, s])), name);
        for (const r of results) {
          assert.deepEqual(Object.keys(r.pages), ['first page', 'middle (start-after)', 'delimiter=/ (root)', 'delimiter=/ (middle directory)']);
          for (const [position, page] of Object.entries(r.pages)) {
            summary(page.wire, `${name} ${r.backend} ${r.count} ${position}`);
            summary(page.whole, `${name} ${r.backend} ${r.count} ${position}`);
          }
        }
      }
      assert.deepEqual(report.parts.map((r) => [r.backend, r.parts]), backends.flatMap((b) => report.sizes.parts.map((p) => [b, p])));
      for (const r of report.parts) {
        for (const [what, s] of Object.entries({ first: r.firstPage.wire, middle: r.middlePage.wire, all: r.allPages, complete: r.complete })) summary(s, `parts ${r.backend} ${r.parts} ${what}`);
      }
      assert.deepEqual(report.concurrency.map((r) => r.concurrency), report.sizes.concurrency);
      for (const r of report.concurrency) {
        assert.equal(r.error, undefined, `concurrency ${r.concurrency}`);
        for (const value of [r.megabytesPerSecond, r.p99Ms, r.peakRssBytes]) positive(value, `concurrency ${r.concurrency}`);
      }
      assert.deepEqual(report.metadataSize.map((r) => [r.backend, r.what]), backends.flatMap((b) => [[b, 'objects'], [b, 'parts']]));
      for (const r of report.metadataSize) positive(r.bytesPerMillion, `metadata size ${r.backend} ${r.what}`);

      const series = ['list-objects', 'list-uploads', 'parts', 'concurrency', 'metadata-size'];
      assert.deepEqual(Object.keys(report.plots), series);
      const markdown = await readFile(join(dir, 'scale-quick.md'), 'utf8');
      for (const name of series) {
        const png = await readFile(join(dir, `scale-quick-${name}.png`));
        // A PNG signature, and more than an empty canvas.
        assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], name);
        assert.ok(png.length > 10_000, `${name}: ${png.length} bytes`);
        assert.ok(markdown.includes(`](scale-quick-${name}.png)`), `${name} not referenced`);
      }
      assert.match(markdown, /\| SQLite \| 4,000 \|/);
      assert.match(markdown, /fixtures cloned by SQL/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

interface ScaleSummary {
  samples: number[];
}
interface ScaleListing {
  backend: string;
  count: number;
  pages: Record<string, { wire?: ScaleSummary; whole?: ScaleSummary }>;
}
interface ScaleJson {
  quick: boolean;
  sizes: { objects: number[]; uploads: number[]; parts: number[]; concurrency: number[] };
  listObjects: ScaleListing[];
  listUploads: ScaleListing[];
  parts: Array<{ backend: string; parts: number; firstPage: { wire?: ScaleSummary }; middlePage: { wire?: ScaleSummary }; allPages?: ScaleSummary; complete?: ScaleSummary }>;
  concurrency: Array<{ concurrency: number; error?: string; megabytesPerSecond: number; p99Ms: number; peakRssBytes: number }>;
  metadataSize: Array<{ backend: string; what: string; bytesPerMillion: number }>;
  plots: Record<string, string>;
}
