/**
 * Resumable multipart upload of a file: parts streamed from disk (`createReadStream` with
 * `start`/`end`, never a part in memory), several at once, a checkpoint saved after every part,
 * progress reported as bytes flow, cancellation through an AbortSignal, and an end-to-end check
 * that what the service stored is what was read from disk.
 *
 * Integrity: every part's MD5 (and CRC-64 for OSS) is computed while it streams and compared
 * with the ETag (and `x-oss-hash-crc64ecma`) the service answers; at the end the object's
 * multipart ETag (MD5 of the parts' MD5s, `-N`) and, when the service sends one, its CRC-64
 * (combined from the parts' CRCs with crc64Combine) are checked against the local values.
 *
 * Resume: a valid checkpoint (same file, size and mtime, same key) gives back its upload id;
 * its parts are then checked against ListParts: a recorded part the service no longer lists, or
 * lists with another ETag, is sent again; a part the service stored but the killed run never
 * recorded is adopted when the bytes on disk hash to its ETag. Only the missing parts are
 * uploaded. An upload id the service no longer knows starts a new upload.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { crc64Combine } from '../core/crc64.js';
import {
  CHECKPOINT_MAGIC,
  checkpointPath,
  goTime,
  loadCheckpoint,
  removeCheckpoint,
  saveCheckpoint,
  type Checkpoint,
  type CheckpointPart,
} from './checkpoint.js';
import type { StorageClient } from './client.js';
import { eachPartInParallel } from './part-pool.js';
import { AbortError, IntegrityError, ServiceError } from './errors.js';
import { throwIfAborted, type StreamBody } from './http.js';
import { listAllParts } from './paging.js';
import { autoParallel, autoPartSize, MAX_PART_COUNT, OSS_MIN_PART_SIZE, partCount, S3_MIN_PART_SIZE } from './sizing.js';
import { HashingTap, hashFileRange, isMd5Etag, multipartEtag, normalizeEtag, RateLimiter, tappedFileRange } from './streams.js';

export interface UploadProgress {
  /** Bytes stored so far, including parts completed by an earlier run. */
  transferredBytes: number;
  totalBytes: number;
  /** Bytes an earlier run had already stored when this one started. */
  resumedBytes: number;
  completedParts: number;
  totalParts: number;
}

export interface UploadFileOptions {
  bucket: string;
  key: string;
  file: string;
  /** Bytes per part; default ossutil's automatic size (at least 5 MiB for S3). */
  partSize?: number;
  /** Parts in flight; default ossutil's choice by part count. */
  parallel?: number;
  /** Files at least this large go multipart (default 100 MiB, as ossutil). */
  multipartThreshold?: number;
  /** Where the checkpoint lives; or give `checkpointDir` for ossutil's file name. */
  checkpointFile?: string;
  checkpointDir?: string;
  contentType?: string;
  metadata?: Record<string, string>;
  /** More headers for PutObject / CreateMultipartUpload (Cache-Control, an ACL, …). */
  headers?: Record<string, string>;
  onProgress?: (progress: UploadProgress) => void;
  /** Called once a part is stored and recorded (number, bytes). */
  onPart?: (partNumber: number, size: number) => void;
  signal?: AbortSignal;
  /** Bandwidth cap for this upload, bytes per second. */
  maxBytesPerSecond?: number;
  limiter?: RateLimiter;
}

export interface UploadResult {
  bucket: string;
  key: string;
  etag: string;
  size: number;
  multipart: boolean;
  uploadId?: string;
  partsTotal: number;
  /** Parts sent by this run. */
  partsUploaded: number;
  /** Parts an earlier run had completed (from the checkpoint, confirmed by ListParts). */
  partsResumed: number;
  /** How the stored object was checked against the file. */
  verifiedBy: Array<'md5' | 'etag' | 'crc64'>;
  crc64?: string;
}

function destUrl(client: StorageClient, bucket: string, key: string): string {
  return `${client.dialect}://${bucket}/${key}`;
}

/** Uploads a file with PutObject below the threshold and a resumable multipart upload above it. */
export async function uploadFile(client: StorageClient, options: UploadFileOptions): Promise<UploadResult> {
  const info = await stat(options.file);
  if (!info.isFile()) throw new Error(`${options.file} is not a regular file`);
  const threshold = options.multipartThreshold ?? 100 * 1024 * 1024;
  if (info.size < threshold) return putFile(client, options, info.size);
  return new MultipartUploader(client, options).run();
}

async function putFile(client: StorageClient, options: UploadFileOptions, size: number): Promise<UploadResult> {
  const limiter = options.limiter ?? (options.maxBytesPerSecond ? new RateLimiter(options.maxBytesPerSecond) : undefined);
  let tap: HashingTap | undefined;
  let sent = 0;
  const report = (bytes: number) => {
    sent += bytes;
    options.onProgress?.({ transferredBytes: sent, totalBytes: size, resumedBytes: 0, completedParts: 0, totalParts: 1 });
  };
  const body: StreamBody = {
    length: size,
    open: () => {
      if (tap) sent -= tap.bytes;
      tap = new HashingTap({ crc64: client.dialect === 'oss', limiter, onBytes: report });
      return tappedFileRange(options.file, 0, size, tap);
    },
  };
  const result = await client.putObject(options.bucket, options.key, body, {
    contentType: options.contentType,
    metadata: options.metadata,
    headers: options.headers,
    signal: options.signal,
  });
  const verifiedBy: UploadResult['verifiedBy'] = [];
  const md5 = tap!.md5Hex();
  if (isMd5Etag(result.etag)) {
    if (normalizeEtag(result.etag) !== md5) throw new IntegrityError(`ETag ${result.etag} of ${options.key} is not the MD5 of ${options.file} (${md5})`);
    verifiedBy.push('md5');
  }
  if (result.crc64 !== undefined) {
    const local = tap!.crc!.digest();
    if (BigInt(result.crc64) !== local) throw new IntegrityError(`CRC-64 ${result.crc64} of ${options.key} is not the file's (${local})`);
    verifiedBy.push('crc64');
  }
  options.onProgress?.({ transferredBytes: size, totalBytes: size, resumedBytes: 0, completedParts: 1, totalParts: 1 });
  return {
    bucket: options.bucket,
    key: options.key,
    etag: result.etag,
    size,
    multipart: false,
    partsTotal: 1,
    partsUploaded: 1,
    partsResumed: 0,
    verifiedBy,
    crc64: result.crc64,
  };
}

interface PartHashes {
  md5: string;
  crc64?: bigint;
}

export class MultipartUploader {
  private checkpoint!: Checkpoint;
  private readonly cpPath: string | undefined;
  private saving: Promise<void> = Promise.resolve();
  private readonly hashes = new Map<number, PartHashes>();
  private transferred = 0;
  private resumedBytes = 0;
  private completedParts = 0;
  private partsResumed = 0;
  private partsUploaded = 0;
  private readonly limiter: RateLimiter | undefined;

  constructor(
    private readonly client: StorageClient,
    private readonly options: UploadFileOptions,
  ) {
    this.cpPath =
      options.checkpointFile ?? (options.checkpointDir !== undefined ? checkpointPath(options.checkpointDir, options.file, destUrl(client, options.bucket, options.key)) : undefined);
    this.limiter = options.limiter ?? (options.maxBytesPerSecond ? new RateLimiter(options.maxBytesPerSecond) : undefined);
  }

  /** The checkpoint file this upload reads and writes, if any. */
  get checkpointFile(): string | undefined {
    return this.cpPath;
  }

  async run(): Promise<UploadResult> {
    const { options } = this;
    const info = await stat(options.file, { bigint: true });
    const size = Number(info.size);
    const mtime = goTime(info.mtimeNs);
    const resumed = this.cpPath !== undefined ? await this.resume(size, mtime) : false;
    if (!resumed) await this.start(size, mtime);
    const parts = this.checkpoint.Parts;
    this.completedParts = parts.filter((p) => p.IsCompleted).length;
    this.partsResumed = this.completedParts;
    this.resumedBytes = parts.filter((p) => p.IsCompleted).reduce((sum, p) => sum + p.Chunk.Size, 0);
    this.transferred = this.resumedBytes;
    this.report();

    await this.uploadParts(parts.filter((p) => !p.IsCompleted));
    await this.saving;

    const completed = await this.complete();
    const verifiedBy = await this.verify(completed.etag, completed.crc64);
    if (this.cpPath !== undefined) await removeCheckpoint(this.cpPath);
    return {
      bucket: options.bucket,
      key: options.key,
      etag: completed.etag,
      size,
      multipart: true,
      uploadId: this.checkpoint.UploadID,
      partsTotal: parts.length,
      partsUploaded: this.partsUploaded,
      partsResumed: this.partsResumed,
      verifiedBy,
      crc64: completed.crc64,
    };
  }

  private report(): void {
    this.options.onProgress?.({
      transferredBytes: this.transferred,
      totalBytes: this.checkpoint.FileStat.Size,
      resumedBytes: this.resumedBytes,
      completedParts: this.completedParts,
      totalParts: this.checkpoint.Parts.length,
    });
  }

  /** Takes up a checkpointed upload; false when there is none worth resuming. */
  private async resume(size: number, mtime: string): Promise<boolean> {
    const cp = await loadCheckpoint(this.cpPath!);
    const { options } = this;
    if (
      cp === undefined ||
      cp.FilePath !== resolve(options.file) ||
      cp.ObjectKey !== options.key ||
      cp.FileStat.Size !== size ||
      cp.FileStat.LastModified !== mtime ||
      cp.UploadID === '' ||
      !chunksCover(cp.Parts, size)
    ) {
      return false;
    }
    // Trust the service, not the file: a recorded part must still be there with the same ETag.
    const stored = new Map<number, { etag: string; raw: string; size: number }>();
    try {
      for await (const part of listAllParts(this.client, options.bucket, options.key, cp.UploadID, { signal: options.signal })) {
        stored.set(part.partNumber, { etag: normalizeEtag(part.etag), raw: part.etag, size: part.size });
      }
    } catch (err) {
      if (err instanceof ServiceError && err.code === 'NoSuchUpload') {
        await removeCheckpoint(this.cpPath!);
        return false;
      }
      throw err;
    }
    for (const part of cp.Parts) {
      const { Number: number, Offset: offset, Size: partSize } = part.Chunk;
      const there = stored.get(number);
      if (part.IsCompleted) {
        if (there === undefined || there.etag !== normalizeEtag(part.Part.ETag) || there.size !== partSize) {
          part.IsCompleted = false;
          part.Part = { PartNumber: 0, ETag: '' };
        }
      } else if (there !== undefined && there.size === partSize && isMd5Etag(there.etag)) {
        // Stored, but the run was killed before it could record the answer: if the bytes on disk
        // hash to the part's ETag, it is this part, and need not be sent again.
        const hashed = await hashFileRange(options.file, offset, partSize);
        if (hashed.md5 === there.etag) {
          part.IsCompleted = true;
          part.Part = { PartNumber: number, ETag: there.raw };
          this.hashes.set(number, hashed);
        }
      }
    }
    this.checkpoint = cp;
    await saveCheckpoint(this.cpPath!, cp);
    return true;
  }

  private async start(size: number, mtime: string): Promise<void> {
    const { client, options } = this;
    const minimum = client.dialect === 's3' ? S3_MIN_PART_SIZE : OSS_MIN_PART_SIZE;
    const partSize = options.partSize ?? autoPartSize(size, minimum);
    if (!(partSize > 0)) throw new RangeError('partSize must be positive');
    const count = partCount(size, partSize);
    if (count > MAX_PART_COUNT) throw new RangeError(`${count} parts of ${partSize} bytes: at most ${MAX_PART_COUNT} parts; choose a larger part size`);
    const initiated = await client.createMultipartUpload(options.bucket, options.key, {
      contentType: options.contentType,
      metadata: options.metadata,
      headers: options.headers,
      signal: options.signal,
    });
    const parts: CheckpointPart[] = [];
    for (let n = 1; n <= count; n++) {
      const offset = (n - 1) * partSize;
      parts.push({ Chunk: { Number: n, Offset: offset, Size: Math.min(partSize, size - offset) }, Part: { PartNumber: 0, ETag: '' }, IsCompleted: false });
    }
    this.checkpoint = {
      Magic: CHECKPOINT_MAGIC,
      MD5: '',
      FilePath: resolve(options.file),
      FileStat: { Size: size, LastModified: mtime, MD5: '' },
      ObjectKey: options.key,
      UploadID: initiated.uploadId,
      Parts: parts,
    };
    // Saved before any part is sent: a run killed from here on resumes this upload id.
    if (this.cpPath !== undefined) await saveCheckpoint(this.cpPath, this.checkpoint);
  }

  private save(): Promise<void> {
    if (this.cpPath === undefined) return Promise.resolve();
    const path = this.cpPath;
    this.saving = this.saving.then(() => saveCheckpoint(path, this.checkpoint));
    return this.saving;
  }

  private async uploadParts(todo: CheckpointPart[]): Promise<void> {
    const parallel = this.options.parallel ?? autoParallel(this.checkpoint.Parts.length);
    await eachPartInParallel(todo, parallel, this.options.signal, (part, signal) => this.uploadPart(part, signal));
  }

  private async uploadPart(part: CheckpointPart, signal: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    const { client, options } = this;
    const { Number: number, Offset: offset, Size: size } = part.Chunk;
    let tap: HashingTap | undefined;
    const body: StreamBody = {
      length: size,
      open: () => {
        // A retry starts the part over: take back what the failed attempt reported.
        if (tap) {
          this.transferred -= tap.bytes;
          tap.destroy();
        }
        tap = new HashingTap({
          crc64: client.dialect === 'oss',
          limiter: this.limiter,
          onBytes: (bytes) => {
            this.transferred += bytes;
            this.report();
          },
        });
        return tappedFileRange(options.file, offset, size, tap);
      },
    };
    let result;
    try {
      result = await client.uploadPart(options.bucket, options.key, this.checkpoint.UploadID, number, body, { signal });
    } catch (err) {
      if (tap) this.transferred -= tap.bytes;
      throw err;
    }
    const md5 = tap!.md5Hex();
    if (isMd5Etag(result.etag) && normalizeEtag(result.etag) !== md5) {
      throw new IntegrityError(`part ${number}: ETag ${result.etag} is not the MD5 of bytes ${offset}-${offset + size - 1} (${md5})`);
    }
    const crc = tap!.crc?.digest();
    if (result.crc64 !== undefined && crc !== undefined && BigInt(result.crc64) !== crc) {
      throw new IntegrityError(`part ${number}: CRC-64 ${result.crc64} is not the local ${crc}`);
    }
    this.hashes.set(number, { md5, crc64: crc });
    part.Part = { PartNumber: number, ETag: result.etag };
    part.IsCompleted = true;
    this.partsUploaded++;
    this.completedParts++;
    this.report();
    await this.save();
    options.onPart?.(number, size);
  }

  /**
   * CompleteMultipartUpload is not retried blindly. When its answer is lost (a network error),
   * the upload is asked again; if the service says the upload no longer exists, the object is
   * headed and its ETag compared with the one this upload must produce.
   */
  private async complete(): Promise<{ etag: string; crc64?: string }> {
    const { client, options } = this;
    const parts = this.checkpoint.Parts.map((p) => ({ partNumber: p.Chunk.Number, etag: p.Part.ETag }));
    const call = () => client.completeMultipartUpload(options.bucket, options.key, this.checkpoint.UploadID, parts, { signal: options.signal });
    try {
      return await call();
    } catch (err) {
      if (err instanceof ServiceError) {
        if (err.code === 'NoSuchUpload' && this.cpPath !== undefined) await removeCheckpoint(this.cpPath);
        throw err;
      }
      if (err instanceof AbortError) throw err;
    }
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof ServiceError && err.code === 'NoSuchUpload')) throw err;
      const head = await client.headObject(options.bucket, options.key, { signal: options.signal });
      if (normalizeEtag(head.etag) !== normalizeEtag(await this.expectedEtag())) throw err;
      return { etag: head.etag, crc64: head.crc64 };
    }
  }

  private async partHashes(number: number, withCrc: boolean): Promise<PartHashes> {
    const known = this.hashes.get(number);
    if (known && (!withCrc || known.crc64 !== undefined)) return known;
    const chunk = this.checkpoint.Parts[number - 1]!.Chunk;
    if (!withCrc) return { md5: normalizeEtag(this.checkpoint.Parts[number - 1]!.Part.ETag) };
    // A part from an earlier run: read it back from disk (streamed) for its CRC.
    const hashed = await hashFileRange(this.options.file, chunk.Offset, chunk.Size);
    this.hashes.set(number, hashed);
    return hashed;
  }

  private async expectedEtag(): Promise<string> {
    const md5s: string[] = [];
    for (const part of this.checkpoint.Parts) md5s.push((await this.partHashes(part.Chunk.Number, false)).md5);
    return multipartEtag(md5s);
  }

  private async verify(etag: string, crc64: string | undefined): Promise<UploadResult['verifiedBy']> {
    const verifiedBy: UploadResult['verifiedBy'] = [];
    if (/^[0-9a-f]{32}-\d+$/.test(normalizeEtag(etag))) {
      const expected = await this.expectedEtag();
      if (normalizeEtag(etag) !== expected) throw new IntegrityError(`object ETag ${etag} is not the expected ${expected}`);
      verifiedBy.push('etag');
    }
    if (crc64 !== undefined) {
      let combined = 0n;
      for (const part of this.checkpoint.Parts) {
        const { crc64: partCrc } = await this.partHashes(part.Chunk.Number, true);
        combined = crc64Combine(combined, partCrc!, part.Chunk.Size);
      }
      if (BigInt(crc64) !== combined) throw new IntegrityError(`object CRC-64 ${crc64} is not the file's ${combined}`);
      verifiedBy.push('crc64');
    }
    return verifiedBy;
  }
}

/** Parts numbered 1..n, contiguous, covering exactly `size` bytes. */
function chunksCover(parts: CheckpointPart[], size: number): boolean {
  let offset = 0;
  for (let i = 0; i < parts.length; i++) {
    const chunk = parts[i]!.Chunk;
    if (chunk.Number !== i + 1 || chunk.Offset !== offset || !(chunk.Size >= 0)) return false;
    offset += chunk.Size;
  }
  return parts.length > 0 && offset === size;
}
