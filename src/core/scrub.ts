import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { sealedSize } from './blob-cipher.js';
import type { BlobStore } from './blob-store.js';
import { ServiceError } from './errors.js';
import type { BlobReference, Metadata } from './metadata/types.js';
import type { ObjectEncryption } from './types.js';

/**
 * The scrub: reads every blob something refers to and checks it against what the referrers
 * recorded when it was written: its size, its MD5 (a single PUT's content MD5, a part's ETag) and,
 * for an encrypted blob, every record's AES-GCM tag. Read only: it reports, never repairs or
 * deletes, and can run beside a server on the same store (a blob the server deletes meanwhile is
 * no finding). Protocol-free: `tessera scrub` and the server's background scrub both call it.
 */

export type FindingKind =
  /** No file, and something still refers to it. */
  | 'missing'
  /** The file is not as long as its content (sealed, for an encrypted blob) must be. */
  | 'size'
  /** The content's MD5 is not the one recorded. */
  | 'digest'
  /** An encrypted blob failed its integrity check (a record's tag, or its header). */
  | 'tampered'
  /** The file could not be read (an I/O error). */
  | 'unreadable'
  /** Its content cannot be checked here: SSE-C (the customer's key is never stored), or its KMS key cannot be read. */
  | 'unverifiable'
  /** A file in the blob directories nothing refers to (left by a crash; the sweep removes old ones). */
  | 'orphan';

/** The kinds that mean bytes are lost or wrong. */
export const CORRUPT_KINDS: ReadonlySet<FindingKind> = new Set(['size', 'digest', 'tampered', 'unreadable']);

export interface ScrubFinding {
  kind: FindingKind;
  blobId: string;
  path: string;
  /** Who refers to the blob (none for an orphan). */
  references: BlobReference[];
  /** What was expected and found, in words (never a key). */
  detail: string;
}

export interface ScrubSummary {
  /** Blobs referred to and looked at. */
  blobs: number;
  /** Bytes read from them. */
  bytes: number;
  /** Of the blobs, those whose content was checked (an MD5 recorded, or sealed records); the others had their size checked only. */
  verified: number;
  sizeOnly: number;
  corrupt: number;
  missing: number;
  unverifiable: number;
  orphans: number;
  durationMs: number;
}

export interface ScrubOptions {
  /** Read at most this many bytes a second (0 or absent: as fast as the disk goes). */
  rateBytesPerSecond?: number;
  /** The key-encryption key of SSE-S3 and SSE-KMS blobs (Encryption.kekFor); absent, or throwing: unverifiable. */
  kekOf?: (encryption: ObjectEncryption) => Promise<Buffer | undefined>;
  /** Report files nothing refers to (default true). */
  orphans?: boolean;
  /** Blobs whose references are read at once. */
  pageSize?: number;
  /** Stops the scrub between reads (its summary covers what was done). */
  signal?: AbortSignal;
  onFinding?: (finding: ScrubFinding) => void | Promise<void>;
}

export async function scrub(meta: Metadata, blobs: BlobStore, options: ScrubOptions = {}): Promise<ScrubSummary> {
  const started = Date.now();
  const summary: ScrubSummary = { blobs: 0, bytes: 0, verified: 0, sizeOnly: 0, corrupt: 0, missing: 0, unverifiable: 0, orphans: 0, durationMs: 0 };
  const throttle = new Throttle(options.rateBytesPerSecond ?? 0);
  const report = async (finding: ScrubFinding) => {
    if (finding.kind === 'missing') summary.missing++;
    else if (finding.kind === 'unverifiable') summary.unverifiable++;
    else if (finding.kind === 'orphan') summary.orphans++;
    else summary.corrupt++;
    await options.onFinding?.(finding);
  };
  const seen = new Set<string>();
  const pageSize = options.pageSize ?? 500;
  let after = '';
  while (!options.signal?.aborted) {
    const page = await meta.blobReferences(after, pageSize);
    if (page.length === 0) break;
    for (const [blobId, references] of groupByBlob(page)) {
      if (options.signal?.aborted) break;
      seen.add(blobId);
      summary.blobs++;
      const outcome = await checkBlob(meta, blobs, blobId, references, throttle, options);
      summary.bytes += outcome.bytes;
      if (outcome.verified === true) summary.verified++;
      else if (outcome.verified === false) summary.sizeOnly++;
      if (outcome.finding) await report(outcome.finding);
      else if (outcome.gone) summary.blobs--;
    }
    after = page[page.length - 1]!.blobId;
  }
  if (options.orphans !== false && !options.signal?.aborted) {
    const startedAt = new Date(started);
    for await (const file of blobs.files()) {
      if (options.signal?.aborted) break;
      if (seen.has(file.name)) continue;
      const info = await stat(file.path).catch(() => undefined);
      // Younger than the scrub: a write in flight, about to be committed.
      if (!info || !info.isFile() || info.mtime >= startedAt) continue;
      if (await meta.isBlobReferenced(file.name)) continue;
      await report({ kind: 'orphan', blobId: file.name, path: file.path, references: [], detail: `${info.size} bytes, last written ${info.mtime.toISOString()}` });
    }
  }
  summary.durationMs = Date.now() - started;
  return summary;
}

/** A blob's references, in the order the page has them (by blob id). */
function groupByBlob(page: BlobReference[]): Map<string, BlobReference[]> {
  const groups = new Map<string, BlobReference[]>();
  for (const reference of page) {
    const group = groups.get(reference.blobId);
    if (group) group.push(reference);
    else groups.set(reference.blobId, [reference]);
  }
  return groups;
}

interface BlobOutcome {
  bytes: number;
  /** true: its content was checked; false: its size only; absent: neither (a finding, or gone). */
  verified?: boolean;
  finding?: ScrubFinding;
  /** Deleted meanwhile: nothing refers to it any more. */
  gone?: boolean;
}

async function checkBlob(
  meta: Metadata,
  blobs: BlobStore,
  blobId: string,
  references: BlobReference[],
  throttle: Throttle,
  options: ScrubOptions,
): Promise<BlobOutcome> {
  let path: string;
  try {
    path = blobs.pathOf(blobId);
  } catch {
    return { bytes: 0, finding: { kind: 'missing', blobId, path: '', references, detail: 'not a blob id: no file can have this name' } };
  }
  const finding = (kind: FindingKind, detail: string): BlobOutcome => ({ bytes: 0, finding: { kind, blobId, path, references, detail } });
  // Every referrer reads the same content (a copy shares the blob only with the same sealing).
  const size = references[0]!.size;
  const encryption = references.find((reference) => reference.encryption)?.encryption;
  const md5 = references.find((reference) => reference.md5)?.md5;
  const missing = async (): Promise<BlobOutcome> =>
    (await meta.isBlobReferenced(blobId)) ? finding('missing', 'no file') : { bytes: 0, gone: true };

  const info = await stat(path).catch((err: NodeJS.ErrnoException) => err);
  if (info instanceof Error) return info.code === 'ENOENT' ? missing() : finding('unreadable', info.message);
  if (encryption?.kind === 'sse-c') return finding('unverifiable', "SSE-C: checked only with the customer's key, which is never stored");
  const fileSize = encryption ? sealedSize(size) : size;
  if (info.size !== fileSize) {
    return finding('size', `${fileSize} bytes expected${encryption ? ` (${size} sealed)` : ''}, the file has ${info.size}`);
  }
  let kek: Buffer | undefined;
  if (encryption) {
    try {
      kek = await options.kekOf?.(encryption);
    } catch (err) {
      return finding('unverifiable', `${encryption.kind}: its key cannot be read (${(err as Error).message})`);
    }
    if (!kek) return finding('unverifiable', `${encryption.kind}: no key to open it with`);
  }
  if (size === 0) return { bytes: 0, verified: md5 !== undefined };
  const hash = md5 === undefined ? undefined : createHash('md5');
  let bytes = 0;
  try {
    const stream = blobs.read([{ blobId, offset: 0, size, partNumber: 1 }], 0, size - 1, kek && (() => kek));
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash?.update(chunk);
      bytes += chunk.length;
      await throttle.take(chunk.length, options.signal);
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { ...(await missing()), bytes };
    if (err instanceof ServiceError) return { ...finding('tampered', 'a sealed record failed its integrity check'), bytes };
    if ((err as Error).name === 'AbortError') return { bytes };
    return { ...finding('unreadable', (err as Error).message), bytes };
  }
  if (bytes !== size) return { ...finding('size', `${size} bytes expected, ${bytes} read`), bytes };
  if (hash) {
    const actual = hash.digest('hex');
    if (actual !== md5) return { ...finding('digest', `MD5 ${md5} expected, the content's is ${actual}`), bytes };
  }
  return { bytes, verified: hash !== undefined || kek !== undefined };
}

/** At most `rate` bytes a second on average; a pause of more than a second is not made up for. */
class Throttle {
  private since = Date.now();
  private taken = 0;

  constructor(private readonly rate: number) {}

  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (this.rate <= 0) return;
    this.taken += bytes;
    const due = this.since + (this.taken / this.rate) * 1000;
    const wait = due - Date.now();
    if (wait < -1000) {
      this.since = Date.now();
      this.taken = 0;
    } else if (wait > 0) {
      await sleep(wait, undefined, { signal });
    }
  }
}

/** Who refers to a blob, in words: `bucket/key (version v)`, `… part 3 of upload U`, `upload U of bucket/key, part 3`. */
export function describeReference(reference: BlobReference): string {
  const place = `${reference.bucket}/${reference.key}`;
  if (!reference.object) return `upload ${reference.uploadId} of ${place}, part ${reference.partNumber} (in progress)`;
  let text = place;
  if (reference.versionId !== undefined && reference.versionId !== null) text += ` version ${reference.versionId}`;
  else if (reference.noncurrent) text += ' version null';
  if (reference.noncurrent) text += ' (noncurrent)';
  if (reference.uploadId !== undefined) text += `, part ${reference.partNumber} of upload ${reference.uploadId}`;
  else if (reference.partNumber > 1) text += `, part ${reference.partNumber}`;
  return text;
}
