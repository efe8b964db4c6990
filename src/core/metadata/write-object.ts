import { checkBodyIntegrity, lockOfNewVersion } from '../object-lock.js';
import { writeVersion } from '../versioning.js';
import type { Metadata, NewObject, WriteGuard, WriteOutcome } from './types.js';

/** `Metadata.writeObject` as one transaction of plain queries: every backend's general case. */
export function writeObjectInTransaction(meta: Metadata, object: NewObject, guard: WriteGuard): Promise<WriteOutcome> {
  return meta.transaction(async (tx): Promise<WriteOutcome> => {
    const bucket = await tx.getBucket(object.bucket);
    if (!bucket) return { refused: 'no-bucket' };
    if (guard.owner !== undefined && bucket.owner !== guard.owner) return { refused: 'not-owner' };
    if (guard.accessStamp !== undefined && bucket.accessStamp !== guard.accessStamp) return { refused: 'access-changed' };
    if (guard.ifAbsent && (await tx.getObject(object.bucket, object.key))) return { refused: 'exists' };
    // The bucket's default retention, read in this transaction, for a version that asks for none.
    const lock = lockOfNewVersion(object.lock, bucket, object.lastModified);
    checkBodyIntegrity(lock, guard.unverifiedBody ?? false);
    const { stored, released } = await writeVersion(tx, { ...object, lock }, bucket);
    return { stored, released: await tx.unreferenced(released) };
  });
}
