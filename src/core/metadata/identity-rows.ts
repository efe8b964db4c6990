import type { StoredAccessKey, StoredUser } from './types.js';

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
