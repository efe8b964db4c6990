/**
 * Listings to their end, as async iterators: each page is fetched when the previous one has
 * been consumed, so a listing of millions never sits in memory. Every iterator follows the
 * markers the service hands back and stops on `IsTruncated=false`; a truncated page that does
 * not move the marker is an error rather than an endless loop.
 */
import type { CallOptions, StorageClient } from './client.js';
import type { ListObjectsResult, ListPartsResult, ListUploadsResult, ObjectSummary, PartSummary, UploadSummary } from './types.js';

/**
 * The pages of one listing: `fetch` a page at a marker, then the marker `next` takes from it,
 * until a page is not truncated. `key` tells markers apart (a marker that does not move is a loop).
 */
async function* pages<Page extends { isTruncated: boolean }, Marker>(
  what: string,
  start: Marker,
  fetch: (marker: Marker) => Promise<Page>,
  next: (page: Page) => Marker | undefined,
  key: (marker: Marker) => string,
): AsyncGenerator<Page> {
  let marker = start;
  for (;;) {
    const page = await fetch(marker);
    yield page;
    if (!page.isTruncated) return;
    const following = next(page);
    if (following === undefined || key(following) === key(marker)) {
      throw new Error(`${what}: the service answered a truncated page without moving its marker (${key(marker)})`);
    }
    marker = following;
  }
}

/** Every page of ListParts, from part-number-marker 0 (as ossutil sends it). */
export function listPartsPages(
  client: StorageClient,
  bucket: string,
  key: string,
  uploadId: string,
  options: { maxParts?: number } & CallOptions = {},
): AsyncGenerator<ListPartsResult> {
  return pages<ListPartsResult, number>(
    'ListParts',
    0,
    (marker) => client.listParts(bucket, key, uploadId, { ...options, partNumberMarker: marker }),
    (page) => (page.nextPartNumberMarker > page.partNumberMarker ? page.nextPartNumberMarker : undefined),
    String,
  );
}

export async function* listAllParts(
  client: StorageClient,
  bucket: string,
  key: string,
  uploadId: string,
  options: { maxParts?: number } & CallOptions = {},
): AsyncGenerator<PartSummary> {
  for await (const page of listPartsPages(client, bucket, key, uploadId, options)) yield* page.parts;
}

/** Keys starting with `prefix`; with a `delimiter`, grouped into common prefixes. */
export interface PrefixListing extends CallOptions {
  prefix?: string;
  delimiter?: string;
}

export interface UploadListing extends PrefixListing {
  keyMarker?: string;
  uploadIdMarker?: string;
  maxUploads?: number;
}

export function listUploadsPages(client: StorageClient, bucket: string, options: UploadListing = {}): AsyncGenerator<ListUploadsResult> {
  return pages(
    'ListMultipartUploads',
    { keyMarker: options.keyMarker ?? '', uploadIdMarker: options.uploadIdMarker ?? '' },
    (marker) => client.listMultipartUploads(bucket, { ...options, ...marker }),
    (page) => ({ keyMarker: page.nextKeyMarker, uploadIdMarker: page.nextUploadIdMarker }),
    (marker) => `${marker.keyMarker}\n${marker.uploadIdMarker}`,
  );
}

export async function* listAllUploads(client: StorageClient, bucket: string, options: UploadListing = {}): AsyncGenerator<UploadSummary> {
  for await (const page of listUploadsPages(client, bucket, options)) yield* page.uploads;
}

export interface ObjectListing extends PrefixListing {
  marker?: string;
  maxKeys?: number;
}

export function listObjectsPages(client: StorageClient, bucket: string, options: ObjectListing = {}): AsyncGenerator<ListObjectsResult> {
  return pages(
    'ListObjects',
    options.marker ?? '',
    (marker) => client.listObjects(bucket, { ...options, marker }),
    (page) => page.nextMarker,
    String,
  );
}

/** Objects only; with a delimiter, use listObjectsPages to see the common prefixes too. */
export async function* listAllObjects(client: StorageClient, bucket: string, options: ObjectListing = {}): AsyncGenerator<ObjectSummary> {
  for await (const page of listObjectsPages(client, bucket, options)) yield* page.objects;
}
