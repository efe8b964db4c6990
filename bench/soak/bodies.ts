/**
 * The soak's bodies: every byte is a function of (run seed, body id, offset), so a body is never
 * kept: it is generated again, piece by piece, to send it, to check a ranged read against it, or to
 * hash it. AES-256-CTR keystream, keyed by the seed and the body's id, with the counter at the
 * offset's 16-byte block: any range can be made without making what comes before it.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';

const STEP = 1 << 20;

export interface BodySpec {
  /** Unique per body in a run (its object key or part, usually). */
  id: string;
  size: number;
}

export class Bodies {
  private readonly md5s = new Map<string, string>();

  constructor(private readonly seed: string) {}

  /** Bytes [start, start + length) of the body. Keep `length` small (a part at most). */
  bytes(body: BodySpec, start = 0, length = body.size - start): Buffer {
    if (start < 0 || length < 0 || start + length > body.size) throw new Error(`range ${start}+${length} outside ${body.id} (${body.size})`);
    if (length === 0) return Buffer.alloc(0);
    const key = createHash('sha256').update(`${this.seed}\0${body.id}`).digest();
    const block = Math.floor(start / 16);
    const iv = Buffer.alloc(16);
    iv.writeBigUInt64BE(BigInt(block), 8);
    const cipher = createCipheriv('aes-256-ctr', key, iv);
    const skip = start - block * 16;
    return cipher.update(Buffer.alloc(skip + length)).subarray(skip);
  }

  /** The body (or a range of it) as a stream, 1 MiB at a time. */
  stream(body: BodySpec, start = 0, end = body.size): Readable {
    const self = this;
    return Readable.from(
      (function* () {
        for (let at = start; at < end; at += STEP) yield self.bytes(body, at, Math.min(STEP, end - at));
      })(),
      { objectMode: false },
    );
  }

  /** Lower-case hex MD5 of the whole body (remembered). */
  md5(body: BodySpec): string {
    const key = `${body.id}\0${body.size}`;
    let digest = this.md5s.get(key);
    if (digest === undefined) {
      const hash = createHash('md5');
      for (let at = 0; at < body.size; at += STEP) hash.update(this.bytes(body, at, Math.min(STEP, body.size - at)));
      digest = hash.digest('hex');
      this.md5s.set(key, digest);
    }
    return digest;
  }

  /** The S3 ETag of the body sent in `partSize` parts (no quotes, lower-case): MD5 when one PUT, else MD5 of the parts' MD5s, `-N`. */
  multipartEtag(body: BodySpec, partSize: number): string {
    const digests: Buffer[] = [];
    for (let at = 0; at < body.size || digests.length === 0; at += partSize) {
      const hash = createHash('md5');
      const end = Math.min(body.size, at + partSize);
      for (let from = at; from < end; from += STEP) hash.update(this.bytes(body, from, Math.min(STEP, end - from)));
      digests.push(hash.digest());
    }
    return `${createHash('md5').update(Buffer.concat(digests)).digest('hex')}-${digests.length}`;
  }

  /** Writes the body to `path` (for clients that upload from a file: ali-oss checkpoints, the pan client). */
  async writeFile(body: BodySpec, path: string): Promise<void> {
    const file = await open(path, 'w', 0o600);
    try {
      for (let at = 0; at < body.size; at += STEP) await file.write(this.bytes(body, at, Math.min(STEP, body.size - at)));
    } finally {
      await file.close();
    }
  }
}

/** A small seeded PRNG (mulberry32): the run's choices of sizes and operations follow the seed. */
export function prng(seed: string): () => number {
  let state = createHash('sha256').update(seed).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The ETag as compared: no quotes, lower-case. */
export function normalEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/"/g, '').toLowerCase();
}
