import { ServiceError } from '../../core/errors.js';

/** The REST operations S3 and OSS both have (by their S3 names), told apart the same way in both. */
export type RestOperation =
  | 'ListBuckets'
  | 'CreateBucket'
  | 'HeadBucket'
  | 'DeleteBucket'
  | 'DeleteObjects'
  | 'ListMultipartUploads'
  | 'ListObjects'
  | 'ListObjectsV2'
  | 'PutObject'
  | 'CopyObject'
  | 'UploadPart'
  | 'UploadPartCopy'
  | 'GetObject'
  | 'HeadObject'
  | 'ListParts'
  | 'DeleteObject'
  | 'AbortMultipartUpload'
  | 'CreateMultipartUpload'
  | 'CompleteMultipartUpload';

/**
 * A dialect's routes: each shared operation under the dialect's own name with its handler, and
 * the bucket-level GET sub-resources only the dialect has (checked before the listings).
 */
export interface RouteTable<H> {
  operations: Record<RestOperation, readonly [name: string, handler: H]>;
  bucketGets?: ReadonlyArray<readonly [subresource: string, name: string, handler: H]>;
  /** Operations on a bucket's sub-resource by method (`PUT /bucket?cors`), checked before the rest. */
  bucketSubresources?: ReadonlyArray<readonly [method: string, subresource: string, name: string, handler: H]>;
  /** Operations on an object's sub-resource by method (`PUT /bucket/key?tagging`), checked before the rest. */
  objectSubresources?: ReadonlyArray<readonly [method: string, subresource: string, name: string, handler: H]>;
}

function methodNotAllowed(): ServiceError {
  return new ServiceError('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405);
}

/** Service, bucket or object level, then method, then sub-resource; MethodNotAllowed for the rest. */
function restOperation(method: string, target: { bucket?: string; key?: string }, query: URLSearchParams, copying: boolean): RestOperation {
  const has = (name: string) => query.has(name);
  if (target.bucket === undefined) {
    if (method === 'GET') return 'ListBuckets';
    throw methodNotAllowed();
  }
  if (target.key === undefined) {
    if (method === 'PUT') return 'CreateBucket';
    if (method === 'HEAD') return 'HeadBucket';
    if (method === 'DELETE') return 'DeleteBucket';
    if (method === 'POST' && has('delete')) return 'DeleteObjects';
    if (method !== 'GET') throw methodNotAllowed();
    if (has('uploads')) return 'ListMultipartUploads';
    return query.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
  }
  const partOrUpload = has('uploadId') || has('partNumber');
  switch (method) {
    case 'PUT':
      if (partOrUpload) return copying ? 'UploadPartCopy' : 'UploadPart';
      return copying ? 'CopyObject' : 'PutObject';
    case 'GET':
      return has('uploadId') ? 'ListParts' : 'GetObject';
    case 'HEAD':
      return 'HeadObject';
    case 'DELETE':
      return has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'POST':
      if (has('uploads')) return 'CreateMultipartUpload';
      if (has('uploadId')) return 'CompleteMultipartUpload';
      throw methodNotAllowed();
    default:
      throw methodNotAllowed();
  }
}

/** The operation's name in the dialect and its handler. `copying`: the request names a copy source. */
export function routeRest<H>(
  table: RouteTable<H>,
  method: string,
  target: { bucket?: string; key?: string },
  query: URLSearchParams,
  copying: boolean,
): readonly [string, H] {
  if (target.bucket !== undefined) {
    const subresources = target.key === undefined ? table.bucketSubresources : table.objectSubresources;
    const own = subresources?.find(([m, subresource]) => m === method && query.has(subresource));
    if (own) return [own[2], own[3]];
  }
  if (method === 'GET' && target.bucket !== undefined && target.key === undefined) {
    const own = table.bucketGets?.find(([subresource]) => query.has(subresource));
    if (own) return [own[1], own[2]];
  }
  return table.operations[restOperation(method, target, query, copying)];
}
