import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { postgresBinDir, startPostgres } from '../helpers/postgres.js';

// The throwaway PostgreSQL the cluster-mode tests stand on: it must start, keep its data across
// a stop and a kill, and leave nothing behind.
describe('test PostgreSQL server', () => {
  it('starts on a free port, survives stop and kill with its data, and cleans up', async (t) => {
    if (!postgresBinDir()) {
      // .ci/run installs Debian's postgresql; on CI this must not skip.
      if (process.env.CI) assert.fail('PostgreSQL server binaries are missing on CI');
      return t.skip('PostgreSQL not installed');
    }
    const server = await startPostgres();
    try {
      const query = async (sql: string) => {
        const client = new pg.Client({ connectionString: server.url });
        await client.connect();
        try {
          return (await client.query(sql)).rows;
        } finally {
          await client.end();
        }
      };
      await query('CREATE TABLE kept (id int PRIMARY KEY)');
      await query('INSERT INTO kept VALUES (1), (2)');
      await server.stop();
      await assert.rejects(query('SELECT 1'), /ECONNREFUSED/);
      await server.start();
      await query('INSERT INTO kept VALUES (3)');
      await server.kill();
      await server.start();
      assert.deepEqual(await query('SELECT id FROM kept ORDER BY id'), [{ id: 1 }, { id: 2 }, { id: 3 }]);
    } finally {
      await server.cleanup();
    }
  });
});
