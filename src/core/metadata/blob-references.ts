import type { ObjectEncryption } from '../types.js';
import type { BlobReference } from './types.js';

/**
 * `MetadataQueries.blobReferences`, shared by both backends: one query (standard SQL, the
 * placeholders written `:after` and `:limit` and put in each backend's form) and the mapping of
 * its rows. What a blob's bytes must be is read from whoever refers to it: a single PUT's object
 * knows its content MD5 (its only segment is the whole content), a part its ETag (its MD5 unless
 * SSE-KMS or SSE-C made it a digest of something else).
 */

export const BLOB_REFERENCES_SQL = `
WITH ids AS (
  SELECT blob_id FROM (SELECT blob_id FROM segments WHERE blob_id > :after UNION SELECT blob_id FROM parts WHERE blob_id > :after) AS held
  ORDER BY blob_id LIMIT :limit
)
SELECT s.blob_id, s.size, s.part_number, o.bucket, o.key, o.version_id, 0 AS noncurrent, NULL AS upload_id, 1 AS is_object,
  o.content_md5, o.etag, o.parts_count, o.encryption,
  CASE WHEN EXISTS (SELECT 1 FROM segments c WHERE c.object_id = s.object_id AND c.seq <> s.seq) THEN 2 ELSE 1 END AS segment_count
FROM segments s JOIN objects o ON o.id = s.object_id
WHERE s.blob_id IN (SELECT blob_id FROM ids)
UNION ALL
SELECT s.blob_id, s.size, s.part_number, v.bucket, v.key, v.version_id, 1, NULL, 1,
  v.content_md5, v.etag, v.parts_count, v.encryption,
  CASE WHEN EXISTS (SELECT 1 FROM segments c WHERE c.object_id = s.object_id AND c.seq <> s.seq) THEN 2 ELSE 1 END
FROM segments s JOIN object_versions v ON v.id = s.object_id
WHERE s.blob_id IN (SELECT blob_id FROM ids)
UNION ALL
SELECT p.blob_id, p.size, p.part_number, COALESCE(o.bucket, v.bucket, u.bucket), COALESCE(o.key, v.key, u.key),
  COALESCE(o.version_id, v.version_id), CASE WHEN v.id IS NULL THEN 0 ELSE 1 END, p.upload_id,
  CASE WHEN o.id IS NULL AND v.id IS NULL THEN 0 ELSE 1 END,
  NULL, p.etag, NULL, u.encryption, 0
FROM parts p JOIN uploads u ON u.upload_id = p.upload_id
  LEFT JOIN objects o ON o.upload_id = p.upload_id
  LEFT JOIN object_versions v ON v.upload_id = p.upload_id
WHERE p.blob_id IN (SELECT blob_id FROM ids)
ORDER BY blob_id`;

export interface BlobReferenceRow {
  blob_id: string;
  size: number;
  part_number: number;
  bucket: string;
  key: string;
  version_id: string | null;
  noncurrent: number;
  upload_id: string | null;
  is_object: number;
  content_md5: string | null;
  etag: string;
  parts_count: number | null;
  encryption: string | null;
  /** 1: the object's only segment; 2: one of several (an EXISTS, not a count: a copy may have 10,000). */
  segment_count: number;
}

export function blobReferenceOf(row: BlobReferenceRow): BlobReference {
  const encryption = row.encryption == null ? undefined : (JSON.parse(row.encryption) as ObjectEncryption);
  const etagIsMd5 = encryption === undefined || encryption.kind === 'sse-s3';
  let md5: string | undefined;
  if (row.upload_id !== null) {
    // A part: its ETag is its MD5 (plaintext, SSE-S3).
    if (etagIsMd5) md5 = row.etag;
  } else if (Number(row.segment_count) === 1) {
    // An object of one segment (a single PUT, or a copy of one): the whole content's MD5 is the blob's.
    md5 = row.content_md5 ?? (row.parts_count === null && etagIsMd5 ? row.etag : undefined);
  }
  const reference: BlobReference = {
    blobId: row.blob_id,
    size: Number(row.size),
    bucket: row.bucket,
    key: row.key,
    partNumber: Number(row.part_number),
    object: Number(row.is_object) === 1,
  };
  if (reference.object) {
    reference.versionId = row.version_id;
    if (Number(row.noncurrent) === 1) reference.noncurrent = true;
  }
  if (row.upload_id !== null) reference.uploadId = row.upload_id;
  if (md5 !== undefined && /^[0-9a-f]{32}$/.test(md5)) reference.md5 = md5;
  if (encryption) reference.encryption = encryption;
  return reference;
}
