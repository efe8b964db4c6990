import type { StoredAccessKey, StoredKmsKey, StoredPolicy, StoredPolicyAttachment, StoredUser } from './types.js';

/** A kms_keys row as either backend returns it. */
export interface KmsKeyRow {
  id: string;
  alias: string | null;
  description: string;
  sealed_key: string;
  enabled: boolean | number;
  created: number;
}

export const toKmsKey = (row: KmsKeyRow): StoredKmsKey => ({
  id: row.id,
  ...(row.alias === null ? {} : { alias: row.alias }),
  description: row.description,
  sealedKey: row.sealed_key,
  enabled: Boolean(row.enabled),
  created: new Date(Number(row.created)),
});

/** A users row as either backend returns it (SQLite keeps booleans as 0/1). */
export interface UserRow {
  id: string;
  display_name: string;
  enabled: boolean | number;
  admin: boolean | number;
  created: number;
}

export interface AccessKeyRow {
  access_key_id: string;
  sealed_secret: string;
  user_id: string;
  enabled: boolean | number;
  created: number;
}

export const toUser = (row: UserRow): StoredUser => ({
  id: row.id,
  displayName: row.display_name,
  enabled: Boolean(row.enabled),
  admin: Boolean(row.admin),
  created: new Date(row.created),
});

export const toAccessKey = (row: AccessKeyRow): StoredAccessKey => ({
  accessKeyId: row.access_key_id,
  sealedSecret: row.sealed_secret,
  userId: row.user_id,
  enabled: Boolean(row.enabled),
  created: new Date(row.created),
});

/** A policies row (a managed policy) as either backend returns it. */
export interface PolicyRow {
  name: string;
  document: string;
  created: number;
  updated: number;
}

export interface PolicyAttachmentRow {
  user_id: string;
  policy_name: string;
  created: number;
}

export const toPolicy = (row: PolicyRow): StoredPolicy => ({
  name: row.name,
  document: row.document,
  created: new Date(Number(row.created)),
  updated: new Date(Number(row.updated)),
});

export const toPolicyAttachment = (row: PolicyAttachmentRow): StoredPolicyAttachment => ({
  userId: row.user_id,
  policyName: row.policy_name,
  created: new Date(Number(row.created)),
});
