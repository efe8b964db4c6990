import { toAccessKey, toUser, type AccessKeyRow, type UserRow } from './identity-rows.js';
import type { QueryRunner } from './postgres-queries.js';
import type { StoredAccessKey, StoredUser } from './types.js';

/** The channel on which nodes tell each other that users or keys changed. */
export const IDENTITY_CHANNEL = 'tessera_identities';

/** The users and access_keys tables in PostgreSQL (postgres-queries.ts delegates to these). */
export class PostgresIdentities {
  constructor(private readonly runner: QueryRunner) {}

  async listUsers(): Promise<StoredUser[]> {
    return (await this.runner.query<UserRow>('SELECT * FROM users ORDER BY created, id')).rows.map(toUser);
  }

  async listAccessKeys(): Promise<StoredAccessKey[]> {
    return (await this.runner.query<AccessKeyRow>('SELECT * FROM access_keys ORDER BY created, access_key_id')).rows.map(toAccessKey);
  }

  async insertUser(user: StoredUser): Promise<boolean> {
    const result = await this.runner.query(
      'INSERT INTO users (id, display_name, enabled, admin, created) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING',
      [user.id, user.displayName, user.enabled, user.admin, user.created.getTime()],
    );
    return result.rowCount === 1;
  }

  async setUserEnabled(id: string, enabled: boolean): Promise<boolean> {
    return (await this.runner.query('UPDATE users SET enabled = $2 WHERE id = $1', [id, enabled])).rowCount === 1;
  }

  async deleteUser(id: string): Promise<boolean> {
    // One statement, so the keys and the user go together.
    const result = await this.runner.query(
      `WITH keys AS (DELETE FROM access_keys WHERE user_id = $1), policies AS (DELETE FROM user_policies WHERE user_id = $1)
       DELETE FROM users WHERE id = $1`,
      [id],
    );
    return result.rowCount === 1;
  }

  async insertAccessKey(key: StoredAccessKey): Promise<boolean> {
    const result = await this.runner.query(
      `INSERT INTO access_keys (access_key_id, sealed_secret, user_id, enabled, created)
       SELECT $1, $2, $3::text, $4, $5 WHERE EXISTS (SELECT 1 FROM users WHERE id = $3::text)
       ON CONFLICT (access_key_id) DO NOTHING`,
      [key.accessKeyId, key.sealedSecret, key.userId, key.enabled, key.created.getTime()],
    );
    return result.rowCount === 1;
  }

  async setAccessKeyEnabled(userId: string, accessKeyId: string, enabled: boolean): Promise<boolean> {
    const result = await this.runner.query('UPDATE access_keys SET enabled = $3 WHERE user_id = $1 AND access_key_id = $2', [
      userId,
      accessKeyId,
      enabled,
    ]);
    return result.rowCount === 1;
  }

  async deleteAccessKey(userId: string, accessKeyId: string): Promise<boolean> {
    return (await this.runner.query('DELETE FROM access_keys WHERE user_id = $1 AND access_key_id = $2', [userId, accessKeyId])).rowCount === 1;
  }
}
