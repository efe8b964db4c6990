import type Database from 'better-sqlite3';
import { toAccessKey, toPolicy, toPolicyAttachment, toUser, type AccessKeyRow, type PolicyAttachmentRow, type PolicyRow, type UserRow } from './identity-rows.js';
import type { StoredAccessKey, StoredPolicy, StoredPolicyAttachment, StoredUser } from './types.js';

/** The users, access_keys, policies and policy_attachments tables in SQLite (sqlite-queries.ts delegates to these). */
export class SqliteIdentities {
  private readonly stmt;

  constructor(private readonly db: Database.Database) {
    this.stmt = {
      users: db.prepare<[], UserRow>('SELECT * FROM users ORDER BY created, id'),
      keys: db.prepare<[], AccessKeyRow>('SELECT * FROM access_keys ORDER BY created, access_key_id'),
      key: db.prepare<[string], AccessKeyRow>('SELECT * FROM access_keys WHERE access_key_id = ?'),
      insertUser: db.prepare('INSERT OR IGNORE INTO users (id, display_name, enabled, admin, created) VALUES (?, ?, ?, ?, ?)'),
      setUserEnabled: db.prepare('UPDATE users SET enabled = ? WHERE id = ?'),
      deleteUser: db.prepare('DELETE FROM users WHERE id = ?'),
      deleteKeysOf: db.prepare('DELETE FROM access_keys WHERE user_id = ?'),
      deletePoliciesOf: db.prepare('DELETE FROM user_policies WHERE user_id = ?'),
      deleteAttachmentsOf: db.prepare('DELETE FROM policy_attachments WHERE user_id = ?'),
      policies: db.prepare<[], PolicyRow>('SELECT * FROM policies ORDER BY name'),
      putPolicy: db.prepare(
        `INSERT INTO policies (name, document, created, updated) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET document = excluded.document, updated = excluded.updated`,
      ),
      policyAttached: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM policy_attachments WHERE policy_name = ? LIMIT 1'),
      deletePolicy: db.prepare('DELETE FROM policies WHERE name = ?'),
      attachments: db.prepare<[], PolicyAttachmentRow>('SELECT * FROM policy_attachments ORDER BY user_id, policy_name'),
      attach: db.prepare(
        `INSERT OR IGNORE INTO policy_attachments (user_id, policy_name, created)
         SELECT ?, name, ? FROM policies WHERE name = ?`,
      ),
      policyExists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM policies WHERE name = ?'),
      detach: db.prepare('DELETE FROM policy_attachments WHERE user_id = ? AND policy_name = ?'),
      insertKey: db.prepare(
        `INSERT OR IGNORE INTO access_keys (access_key_id, sealed_secret, user_id, enabled, created)
         SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM users WHERE id = ?)`,
      ),
      setKeyEnabled: db.prepare('UPDATE access_keys SET enabled = ? WHERE user_id = ? AND access_key_id = ?'),
      deleteKey: db.prepare('DELETE FROM access_keys WHERE user_id = ? AND access_key_id = ?'),
    };
  }

  listUsers(): StoredUser[] {
    return this.stmt.users.all().map(toUser);
  }

  listAccessKeys(): StoredAccessKey[] {
    return this.stmt.keys.all().map(toAccessKey);
  }

  getAccessKey(accessKeyId: string): StoredAccessKey | undefined {
    const row = this.stmt.key.get(accessKeyId);
    return row === undefined ? undefined : toAccessKey(row);
  }

  insertUser(user: StoredUser): boolean {
    return this.stmt.insertUser.run(user.id, user.displayName, user.enabled ? 1 : 0, user.admin ? 1 : 0, user.created.getTime()).changes === 1;
  }

  setUserEnabled(id: string, enabled: boolean): boolean {
    return this.stmt.setUserEnabled.run(enabled ? 1 : 0, id).changes === 1;
  }

  deleteUser(id: string): boolean {
    return this.db.transaction(() => {
      this.stmt.deleteKeysOf.run(id);
      this.stmt.deletePoliciesOf.run(id);
      this.stmt.deleteAttachmentsOf.run(id);
      return this.stmt.deleteUser.run(id).changes === 1;
    })();
  }

  insertAccessKey(key: StoredAccessKey): boolean {
    const { accessKeyId, sealedSecret, userId, enabled, created } = key;
    return this.stmt.insertKey.run(accessKeyId, sealedSecret, userId, enabled ? 1 : 0, created.getTime(), userId).changes === 1;
  }

  setAccessKeyEnabled(userId: string, accessKeyId: string, enabled: boolean): boolean {
    return this.stmt.setKeyEnabled.run(enabled ? 1 : 0, userId, accessKeyId).changes === 1;
  }

  deleteAccessKey(userId: string, accessKeyId: string): boolean {
    return this.stmt.deleteKey.run(userId, accessKeyId).changes === 1;
  }

  // Managed policies: one connection, so a check and the change after it see the same rows.

  listPolicies(): StoredPolicy[] {
    return this.stmt.policies.all().map(toPolicy);
  }

  putPolicy(policy: StoredPolicy): void {
    this.stmt.putPolicy.run(policy.name, policy.document, policy.created.getTime(), policy.updated.getTime());
  }

  deletePolicy(name: string): 'deleted' | 'missing' | 'attached' {
    return this.db.transaction(() => {
      if (this.stmt.policyAttached.get(name)) return 'attached' as const;
      return this.stmt.deletePolicy.run(name).changes === 1 ? ('deleted' as const) : ('missing' as const);
    })();
  }

  listPolicyAttachments(): StoredPolicyAttachment[] {
    return this.stmt.attachments.all().map(toPolicyAttachment);
  }

  attachPolicy(attachment: StoredPolicyAttachment): boolean {
    return this.db.transaction(() => {
      if (!this.stmt.policyExists.get(attachment.policyName)) return false;
      this.stmt.attach.run(attachment.userId, attachment.created.getTime(), attachment.policyName);
      return true;
    })();
  }

  detachPolicy(userId: string, policyName: string): boolean {
    return this.stmt.detach.run(userId, policyName).changes === 1;
  }
}
