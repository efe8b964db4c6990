import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { consoleApi } from './console-api';
import { crc32Base64 } from './crc32';
import { s3 } from './s3';

export interface FolderEntry {
  kind: 'folder';
  /** The full prefix, ending in the delimiter: `photos/2024/`. */
  prefix: string;
}

export interface ObjectEntry {
  kind: 'object';
  key: string;
  size: number;
  lastModified?: Date;
  etag?: string;
}

export interface ListingPage {
  folders: FolderEntry[];
  objects: ObjectEntry[];
  /** Token for the next page; undefined on the last one. */
  nextToken?: string;
}

export const PAGE_SIZE = 1000;

/**
 * One page of a "folder": the keys under `prefix` up to the next `/`, and the sub-prefixes
 * below it, S3's delimiter listing. Keys travel URL-encoded (`encoding-type=url`), so any
 * character a key may hold survives the XML.
 */
export async function listFolder(bucket: string, prefix: string, token?: string): Promise<ListingPage> {
  const answer = await s3((client) =>
    client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix || undefined, Delimiter: '/', ContinuationToken: token, MaxKeys: PAGE_SIZE, EncodingType: 'url' })),
  );
  return {
    folders: (answer.CommonPrefixes ?? []).map((entry) => ({ kind: 'folder', prefix: decodeListed(entry.Prefix ?? '') })),
    objects: (answer.Contents ?? []).map((entry) => ({
      kind: 'object',
      key: decodeListed(entry.Key ?? ''),
      size: entry.Size ?? 0,
      lastModified: entry.LastModified,
      etag: entry.ETag,
    })),
    nextToken: answer.IsTruncated ? answer.NextContinuationToken : undefined,
  };
}

/** S3's `url` encoding is form encoding: `+` is a space (a `+` in a key arrives as %2B). */
function decodeListed(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, ' '));
}

/**
 * A plain PutObject of one file (multipart and resumable uploads come with the uploads page).
 * The file's CRC-32 goes with it, so the server refuses bytes that changed on the way.
 */
export async function uploadFile(bucket: string, key: string, file: File): Promise<void> {
  const checksum = await crc32Base64(file);
  await s3((client) =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: file, ContentType: file.type || undefined, ChecksumCRC32: checksum, ContentLength: file.size })),
  );
}

export async function deleteObject(bucket: string, key: string): Promise<void> {
  await s3((client) => client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
}

/** Deletes many keys, 1,000 a request (S3's limit); the keys S3 could not delete, with its reasons. */
export async function deleteObjects(bucket: string, keys: string[]): Promise<Array<{ key: string; message: string }>> {
  const failures: Array<{ key: string; message: string }> = [];
  for (let start = 0; start < keys.length; start += 1000) {
    const batch = keys.slice(start, start + 1000);
    const answer = await s3((client) =>
      client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((key) => ({ Key: key })), Quiet: true } })),
    );
    for (const error of answer.Errors ?? []) failures.push({ key: error.Key ?? '', message: `${error.Message ?? 'not deleted'} (${error.Code ?? 'Error'})` });
  }
  return failures;
}

export async function headObject(bucket: string, key: string): Promise<HeadObjectCommandOutput> {
  return s3((client) => client.send(new HeadObjectCommand({ Bucket: bucket, Key: key })));
}

/**
 * A short-lived presigned GET (with the session's credentials) that makes the browser save the
 * object under its own name: the download streams to disk, never through the page's memory.
 */
export async function downloadUrl(bucket: string, key: string): Promise<string> {
  const name = key.slice(key.lastIndexOf('/') + 1) || 'download';
  const disposition = `attachment; filename*=UTF-8''${encodeURIComponent(name)}`;
  return s3((client) => getSignedUrl(client, new GetObjectCommand({ Bucket: bucket, Key: key, ResponseContentDisposition: disposition }), { expiresIn: 300 }));
}

/**
 * A link anyone can open until it expires, signed by the server with the user's long-term key
 * (a link signed with the session's credentials would stop working when the session ends).
 */
export async function shareLink(bucket: string, key: string, expiresSeconds: number): Promise<{ url: string; expiration: Date }> {
  const answer = await consoleApi<{ path: string; expiration: string }>('POST', 'share', { bucket, key, expiresSeconds });
  return { url: location.origin + answer.path, expiration: new Date(answer.expiration) };
}
