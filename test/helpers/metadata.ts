import { mkdtemp, rm } from 'node:fs/promises';
import { after } from 'node:test';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PostgresMetadata } from '../../src/core/metadata/postgres.js';
import { SqliteMetadata } from '../../src/core/metadata/sqlite.js';
import type { Metadata } from '../../src/core/metadata/types.js';
import { postgresBinDir, startPostgres, type TestPostgres } from './postgres.js';

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

/**
 * Calls `scenario` with a SQLite store in a temp directory, and with one on a throwaway PostgreSQL
 * server where PostgreSQL is installed (the server is stopped after the file's tests).
 */
export function onEachBackend(prefix: string, scenario: (name: string, open: () => Promise<{ meta: Metadata; cleanup: () => Promise<void> }>) => void): void {
  scenario('SQLite', () => tempSqliteMetadata(prefix));
  if (!postgresBinDir()) return;
  let postgres: TestPostgres | undefined;
  after(async () => postgres?.cleanup());
  scenario('PostgreSQL', async () => {
    postgres = await startPostgres();
    const meta = await PostgresMetadata.open(postgres.url);
    return { meta, cleanup: () => meta.close() };
  });
}
