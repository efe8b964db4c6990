import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { refuseMigratedDataDir, refuseUnfinishedMigration } from './migration-marker.js';
import { PostgresMetadata } from './postgres.js';
import { SqliteMetadata } from './sqlite.js';
import type { Metadata } from './types.js';

export interface MetadataLocation {
  /** The data directory: where `meta.db` lives when no database URL is given. */
  dataDir: string;
  /** A `postgres://` URL: the metadata of a cluster of nodes, instead of SQLite in the data directory. */
  url?: string;
  /** Told of errors on idle database connections (the pool replaces them itself). */
  onConnectionError?: (err: Error) => void;
}

/**
 * Opens the metadata store the settings name: SQLite in the data directory by default. Refused:
 * a PostgreSQL database `tessera migrate` has not finished filling, and a data directory whose
 * metadata it moved to PostgreSQL (without --metadata).
 */
export async function openMetadata(location: MetadataLocation): Promise<Metadata> {
  if (location.url !== undefined) {
    const meta = await PostgresMetadata.open(location.url, { onConnectionError: location.onConnectionError });
    try {
      await refuseUnfinishedMigration(meta);
    } catch (err) {
      await meta.close();
      throw err;
    }
    return meta;
  }
  refuseMigratedDataDir(location.dataDir);
  await mkdir(location.dataDir, { recursive: true, mode: 0o700 });
  return SqliteMetadata.open(join(location.dataDir, 'meta.db'));
}
