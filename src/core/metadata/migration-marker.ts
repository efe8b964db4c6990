import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MetadataQueries } from './types.js';

/**
 * What `tessera migrate` leaves behind, and what the nodes make of it.
 *
 * The settings row `tessera migrate` keeps in the database it fills: which data directory the
 * rows come from, and whether the copy finished (with its count check passed). A node refuses to
 * start on a database whose copy has not finished: it would serve part of the buckets, and sweep
 * the blobs of the rest as unreferenced.
 */
export const MIGRATION_SETTING = 'migration';

export interface MigrationMarker {
  /** The source data directory (its real path). */
  source: string;
  /** ms since the epoch */
  startedAt: number;
  /** Set once every table was copied and counted. */
  finishedAt?: number;
}

export function parseMarker(value: string | undefined): MigrationMarker | undefined {
  if (value === undefined) return undefined;
  const parsed = JSON.parse(value) as Partial<MigrationMarker>;
  if (typeof parsed.source !== 'string' || typeof parsed.startedAt !== 'number') {
    throw new Error(`the metadata database's "${MIGRATION_SETTING}" setting is damaged: ${value}`);
  }
  return { source: parsed.source, startedAt: parsed.startedAt, finishedAt: typeof parsed.finishedAt === 'number' ? parsed.finishedAt : undefined };
}

/** Throws when the store is a `tessera migrate` target whose copy has not finished. */
export async function refuseUnfinishedMigration(meta: MetadataQueries): Promise<void> {
  const marker = parseMarker(await meta.getSetting(MIGRATION_SETTING));
  if (marker !== undefined && marker.finishedAt === undefined) {
    throw new Error(
      `the metadata database holds an unfinished \`tessera migrate\` from ${marker.source} (started ${new Date(marker.startedAt).toISOString()}): ` +
        'run it again until it reports the count check passed, then start the nodes',
    );
  }
}

/**
 * After a finished copy the source's `meta.db` is renamed to this. A single node started on the
 * directory again (without --metadata) would otherwise serve the metadata as it was, and sweep the
 * blobs the cluster wrote since as unreferenced.
 */
export const MIGRATED_SUFFIX = '.migrated';

/** Throws when `dataDir`'s metadata was moved to PostgreSQL by `tessera migrate`. */
export function refuseMigratedDataDir(dataDir: string): void {
  const file = join(dataDir, 'meta.db');
  if (existsSync(file) || !existsSync(file + MIGRATED_SUFFIX)) return;
  throw new Error(
    `the metadata of ${dataDir} was moved to PostgreSQL by \`tessera migrate\` (meta.db is now meta.db${MIGRATED_SUFFIX}): ` +
      `start with --metadata postgres://…; to go back to this single node as it was then (losing what changed since), rename meta.db${MIGRATED_SUFFIX} to meta.db`,
  );
}
