import { ServiceError } from '../../core/errors.js';
import type { Actor } from '../../core/types.js';
import type { ApiCall } from './api.js';
import { allDrives } from './pan-drive.js';

const ROOT: Actor = { userId: 'root', root: true };

/**
 * `GET users` (root only): every user with their access key id (never a secret), the 123pan
 * drives acting as them, and their buckets with objects, bytes and uploads in progress; and the
 * buckets whose owner is no longer a user.
 */
export async function listUsers(call: ApiCall): Promise<unknown> {
  if (!call.user.root) throw new ServiceError('AccessDenied', 'Only root may list users.', 403);
  const { storage, users, pan } = call.deps;
  const drives = allDrives(pan, users);
  const buckets = await storage.listBuckets(ROOT);
  const usage = await Promise.all(
    buckets.map(async (bucket) => {
      try {
        const [stored, uploads] = await Promise.all([storage.bucketUsage(ROOT, bucket.name), storage.uploads.bucketTotals(ROOT, bucket.name)]);
        return {
          owner: bucket.owner,
          name: bucket.name,
          created: bucket.createdAt.toISOString(),
          objects: stored.objects,
          bytes: stored.bytes,
          uploads: uploads.uploads,
          uploadBytes: uploads.bytes,
        };
      } catch (err) {
        // Deleted between the list and its count: left out rather than failing the page.
        if (err instanceof ServiceError && err.code === 'NoSuchBucket') return undefined;
        throw err;
      }
    }),
  );
  const rows = usage.filter((row) => row !== undefined);
  const known = new Set(users.all().map((user) => user.id));
  return {
    users: users.all().map((user) => {
      const own = rows.filter((row) => row.owner === user.id).map(({ owner: _owner, ...bucket }) => bucket);
      return {
        id: user.id,
        displayName: user.displayName,
        root: user.root,
        accessKeyId: user.accessKey,
        panDrives: drives.filter((drive) => drive.user === user.id).map((drive) => ({ bucket: drive.bucket, apps: drive.apps })),
        buckets: own,
        totals: {
          buckets: own.length,
          objects: sum(own, (bucket) => bucket.objects),
          bytes: sum(own, (bucket) => bucket.bytes),
          uploads: sum(own, (bucket) => bucket.uploads),
          uploadBytes: sum(own, (bucket) => bucket.uploadBytes),
        },
      };
    }),
    // A user removed from the config keeps their buckets: shown, not hidden.
    bucketsOfUnknownOwners: rows.filter((row) => !known.has(row.owner)),
  };
}

function sum<T>(rows: T[], value: (row: T) => number): number {
  return rows.reduce((total, row) => total + value(row), 0);
}


