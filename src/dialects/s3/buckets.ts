import { errors } from '../../core/errors.js';
import { isObjectOwnership } from '../../core/public-access.js';
import type { ObjectListEntry } from '../../core/types.js';
import { readSmallBody } from '../common/body.js';
import { asList, asText, asTrimmedText, listOf, parseXml, type XmlNode } from '../common/xml.js';
import { aclFromHeaders } from './acl.js';
import { encodingType, intParam, optionalParam, type S3Call } from './call.js';
import { header, readVerifiedBody } from './request.js';
import { bypassGovernance } from './object-lock.js';
import { isoDate, owner, quoteEtag, sendEmpty, sendXml, urlEncode } from './render.js';

const MAX_DELETE_KEYS = 1000;

const MAX_BUCKETS = 10_000;

/**
 * ListBuckets: every bucket, or (when `max-buckets`, `continuation-token`, `prefix` or
 * `bucket-region` is given) a page of them, names after the token, as S3 pages them.
 */
export async function listBuckets(call: S3Call): Promise<void> {
  const { query } = call.ctx;
  const prefix = optionalParam(query, 'prefix');
  const token = optionalParam(query, 'continuation-token');
  const after = token === undefined || token === '' ? undefined : decodeToken(token);
  const region = optionalParam(query, 'bucket-region');
  const maxBuckets = intParam(query, 'max-buckets', MAX_BUCKETS);
  if (maxBuckets < 1 || maxBuckets > MAX_BUCKETS) {
    throw errors.invalidArgument(`max-buckets must be between 1 and ${MAX_BUCKETS}`, 'max-buckets', query.get('max-buckets') ?? '');
  }
  // One region holds every bucket: asking for another lists none.
  const matching = (await call.storage.listBuckets(call.actor)).filter((b) => (region === undefined || region === call.settings.region) && b.name.startsWith(prefix ?? '') && (after === undefined || b.name > after));
  const page = matching.slice(0, maxBuckets);
  const paged = query.has('max-buckets') || token !== undefined || prefix !== undefined || region !== undefined;
  sendXml(call.ctx.res, 200, 'ListAllMyBucketsResult', {
    Owner: owner(call.user, call.user.id),
    Buckets: {
      Bucket: page.map((b) => ({ Name: b.name, CreationDate: isoDate(b.createdAt), BucketRegion: paged ? call.settings.region : undefined })),
    },
    ContinuationToken: matching.length > page.length ? encodeToken(page[page.length - 1]!.name) : undefined,
    Prefix: prefix,
  });
}

export async function createBucket(call: S3Call): Promise<void> {
  // The body (CreateBucketConfiguration) only names a region; there is one.
  await readSmallBody(call.ctx.req, 64 * 1024);
  const { headers } = call.ctx.req;
  const objectLock = header(headers, 'x-amz-bucket-object-lock-enabled')?.trim().toLowerCase() === 'true';
  const ownership = header(headers, 'x-amz-object-ownership')?.trim();
  if (ownership !== undefined && !isObjectOwnership(ownership)) throw errors.invalidArgument('Invalid x-amz-object-ownership header', 'x-amz-object-ownership', ownership);
  const acl = aclFromHeaders(headers, call.actor.userId, call.users);
  await call.storage.createBucket(call.actor, call.bucket, { objectLock, ownership, acl });
  sendEmpty(call.ctx.res, 200, { location: `/${call.bucket}` });
}

export async function headBucket(call: S3Call): Promise<void> {
  await call.storage.headBucket(call.actor, call.bucket);
  sendEmpty(call.ctx.res, 200, { 'x-amz-bucket-region': call.settings.region });
}

export async function deleteBucket(call: S3Call): Promise<void> {
  await call.storage.deleteBucket(call.actor, call.bucket);
  sendEmpty(call.ctx.res, 204);
}

export async function getBucketLocation(call: S3Call): Promise<void> {
  await call.storage.headBucket(call.actor, call.bucket);
  // us-east-1 is spelled as an empty constraint.
  const region = call.settings.region === 'us-east-1' ? '' : call.settings.region;
  sendXml(call.ctx.res, 200, 'LocationConstraint', { '#text': region });
}

async function bucketOwner(call: S3Call): Promise<XmlNode> {
  const ownerId = (await call.storage.headBucket(call.actor, call.bucket)).owner;
  return owner(call.users.byId(ownerId), ownerId);
}

function objectEntry(object: ObjectListEntry, encode: (v: string) => string, ownerNode: XmlNode | undefined): XmlNode {
  return {
    Key: encode(object.key),
    LastModified: isoDate(object.lastModified),
    ETag: quoteEtag(object.etag),
    Size: object.size,
    Owner: ownerNode,
    StorageClass: 'STANDARD',
  };
}

/** ListObjects (v1) and ListObjectsV2 share everything but their markers. */
export async function listObjects(call: S3Call, version: 1 | 2): Promise<void> {
  const { query } = call.ctx;
  const encoding = encodingType(query);
  const encode = encoding ? urlEncode : (v: string) => v;
  const prefix = query.get('prefix') ?? '';
  const delimiter = optionalParam(query, 'delimiter') || undefined;
  const maxKeys = intParam(query, 'max-keys', 1000);
  let after: string | undefined;
  const token = optionalParam(query, 'continuation-token');
  if (version === 2) {
    // An empty token is no token (S3 lists from start-after, or from the beginning).
    if (token) {
      after = decodeToken(token);
    } else {
      after = optionalParam(query, 'start-after') || undefined;
    }
  } else {
    after = optionalParam(query, 'marker') || undefined;
  }
  const page = await call.storage.listObjectEntries(call.actor, call.bucket, { prefix, delimiter, after, maxKeys });
  const common = {
    Name: call.bucket,
    Prefix: encode(prefix),
  };
  const ownerNode = version === 1 || query.get('fetch-owner') === 'true' ? await bucketOwner(call) : undefined;
  const contents = listOf('Contents', page.objects.map((o) => objectEntry(o, encode, ownerNode)));
  const prefixes = listOf('CommonPrefixes', page.commonPrefixes.map((p) => ({ Prefix: encode(p) })));
  if (version === 1) {
    sendXml(call.ctx.res, 200, 'ListBucketResult', {
      ...common,
      Marker: encode(query.get('marker') ?? ''),
      NextMarker: page.isTruncated && page.nextMarker !== undefined ? encode(page.nextMarker) : undefined,
      MaxKeys: maxKeys,
      Delimiter: delimiter === undefined ? undefined : encode(delimiter),
      IsTruncated: page.isTruncated,
      EncodingType: encoding,
      ...contents,
      ...prefixes,
    });
    return;
  }
  sendXml(call.ctx.res, 200, 'ListBucketResult', {
    ...common,
    MaxKeys: maxKeys,
    Delimiter: delimiter === undefined ? undefined : encode(delimiter),
    IsTruncated: page.isTruncated,
    EncodingType: encoding,
    KeyCount: page.objects.length + page.commonPrefixes.length,
    ContinuationToken: token,
    NextContinuationToken: page.isTruncated && page.nextMarker !== undefined ? encodeToken(page.nextMarker) : undefined,
    StartAfter: query.has('start-after') ? encode(query.get('start-after') ?? '') : undefined,
    ...contents,
    ...prefixes,
  });
}

export async function deleteObjects(call: S3Call): Promise<void> {
  const document = parseXml((await readVerifiedBody(call.ctx, call.auth, 2 * 1024 * 1024)).toString('utf8'), 'Delete');
  const objects = asList(document.Object);
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw errors.malformedXML();
  const quiet = asTrimmedText(document.Quiet)?.toLowerCase() === 'true';
  const bypass = bypassGovernance(call.ctx.req.headers);
  const deleted: XmlNode[] = [];
  const failed: XmlNode[] = [];
  for (const object of objects) {
    const key = asText(object.Key);
    if (key === undefined || key === '') throw errors.malformedXML();
    const versionId = asTrimmedText(object.VersionId);
    try {
      const outcome = await call.storage.deleteObject(call.actor, call.bucket, key, versionId, { bypassGovernance: bypass });
      if (quiet) continue;
      if (versionId !== undefined) {
        deleted.push({ Key: key, VersionId: versionId, DeleteMarker: outcome.deleteMarker || undefined, DeleteMarkerVersionId: outcome.deleteMarker ? versionId : undefined });
      } else {
        // A delete marker made: S3 reports it and its id.
        deleted.push({ Key: key, DeleteMarker: outcome.deleteMarker || undefined, DeleteMarkerVersionId: outcome.deleteMarker ? outcome.versionId : undefined });
      }
    } catch (err) {
      const error = err as { code?: string; message?: string };
      failed.push({ Key: key, VersionId: versionId, Code: error.code ?? 'InternalError', Message: error.message ?? '' });
    }
  }
  sendXml(call.ctx.res, 200, 'DeleteResult', { Deleted: deleted, Error: failed });
}

/** Continuation tokens are opaque to clients; ours carry the last key returned. */
export function encodeToken(key: string): string {
  return Buffer.from(key, 'utf8').toString('base64url');
}

export function decodeToken(token: string): string {
  const key = Buffer.from(token, 'base64url').toString('utf8');
  if (token === '' || encodeToken(key) !== token) {
    throw errors.invalidArgument('The continuation token provided is incorrect', 'continuation-token', token);
  }
  return key;
}
