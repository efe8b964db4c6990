import { Readable } from 'node:stream';
import { tamperedBlob } from './blob-cipher.js';
import type { BlobStore } from './blob-store.js';
import type { StoredObject } from './metadata/types.js';
import type { Segment } from './types.js';

/**
 * Reading a plaintext object with its bytes checked on the way out (an encrypted one is checked
 * record by record by core/blob-cipher.ts). Every segment's bytes are counted against its size; a
 * whole segment read (every one, on a full GET) is hashed against the MD5 its metadata records (a
 * part's ETag, a single PUT's content MD5), and its last chunk is held back until the digest is
 * known (hashed on a hash worker for a large blob: BlobStore.readHashed). A mismatch ends the stream with an error instead of that chunk: before the first byte the
 * answer is an error, after it the connection is cut, so a client never gets a complete body that
 * is wrong. A range within a segment is counted, not hashed (that would read the whole blob).
 */

export interface CorruptRead {
  blobId: string;
  /** The object's part the blob holds (1 for a single PUT). */
  partNumber: number;
  detail: string;
}

const HEX_MD5 = /^[0-9a-f]{32}$/;

/** The MD5 each of a plaintext object's segments must have, where its metadata records one. */
export function segmentDigests(info: StoredObject, segments: readonly Segment[]): Array<string | undefined> {
  // One segment: the whole content's MD5 is its blob's (a single PUT, a copy of one, a one-part upload hashed in order).
  const whole = segments.length === 1 ? (info.contentMd5 ?? (info.partsCount === undefined ? info.etag : undefined)) : undefined;
  return segments.map((segment) => {
    const md5 = segment.etag ?? whole;
    return md5 !== undefined && HEX_MD5.test(md5) ? md5 : undefined;
  });
}

/**
 * Bytes [start, end] (inclusive) of `segments`, checked as above against `digests` (by segment;
 * absent: counted only). `onCorrupt` hears of a bad blob before the stream fails.
 */
export function verifiedRead(
  blobs: BlobStore,
  segments: readonly Segment[],
  start: number,
  end: number,
  digests: ReadonlyArray<string | undefined>,
  onCorrupt: (report: CorruptRead) => void,
): Readable {
  async function* generate(): AsyncGenerator<Buffer> {
    for (const [index, segment] of segments.entries()) {
      const segEnd = segment.offset + segment.size - 1;
      if (segEnd < start || segment.offset > end || segment.size === 0) continue;
      const from = Math.max(start, segment.offset);
      const to = Math.min(end, segEnd);
      const expected = to - from + 1;
      const md5 = from === segment.offset && to === segEnd ? digests[index] : undefined;
      const fail = (detail: string) => {
        onCorrupt({ blobId: segment.blobId, partNumber: segment.partNumber, detail });
        return tamperedBlob();
      };
      let read = 0;
      if (md5 === undefined) {
        for await (const chunk of blobs.read([segment], from, to) as AsyncIterable<Buffer>) {
          read += chunk.length;
          yield chunk;
        }
        if (read !== expected) throw fail(`${read} of ${expected} bytes: the file is shorter than recorded`);
        continue;
      }
      // Each chunk goes out once the next one is read; the last only once the digest is right.
      const chunks = blobs.readHashed(segment.blobId, segment.size);
      let held: Buffer | undefined;
      let step: IteratorResult<Buffer, Buffer>;
      while (!(step = await chunks.next()).done) {
        read += step.value.length;
        if (held) yield held;
        held = step.value;
      }
      if (read !== expected) throw fail(`${read} of ${expected} bytes: the file is shorter than recorded`);
      const actual = step.value.toString('hex');
      if (actual !== md5) throw fail(`MD5 ${md5} recorded, the bytes read have ${actual}`);
      if (held) yield held;
    }
  }
  return Readable.from(generate(), { objectMode: false });
}
