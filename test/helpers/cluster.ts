import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startPostgres, type TestPostgres } from './postgres.js';
import { startProxyProcess, type ProxyProcess } from './proxy.js';
import { startNode, type TestServer, type TestServerOptions } from './server.js';

/**
 * Tessera in cluster mode for tests: N `tessera serve --metadata <PostgreSQL> --data <shared dir>`
 * processes on one throwaway PostgreSQL and one shared temp directory, behind a round-robin proxy
 * (test/helpers/proxy.ts), as a deployment behind a load balancer. It is a TestServer (see
 * test/helpers/server.ts for what each member means in cluster mode), plus the parts.
 */
export interface TestCluster extends TestServer {
  /** The nodes, in the proxy's order; `restart(i)` replaces `nodes[i]`. */
  readonly nodes: TestServer[];
  readonly postgres: TestPostgres;
  /** The proxy, a process of its own (a test that blocks its event loop, as spawnSync does, must not stall it). */
  readonly proxy: ProxyProcess;
  /** The proxy in front of the nodes' 123pan-only listeners, when `--pan-address` was asked for. */
  readonly panUrl?: string;
  /** SIGKILL: node `index` alone (the proxy then skips it), or, with no index, every node. */
  kill(index?: number): Promise<void>;
  /** Starts node `index` again (stopping it first if it runs) on the same database and directory. */
  restart(index: number): Promise<void>;
}

export interface ClusterOptions extends TestServerOptions {
  /** How many nodes (3). */
  nodes?: number;
  /** Run on this PostgreSQL instead of a new one (the caller stops it). */
  postgres?: TestPostgres;
}

/** PostgreSQL servers of clusters still running, by their data directory: a restart reuses them. */
const databases = new Map<string, TestPostgres>();

const PAN_LISTENING = /^Tessera 123pan API listening on (http:\/\/\S+)$/m;

export async function startCluster(options: ClusterOptions = {}): Promise<TestCluster> {
  const count = options.nodes ?? 3;
  if (!(count >= 1)) throw new Error('startCluster: at least one node');
  const ownsDir = options.dataDir === undefined;
  const dataDir = resolve(options.dataDir ?? (await mkdtemp(join(tmpdir(), 'tessera-cluster-'))));
  // A restart on the same directory (`startServer({ dataDir: first.dataDir })`) is the same cluster:
  // the same database.
  const reused = options.postgres ?? databases.get(dataDir);
  let postgres: TestPostgres;
  try {
    postgres = reused ?? (await startPostgres());
  } catch (err) {
    if (ownsDir) await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  if (!reused) databases.set(dataDir, postgres);
  const nodeOptions: TestServerOptions = { ...options, singleNode: true, dataDir, metadata: postgres.url };

  const nodes: TestServer[] = [];
  const panUrls: Array<string | undefined> = [];
  let proxy: ProxyProcess | undefined;
  let panProxy: ProxyProcess | undefined;
  /** Every node's stdout, whole lines in the order they came, with the node that printed each. */
  const lines: Array<{ node: TestServer; panUrl?: string; text: string; seen?: string }> = [];

  /** The node's own addresses written as the proxies' (what a client behind the balancer uses). */
  const asSeenByClients = (entry: (typeof lines)[number]): string => {
    if (entry.seen !== undefined) return entry.seen;
    if (!proxy) return entry.text;
    let out = replaceOrigin(entry.text, entry.node.url, proxy.url);
    if (entry.panUrl && panProxy) out = replaceOrigin(out, entry.panUrl, panProxy.url);
    entry.seen = out;
    return out;
  };

  const launch = async (index: number) => {
    const node = await startNode(nodeOptions);
    const panUrl = PAN_LISTENING.exec(node.stdout())?.[1];
    nodes[index] = node;
    panUrls[index] = panUrl;
    let pending = node.stdout();
    const takeLines = () => {
      const end = pending.lastIndexOf('\n');
      if (end < 0) return;
      lines.push({ node, panUrl, text: pending.slice(0, end + 1) });
      pending = pending.slice(end + 1);
    };
    takeLines();
    node.process.stdout!.on('data', (chunk: string) => {
      pending += chunk;
      takeLines();
    });
    node.process.stdout!.once('end', () => {
      if (pending) lines.push({ node, panUrl, text: `${pending}\n` });
      pending = '';
    });
  };

  const stopAll = async (how: 'stop' | 'kill'): Promise<Array<number | null>> => {
    const codes = await Promise.all(nodes.map((node) => (how === 'stop' ? node.stop() : node.kill().then(() => null))));
    await Promise.all([proxy?.close(), panProxy?.close()]);
    return codes;
  };

  const cleanup = async () => {
    await Promise.all(nodes.map((node) => node.cleanup()));
    await Promise.all([proxy?.close(), panProxy?.close()]);
    if (!reused) {
      databases.delete(dataDir);
      await postgres.cleanup();
    }
    if (ownsDir) await rm(dataDir, { recursive: true, force: true });
  };

  try {
    // The first node alone, then the others together: the first start creates the schema and, without
    // root credentials in the environment, generates them into the shared directory for all.
    await launch(0);
    await Promise.all(Array.from({ length: count - 1 }, (_, i) => launch(i + 1)));
    proxy = await startProxyProcess(nodes.map((node) => node.url));
    const pans = panUrls.filter((url): url is string => url !== undefined);
    if (pans.length > 0) {
      if (pans.length !== count) throw new Error('startCluster: only some nodes have a 123pan listener');
      panProxy = await startProxyProcess(pans);
    }
  } catch (err) {
    await cleanup();
    throw err;
  }
  const front = proxy;

  return {
    url: front.url,
    port: front.port,
    dataDir,
    get process() {
      return nodes[0]!.process;
    },
    nodes,
    postgres,
    proxy: front,
    panUrl: panProxy?.url,
    stdout: () => lines.map(asSeenByClients).join(''),
    stop: async () => {
      const codes = await stopAll('stop');
      return codes.find((code) => code !== 0) ?? 0;
    },
    kill: async (index?: number) => {
      if (index === undefined) {
        await stopAll('kill');
        return;
      }
      const node = nodes[index];
      if (!node) throw new Error(`kill: no node ${index}`);
      await node.kill();
    },
    restart: async (index: number) => {
      const old = nodes[index];
      if (!old) throw new Error(`restart: no node ${index}`);
      if (old.process.exitCode === null && old.process.signalCode === null) await old.stop();
      await old.cleanup();
      await launch(index);
      await front.setBackend(index, nodes[index]!.url);
      const panUrl = panUrls[index];
      if (panProxy && panUrl) await panProxy.setBackend(index, panUrl);
    },
    cleanup,
  };
}

/** `text` with every `from` origin (not followed by more port digits) written as `to`. */
function replaceOrigin(text: string, from: string, to: string): string {
  return text.replace(new RegExp(`${from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?!\\d)`, 'g'), to);
}
