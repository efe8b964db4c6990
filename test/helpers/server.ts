import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVER_ENV, SERVER_NODE_FLAGS } from '../../src/server/node-flags.js';

/** dist/test/helpers → repository root, so the built CLI is found from compiled tests. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

export const ROOT_ACCESS_KEY = 'tessera-root';
export const ROOT_SECRET_KEY = 'tessera-root-secret-key-0123456789';

export interface TestServerOptions {
  /** Written as the JSON config file. */
  config?: Record<string, unknown>;
  /** Reuse a data directory (restart after a crash); otherwise a fresh temp dir. */
  dataDir?: string;
  env?: Record<string, string>;
  extraArgs?: string[];
  /** Leave the root credentials out of the environment (to test generation). */
  noRootEnv?: boolean;
  /** Root's access key and secret key, when not the tests' usual ROOT_ACCESS_KEY / ROOT_SECRET_KEY (the docs' own, say). */
  root?: { accessKey: string; secretKey: string };
  /** The program and its arguments before the CLI path; default: node with SERVER_NODE_FLAGS and SERVER_ENV, as `npm start` runs it. */
  launch?: [string, ...string[]];
  /** `--metadata URL`: the node keeps its metadata in this PostgreSQL database (cluster mode). */
  metadata?: string;
  /** One process even when TESSERA_TEST_CLUSTER=1: for tests about one process (its RSS, flags, stdout, signals). */
  singleNode?: boolean;
}

/**
 * A running server as the tests see it. With TESSERA_TEST_CLUSTER=1, startServer() returns a
 * cluster (test/helpers/cluster.ts) behind the same interface: three nodes on one throwaway
 * PostgreSQL and one shared data directory, behind a round-robin proxy. Then:
 * - `url` and `port` are the proxy's (the Host a client sends still reaches the nodes as sent);
 * - `dataDir` is the shared directory: its `blobs/` and `tmp/` are every node's, but there is no
 *   `meta.db` (the metadata is in PostgreSQL);
 * - `process` is the first node's; `stdout()` is every node's, line by line as they came, each
 *   node's own address written as the proxy's;
 * - `stop()` and `kill()` act on every node at once (SIGTERM, SIGKILL: the whole tier crashes);
 *   PostgreSQL stays up until `cleanup()`, as a database server outlives the nodes;
 * - a restart is `startServer({ dataDir: first.dataDir })`, as for one server: new nodes on the
 *   same database and directory.
 * Single-node only (they pass `singleNode`): test/server/{ops,memory,node-flags}.test, about one
 * process. `npm run test:cluster` runs the S3, OSS and Pan suites this way.
 */
export interface TestServer {
  url: string;
  port: number;
  dataDir: string;
  process: ChildProcess;
  /** Everything the server printed on stdout so far. */
  stdout(): string;
  /** SIGTERM and wait for exit. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for exit: a crash. */
  kill(): Promise<void>;
  /** Removes the data directory (when this helper made it). */
  cleanup(): Promise<void>;
}

/** TESSERA_TEST_CLUSTER=1: startServer() starts a cluster (see TestServer). */
export function clusterMode(): boolean {
  return process.env.TESSERA_TEST_CLUSTER === '1';
}

/** Starts `tessera serve` as a real process on a free port, or a cluster of them in cluster mode (see TestServer). */
export async function startServer(options: TestServerOptions = {}): Promise<TestServer> {
  if (clusterMode() && !options.singleNode && options.metadata === undefined) {
    // Imported here: cluster.ts builds on startNode below.
    const { startCluster } = await import('./cluster.js');
    return startCluster(options);
  }
  return startNode(options);
}

/** Starts one `tessera serve` process on a free port and waits for its listening line. */
export async function startNode(options: TestServerOptions = {}): Promise<TestServer> {
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'tessera-test-')));
  const args = [CLI, 'serve', '--data', dataDir, '--address', '127.0.0.1:0', '--log-level', 'warn', ...(options.extraArgs ?? [])];
  if (options.metadata !== undefined) args.push('--metadata', options.metadata);
  // The config file lives in a temp dir of its own, removed by cleanup().
  const configDir = options.config ? await mkdtemp(join(tmpdir(), 'tessera-config-')) : undefined;
  if (configDir) {
    const configPath = join(configDir, 'config.json');
    await writeFile(configPath, JSON.stringify(options.config));
    args.push('--config', configPath);
  }
  // Started as `npm start` starts it, unless the test says how (`launch`).
  const env: NodeJS.ProcessEnv = { ...process.env, ...(options.launch ? {} : SERVER_ENV), ...options.env };
  if (!options.noRootEnv) {
    env.TESSERA_ROOT_USER = options.root?.accessKey ?? ROOT_ACCESS_KEY;
    env.TESSERA_ROOT_PASSWORD = options.root?.secretKey ?? ROOT_SECRET_KEY;
  } else {
    delete env.TESSERA_ROOT_USER;
    delete env.TESSERA_ROOT_PASSWORD;
  }
  const [program, ...before] = options.launch ?? [process.execPath, ...SERVER_NODE_FLAGS];
  const child = spawn(program, [...before, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));

  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time\nstdout: ${out}\nstderr: ${err}`)), 30_000);
    const check = () => {
      const match = /Tessera listening on (https?:\/\/\S+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', check);
        resolveUrl(match[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}\nstdout: ${out}\nstderr: ${err}`));
    });
  });

  return {
    url,
    port: Number(new URL(url).port),
    dataDir,
    process: child,
    stdout: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
    cleanup: async () => {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await exited;
      }
      if (ownsDir) await rm(dataDir, { recursive: true, force: true });
      if (configDir) await rm(configDir, { recursive: true, force: true });
    },
  };
}

/** Every regular file under `dir`, recursively (a data directory's blobs, say). */
export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}
