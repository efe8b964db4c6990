/**
 * Upload data: a temp file of pseudo-random bytes (AES-256-CTR keystream from a
 * fixed key, so incompressible and the same every run), written in 1 MiB steps:
 * never more than a few MiB in memory. Digests are taken on the way so every
 * contender's answer can be checked against the bytes it was sent.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { open, rm } from 'node:fs/promises';
import { Crc64 } from '../src/core/crc64.js';

const STEP = 1 << 20;

export interface DataFile {
  path: string;
  size: number;
  partSize: number;
  /** MD5 of the whole file, hex (what a server that re-assembles parts reports). */
  md5: string;
  /** S3 multipart ETag for `partSize` parts: MD5 of the parts' MD5s, `-<count>`. */
  multipartEtag: string;
  /** CRC-64/ECMA of the whole file, unsigned decimal (what OSS sends as `x-oss-hash-crc64ecma`). */
  crc64: string;
  /** Bytes at fixed sample offsets (see sampleOffsets), to spot-check downloads cheaply. */
  samples: Map<number, Buffer>;
  remove(): Promise<void>;
}

export const SAMPLE_BYTES = 16;

/** One sample every 4 MiB, plus the first and last bytes. */
export function sampleOffsets(size: number): number[] {
  const offsets = new Set<number>([0, Math.max(0, size - SAMPLE_BYTES)]);
  for (let at = 4 << 20; at + SAMPLE_BYTES <= size; at += 4 << 20) offsets.add(at - 7);
  return [...offsets].sort((a, b) => a - b);
}

/** A deterministic pseudo-random stream: the same seed gives the same bytes. */
export function keystream(seed: string): (length: number) => Buffer {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  return (length) => cipher.update(Buffer.alloc(length));
}

export async function createDataFile(path: string, size: number, partSize: number): Promise<DataFile> {
  const next = keystream(`tessera-bench-${size}`);
  const whole = createHash('md5');
  const crc = new Crc64();
  const partMd5s: Buffer[] = [];
  let part = createHash('md5');
  let partFill = 0;
  const offsets = sampleOffsets(size);
  const samples = new Map<number, Buffer>();
  const file = await open(path, 'w+', 0o600);
  try {
    for (let written = 0; written < size; ) {
      const chunk = next(Math.min(STEP, size - written));
      whole.update(chunk);
      crc.update(chunk);
      let from = 0;
      while (from < chunk.length) {
        const take = Math.min(partSize - partFill, chunk.length - from);
        part.update(chunk.subarray(from, from + take));
        partFill += take;
        from += take;
        if (partFill === partSize) {
          partMd5s.push(part.digest());
          part = createHash('md5');
          partFill = 0;
        }
      }
      await file.write(chunk);
      written += chunk.length;
    }
    if (partFill > 0) partMd5s.push(part.digest());
    // Offsets sit 7 bytes before each 4 MiB mark, so samples straddle every part boundary.
    for (const at of offsets) {
      const sample = Buffer.alloc(Math.min(SAMPLE_BYTES, size - at));
      await file.read(sample, 0, sample.length, at);
      samples.set(at, sample);
    }
  } finally {
    await file.close();
  }
  const multipartEtag = `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}`;
  return {
    path,
    size,
    partSize,
    md5: whole.digest('hex'),
    multipartEtag,
    crc64: crc.toDecimal(),
    samples,
    remove: () => rm(path, { force: true }),
  };
}

/**
 * Counts a download's bytes and compares them with the file's samples as they
 * stream past: cheap enough not to slow the client, and enough to catch parts
 * served out of order, truncated or shifted.
 */
export class DownloadChecker {
  private position = 0;
  private readonly pending: number[];
  private mismatches = 0;

  constructor(private readonly file: DataFile) {
    this.pending = [...file.samples.keys()].sort((a, b) => a - b);
  }

  update(chunk: Buffer): void {
    const start = this.position;
    const end = start + chunk.length;
    if (this.carry) {
      // The rest of a sample that straddled the previous chunk boundary.
      const rest = this.file.samples.get(this.carry.at)!.subarray(this.carry.done);
      const got = chunk.subarray(0, rest.length);
      if (!got.equals(rest.subarray(0, got.length))) this.mismatches++;
      if (got.length < rest.length) this.carry.done += got.length;
      else this.carry = undefined;
    }
    while (this.pending.length > 0 && this.pending[0]! < end) {
      const at = this.pending.shift()!;
      const expected = this.file.samples.get(at)!;
      const got = chunk.subarray(at - start, at - start + SAMPLE_BYTES);
      if (!got.equals(expected.subarray(0, got.length))) this.mismatches++;
      if (got.length < SAMPLE_BYTES) this.carry = { at, done: got.length };
    }
    this.position = end;
  }

  private carry?: { at: number; done: number };

  /** Throws unless exactly the file's bytes (as far as the samples tell) went past. */
  finish(label: string): void {
    if (this.position !== this.file.size) throw new Error(`${label}: downloaded ${this.position} bytes, expected ${this.file.size}`);
    if (this.mismatches > 0 || this.pending.length > 0 || this.carry) throw new Error(`${label}: downloaded bytes differ from the uploaded file`);
  }
}
