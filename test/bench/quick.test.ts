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
