import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { SqliteMetadata } from './sqlite.js';
import type { Metadata } from './types.js';

export interface MetadataLocation {
  /** The data directory: where `meta.db` lives when no database URL is given. */
  dataDir: string;
}

/** Opens the metadata store the settings name: SQLite in the data directory by default. */
export async function openMetadata(location: MetadataLocation): Promise<Metadata> {
  await mkdir(location.dataDir, { recursive: true, mode: 0o700 });
  return SqliteMetadata.open(join(location.dataDir, 'meta.db'));
}
