import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { SoakReport } from '../../bench/soak/report.js';
import { REPO_ROOT } from '../helpers/server.js';

// Issue #18: the chaos soak (bench/soak.ts) run for real on one node, killed with SIGKILL every
// 12–18 s (so at least two crashes land in its 51 s of load): it must end with every acknowledged
// write found whole, nothing lost, no temp or orphan file, and exit 0. Its report goes to a temp
// path, never to bench/results/soak-latest.md.

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--initial-old-space-size=64', join(REPO_ROOT, 'dist', 'bench', 'soak.js'), ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('the chaos soak', () => {
  let dir: string | undefined;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('51 s of mixed load with SIGKILLs every 12-18 s: at least 2 crashes, acknowledged writes all verified, nothing lost, exit 0', { timeout: 150_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-soak-test-'));
    const out = join(dir, 'soak.md');
    const latest = join(REPO_ROOT, 'bench', 'results', 'soak-latest.md');
    const latestBefore = await stat(latest).then((s) => s.mtimeMs, () => undefined);

    const { code, output } = await run(['--minutes', '0.85', '--concurrency', '12', '--kill-every', '12-18', '--out', out]);
    const tail = output.slice(-6000);
    assert.equal(code, 0, tail);

    const report = JSON.parse(await readFile(join(dir, 'soak.json'), 'utf8')) as SoakReport;
    assert.ok(report.crashes >= 2, `crashes: ${report.crashes}`);
    assert.ok(report.operationsTotal > 100, `operations: ${report.operationsTotal}`);
    assert.ok(report.verifiedObjects > 0 && report.verifiedParts > 0, `verified ${report.verifiedObjects} objects, ${report.verifiedParts} parts`);
    assert.equal(report.dataLost, 0, report.lost.join('\n'));
    assert.deepEqual(report.torn, []);
    assert.deepEqual(report.violations, []);
    assert.deepEqual(report.tempFilesLeft, []);
    assert.deepEqual(report.blobsMissing, []);
    assert.equal(report.blobsUnreferenced, 0, 'one node sweeps the orphans of the crashes at its restart');
    assert.ok(report.blobFiles > 0);
    assert.deepEqual(report.serverErrorsOutsideWindows, []);
    assert.equal(report.ok, true);
    // Every kind of operation ran.
    for (const kind of ['s3.put', 's3.multipart', 'oss.put', 'oss.multipart', 'pan.v1', 'pan.v2', 'pan.resume', 'get.range', 'get.full', 'list']) {
      assert.ok((report.operations[kind] ?? 0) > 0, `${kind}: ${JSON.stringify(report.operations)}`);
    }

    const markdown = await readFile(out, 'utf8');
    assert.match(markdown, /^PASS: /m);
    assert.match(markdown, /\| \*\*Data lost\*\* \| \*\*0\*\* \|/);
    assert.match(markdown, new RegExp(`\\| Crashes injected \\(SIGKILL\\) \\| ${report.crashes} \\|`));
    assert.ok(output.includes(markdown.split('\n')[0]!), 'the table is printed too');
    assert.equal(await stat(latest).then((s) => s.mtimeMs, () => undefined), latestBefore, 'bench/results/soak-latest.md untouched');
  });
});
