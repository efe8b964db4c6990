/**
 * The scale curves as a step of `npm run bench`: bench/scale.ts in a process of its own (its
 * servers and fixtures are its own), after the side-by-side rows, writing into the same results directory.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './contenders/paths.js';

export function runScaleCurves(resultsDir: string): Promise<void> {
  const script = join(REPO_ROOT, 'dist', 'bench', 'scale.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, script, '--results-dir', resultsDir], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`bench/scale.ts exited with ${signal ?? code}`))));
  });
}
