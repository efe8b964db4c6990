import { toAccessKey, toPolicy, toPolicyAttachment, toUser, type AccessKeyRow, type PolicyAttachmentRow, type PolicyRow, type UserRow } from './identity-rows.js';
import type { QueryRunner } from './postgres-queries.js';
import type { StoredAccessKey, StoredPolicy, StoredPolicyAttachment, StoredUser } from './types.js';

/** The channel on which nodes tell each other that users or keys changed. */
export const IDENTITY_CHANNEL = 'tessera_identities';

/** PostgreSQL's foreign_key_violation: a policy_attachments row and its policy missed each other. */
const isForeignKeyViolation = (err: unknown) => (err as { code?: unknown } | null)?.code === '23503';

/** The users, access_keys, policies and policy_attachments tables in PostgreSQL (postgres-queries.ts delegates to these). */
export class PostgresIdentities {
  constructor(private readonly runner: QueryRunner) {}

  async listUsers(): Promise<StoredUser[]> {
    return (await this.runner.query<UserRow>('SELECT * FROM users ORDER BY created, id')).rows.map(toUser);
  }

  async listAccessKeys(): Promise<StoredAccessKey[]> {
    return (await this.runner.query<AccessKeyRow>('SELECT * FROM access_keys ORDER BY created, access_key_id')).rows.map(toAccessKey);
  }

  async getAccessKey(accessKeyId: string): Promise<StoredAccessKey | undefined> {
    const row = (await this.runner.query<AccessKeyRow>('SELECT * FROM access_keys WHERE access_key_id = $1', [accessKeyId])).rows[0];
    return row === undefined ? undefined : toAccessKey(row);
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
      `WITH keys AS (DELETE FROM access_keys WHERE user_id = $1), policies AS (DELETE FROM user_policies WHERE user_id = $1),
         attachments AS (DELETE FROM policy_attachments WHERE user_id = $1)
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

  // Managed policies: the foreign key from policy_attachments to policies keeps an attachment from
  // outliving its policy, whatever two nodes do at once.

  async listPolicies(): Promise<StoredPolicy[]> {
    return (await this.runner.query<PolicyRow>('SELECT * FROM policies ORDER BY name')).rows.map(toPolicy);
  }

  async putPolicy(policy: StoredPolicy): Promise<void> {
    await this.runner.query(
      `INSERT INTO policies (name, document, created, updated) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name) DO UPDATE SET document = excluded.document, updated = excluded.updated`,
      [policy.name, policy.document, policy.created.getTime(), policy.updated.getTime()],
    );
  }

  async deletePolicy(name: string): Promise<'deleted' | 'missing' | 'attached'> {
    try {
      return (await this.runner.query('DELETE FROM policies WHERE name = $1', [name])).rowCount === 1 ? 'deleted' : 'missing';
    } catch (err) {
      if (isForeignKeyViolation(err)) return 'attached';
      throw err;
    }
  }

  async listPolicyAttachments(): Promise<StoredPolicyAttachment[]> {
    return (await this.runner.query<PolicyAttachmentRow>('SELECT * FROM policy_attachments ORDER BY user_id, policy_name')).rows.map(toPolicyAttachment);
  }

  async attachPolicy(attachment: StoredPolicyAttachment): Promise<boolean> {
    try {
      await this.runner.query(
        'INSERT INTO policy_attachments (user_id, policy_name, created) VALUES ($1, $2, $3) ON CONFLICT (user_id, policy_name) DO NOTHING',
        [attachment.userId, attachment.policyName, attachment.created.getTime()],
      );
      return true;
    } catch (err) {
      if (isForeignKeyViolation(err)) return false;
      throw err;
    }
  }

  async detachPolicy(userId: string, policyName: string): Promise<boolean> {
    return (await this.runner.query('DELETE FROM policy_attachments WHERE user_id = $1 AND policy_name = $2', [userId, policyName])).rowCount === 1;
  }
}
