import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

/**
 * A throwaway PostgreSQL server for tests and the benchmark: a fresh cluster (initdb) in a temp
 * directory, listening on a free loopback port, trust authentication, stopped and removed by
 * cleanup(). It is Debian's `postgresql` package (installed by .ci/run), found under
 * /usr/lib/postgresql or through pg_config. PostgreSQL refuses to run as root, so under root the
 * cluster belongs to the `postgres` user the package creates.
 */
export interface TestPostgres {
  /** `postgres://tessera@127.0.0.1:PORT/tessera` */
  url: string;
  port: number;
  /** The postmaster's process id (every backend is its child); a start() changes it. */
  readonly pid: number;
  /** Stops the server (fast shutdown), keeping the cluster: start() brings it back on the same port. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL, keeping the cluster. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server if it runs and removes the cluster (not one in `dir`: that stays). */
  cleanup(): Promise<void>;
}

export interface PostgresOptions {
  /**
   * Keep the cluster in this directory: initdb'd there when it does not exist, started as it is
   * when it does (a copy of a stopped cluster, say, which the benchmark restores for each run).
   * Default: a temp directory that cleanup() removes.
   */
  dir?: string;
  /**
   * PostgreSQL's own durable defaults (fsync, full_page_writes), as a production server runs:
   * for the benchmark. Default: fsync and full_page_writes off, for tests (see start()).
   */
  durable?: boolean;
}

/** The directory of initdb/postgres, or undefined when PostgreSQL's server binaries are not installed. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .filter((name) => existsSync(join(root, name, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(root, versions[0], 'bin');
  }
  const config = spawnSync('pg_config', ['--bindir'], { encoding: 'utf8' });
  const dir = config.status === 0 ? config.stdout.trim() : '';
  return dir && existsSync(join(dir, 'initdb')) ? dir : undefined;
}


/** The uid/gid to run PostgreSQL as: ourselves, or the `postgres` user when we are root. */
function runAs(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0) throw new Error('running as root and there is no postgres user to run PostgreSQL as');
  return { uid, gid };
}

function run(program: string, args: string[], owner: { uid: number; gid: number } | undefined): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], ...owner });
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${program} exited with ${code}: ${output}`))));
  });
}

export async function startPostgres(options: PostgresOptions = {}): Promise<TestPostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found (install Debian\'s postgresql package)');
  const owner = runAs();
  // The socket directory is always a temp one: the cluster directory may be copied while stopped.
  const dir = await mkdtemp(join(tmpdir(), 'tessera-pg-'));
  const dataDir = options.dir ?? join(dir, 'data');
  const socketDir = join(dir, 'socket');
  const fresh = !existsSync(dataDir);
  try {
    await mkdir(socketDir);
    if (owner) {
      await chown(dir, owner.uid, owner.gid);
      await chown(socketDir, owner.uid, owner.gid);
    }
    if (fresh) {
      if (owner) {
        // Made here, not by initdb: the postgres user may not write in the directory above it.
        await mkdir(dataDir, { mode: 0o700 });
        await chown(dataDir, owner.uid, owner.gid);
      }
      await run(join(bin, 'initdb'), ['-D', dataDir, '-U', 'tessera', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync'], owner);
    } else if (owner) {
      // A copy made by root belongs to root; PostgreSQL wants its own files.
      await run('chown', ['-R', `${owner.uid}:${owner.gid}`, dataDir], undefined);
    }
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const settings = options.durable ? [] : ['-c', 'fsync=off', '-c', 'full_page_writes=off'];
  const port = await freePort();
  let server: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = async () => {
    // fsync off (unless durable): a test cluster lives minutes, and what a killed server process
    // wrote is still in the page cache. synchronous_commit stays on: with it off, commits
    // acknowledged in the last fraction of a second are lost when the server process is killed
    // (the harness test saw it).
    const child = spawn(
      join(bin, 'postgres'),
      ['-D', dataDir, '-p', String(port), '-k', socketDir, '-c', 'listen_addresses=127.0.0.1', ...settings, '-c', 'max_connections=200'],
      { stdio: ['ignore', 'pipe', 'pipe'], ...owner },
    );
    server = child;
    let log = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (log += chunk));
    exited = new Promise((resolve) => child.once('exit', () => resolve()));
    // A test that forgets cleanup() must not hang its process (the server would keep it alive) nor
    // leave PostgreSQL behind: the server does not hold the process open, and goes with it.
    child.unref();
    (child.stdout as Socket).unref();
    (child.stderr as Socket).unref();
    const killWithProcess = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    };
    process.once('exit', killWithProcess);
    child.once('exit', () => process.removeListener('exit', killWithProcess));
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`postgres exited with ${child.exitCode}: ${log}`);
      const ready = spawnSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'tessera', '-d', 'postgres']);
      if (ready.status === 0) break;
      if (Date.now() > deadline) throw new Error(`postgres did not become ready: ${log}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await run(join(bin, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'tessera', '-d', 'postgres', '-qc', 'SELECT 1'], undefined);
  };
  const signal = async (name: NodeJS.Signals) => {
    // Held open while its exit is awaited (it is unref'd otherwise, see start).
    server?.ref();
    if (server && server.exitCode === null) server.kill(name);
    await exited;
  };

  /**
   * SIGKILL to the postmaster and to every backend it had: on its own, a killed postmaster leaves
   * its backends running until they notice (each on its next wait), and a query on a connection
   * already open could still be answered in that window, as if the server were up.
   */
  const killWholeServer = async () => {
    const pid = server?.exitCode === null ? server.pid : undefined;
    const backends = pid === undefined ? [] : childrenOf(pid);
    await Promise.all([signal('SIGKILL'), ...backends.map((backend) => killAndWait(backend))]);
  };

  try {
    await start();
    if (fresh) await run(join(bin, 'createdb'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'tessera', 'tessera'], undefined);
  } catch (err) {
    await signal('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url: `postgres://tessera@127.0.0.1:${port}/tessera`,
    port,
    get pid() {
      return server?.pid ?? 0;
    },
    start,
    // SIGINT is PostgreSQL's fast shutdown: it ends sessions and exits cleanly.
    stop: () => signal('SIGINT'),
    kill: killWholeServer,
    cleanup: async () => {
      await signal('SIGINT');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The pids of `pid`'s children (every thread's), from /proc. */
function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) =>
      readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/** SIGKILL to `pid`, then waits (up to 10 s) until it is gone. */
async function killAndWait(pid: number): Promise<void> {
  // Gone, or a zombie waiting for whoever inherited it to reap it: either way it answers nothing.
  const alive = () => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  for (let waited = 0; alive() && waited < 10_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
}
