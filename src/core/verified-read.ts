import { Readable } from 'node:stream';
import { tamperedBlob } from './blob-cipher.js';
import type { BlobStore } from './blob-store.js';
import { Crc32c } from './checksums.js';
import type { StoredObject } from './metadata/types.js';
import type { Digests, Segment } from './types.js';

/**
 * Reading a plaintext object with its bytes checked on the way out (an encrypted one is checked
 * record by record by core/blob-cipher.ts). Every segment's bytes are counted against its size; a
 * whole segment read (every one, on a full GET) is checked against the CRC32C its blob was
 * written with (Segment.crc32c, kept since schema version 13), computed on the event loop as the
 * chunks go out (the SSE4.2 instruction: ~0.2 s of CPU per GiB); a blob written before the CRC
 * was kept is hashed against the MD5 its metadata records instead (a part's ETag, a single PUT's
 * content MD5; on a hash worker for a large blob: BlobStore.readHashed). The segment's last chunk
 * is held back until the check is done. A mismatch ends the stream with an error instead of that
 * chunk: before the first byte the answer is an error, after it the connection is cut, so a client
 * never gets a complete body that is wrong. A range within a segment is counted, not checked (that
 * would read the whole blob).
 */

export interface CorruptRead {
  blobId: string;
  /** The object's part the blob holds (1 for a single PUT). */
  partNumber: number;
  detail: string;
}

/** What a segment's bytes are checked against when read whole: its blob's CRC32C, else an MD5 (hex). */
export interface SegmentCheck {
  crc32c?: number;
  md5?: string;
}

const HEX_MD5 = /^[0-9a-f]{32}$/;

/** The CRC32C of a staged blob, as Segment.crc32c keeps it (BlobStore.stage always computes it). */
export function blobCrc32c(digests: Digests): number | undefined {
  return digests.crc32c?.readUInt32BE(0);
}

/** What each of a plaintext object's segments is checked against, where its metadata records something. */
export function segmentChecks(info: StoredObject, segments: readonly Segment[]): Array<SegmentCheck | undefined> {
  // One segment: the whole content's MD5 is its blob's (a single PUT, a copy of one, a one-part upload hashed in order).
  const whole = segments.length === 1 ? (info.contentMd5 ?? (info.partsCount === undefined ? info.etag : undefined)) : undefined;
  return segments.map((segment) => {
    if (segment.crc32c !== undefined) return { crc32c: segment.crc32c };
    const md5 = segment.etag ?? whole;
    return md5 !== undefined && HEX_MD5.test(md5) ? { md5 } : undefined;
  });
}

const hex32 = (value: number) => value.toString(16).padStart(8, '0');

/**
 * What of `segment` the range [start, end] covers: its bytes [from, to] and whether that is the
 * whole segment (only a whole one can be checked against its digest); undefined when none.
 */
function coveredPart(segment: Segment, start: number, end: number): { from: number; to: number; whole: boolean } | undefined {
  const segEnd = segment.offset + segment.size - 1;
  if (segEnd < start || segment.offset > end || segment.size === 0) return undefined;
  const from = Math.max(start, segment.offset);
  const to = Math.min(end, segEnd);
  return { from, to, whole: from === segment.offset && to === segEnd };
}

/**
 * Bytes [start, end] (inclusive) of `segments`, checked as above against `checks` (by segment;
 * absent: counted only). `onCorrupt` hears of a bad blob before the stream fails.
 */
export function verifiedRead(
  blobs: BlobStore,
  segments: readonly Segment[],
  start: number,
  end: number,
  checks: ReadonlyArray<SegmentCheck | undefined>,
  onCorrupt: (report: CorruptRead) => void,
): Readable {
  // Blobs written before CRC32Cs were kept (an MD5 to check) are read the older way, below.
  if (!checks.some((check) => check?.crc32c === undefined && check?.md5 !== undefined)) {
    return crcCheckedRead(blobs, segments, start, end, checks, onCorrupt);
  }
  async function* generate(): AsyncGenerator<Buffer> {
    for (const [index, segment] of segments.entries()) {
      const covered = coveredPart(segment, start, end);
      if (!covered) continue;
      const { from, to } = covered;
      const expected = to - from + 1;
      const check = covered.whole ? checks[index] : undefined;
      const fail = (detail: string) => {
        onCorrupt({ blobId: segment.blobId, partNumber: segment.partNumber, detail });
        return tamperedBlob();
      };
      const short = (read: number) => fail(`${read} of ${expected} bytes: the file is shorter than recorded`);
      let read = 0;
      if (check?.crc32c === undefined && check?.md5 === undefined) {
        for await (const chunk of blobs.read([segment], from, to) as AsyncIterable<Buffer>) {
          read += chunk.length;
          yield chunk;
        }
        if (read !== expected) throw short(read);
        continue;
      }
      let held: Buffer | undefined;
      if (check.crc32c !== undefined) {
        // Each chunk goes out once the next one is read and the CRC has taken it; the last only once the CRC is right.
        const crc = new Crc32c();
        for await (const chunk of blobs.read([segment], from, to) as AsyncIterable<Buffer>) {
          crc.update(chunk);
          read += chunk.length;
          if (held) yield held;
          held = chunk;
        }
        if (read !== expected) throw short(read);
        const actual = crc.digest().readUInt32BE(0);
        if (actual !== check.crc32c) throw fail(`CRC32C ${hex32(check.crc32c)} recorded, the bytes read have ${hex32(actual)}`);
      } else {
        const chunks = blobs.readHashed(segment.blobId, segment.size);
        let step: IteratorResult<Buffer, Buffer>;
        while (!(step = await chunks.next()).done) {
          read += step.value.length;
          if (held) yield held;
          held = step.value;
        }
        if (read !== expected) throw short(read);
        const actual = step.value.toString('hex');
        if (actual !== check.md5) throw fail(`MD5 ${check.md5} recorded, the bytes read have ${actual}`);
      }
      if (held) yield held;
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

/**
 * The read when every segment read whole has a CRC32C or nothing to check: one stream of the
 * segments' pieces (core/plain-read.ts), each chunk added to its segment's CRC on the event loop
 * before it goes out; a segment's last chunk goes out only once its CRC is right.
 */
function crcCheckedRead(
  blobs: BlobStore,
  segments: readonly Segment[],
  start: number,
  end: number,
  checks: ReadonlyArray<SegmentCheck | undefined>,
  onCorrupt: (report: CorruptRead) => void,
): Readable {
  // The segments the range touches, in the order of the pieces the stream reads.
  const read: Array<{ segment: Segment; expected: number; crc32c?: number }> = [];
  for (const [index, segment] of segments.entries()) {
    const covered = coveredPart(segment, start, end);
    if (covered) read.push({ segment, expected: covered.to - covered.from + 1, crc32c: covered.whole ? checks[index]?.crc32c : undefined });
  }
  const fail = (index: number, detail: string) => {
    const { segment } = read[index]!;
    onCorrupt({ blobId: segment.blobId, partNumber: segment.partNumber, detail });
    return tamperedBlob();
  };
  let crc: Crc32c | undefined;
  let crcOf = -1;
  return blobs.read(segments, start, end, undefined, {
    chunk(index, chunk, complete) {
      const expected = read[index]!.crc32c;
      if (expected === undefined) return;
      if (crcOf !== index) {
        crc = new Crc32c();
        crcOf = index;
      }
      crc!.update(chunk);
      if (!complete) return;
      const actual = crc!.digest().readUInt32BE(0);
      if (actual !== expected) throw fail(index, `CRC32C ${hex32(expected)} recorded, the bytes read have ${hex32(actual)}`);
    },
    short(index, bytes) {
      throw fail(index, `${bytes} of ${read[index]!.expected} bytes: the file is shorter than recorded`);
    },
  });
}
