import { randomBytes } from 'node:crypto';

let lastMillis = 0;
let sequence = 0;

/**
 * Upload ids are 32 upper-case hex digits: 12 of creation time in ms, 4 of a
 * per-millisecond sequence, 16 random. Sorting by id therefore sorts by creation
 * time, which is the order S3 lists one key's uploads in, while OSS lists them by
 * id: one id satisfies both. The sweep can also read an upload's age from its id.
 */
export function newUploadId(now = Date.now()): string {
  if (now <= lastMillis) {
    now = lastMillis;
    sequence++;
    if (sequence > 0xffff) {
      now = ++lastMillis;
      sequence = 0;
    }
  } else {
    sequence = 0;
  }
  lastMillis = now;
  return (
    now.toString(16).padStart(12, '0') +
    sequence.toString(16).padStart(4, '0') +
    randomBytes(8).toString('hex')
  ).toUpperCase();
}

/** Blob ids name files on disk: random, so no user input ever becomes a path. */
export function newBlobId(): string {
  return randomBytes(16).toString('hex');
}

export function newRequestId(): string {
  return randomBytes(12).toString('hex').toUpperCase();
}

/** An OSS retention policy's id (x-oss-worm-id): upper-case hex, as OSS shows them. */
export function newWormId(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}
