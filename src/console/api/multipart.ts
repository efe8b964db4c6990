import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListPartsCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { crc32Base64 } from './crc32';
import { ConsoleError } from './errors';
import { s3 } from './s3';

/** A part the server holds, as ListParts names it. */
export interface ServerPart {
  partNumber: number;
  etag: string;
  size: number;
  /** The part's CRC-32 as the server computed it (the upload announces CRC32). */
  checksumCRC32?: string;
}

/** A part sent and acknowledged: what CompleteMultipartUpload lists. */
export interface SentPart {
  partNumber: number;
  etag: string;
  checksumCRC32: string;
}

/** Starts a multipart upload that announces CRC-32, so every part carries (and the server checks) its own. */
export async function createMultipartUpload(bucket: string, key: string, contentType: string | undefined): Promise<string> {
  const answer = await s3((client) =>
    client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: contentType || undefined, ChecksumAlgorithm: 'CRC32' })),
  );
  if (!answer.UploadId) throw new ConsoleError('The server started no upload (no UploadId).');
  return answer.UploadId;
}

/**
 * Sends one part (a slice of the file, read by the browser as it goes) with its CRC-32; the
 * server refuses a part whose bytes changed on the way. `signal` cancels it (Pause).
 */
export async function uploadPart(bucket: string, key: string, uploadId: string, partNumber: number, body: Blob, signal: AbortSignal): Promise<SentPart> {
  const checksum = await crc32Base64(body);
  const answer = await s3((client) =>
    client.send(
      new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.size, ChecksumCRC32: checksum }),
      { abortSignal: signal },
    ),
  );
  if (!answer.ETag) throw new ConsoleError(`The server acknowledged part ${partNumber} without an ETag.`);
  if (answer.ChecksumCRC32 !== undefined && answer.ChecksumCRC32 !== checksum) {
    throw new ConsoleError(`Part ${partNumber}: the server's CRC-32 (${answer.ChecksumCRC32}) is not the file's (${checksum}).`);
  }
  return { partNumber, etag: answer.ETag, checksumCRC32: checksum };
}

/** Every part the server holds for the upload, following ListParts' markers 1,000 at a time. */
export async function listAllParts(bucket: string, key: string, uploadId: string): Promise<ServerPart[]> {
  const parts: ServerPart[] = [];
  let marker: string | undefined;
  for (;;) {
    const answer = await s3((client) => client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker })));
    for (const part of answer.Parts ?? []) {
      if (part.PartNumber === undefined || !part.ETag) continue;
      parts.push({ partNumber: part.PartNumber, etag: part.ETag, size: part.Size ?? -1, checksumCRC32: part.ChecksumCRC32 });
    }
    if (!answer.IsTruncated || answer.NextPartNumberMarker === undefined || answer.NextPartNumberMarker === marker) return parts;
    marker = answer.NextPartNumberMarker;
  }
}

export async function completeMultipartUpload(bucket: string, key: string, uploadId: string, parts: SentPart[]): Promise<void> {
  const sorted = [...parts].sort((a, b) => a.partNumber - b.partNumber);
  await s3((client) =>
    client.send(
      new CompleteMultipartUploadCommand({
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: sorted.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag, ChecksumCRC32: part.checksumCRC32 })) },
      }),
    ),
  );
}

export async function abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
  await s3((client) => client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })));
}
