/** Typed results, the same for the S3 and the OSS dialect. */

export type DialectName = 's3' | 'oss';

export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** STS token: `x-amz-security-token` / `x-oss-security-token`. */
  sessionToken?: string;
}

export interface BucketSummary {
  name: string;
  creationDate: Date;
  /** OSS: `oss-cn-hangzhou`; S3 listings carry none. */
  location: string;
  storageClass: string;
}

export interface BucketDetails {
  name: string;
  location: string;
  creationDate?: Date;
  extranetEndpoint?: string;
  intranetEndpoint?: string;
  acl?: string;
  owner?: string;
  storageClass?: string;
}

export interface ListBucketsResult {
  buckets: BucketSummary[];
  isTruncated: boolean;
  nextMarker?: string;
  owner?: { id: string; displayName: string };
}

export interface ObjectSummary {
  key: string;
  lastModified: Date;
  /** As sent, with its quotes. */
  etag: string;
  size: number;
  storageClass: string;
}

export interface ListObjectsResult {
  bucket: string;
  prefix: string;
  delimiter?: string;
  marker: string;
  isTruncated: boolean;
  /** Where the next page starts (the last key or common prefix of this one when the service sends none). */
  nextMarker?: string;
  objects: ObjectSummary[];
  commonPrefixes: string[];
}

export interface ObjectInfo {
  size: number;
  etag: string;
  lastModified: Date;
  contentType?: string;
  /** User metadata without its prefix (`x-amz-meta-` / `x-oss-meta-`). */
  metadata: Record<string, string>;
  /** `x-oss-hash-crc64ecma`, when the service sends it. */
  crc64?: string;
  /** `Normal`, `Multipart`, … (OSS `x-oss-object-type`). */
  objectType?: string;
  /** Every response header, lower-case. */
  headers: Record<string, string>;
  requestId: string;
}

export interface PutResult {
  etag: string;
  crc64?: string;
  requestId: string;
}

export interface CopyResult {
  etag: string;
  lastModified: Date;
  requestId: string;
}

export interface UploadInitiated {
  bucket: string;
  key: string;
  uploadId: string;
}

export interface PartSummary {
  partNumber: number;
  lastModified: Date;
  /** As sent, with its quotes. */
  etag: string;
  size: number;
}

export interface ListPartsResult {
  bucket: string;
  key: string;
  uploadId: string;
  partNumberMarker: number;
  nextPartNumberMarker: number;
  maxParts: number;
  isTruncated: boolean;
  parts: PartSummary[];
}

export interface UploadSummary {
  key: string;
  uploadId: string;
  initiated: Date;
}

export interface ListUploadsResult {
  bucket: string;
  prefix: string;
  delimiter?: string;
  keyMarker: string;
  uploadIdMarker: string;
  nextKeyMarker: string;
  nextUploadIdMarker: string;
  maxUploads: number;
  isTruncated: boolean;
  uploads: UploadSummary[];
  commonPrefixes: string[];
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
}

export interface CompleteResult {
  bucket: string;
  key: string;
  etag: string;
  location: string;
  crc64?: string;
  requestId: string;
}

export interface DeleteObjectsResult {
  deleted: string[];
  errors: Array<{ key: string; code: string; message: string }>;
}
