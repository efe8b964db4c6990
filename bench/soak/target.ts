/**
 * The server under the soak and the crashes done to it. One node listens on a fixed port, so a
 * node started again after a SIGKILL is where the clients left it; a cluster is three nodes on a
 * throwaway PostgreSQL behind the tests' round-robin proxy (test/helpers/cluster.ts), where one
 * node at a time is killed and started again while the others serve, and the database is killed
 * and started again once.
 *
 * Restart windows: from a kill until the restarted server (or, for the database, a request that
 * needs it) answers again, plus a grace of a few seconds. What fails in a window is expected.
 */
import { join } from 'node:path';
import { startCluster, type TestCluster } from '../../test/helpers/cluster.js';
import { filesUnder, startNode, type TestServer } from '../../test/helpers/server.js';
import { freePort } from '../../test/helpers/ports.js';

export interface Window {
  what: string;
  start: number;
  /** Undefined while the server is still down. */
  end?: number;
}

export interface TargetOptions {
  cluster: boolean;
  dataDir: string;
  config: Record<string, unknown>;
  env: Record<string, string>;
  /** Grace after the server answers again, ms. */
  graceMs: number;
}

export class Target {
  readonly windows: Window[] = [];
  crashes = 0;
  dbRestarts = 0;
  private single?: TestServer;
  private port = 0;
  private clusterServer?: TestCluster;

  private constructor(private readonly options: TargetOptions) {}

  static async start(options: TargetOptions): Promise<Target> {
    const target = new Target(options);
    if (options.cluster) {
      target.clusterServer = await startCluster({ dataDir: options.dataDir, config: options.config, env: options.env, nodes: 3 });
    } else {
      target.port = await freePort();
      target.single = await target.startSingle();
    }
    return target;
  }

  private async startSingle(): Promise<TestServer> {
    const server = await startNode({
      dataDir: this.options.dataDir,
      config: this.options.config,
      env: this.options.env,
      singleNode: true,
      extraArgs: ['--address', `127.0.0.1:${this.port}`],
    });
    if (server.port !== this.port) throw new Error(`the node listens on ${server.url}, not on port ${this.port}`);
    return server;
  }

  get url(): string {
    return this.clusterServer ? this.clusterServer.url : this.single!.url;
  }

  get dataDir(): string {
    return this.options.dataDir;
  }

  /** The cluster's database, when there is one. */
  get postgresUrl(): string | undefined {
    return this.clusterServer?.postgres.url;
  }

  get isCluster(): boolean {
    return this.clusterServer !== undefined;
  }

  get mode(): string {
    return this.clusterServer ? 'cluster (3 nodes, PostgreSQL, round-robin proxy)' : 'single node (SQLite)';
  }

  get server(): TestServer {
    return this.clusterServer ?? this.single!;
  }

  /** Whether `at` falls in a restart window. */
  inWindow(at: number): boolean {
    return this.windows.some((w) => at >= w.start && (w.end === undefined || at <= w.end));
  }

  /** Whether [from, to] meets a restart window. */
  overlapsWindow(from: number, to: number): boolean {
    return this.windows.some((w) => to >= w.start && (w.end === undefined || from <= w.end));
  }

  /** Resolves once no window is open (the server answers and the grace is over). */
  async settled(): Promise<void> {
    for (;;) {
      const now = Date.now();
      const open = this.windows.filter((w) => w.end === undefined || w.end > now);
      if (open.length === 0) return;
      const wait = Math.max(...open.map((w) => (w.end === undefined ? 250 : w.end - now)));
      await sleep(Math.min(Math.max(wait, 50), 1000));
    }
  }

  /** SIGKILL (a random node in a cluster), start again on the same data, wait until it answers. */
  async crash(random: () => number): Promise<string> {
    const window: Window = { what: '', start: Date.now() };
    this.windows.push(window);
    this.crashes++;
    if (this.clusterServer) {
      const index = Math.floor(random() * this.clusterServer.nodes.length);
      window.what = `node ${index} killed`;
      await this.clusterServer.kill(index);
      await this.clusterServer.restart(index);
      await waitHealthy(this.clusterServer.nodes[index]!.url);
    } else {
      window.what = 'server killed';
      await this.single!.kill();
      await this.single!.cleanup();
      this.single = await this.startWithRetry();
      await waitHealthy(this.single.url);
    }
    window.end = Date.now() + this.options.graceMs;
    return window.what;
  }

  /** The database killed (SIGKILL) and started again; the window ends once a node serves a request that needs it. */
  async restartDatabase(downMs: number, probe: () => Promise<boolean>): Promise<string> {
    if (!this.clusterServer) throw new Error('no database to restart in single-node mode');
    const window: Window = { what: 'database killed', start: Date.now() };
    this.windows.push(window);
    this.dbRestarts++;
    await this.clusterServer.postgres.kill();
    await sleep(downMs);
    await this.clusterServer.postgres.start();
    const deadline = Date.now() + 60_000;
    while (!(await probe().catch(() => false))) {
      if (Date.now() > deadline) throw new Error('the cluster did not serve again within 60 s of the database restart');
      await sleep(200);
    }
    window.end = Date.now() + this.options.graceMs;
    return window.what;
  }

  /** Once the chaos is over: every node stopped cleanly (SIGTERM) and started again. */
  async cleanRestart(): Promise<void> {
    if (this.clusterServer) {
      for (let i = 0; i < this.clusterServer.nodes.length; i++) {
        await this.clusterServer.restart(i);
        await waitHealthy(this.clusterServer.nodes[i]!.url);
      }
    } else {
      await this.single!.stop();
      await this.single!.cleanup();
      this.single = await this.startWithRetry();
      await waitHealthy(this.single.url);
    }
  }

  /** The port may still be held for a moment by the killed process's sockets. */
  private async startWithRetry(): Promise<TestServer> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.startSingle();
      } catch (err) {
        if (attempt >= 20 || !/EADDRINUSE/.test(String(err))) throw err;
        await sleep(250);
      }
    }
  }

  /** Files (not directories) under the data directory's tmp/. */
  async tempFiles(): Promise<string[]> {
    return filesUnder(join(this.options.dataDir, 'tmp')).catch(() => []);
  }

  async cleanup(): Promise<void> {
    await this.clusterServer?.cleanup();
    await this.single?.cleanup();
  }
}

export async function waitHealthy(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(`${url}/-/health`);
      await response.arrayBuffer();
      if (response.status === 200) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer /-/health within ${timeoutMs} ms`);
    await sleep(100);
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

