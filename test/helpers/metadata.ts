import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteMetadata } from '../../src/core/metadata/sqlite.js';

/** A SQLite metadata store in a temp directory, and what removes both. */
export async function tempSqliteMetadata(prefix: string): Promise<{ meta: SqliteMetadata; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const meta = SqliteMetadata.open(join(dir, 'meta.db'));
  return {
    meta,
    cleanup: async () => {
      await meta.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
