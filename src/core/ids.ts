import { randomBytes } from 'node:crypto';

/**
 * Random bytes are drawn from the CSPRNG 4 KiB at a time and handed out once each: one
 * `randomBytes(16)` cost ~16 µs on the benchmark machine (the call, not the bytes), and a small
 * PUT takes three ids (request, blob, …); a slice of the pool costs ~0.5 µs.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOffset = 0;

function randomHex(bytes: number): string {
  if (poolOffset + bytes > pool.length) {
    pool = randomBytes(POOL_BYTES);
    poolOffset = 0;
  }
  const hex = pool.toString('hex', poolOffset, poolOffset + bytes);
  poolOffset += bytes;
  return hex;
}

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
    randomHex(8)
  ).toUpperCase();
}

/** Blob ids name files on disk: random, so no user input ever becomes a path. */
export function newBlobId(): string {
  return randomHex(16);
}

export function newRequestId(): string {
  return randomHex(12).toUpperCase();
}

/** An OSS retention policy's id (x-oss-worm-id): upper-case hex, as OSS shows them. */
export function newWormId(): string {
  return randomHex(16).toUpperCase();
}
