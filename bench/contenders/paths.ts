import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/bench/contenders → repository root. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
/** The built Tessera CLI. */
export const TESSERA_CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');
/** A compiled helper server under dist/bench/servers. */
export function benchServer(name: string): string {
  return join(REPO_ROOT, 'dist', 'bench', 'servers', `${name}.js`);
}
