import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';

const SCRIPT = fileURLToPath(new URL('../../../scripts/build-if-stale.mjs', import.meta.url));

// A stand-in project: its "build" counts its runs and writes the outputs a real build leaves.
const FAKE_BUILD = `node -e "const fs=require('fs');fs.mkdirSync('dist/src/cli',{recursive:true});fs.mkdirSync('dist/console',{recursive:true});fs.writeFileSync('dist/src/cli/main.js','');fs.writeFileSync('dist/console/index.html','');fs.appendFileSync('builds','x')"`;

describe('scripts/build-if-stale.mjs (npm start, npm test)', () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'tessera-build-stale-'));
    mkdirSync(join(root, 'src'));
    writeFileSync(join(root, 'src', 'a.ts'), 'export const a = 1;\n');
    writeFileSync(join(root, 'package.json'), '{}\n');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const run = (build = FAKE_BUILD) => spawnSync(process.execPath, [SCRIPT, '--root', root, '--build', build], { encoding: 'utf8' });
  const builds = () => readFileSync(join(root, 'builds'), 'utf8').length;

  it('builds the first time, then not again while nothing changed', () => {
    assert.equal(run().status, 0);
    assert.equal(builds(), 1);
    assert.equal(run().status, 0);
    assert.equal(run().status, 0);
    assert.equal(builds(), 1);
  });

  it('builds again after a source is edited, added or removed', () => {
    const source = join(root, 'src', 'a.ts');
    writeFileSync(source, 'export const a = 2;\n');
    const later = new Date(Date.now() + 5_000);
    utimesSync(source, later, later);
    run();
    assert.equal(builds(), 2);
    writeFileSync(join(root, 'src', 'b.ts'), 'export const b = 1;\n');
    run();
    assert.equal(builds(), 3);
    rmSync(join(root, 'src', 'b.ts'));
    run();
    assert.equal(builds(), 4);
    run();
    assert.equal(builds(), 4);
  });

  it('builds again when an output is gone (dist deleted or half made)', () => {
    rmSync(join(root, 'dist', 'console', 'index.html'));
    run();
    assert.equal(builds(), 5);
  });

  it('a failed build fails the start and is tried again next time', () => {
    writeFileSync(join(root, 'src', 'c.ts'), 'broken\n');
    const failed = run('node -e "process.exit(3)"');
    assert.equal(failed.status, 3);
    assert.equal(run().status, 0);
    assert.equal(builds(), 6);
  });
});
