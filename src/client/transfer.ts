/** Downloads to a file and server-side copies, checked end to end like uploads. */
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { StorageClient } from './client.js';
import { AbortError, IntegrityError } from './errors.js';
import { HashingTap, isMd5Etag, multipartEtag, normalizeEtag, RateLimiter } from './streams.js';
import { autoParallel, autoPartSize, OSS_MIN_PART_SIZE, partCount, S3_MIN_PART_SIZE } from './sizing.js';

export interface TransferProgress {
  transferredBytes: number;
  totalBytes: number;
}

export interface DownloadOptions {
  bucket: string;
  key: string;
  file: string;
  signal?: AbortSignal;
  onProgress?: (progress: TransferProgress) => void;
  limiter?: RateLimiter;
}

export interface TransferResult {
  size: number;
  etag: string;
  /** `x-amz-checksum-crc32` and the like: an S3 full-object checksum. */
  verifiedBy: Array<'md5' | 'etag' | 'crc64' | 'size' | `x-amz-checksum-${string}`>;
}

/**
 * GetObject streamed into `<file>.tessera-download`, hashed on the way (MD5 and CRC-64), checked
 * against the object's size, ETag (when it is an MD5) and CRC-64 (when the service sends one),
 * and only then renamed over `file`: a failed download never leaves a half file under the name.
 */
export async function downloadFile(client: StorageClient, options: DownloadOptions): Promise<TransferResult> {
  const { info, body } = await client.getObject(options.bucket, options.key, { signal: options.signal });
  const temporary = `${options.file}.tessera-download`;
  let transferred = 0;
  const tap = new HashingTap({
    crc64: true,
    limiter: options.limiter,
    onBytes: (bytes) => {
      transferred += bytes;
      options.onProgress?.({ transferredBytes: transferred, totalBytes: info.size });
    },
  });
  try {
    await pipeline(body, tap, createWriteStream(temporary), { signal: options.signal });
  } catch (err) {
    body.destroy();
    await rm(temporary, { force: true });
    if (options.signal?.aborted) throw new AbortError();
    throw err;
  }
  const verifiedBy: TransferResult['verifiedBy'] = [];
  const fail = async (message: string) => {
    await rm(temporary, { force: true });
    throw new IntegrityError(message);
  };
  if (tap.bytes !== info.size) await fail(`${options.key}: received ${tap.bytes} bytes of ${info.size}`);
  verifiedBy.push('size');
  if (isMd5Etag(info.etag)) {
    if (normalizeEtag(info.etag) !== tap.md5Hex()) await fail(`${options.key}: MD5 ${tap.md5Hex()} is not the ETag ${info.etag}`);
    verifiedBy.push('md5');
  }
  if (info.crc64 !== undefined) {
    if (BigInt(info.crc64) !== tap.crc!.digest()) await fail(`${options.key}: CRC-64 ${tap.crc!.digest()} is not the object's ${info.crc64}`);
    verifiedBy.push('crc64');
  }
  await rename(temporary, options.file);
  return { size: info.size, etag: info.etag, verifiedBy };
}

export interface CopyOptions {
  source: { bucket: string; key: string };
  target: { bucket: string; key: string };
  /** Objects at least this large are copied part by part (UploadPartCopy); default 100 MiB. */
  multipartThreshold?: number;
  partSize?: number;
  parallel?: number;
  /** The copy's own Content-Type and user metadata (replacing the source's); with neither, a single copy keeps the source's. */
  contentType?: string;
  metadata?: Record<string, string>;
  /** More headers for CopyObject / CreateMultipartUpload (Cache-Control, an ACL, …). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  onProgress?: (progress: TransferProgress) => void;
}

/** Server-side copy: CopyObject, or UploadPartCopy in parallel for large objects. Nothing flows through the client. */
export async function copyObject(client: StorageClient, options: CopyOptions): Promise<TransferResult> {
  const { source, target, signal } = options;
  const head = await client.headObject(source.bucket, source.key, { signal });
  const threshold = options.multipartThreshold ?? 100 * 1024 * 1024;
  const verifiedBy: TransferResult['verifiedBy'] = [];
  let etag: string;
  if (head.size < threshold || head.size === 0) {
    const replace = options.contentType !== undefined || options.metadata !== undefined;
    etag = (
      await client.copyObject(source, target, {
        signal,
        contentType: options.contentType,
        metadata: options.metadata,
        headers: options.headers,
        replaceMetadata: replace,
      })
    ).etag;
    if (isMd5Etag(head.etag) && isMd5Etag(etag)) {
      if (normalizeEtag(etag) !== normalizeEtag(head.etag)) throw new IntegrityError(`copy of ${source.key}: ETag ${etag} is not the source's ${head.etag}`);
      verifiedBy.push('md5');
    }
  } else {
    etag = await copyMultipart(client, options, head.size);
    verifiedBy.push('etag');
  }
  options.onProgress?.({ transferredBytes: head.size, totalBytes: head.size });
  const copied = await client.headObject(target.bucket, target.key, { signal });
  if (copied.size !== head.size) throw new IntegrityError(`copy of ${source.key}: ${copied.size} bytes, the source has ${head.size}`);
  verifiedBy.push('size');
  if (copied.crc64 !== undefined && head.crc64 !== undefined) {
    if (copied.crc64 !== head.crc64) throw new IntegrityError(`copy of ${source.key}: CRC-64 ${copied.crc64} is not the source's ${head.crc64}`);
    verifiedBy.push('crc64');
  }
  return { size: head.size, etag, verifiedBy };
}

async function copyMultipart(client: StorageClient, options: CopyOptions, size: number): Promise<string> {
  const { source, target, signal } = options;
  const partSize = options.partSize ?? autoPartSize(size, client.dialect === 's3' ? S3_MIN_PART_SIZE : OSS_MIN_PART_SIZE);
  const count = partCount(size, partSize);
  const { uploadId } = await client.createMultipartUpload(target.bucket, target.key, {
    signal,
    contentType: options.contentType,
    metadata: options.metadata,
    headers: options.headers,
  });
  const etags: string[] = new Array<string>(count);
  let next = 1;
  let copied = 0;
  try {
    const worker = async () => {
      while (next <= count) {
        const number = next++;
        const start = (number - 1) * partSize;
        const end = Math.min(size, start + partSize) - 1;
        const part = await client.uploadPartCopy(target.bucket, target.key, uploadId, number, source, { range: { start, end }, signal });
        etags[number - 1] = part.etag;
        copied += end - start + 1;
        options.onProgress?.({ transferredBytes: copied, totalBytes: size });
      }
    };
    await Promise.all(Array.from({ length: Math.min(count, options.parallel ?? autoParallel(count)) }, worker));
    const done = await client.completeMultipartUpload(
      target.bucket,
      target.key,
      uploadId,
      etags.map((etag, i) => ({ partNumber: i + 1, etag })),
      { signal },
    );
    const expected = multipartEtag(etags.map(normalizeEtag));
    if (/-\d+$/.test(normalizeEtag(done.etag)) && normalizeEtag(done.etag) !== expected) {
      throw new IntegrityError(`copy of ${source.key}: ETag ${done.etag} is not the expected ${expected}`);
    }
    return done.etag;
  } catch (err) {
    await client.abortMultipartUpload(target.bucket, target.key, uploadId).catch(() => undefined);
    throw err;
  }
}
