/** Who is asking. Root reaches every bucket; other users only their own. */
export interface Actor {
  userId: string;
  root: boolean;
}

export interface BucketInfo {
  name: string;
  owner: string;
  createdAt: Date;
}

/** Standard headers stored with an object and returned on GET/HEAD. */
export interface ObjectHeaders {
  contentType?: string;
  contentEncoding?: string;
  contentDisposition?: string;
  contentLanguage?: string;
  cacheControl?: string;
  expires?: string;
}

export interface ObjectAttributes {
  headers: ObjectHeaders;
  /** User metadata, names lower-case without the dialect prefix. */
  userMeta: Record<string, string>;
}

export interface ObjectInfo extends ObjectAttributes {
  bucket: string;
  key: string;
  size: number;
  /** Hex MD5 (lower-case), or `hex-N` for a multipart object; no quotes. */
  etag: string;
  lastModified: Date;
  /** Number of parts for a multipart object, undefined for a single PUT. */
  partsCount?: number;
  /** CRC-64/ECMA of the content as an unsigned decimal, when known. */
  crc64?: string;
}

/** A contiguous run of the object's bytes stored in one blob file. */
export interface Segment {
  blobId: string;
  /** Offset of this segment's first byte within the object. */
  offset: number;
  size: number;
  partNumber: number;
}

export interface PartInfo {
  partNumber: number;
  size: number;
  etag: string;
  lastModified: Date;
  crc64?: string;
}

export interface UploadInfo extends ObjectAttributes {
  uploadId: string;
  bucket: string;
  key: string;
  owner: string;
  initiated: Date;
}

/** Digests computed while a body streams to disk. md5 always; the rest on request. */
export interface Digests {
  size: number;
  md5: Buffer;
  sha256?: Buffer;
  crc64?: string;
  sha1?: Buffer;
  /** S3 flexible checksums: big-endian digest bytes. */
  crc32?: Buffer;
  crc32c?: Buffer;
  crc64nvme?: Buffer;
}

/** Digests computed on request besides MD5; `crc64` is OSS's CRC-64/ECMA, `crc64nvme` S3's. */
export type ExtraDigest = 'sha256' | 'sha1' | 'crc64' | 'crc32' | 'crc32c' | 'crc64nvme';

export interface WriteOptions {
  /** Extra digests to compute besides MD5. */
  digests?: ExtraDigest[];
  /** Called after the bytes are durable but before they are committed; throw to reject them. */
  verify?: (digests: Digests) => void;
}

export interface ListObjectsQuery {
  prefix?: string;
  delimiter?: string;
  /** Exclusive: list keys strictly after this one. */
  after?: string;
  maxKeys: number;
}

export interface ListObjectsPage {
  objects: ObjectInfo[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** The last key or common prefix returned, for the next page's marker. */
  nextMarker?: string;
}

export interface ListUploadsQuery {
  prefix?: string;
  delimiter?: string;
  keyMarker?: string;
  uploadIdMarker?: string;
  maxUploads: number;
}

export interface ListUploadsPage {
  uploads: UploadInfo[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
}

export interface ListPartsPage {
  upload: UploadInfo;
  parts: PartInfo[];
  isTruncated: boolean;
  nextPartNumberMarker?: number;
}

export interface CompletedPart {
  partNumber: number;
  etag: string;
}
