/**
 * `tessera scrub [--data DIR] [--metadata URL] [--rate MB/s] [--json]`: reads every blob of a data
 * directory and checks it against its metadata (core/scrub.ts). Read only, safe beside a running
 * server. Exit 0: nothing corrupt or missing; 1: something is; 2: a usage error, or the store could
 * not be opened.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { BlobStore } from '../core/blob-store.js';
import { Encryption } from '../core/encryption.js';
import { KeyStore } from '../core/kms.js';
import { openMetadata } from '../core/metadata/open.js';
import type { Metadata } from '../core/metadata/types.js';
import { CORRUPT_KINDS, describeReference, scrub, type ScrubFinding, type ScrubSummary } from '../core/scrub.js';
import { loadMasterKey, MASTER_KEY_FILE } from '../core/secret-box.js';
import { postgresUrl } from '../server/config.js';
import { sizeString } from './format.js';
import { positiveDecimal } from './options.js';

/** `--rate`'s unit: MB/s of 2^20 bytes. */
const MB = 1024 * 1024;

interface ScrubFlags {
  data?: string;
  metadata?: string;
  rate?: number;
  json?: boolean;
  orphans: boolean;
}

export function registerScrub(program: Command): void {
  program
    .command('scrub')
    .description('read every stored blob and check it against its metadata (size, MD5, sealed records); report corrupt, missing and orphan files')
    .option('--data <dir>', 'data directory (env TESSERA_DATA, default ./data)', undefined)
    .option('--metadata <url>', 'cluster mode: the PostgreSQL metadata, postgres://USER:PASS@HOST:PORT/DB (env TESSERA_METADATA)', undefined)
    .addOption(new Option('--rate <MB/s>', 'read at most this many MB (2^20 bytes) a second (default: as fast as the disk goes)').argParser(positiveDecimal))
    .option('--json', 'one JSON object a line: each finding, then the summary')
    .option('--no-orphans', 'do not look for files nothing refers to')
    .addHelpText('after', '\nExit status: 0 nothing corrupt or missing; 1 some blob is corrupt or missing; 2 usage error, or the store cannot be opened.')
    .action(async (flags: ScrubFlags) => {
      const dataDir = resolve(flags.data ?? process.env.TESSERA_DATA ?? './data');
      let url: string | undefined;
      let meta: Metadata;
      try {
        const given = flags.metadata ?? process.env.TESSERA_METADATA;
        url = given === undefined ? undefined : postgresUrl(given, '--metadata');
        if (!existsSync(join(dataDir, 'blobs'))) throw new Error(`${dataDir} is no Tessera data directory (it has no blobs/)`);
        if (url === undefined && !existsSync(join(dataDir, 'meta.db'))) throw new Error(`${dataDir} has no meta.db (a cluster's node: give --metadata)`);
        meta = await openMetadata({ dataDir, url });
      } catch (err) {
        console.error(`Error: ${(err as Error).message}`);
        process.exit(2);
      }
      let summary: ScrubSummary;
      try {
        // The master key as the server reads it; without one (never written), SSE-S3/KMS blobs are unverifiable.
        const hasKey = process.env.TESSERA_MASTER_KEY !== undefined || existsSync(join(dataDir, MASTER_KEY_FILE));
        const master = hasKey ? await loadMasterKey(dataDir) : undefined;
        const encryption = master && new Encryption(master, new KeyStore(meta, master));
        summary = await scrub(meta, BlobStore.reader(dataDir), {
          rateBytesPerSecond: flags.rate === undefined ? 0 : flags.rate * MB,
          kekOf: encryption && ((sealed) => encryption.kekFor(sealed, undefined)),
          orphans: flags.orphans,
          onFinding: (finding) => console.log(flags.json ? JSON.stringify({ type: 'finding', ...findingJson(finding, dataDir) }) : findingText(finding, dataDir)),
        });
      } catch (err) {
        await meta.close().catch(() => {});
        console.error(`Error: ${(err as Error).message}`);
        process.exit(2);
      }
      await meta.close();
      if (flags.json) console.log(JSON.stringify({ type: 'summary', ...summary }));
      else console.log(summaryText(summary));
      process.exit(summary.corrupt > 0 || summary.missing > 0 ? 1 : 0);
    });
}

function relativePath(path: string, dataDir: string): string {
  return path.startsWith(dataDir + '/') ? path.slice(dataDir.length + 1) : path;
}

function label(finding: ScrubFinding): string {
  if (CORRUPT_KINDS.has(finding.kind)) return `CORRUPT (${finding.kind})`;
  return finding.kind.toUpperCase();
}

function findingText(finding: ScrubFinding, dataDir: string): string {
  const lines = [`${label(finding)} ${relativePath(finding.path, dataDir) || finding.blobId}: ${finding.detail}`];
  for (const text of finding.references.map(describeReference).sort()) lines.push(`  referred to by ${text}`);
  return lines.join('\n');
}

function findingJson(finding: ScrubFinding, dataDir: string) {
  return {
    kind: finding.kind,
    corrupt: CORRUPT_KINDS.has(finding.kind),
    blobId: finding.blobId,
    path: relativePath(finding.path, dataDir),
    detail: finding.detail,
    references: finding.references.map(({ blobId: _blob, encryption, ...reference }) => ({ ...reference, encryption: encryption?.kind })),
  };
}

function summaryText(summary: ScrubSummary): string {
  return [
    `Checked ${sizeString(summary.blobs)} blobs, ${sizeString(summary.bytes)} bytes in ${(summary.durationMs / 1000).toFixed(1)} s`,
    `(${sizeString(summary.verified)} by content, ${sizeString(summary.sizeOnly)} by size only):`,
    `${summary.corrupt} corrupt, ${summary.missing} missing, ${summary.unverifiable} unverifiable, ${summary.orphans} orphan files.`,
  ].join(' ');
}
