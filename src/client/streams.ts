/** Byte-level helpers the transfers share: hashing on the way through, and a rate limit. */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { Crc64 } from '../core/crc64.js';
import { multipartEtag, normalizeEtag } from '../core/etag.js';
import { RateLimiter } from './rate-limiter.js';

export { multipartEtag, normalizeEtag };

export { RateLimiter };

export interface TapOptions {
  crc64?: boolean;
  limiter?: RateLimiter;
  /** Called with each chunk's size as it passes. */
  onBytes?: (bytes: number) => void;
}

/** Passes bytes through unchanged while hashing them (MD5, optionally CRC-64) and counting. */
export class HashingTap extends Transform {
  readonly md5: Hash = createHash('md5');
  readonly crc: Crc64 | undefined;
  bytes = 0;
  private readonly options: TapOptions;

  constructor(options: TapOptions = {}) {
    super();
    this.options = options;
    this.crc = options.crc64 ? new Crc64() : undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.md5.update(chunk);
    this.crc?.update(chunk);
    this.bytes += chunk.length;
    this.options.onBytes?.(chunk.length);
    const delay = this.options.limiter?.take(chunk.length) ?? 0;
    if (delay > 0) setTimeout(() => callback(null, chunk), delay);
    else callback(null, chunk);
  }

  md5Hex(): string {
    return this.md5.copy().digest('hex');
  }
}

/** A file range (inclusive `end`) streamed through a tap; read errors surface on the tap. */
export function tappedFileRange(file: string, start: number, length: number, tap: HashingTap): HashingTap {
  if (length === 0) {
    tap.end();
    return tap;
  }
  const source = createReadStream(file, { start, end: start + length - 1 });
  source.on('error', (err) => tap.destroy(err));
  return source.pipe(tap);
}

/** MD5 and CRC-64 of a file range, streamed from disk. */
export async function hashFileRange(file: string, start: number, length: number): Promise<{ md5: string; crc64: bigint }> {
  const tap = tappedFileRange(file, start, length, new HashingTap({ crc64: true }));
  tap.resume();
  await new Promise<void>((resolve, reject) => {
    tap.on('end', resolve);
    tap.on('error', reject);
  });
  return { md5: tap.md5Hex(), crc64: tap.crc!.digest() };
}

export function isMd5Etag(etag: string): boolean {
  return /^[0-9a-f]{32}$/.test(normalizeEtag(etag));
}

