import { ServiceError } from '../../core/errors.js';
import { preconditionFailed } from '../common/conditions.js';
import type { S3Call } from './call.js';
import { header } from './request.js';

/**
 * `If-None-Match: *` on PutObject and CompleteMultipartUpload: write only if no object has the
 * key. (The feature table refuses any other If-None-Match value on a write.) Decided by the
 * engine inside the transaction that would write, so two racing writers cannot both win.
 */
export interface OverwriteCondition {
  /** What the engine is told: fail rather than replace an existing object. */
  forbidOverwrite: boolean;
  /** Runs the write, answering S3's 412 where the engine found the key taken. */
  guard<T>(write: Promise<T>): Promise<T>;
}

/**
 * `checkNow`: also look before the body is read (PutObject), so a taken key costs no upload. Not
 * for Complete, whose retry (after a lost answer) must find its own object and succeed again.
 */
export async function overwriteCondition(call: S3Call, checkNow: boolean): Promise<OverwriteCondition> {
  const forbidOverwrite = header(call.ctx.req.headers, 'if-none-match') !== undefined;
  if (forbidOverwrite && checkNow && await call.storage.hasObject(call.actor, call.bucket, call.key)) throw preconditionFailed('If-None-Match');
  return {
    forbidOverwrite,
    guard: async (write) => {
      try {
        return await write;
      } catch (err) {
        if (forbidOverwrite && err instanceof ServiceError && err.code === 'FileAlreadyExists') throw preconditionFailed('If-None-Match');
        throw err;
      }
    },
  };
}

