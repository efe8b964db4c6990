import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { consoleApi } from './console-api';
import { s3 } from './s3';

/** An incomplete multipart upload as ListMultipartUploads lists it, whoever started it. */
export interface UploadEntry {
  key: string;
  uploadId: string;
  initiated?: Date;
}

/** Where a page of uploads starts: S3's key and upload-id markers (none for the first page). */
export interface UploadsMarker {
  keyMarker?: string;
  uploadIdMarker?: string;
}

export interface UploadsPage {
  uploads: UploadEntry[];
  /** Where the next page starts; undefined on the last one. */
  next?: UploadsMarker;
}

/** ListMultipartUploads' and ListParts' largest page. */
export const UPLOADS_PAGE_SIZE = 1000;

/** One page of the bucket's uploads in progress, in key then upload-id order. */
export async function listUploads(bucket: string, marker: UploadsMarker): Promise<UploadsPage> {
  const answer = await s3((client) =>
    client.send(
      new ListMultipartUploadsCommand({
        Bucket: bucket,
        KeyMarker: marker.keyMarker,
        UploadIdMarker: marker.uploadIdMarker,
        MaxUploads: UPLOADS_PAGE_SIZE,
        EncodingType: 'url',
      }),
    ),
  );
  return {
    uploads: (answer.Uploads ?? []).map((upload) => ({ key: decodeListed(upload.Key ?? ''), uploadId: upload.UploadId ?? '', initiated: upload.Initiated })),
    next: answer.IsTruncated ? { keyMarker: decodeListed(answer.NextKeyMarker ?? ''), uploadIdMarker: answer.NextUploadIdMarker } : undefined,
  };
}

/** S3's `url` encoding is form encoding: `+` is a space. */
function decodeListed(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

export interface PartTotals {
  parts: number;
  bytes: number;
}

export interface UploadTotals {
  /** Parts and bytes so far of each upload asked about. */
  uploads: Record<string, PartTotals>;
  /** Every upload in progress in the bucket, with their parts and bytes together. */
  bucket: PartTotals & { uploads: number };
  /** When each upload will be aborted: by a lifecycle rule (its ID), or by the server's expiry (no ruleId). */
  abortDates: Record<string, { date: string; ruleId?: string }>;
}

/** Part counts, bytes and abort dates of up to 1,000 uploads, and the bucket's totals, in one console API call. */
export async function uploadTotals(bucket: string, uploads: UploadEntry[]): Promise<UploadTotals> {
  return consoleApi<UploadTotals>('POST', `buckets/${encodeURIComponent(bucket)}/upload-totals`, {
    uploadIds: uploads.map((upload) => upload.uploadId),
    abortDatesFor: uploads
      .filter((upload) => upload.initiated !== undefined)
      .map((upload) => ({ uploadId: upload.uploadId, key: upload.key, initiated: upload.initiated!.toISOString() })),
  });
}

export async function abortUpload(bucket: string, key: string, uploadId: string): Promise<void> {
  await s3((client) => client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })));
}

export interface PartEntry {
  partNumber: number;
  etag: string;
  size: number;
  lastModified?: Date;
}

export interface PartsPage {
  parts: PartEntry[];
  /** The part-number marker of the next page; undefined on the last one. */
  nextMarker?: string;
}

/** One page of an upload's parts, after part number `marker`. */
export async function listParts(bucket: string, key: string, uploadId: string, marker?: string): Promise<PartsPage> {
  const answer = await s3((client) =>
    client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker, MaxParts: UPLOADS_PAGE_SIZE })),
  );
  return {
    parts: (answer.Parts ?? []).map((part) => ({ partNumber: part.PartNumber ?? 0, etag: part.ETag ?? '', size: part.Size ?? 0, lastModified: part.LastModified })),
    nextMarker: answer.IsTruncated ? answer.NextPartNumberMarker : undefined,
  };
}
