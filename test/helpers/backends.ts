import { postgresBinDir, startPostgres } from './postgres.js';
import { startServer, type TestServer, type TestServerOptions } from './server.js';

/** A server on one metadata backend, and how to take it (and its PostgreSQL) down. */
export type BackendStart = () => Promise<{ server: TestServer; cleanup: () => Promise<void> }>;

/**
 * Defines `scenario` once per metadata backend: one node on SQLite, then (when PostgreSQL is
 * installed) one node on a PostgreSQL started for it. Both get `options` (a config, say).
 */
export function onEachBackend(scenario: (backend: string, start: BackendStart) => void, options: TestServerOptions = {}): void {
  scenario('SQLite', async () => {
    const server = await startServer({ ...options, singleNode: true });
    return { server, cleanup: () => server.cleanup() };
  });
  if (!postgresBinDir()) return;
  scenario('PostgreSQL', async () => {
    const postgres = await startPostgres();
    try {
      const server = await startServer({ ...options, metadata: postgres.url });
      return {
        server,
        cleanup: async () => {
          await server.cleanup();
          await postgres.cleanup();
        },
      };
    } catch (err) {
      await postgres.cleanup();
      throw err;
    }
  });
}
