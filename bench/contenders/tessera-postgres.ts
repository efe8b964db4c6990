/**
 * Tessera in cluster mode (issue #13): `tessera serve --metadata <PostgreSQL> --data <shared dir>`,
 * driven by the same S3 client as the `tessera` contender (which keeps its metadata in SQLite).
 * One node (`tessera-pg`), or three behind the round-robin proxy (`tessera-3pg`) as a load
 * balancer puts them in a deployment.
 *
 * PostgreSQL is a throwaway server (test/helpers/postgres.ts), started and stopped with the
 * contender like every other server, at PostgreSQL's durable defaults (fsync on, as Tessera's
 * SQLite commits are). Its cluster lives in the contender's data directory next to the shared blob
 * directory, so the harness's rows 3–4 snapshot (a copy of the stopped contender's directory)
 * holds both the blobs and the database.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startPostgres } from '../../test/helpers/postgres.js';
import { startProxyProcess, type ProxyProcess } from '../../test/helpers/proxy.js';
import { onInterrupt } from '../proc.js';
import { s3Instance } from './s3.js';
import { ACCESS_KEY, SECRET_KEY, startTessera, type Baseline } from './tessera.js';
import type { Contender, Instance } from './types.js';

type Node = Awaited<ReturnType<typeof startTessera>>;

/** `baseline`: the same contender built from another checkout (`--baseline DIR`). */
export function clusterContender(nodeCount: number, baseline?: Baseline): Contender {
  const single = nodeCount === 1;
  const at = baseline ? ` at ${baseline.name}` : '';
  return {
    id: `${baseline ? 'baseline' : 'tessera'}-${single ? '' : nodeCount}pg`,
    label: single ? `Tessera (S3)${at}, PostgreSQL` : `Tessera (S3)${at}, ${nodeCount} nodes, PostgreSQL`,
    client: single
      ? 'same as Tessera (S3)'
      : 'same as Tessera (S3), through the round-robin proxy (test/helpers/proxy.ts, a process of its own): every request goes to the next node',
    notes: baseline
      ? [`Tessera (S3)${at}, PostgreSQL${single ? '' : `, ${nodeCount} nodes`}: the same contender built from that checkout (\`--baseline\`), started and driven the same way.`]
      : single
      ? [
          'Tessera (S3), PostgreSQL: `tessera serve --metadata postgres://… --data <dir>`, started as Tessera (S3) is (same flags, root user and, for rows 3–4, `{"minPartSize": 1}`), its metadata in a PostgreSQL started for it (Debian’s server binaries, a fresh initdb in the contender’s data directory, PostgreSQL’s defaults: fsync, synchronous_commit and full_page_writes on, shared_buffers 128 MB; loopback TCP, trust authentication) and stopped with it. Tessera’s pool: 10 connections per node; transactions SERIALIZABLE.',
          'Tessera (S3), PostgreSQL: its server CPU (rows 1b, 2b) is the node’s utime+stime plus PostgreSQL’s: the postmaster and every process under it (backends, WAL writer, checkpointer…), living ones from /proc/<pid>/stat, exited ones through the cutime+cstime the kernel adds to their parent. The log line of each row splits it. Its peak RSS (row 6) is the node’s alone: PostgreSQL’s shared buffers are shared memory, counted in the RSS of every backend that touched them.',
          'Tessera (S3), PostgreSQL, rows 3–4: the snapshot the harness copies for each run holds the stopped PostgreSQL cluster as well as the blobs, so every run starts PostgreSQL and the node afresh on identical data (PostgreSQL’s caches cold, as the node’s are).',
        ]
      : [
          `Tessera (S3), ${nodeCount} nodes, PostgreSQL: ${nodeCount} \`tessera serve\` processes on one PostgreSQL (as for one node) and one shared data directory, the first started alone (it creates the schema), behind the round-robin proxy; the proxy keeps its connections to the nodes alive, as a balancer does. All of it, the client and PostgreSQL share the machine’s cores.`,
          `Tessera (S3), ${nodeCount} nodes, PostgreSQL: server CPU is the ${nodeCount} nodes’ and PostgreSQL’s (counted as for one node); the proxy’s (its process, all threads) is on rows 1d and 2c, not in 1b and 2b: it stands for a load balancer, which a deployment runs elsewhere or in native code. Peak RSS (row 6) is the nodes’ summed: the sum of each node’s VmHWM (an upper bound of their peak together) or of their polled VmRSS, whichever is larger.`,
          `Tessera (S3), ${nodeCount} nodes, PostgreSQL, rows 3–4: every node is warmed up on its own (directly, not through the proxy); then each ListParts and the Complete go through the proxy to the next node in turn.`,
        ],
    unsupported: {},
    async start(options) {
      const postgres = await startPostgres({ dir: join(options.dataDir, 'postgres'), durable: true });
      // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its backends with it.
      const forget = onInterrupt(() => process.kill(postgres.pid, 'SIGQUIT'));
      const nodes: Node[] = [];
      const direct: Instance[] = [];
      let proxy: ProxyProcess | undefined;
      const stopAll = async () => {
        try {
          await Promise.all(direct.map((instance) => instance.stop()));
          await proxy?.close();
          await Promise.all(nodes.map((node) => node.stop()));
        } finally {
          // Fast shutdown, keeping the cluster: a clean checkpoint, so a snapshot starts without recovery.
          await postgres.cleanup();
          forget();
        }
      };
      try {
        const shared = join(options.dataDir, 'shared');
        await mkdir(shared, { recursive: true });
        const config = options.purpose === 'parts' ? { minPartSize: 1 } : undefined;
        const launch = () => startTessera({ ...options, dataDir: shared }, config, postgres.url, baseline?.cli);
        // The first node alone: it creates the schema (or finds it, on a restored snapshot).
        nodes.push(await launch());
        nodes.push(...(await Promise.all(Array.from({ length: nodeCount - 1 }, launch))));
        if (!single) proxy = await startProxyProcess(nodes.map((node) => node.url));
        const credentials = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY };
        const front = { pid: nodes[0]!.pid, url: proxy?.url ?? nodes[0]!.url, stop: stopAll };
        const instance = await s3Instance(front, credentials, { etagCheck: 'multipart' });
        if (proxy) {
          // Each node's own client, for the warm-up; stopping one only destroys its client.
          for (const node of nodes) direct.push(await s3Instance({ ...node, stop: async () => undefined }, credentials, { etagCheck: 'multipart' }));
        }
        return {
          ...instance,
          nodes: proxy ? direct : undefined,
          processes: {
            nodes: nodes.map((node) => node.pid),
            database: [postgres.pid],
            balancer: proxy ? [proxy.process.pid!] : undefined,
          },
        };
      } catch (err) {
        await stopAll().catch(() => undefined);
        throw err;
      }
    },
  };
}

export const tesseraPostgres = clusterContender(1);
export const tesseraCluster = clusterContender(3);
