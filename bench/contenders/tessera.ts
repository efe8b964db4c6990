/** Tessera's S3 dialect, driven by @aws-sdk/client-s3 and lib-storage at their defaults. */
import { rename, writeFile } from 'node:fs/promises';
import { SERVER_ENV, SERVER_ENV_WORDS, SERVER_NODE_FLAGS } from '../../src/server/node-flags.js';
import { spawnServer } from '../proc.js';
import { TESSERA_CLI } from './paths.js';
import { s3Instance } from './s3.js';
import type { Contender, StartOptions } from './types.js';

/** The root user of every Tessera the benchmark starts, whichever dialect drives it. */
export const ACCESS_KEY = 'bench-root';
export const SECRET_KEY = 'bench-root-secret-key-0123456789';

/**
 * Starts `tessera serve` on a free loopback port with the root user above. `config`, when
 * given, is written to `<dataDir>.config.json` (the harness removes it after the server stops).
 * `metadata`: a PostgreSQL URL, for cluster mode (`--metadata`).
 */
export async function startTessera(
  { dataDir, cpuProfileDir }: StartOptions,
  config?: Record<string, unknown>,
  metadata?: string,
  cli = TESSERA_CLI,
): Promise<{ pid: number; url: string; stop(): Promise<void> }> {
  const args = [cli, 'serve', '--data', dataDir, '--address', '127.0.0.1:0', '--log-level', 'warn'];
  if (metadata !== undefined) args.push('--metadata', metadata);
  if (config) {
    const configPath = `${dataDir}.config.json`;
    // Through a temp file and a rename: the nodes of a cluster start together on one directory,
    // and none may read another's half-written file.
    const temp = `${configPath}.${process.pid}-${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(temp, JSON.stringify(config));
    await rename(temp, configPath);
    args.push('--config', configPath);
  }
  // The flags and environment `npm start` and the tessera bin start the server with.
  const nodeArgs = [...SERVER_NODE_FLAGS, ...(cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfileDir] : [])];
  const server = await spawnServer([...nodeArgs, ...args], {
    name: 'tessera',
    ready: /Tessera listening on (http:\/\/\S+)/,
    env: { ...process.env, ...SERVER_ENV, TESSERA_ROOT_USER: ACCESS_KEY, TESSERA_ROOT_PASSWORD: SECRET_KEY },
  });
  return { pid: server.pid, url: server.url, stop: async () => void (await server.stop()) };
}

/**
 * `tessera`, or with `baseline` the same server built from another checkout (`--baseline DIR`:
 * its dist/src/cli/main.js), so that a change is measured side by side with what it changed.
 */
export function tesseraContender(baseline?: Baseline): Contender {
  return {
    id: baseline ? 'baseline' : 'tessera',
    label: baseline ? `Tessera (S3) at ${baseline.name}` : 'Tessera (S3)',
    client: '@aws-sdk/lib-storage Upload + @aws-sdk/client-s3 at defaults (signed SHA-256 payload + CRC32 header per request)',
    notes: baseline
      ? [`Tessera (S3) at ${baseline.name}: the same contender built from that checkout (\`--baseline\`), started and driven the same way.`]
      : [
      'Tessera: every part is MD5-hashed, SHA-256-verified (signed payload) and CRC32-verified, written through the page cache to a temp file and fsynced, then renamed with its directory fsynced (a small body that had all arrived: written in place, file and directory fsynced at once), then recorded in SQLite (answered once an fsync of the WAL begun after its commit has finished: one fsync for every commit made while the last ran).',
      `Tessera: started as \`npm start\` and the tessera bin start it: \`${[...SERVER_ENV_WORDS, 'node', ...SERVER_NODE_FLAGS].join(' ')}\` (src/server/node-flags.ts says why).`,
      'Tessera, rows 3–4: started with a config file `{"minPartSize": 1}` so that 1 KiB parts pass Complete (the part size is only checked at Complete; the default is 5 MiB).',
    ],
    unsupported: {},
    async start(options) {
      const server = await startTessera(options, options.purpose === 'parts' ? { minPartSize: 1 } : undefined, undefined, baseline?.cli);
      return s3Instance(server, { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, { etagCheck: 'multipart' });
    },
  };
}

export const tessera = tesseraContender();

/** Tessera with the bench bucket's default encryption SSE-S3: the cost of encryption at rest, beside `tessera`. */
export const tesseraSse: Contender = {
  id: 'tessera-sse',
  label: 'Tessera (S3, SSE-S3)',
  client: tessera.client,
  notes: [
    'Tessera (S3, SSE-S3): the same server with the bucket\'s default encryption AES256 (PutBucketEncryption): every body is encrypted as it streams to disk (AES-256-GCM in 64 KiB records, through the page cache: encrypted records are not block-aligned, so no O_DIRECT) and decrypted on every read.',
  ],
  // The cost of encryption shows in the rows that move bytes; small objects and parts are tessera's rows.
  unsupported: Object.fromEntries((['2', '3', '4'] as const).map((row) => [row, 'measured on rows 1, 5 and 6 only (the cost of encryption on large bodies)'])),
  sameServerAs: 'tessera',
  async start(options) {
    const server = await startTessera(options, options.purpose === 'parts' ? { minPartSize: 1 } : undefined);
    return s3Instance(server, { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, { etagCheck: 'multipart', encrypted: true });
  },
};

/** Tessera started with `directIo` set (a config file), run when asked for. */
function directIoContender(directIo: boolean, id: string, label: string): Contender {
  return {
    id,
    label,
    client: tessera.client,
    notes: [`${label}: the same server started with \`{"directIo": ${directIo}}\`: bodies of 1 MiB or more are written ${directIo ? 'with O_DIRECT, past the page cache' : 'through the page cache'}.`],
    unsupported: {},
    async start(options) {
      const server = await startTessera(options, { directIo, ...(options.purpose === 'parts' ? { minPartSize: 1 } : {}) });
      return s3Instance(server, { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY }, { etagCheck: 'multipart' });
    },
  };
}

/**
 * `--contenders tessera,tessera-direct,…` weighs O_DIRECT (off by default) against the page cache:
 * its upload CPU saving, its throughput on this disk, and what it costs a download of an object
 * just written (docs/benchmarks.md). `tessera-buffered` is the default spelled out, as it was
 * measured when O_DIRECT was the default.
 */
export const tesseraDirect = directIoContender(true, 'tessera-direct', 'Tessera (S3, O_DIRECT)');
export const tesseraBuffered = directIoContender(false, 'tessera-buffered', 'Tessera (S3, no O_DIRECT)');

/** Another checkout of Tessera, built: what `--baseline DIR` names. */
export interface Baseline {
  /** The checkout's short commit id (or its directory's name). */
  name: string;
  cli: string;
}
