import { consoleApi } from './console-api';

/** A bucket with what it holds: stored objects and bytes, and uploads in progress with the bytes of their parts. */
export interface UserBucket {
  name: string;
  created: string;
  objects: number;
  bytes: number;
  uploads: number;
  uploadBytes: number;
}

/** A user as root sees them: who, their access key id (never the secret), their drives and buckets. */
export interface UserSummary {
  id: string;
  displayName: string;
  root: boolean;
  accessKeyId: string;
  panDrives: Array<{ bucket: string; apps: string[] }>;
  buckets: UserBucket[];
  totals: { buckets: number; objects: number; bytes: number; uploads: number; uploadBytes: number };
}

export interface UsersAnswer {
  users: UserSummary[];
  /** Buckets whose owner is no longer a configured user. */
  bucketsOfUnknownOwners: Array<UserBucket & { owner: string }>;
}

/** Root only: the server answers others 403 AccessDenied. */
export async function listUsers(): Promise<UsersAnswer> {
  return consoleApi<UsersAnswer>('GET', 'users');
}
