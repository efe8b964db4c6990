/**
 * Tessera's client SDK: one typed client for the S3 and OSS dialects (of Tessera, AWS S3,
 * Alibaba Cloud OSS or any compatible service), paging iterators, a resumable multipart
 * uploader, downloads and server-side copies checked end to end.
 */
export { StorageClient, encodeKey, regionFromEndpoint, type ClientOptions, type CallOptions, type PutOptions } from './client.js';
export { ServiceError, AbortError, IntegrityError, serviceErrorFrom } from './errors.js';
export { HttpTransport, DEFAULT_RETRY, type RetryPolicy, type RetryEvent, type TransportOptions, type StreamBody, type RequestBody, type Idempotency } from './http.js';
export {
  listAllObjects,
  listAllParts,
  listAllUploads,
  listObjectsPages,
  listPartsPages,
  listUploadsPages,
  type ObjectListing,
  type UploadListing,
} from './paging.js';
export { uploadFile, MultipartUploader, type UploadFileOptions, type UploadProgress, type UploadResult } from './uploader.js';
export { downloadFile, copyObject, type DownloadOptions, type CopyOptions, type TransferProgress, type TransferResult } from './transfer.js';
export { checkpointPath, loadCheckpoint, CHECKPOINT_MAGIC, type Checkpoint, type CheckpointPart } from './checkpoint.js';
export { autoPartSize, autoParallel, partCount, OSS_MIN_PART_SIZE, S3_MIN_PART_SIZE, MAX_PART_COUNT } from './sizing.js';
export { RateLimiter, multipartEtag, normalizeEtag } from './streams.js';
export type * from './types.js';
export {
  PanClient,
  PanApiError,
  hashRange,
  multipartBody,
  PAN_PLATFORM,
  type PanClientOptions,
  type AccessToken,
  type CreateArgs,
  type CreateResult,
  type UploadedPart,
  type PanFile,
  type PanFileDetail,
  type ListArgs,
  type PanUserInfo,
  type PanUploadOptions,
  type PanUploadProgress,
  type PanUploadCreated,
  type PanUploadResult,
} from './pan.js';
