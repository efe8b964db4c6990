/**
 * Resumable download of a large object: byte ranges fetched in parallel into
 * `<file>.tessera-download` (sized to the object up front, each range written at its offset), a
 * checkpoint saved after every range (download-checkpoint.ts), and, when run again after an
 * interruption (a kill, Ctrl-C), only the ranges still missing are fetched, provided the object's
 * ETag, size and Last-Modified are those recorded; otherwise the download starts over and says so.
 *
 * At the end the object is checked before the file is renamed into place (atomically) and the
 * checkpoint removed: its size; its MD5 when the ETag is one (a single-part object: the file is
 * read back once); its multipart ETag recomputed from the ranges' MD5s when the ranges are the
 * object's parts (the part size is asked of the service with `HEAD ?partNumber=1` (S3), else
 * guessed, and a guess that does not reproduce the ETag only means the ETag was not checked); and
 * its CRC-64 (`x-oss-hash-crc64ecma`), combined from the ranges' CRCs. A mismatch removes the
 * partial file and the checkpoint. Objects below the threshold are one GET (transfer.ts).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import { crc64Combine } from '../core/crc64.js';
import type { StorageClient } from './client.js';
import {
  DOWNLOAD_CHECKPOINT_MAGIC,
  downloadCheckpointPath,
  loadDownloadCheckpoint,
  saveDownloadCheckpoint,
  type DownloadCheckpoint,
  type DownloadPart,
} from './download-checkpoint.js';
import { removeCheckpoint } from './checkpoint.js';
import { eachPartInParallel } from './part-pool.js';
import { AbortError, IntegrityError } from './errors.js';
import { autoParallel, autoPartSize, OSS_MIN_PART_SIZE, partCount, S3_MIN_PART_SIZE } from './sizing.js';
import { HashingTap, multipartEtag, normalizeEtag } from './streams.js';
import type { RateLimiter } from './rate-limiter.js';
import { downloadFile, type TransferResult } from './transfer.js';
import type { ObjectInfo } from './types.js';
import { CHECKSUM_ALGORITHMS, checksumHeaderName, createChecksum, type ChecksumAlgorithm } from '../dialects/s3/checksums.js';

export interface ResumableDownloadProgress {
  /** Bytes in the file so far, including ranges an earlier run fetched. */
  transferredBytes: number;
  totalBytes: number;
  /** Bytes an earlier run had fetched when this one started. */
  resumedBytes: number;
}

export interface ResumableDownloadOptions {
  bucket: string;
  key: string;
  file: string;
  /** Where the checkpoint lives (the upload checkpoints' directory). */
  checkpointDir: string;
  /** Objects at least this large are fetched in ranges, resumably; default 100 MiB. */
  multipartThreshold?: number;
  /** Range size; default the object's part size when it can be known, else ossutil's automatic size. */
  partSize?: number;
  /** Ranges in flight; default by range count, as uploads. */
  parallel?: number;
  /** The object's size when a listing already told it: below the threshold, no HEAD is made first. */
  knownSize?: number;
  limiter?: RateLimiter;
  signal?: AbortSignal;
  onProgress?: (progress: ResumableDownloadProgress) => void;
  /** Told why an interrupted download could not be resumed and starts over. */
  onNotice?: (message: string) => void;
}

export interface ResumableDownloadResult extends TransferResult {
  ranged: boolean;
  partsTotal: number;
  /** Ranges fetched by this run. */
  partsFetched: number;
  /** Ranges an earlier run had fetched. */
  partsResumed: number;
  /** An earlier run's checkpoint was found but the object had changed. */
  restarted: boolean;
}

const RANGE_ATTEMPTS = 3;

export async function downloadResumable(client: StorageClient, options: ResumableDownloadOptions): Promise<ResumableDownloadResult> {
  const threshold = options.multipartThreshold ?? 100 * 1024 * 1024;
  const small = (size: number) => size < threshold || size === 0;
  const head = options.knownSize !== undefined && small(options.knownSize) ? undefined : await client.headObject(options.bucket, options.key, { signal: options.signal });
  if (head === undefined || small(head.size)) {
    const result = await downloadFile(client, {
      bucket: options.bucket,
      key: options.key,
      file: options.file,
      signal: options.signal,
      limiter: options.limiter,
      onProgress: (p) => options.onProgress?.({ ...p, resumedBytes: 0 }),
    });
    return { ...result, ranged: false, partsTotal: 1, partsFetched: 1, partsResumed: 0, restarted: false };
  }
  return new RangedDownload(client, options, head).run();
}

class RangedDownload {
  private readonly cpPath: string;
  private readonly temporary: string;
  private checkpoint!: DownloadCheckpoint;
  private saving: Promise<void> = Promise.resolve();
  private transferred = 0;
  private resumedBytes = 0;
  private fetched = 0;
  private restarted = false;
  /** The ranges are the object's parts as the service said (not guessed). */
  private partsConfirmed = false;

  constructor(
    private readonly client: StorageClient,
    private readonly options: ResumableDownloadOptions,
    private readonly head: ObjectInfo,
  ) {
    this.cpPath = downloadCheckpointPath(options.checkpointDir, `${client.dialect}://${options.bucket}/${options.key}`, options.file);
    this.temporary = `${options.file}.tessera-download`;
  }

  private objStat(): DownloadCheckpoint['ObjStat'] {
    return { Size: this.head.size, LastModified: this.head.headers['last-modified'] ?? '', Etag: this.head.etag };
  }

  async run(): Promise<ResumableDownloadResult> {
    const resumed = await this.resume();
    if (!resumed) await this.start();
    const { Parts: parts, PartStat: done } = this.checkpoint;
    const partsResumed = done.filter(Boolean).length;
    this.resumedBytes = parts.filter((_, i) => done[i]).reduce((sum, p) => sum + p.End - p.Start + 1, 0);
    this.transferred = this.resumedBytes;
    this.report();
    await this.fetchAll(parts.filter((_, i) => !done[i]));
    await this.saving;
    const verifiedBy = await this.verify();
    await rename(this.temporary, this.options.file);
    await removeCheckpoint(this.cpPath);
    return {
      size: this.head.size,
      etag: this.head.etag,
      verifiedBy,
      ranged: true,
      partsTotal: parts.length,
      partsFetched: this.fetched,
      partsResumed,
      restarted: this.restarted,
    };
  }

  private report(): void {
    this.options.onProgress?.({ transferredBytes: this.transferred, totalBytes: this.head.size, resumedBytes: this.resumedBytes });
  }

  /** Takes up an earlier run's checkpoint; false (after saying why, if there was one) when it cannot. */
  private async resume(): Promise<boolean> {
    const cp = await loadDownloadCheckpoint(this.cpPath);
    if (cp === undefined || cp.FilePath !== resolve(this.options.file) || cp.Object !== this.options.key) return false;
    const now = this.objStat();
    const url = `${this.client.dialect}://${this.options.bucket}/${this.options.key}`;
    if (cp.ObjStat.Size !== now.Size || cp.ObjStat.Etag !== now.Etag || cp.ObjStat.LastModified !== now.LastModified) {
      this.notice(`${url} changed since the interrupted download (ETag, size or last-modified): starting over`);
      return false;
    }
    const partial = await stat(this.temporary).catch(() => undefined);
    if (partial === undefined || partial.size !== now.Size || !rangesCover(cp.Parts, now.Size)) {
      this.notice(`the partial file ${this.temporary} of the interrupted download is missing or not the object's size: starting over`);
      return false;
    }
    this.checkpoint = cp;
    this.partsConfirmed = await this.confirmedPartSize(cp.Parts[0]!.End - cp.Parts[0]!.Start + 1, cp.Parts.length);
    return true;
  }

  private notice(message: string): void {
    this.restarted = true;
    this.options.onNotice?.(message);
  }

  private async start(): Promise<void> {
    const size = this.head.size;
    const partSize = await this.choosePartSize();
    const count = partCount(size, partSize);
    const parts: DownloadPart[] = [];
    for (let i = 0; i < count; i++) {
      const start = i * partSize;
      parts.push({ Index: i, Start: start, End: Math.min(size, start + partSize) - 1, MD5: '', CRC64: '' });
    }
    // The whole size up front (sparse): each range is written at its offset, in any order.
    const handle = await open(this.temporary, 'w');
    try {
      await handle.truncate(size);
    } finally {
      await handle.close();
    }
    this.checkpoint = {
      Magic: DOWNLOAD_CHECKPOINT_MAGIC,
      MD5: '',
      FilePath: resolve(this.options.file),
      Object: this.options.key,
      ObjStat: this.objStat(),
      Parts: parts,
      PartStat: parts.map(() => false),
    };
    await saveDownloadCheckpoint(this.cpPath, this.checkpoint);
  }

  /** The object's parts when its ETag says how many there are and their size can be told; else the given or automatic size. */
  private async choosePartSize(): Promise<number> {
    const size = this.head.size;
    const count = multipartCount(this.head.etag);
    if (count !== undefined) {
      const asked = this.client.dialect === 's3' ? await this.firstPartSize() : undefined;
      if (asked !== undefined && partCount(size, asked) === count) {
        this.partsConfirmed = true;
        return asked;
      }
      for (const guess of [this.options.partSize, autoPartSize(size, OSS_MIN_PART_SIZE), autoPartSize(size, S3_MIN_PART_SIZE)]) {
        if (guess !== undefined && partCount(size, guess) === count) return guess;
      }
    }
    return this.options.partSize ?? autoPartSize(size, OSS_MIN_PART_SIZE);
  }

  private async confirmedPartSize(partSize: number, count: number): Promise<boolean> {
    if (multipartCount(this.head.etag) !== count || this.client.dialect !== 's3') return false;
    return (await this.firstPartSize()) === partSize;
  }

  /** S3's `HEAD ?partNumber=1`: the size of the object's first part; undefined when not told. */
  private async firstPartSize(): Promise<number | undefined> {
    try {
      const response = await this.client.request({
        method: 'HEAD',
        bucket: this.options.bucket,
        key: this.options.key,
        query: [['partNumber', '1']],
        signal: this.options.signal,
      });
      const length = Number(response.headers['content-length']);
      return Number.isSafeInteger(length) && length > 0 ? length : undefined;
    } catch (err) {
      if (err instanceof AbortError) throw err;
      return undefined;
    }
  }

  private save(): Promise<void> {
    this.saving = this.saving.then(() => saveDownloadCheckpoint(this.cpPath, this.checkpoint));
    return this.saving;
  }

  private async fetchAll(todo: DownloadPart[]): Promise<void> {
    const parallel = this.options.parallel ?? autoParallel(this.checkpoint.Parts.length);
    await eachPartInParallel(todo, parallel, this.options.signal, (part, signal) => this.fetchPart(part, signal));
  }

  /** One range into its place in the file; a body cut short is fetched again (a few times). */
  private async fetchPart(part: DownloadPart, signal: AbortSignal): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.fetchOnce(part, signal);
        return;
      } catch (err) {
        if (signal.aborted) throw new AbortError();
        if (err instanceof AbortError || err instanceof IntegrityError || attempt >= RANGE_ATTEMPTS) throw err;
      }
    }
  }

  private async fetchOnce(part: DownloadPart, signal: AbortSignal): Promise<void> {
    const length = part.End - part.Start + 1;
    const { info, body } = await this.client.getObject(this.options.bucket, this.options.key, { range: { start: part.Start, end: part.End }, signal });
    if (normalizeEtag(info.etag) !== normalizeEtag(this.checkpoint.ObjStat.Etag) || info.size !== this.head.size) {
      body.destroy();
      throw new IntegrityError(`${this.options.key} changed during the download (ETag ${info.etag}, was ${this.checkpoint.ObjStat.Etag}): run again to start over`);
    }
    const tap = new HashingTap({
      crc64: true,
      limiter: this.options.limiter,
      onBytes: (bytes) => {
        this.transferred += bytes;
        this.report();
      },
    });
    try {
      await pipeline(body, tap, createWriteStream(this.temporary, { flags: 'r+', start: part.Start }), { signal });
    } catch (err) {
      body.destroy();
      this.transferred -= tap.bytes;
      this.report();
      if (signal.aborted) throw new AbortError();
      throw err;
    }
    if (tap.bytes !== length) {
      this.transferred -= tap.bytes;
      throw new Error(`range ${part.Start}-${part.End} of ${this.options.key}: received ${tap.bytes} bytes of ${length}`);
    }
    part.MD5 = tap.md5Hex();
    part.CRC64 = tap.crc!.digest().toString();
    this.checkpoint.PartStat[part.Index] = true;
    this.fetched++;
    await this.save();
  }

  private async fullObjectChecksum(): Promise<ReturnType<typeof fullObjectChecksumOf>> {
    if (this.client.dialect !== 's3') return undefined;
    try {
      const response = await this.client.request({
        method: 'HEAD',
        bucket: this.options.bucket,
        key: this.options.key,
        headers: { 'x-amz-checksum-mode': 'ENABLED', 'if-match': this.head.etag },
        signal: this.options.signal,
      });
      return fullObjectChecksumOf(response.headers);
    } catch (err) {
      if (err instanceof AbortError) throw err;
      return undefined;
    }
  }

  private async verify(): Promise<TransferResult['verifiedBy']> {
    const { key } = this.options;
    const fail = async (message: string): Promise<never> => {
      await rm(this.temporary, { force: true });
      await removeCheckpoint(this.cpPath);
      throw new IntegrityError(`${key}: ${message}`);
    };
    const verifiedBy: TransferResult['verifiedBy'] = [];
    const parts = this.checkpoint.Parts;
    const onDisk = (await stat(this.temporary)).size;
    if (onDisk !== this.head.size) await fail(`the file has ${onDisk} bytes, the object ${this.head.size}`);
    verifiedBy.push('size');
    const etag = normalizeEtag(this.head.etag);
    const plainMd5 = /^[0-9a-f]{32}$/.test(etag);
    const checksum = await this.fullObjectChecksum();
    if (plainMd5 || checksum !== undefined) {
      // Read back once for what only the whole file gives: its MD5, an S3 full-object checksum.
      const running = checksum !== undefined ? createChecksum(checksum.algorithm) : undefined;
      const md5 = createHash('md5');
      for await (const chunk of createReadStream(this.temporary)) {
        md5.update(chunk as Buffer);
        running?.update(chunk as Buffer);
      }
      if (plainMd5) {
        const local = md5.digest('hex');
        if (local !== etag) await fail(`MD5 ${local} is not the ETag ${this.head.etag}`);
        verifiedBy.push('md5');
      }
      if (checksum !== undefined) {
        const local = running!.digestBase64();
        if (local !== checksum.value) await fail(`${checksum.header} ${local} is not the object's ${checksum.value}`);
        verifiedBy.push(checksum.header as `x-amz-checksum-${string}`);
      }
    }
    if (!plainMd5 && multipartCount(etag) === parts.length) {
      const expected = multipartEtag(parts.map((p) => p.MD5));
      if (expected === etag) verifiedBy.push('etag');
      else if (this.partsConfirmed) await fail(`the parts' MD5s make the ETag ${expected}, the object's is ${this.head.etag}`);
    }
    if (this.head.crc64 !== undefined) {
      let combined = 0n;
      for (const part of parts) combined = crc64Combine(combined, BigInt(part.CRC64), part.End - part.Start + 1);
      if (BigInt(this.head.crc64) !== combined) await fail(`CRC-64 ${combined} is not the object's ${this.head.crc64}`);
      verifiedBy.push('crc64');
    }
    return verifiedBy;
  }
}

/** An S3 object's whole-object checksum (`x-amz-checksum-mode: ENABLED`); a composite one (`…-N`) is not checked. */
export function fullObjectChecksumOf(headers: Record<string, string | string[] | undefined>): { algorithm: ChecksumAlgorithm; header: string; value: string } | undefined {
  if (String(headers['x-amz-checksum-type'] ?? 'FULL_OBJECT').toUpperCase() !== 'FULL_OBJECT') return undefined;
  for (const algorithm of CHECKSUM_ALGORITHMS) {
    const header = checksumHeaderName(algorithm);
    const value = headers[header];
    if (typeof value === 'string' && !/-\d+$/.test(value)) return { algorithm, header, value };
  }
  return undefined;
}

/** N of a multipart ETag `…-N`. */
function multipartCount(etag: string): number | undefined {
  const match = /^[0-9a-f]{32}-(\d+)$/.exec(normalizeEtag(etag));
  return match ? Number(match[1]) : undefined;
}

/** Ranges indexed 0..n-1, contiguous, covering exactly `size` bytes. */
function rangesCover(parts: DownloadPart[], size: number): boolean {
  let offset = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (part.Index !== i || part.Start !== offset || part.End < part.Start) return false;
    offset = part.End + 1;
  }
  return parts.length > 0 && offset === size;
}
