import { ossAclName, ossBucketAcl } from '../../core/acl.js';
import { errors } from '../../core/errors.js';
import { MAX_PAGE } from '../../core/engine-parts.js';
import type { BucketInfo, ObjectListEntry } from '../../core/types.js';
import { asList, asText, asTrimmedText, listOf, parseXml, type XmlNode } from '../common/xml.js';
import { decodeToken, encodeToken } from '../s3/buckets.js';
import { encodingType, intParam, optionalParam } from '../s3/call.js';
import { owner, sendEmpty } from '../s3/render.js';
import { bucketAclHeader } from './acl.js';
import { objectType, ossEtag, sendOssXml, STORAGE_CLASS, urlEncode } from './render.js';
import { readCheckedBody, type OssCall } from './request.js';

const MAX_DELETE_KEYS = 1000;

/** OSS names regions `oss-<region>`. */
function location(call: OssCall): string {
  const region = call.settings.region;
  return region.startsWith('oss-') ? region : `oss-${region}`;
}

function bucketSummary(call: OssCall, bucket: BucketInfo): XmlNode {
  return {
    Name: bucket.name,
    CreationDate: bucket.createdAt.toISOString(),
    Location: location(call),
    ExtranetEndpoint: call.endpoint,
    IntranetEndpoint: call.endpoint,
    Region: location(call).slice('oss-'.length),
    StorageClass: STORAGE_CLASS,
  };
}

function userOwner(call: OssCall, id: string): XmlNode {
  return owner(call.users.byId(id), id);
}

/** ListBuckets (GetService): the caller's buckets, filtered by `prefix`, after `marker`, `max-keys` of them. */
export async function listBuckets(call: OssCall): Promise<void> {
  const { query } = call.ctx;
  const prefix = query.get('prefix') ?? '';
  const marker = query.get('marker') ?? '';
  const maxKeys = Math.min(intParam(query, 'max-keys', MAX_PAGE), MAX_PAGE);
  const matching = (await call.storage.listBuckets(call.actor)).filter((b) => b.name.startsWith(prefix) && b.name > marker);
  const page = matching.slice(0, maxKeys);
  const isTruncated = matching.length > page.length;
  sendOssXml(call.ctx.res, 200, 'ListAllMyBucketsResult', {
    Prefix: prefix,
    Marker: marker,
    MaxKeys: query.has('max-keys') ? maxKeys : undefined,
    IsTruncated: isTruncated,
    NextMarker: isTruncated ? page[page.length - 1]!.name : undefined,
    Owner: userOwner(call, call.user.id),
    Buckets: { Bucket: page.map((bucket) => bucketSummary(call, bucket)) },
  });
}

export async function putBucket(call: OssCall): Promise<void> {
  // The body (CreateBucketConfiguration) only names a storage class; there is one.
  await readCheckedBody(call.ctx, 64 * 1024);
  const acl = bucketAclHeader(call);
  await call.storage.createBucket(call.actor, call.bucket, { ossDefaults: true, acl: acl && ossBucketAcl(acl, call.actor.userId) });
  sendEmpty(call.ctx.res, 200, { location: `/${call.bucket}` });
}

export async function deleteBucket(call: OssCall): Promise<void> {
  await call.storage.deleteBucket(call.actor, call.bucket);
  sendEmpty(call.ctx.res, 204);
}

export async function headBucket(call: OssCall): Promise<void> {
  await call.storage.headBucket(call.actor, call.bucket);
  sendEmpty(call.ctx.res, 200);
}

export async function getBucketInfo(call: OssCall): Promise<void> {
  const bucket = await call.storage.headBucket(call.actor, call.bucket);
  const acl = bucket.access?.acl;
  sendOssXml(call.ctx.res, 200, 'BucketInfo', {
    Bucket: {
      ...bucketSummary(call, bucket),
      Owner: userOwner(call, bucket.owner),
      AccessControlList: { Grant: acl ? ossAclName(acl) : 'private' },
      Versioning: undefined,
    },
  });
}

export async function getBucketLocation(call: OssCall): Promise<void> {
  await call.storage.headBucket(call.actor, call.bucket);
  sendOssXml(call.ctx.res, 200, 'LocationConstraint', { '#text': location(call) });
}

function objectEntry(object: ObjectListEntry, encode: (v: string) => string, ownerNode: XmlNode | undefined): XmlNode {
  return {
    Key: encode(object.key),
    LastModified: object.lastModified.toISOString(),
    ETag: ossEtag(object.etag),
    Type: objectType(object),
    Size: object.size,
    StorageClass: STORAGE_CLASS,
    Owner: ownerNode,
  };
}

/** ListObjects (v1, `marker`) and ListObjectsV2 (`list-type=2`, continuation tokens, `fetch-owner`). */
export async function listObjects(call: OssCall, version: 1 | 2): Promise<void> {
  const { query } = call.ctx;
  const encoding = encodingType(query);
  const encode = encoding ? urlEncode : (v: string) => v;
  const prefix = query.get('prefix') ?? '';
  const delimiter = optionalParam(query, 'delimiter') || undefined;
  const maxKeys = Math.min(intParam(query, 'max-keys', 100), MAX_PAGE);
  const token = optionalParam(query, 'continuation-token');
  const startAfter = optionalParam(query, 'start-after');
  const marker = optionalParam(query, 'marker');
  // An empty continuation-token is no token, as in S3.
  const after = version === 2 ? (token ? decodeToken(token) : startAfter || undefined) : marker || undefined;
  const page = await call.storage.listObjectEntries(call.actor, call.bucket, { prefix, delimiter, after, maxKeys });
  const withOwner = version === 1 || query.get('fetch-owner') === 'true';
  const ownerNode = withOwner ? userOwner(call, (await call.storage.headBucket(call.actor, call.bucket)).owner) : undefined;
  const next = page.isTruncated ? page.nextMarker : undefined;
  const markers =
    version === 1
      ? { Marker: encode(marker ?? ''), NextMarker: next === undefined ? undefined : encode(next) }
      : {
          StartAfter: startAfter === undefined ? undefined : encode(startAfter),
          ContinuationToken: token,
          NextContinuationToken: next === undefined ? undefined : encodeToken(next),
          KeyCount: page.objects.length + page.commonPrefixes.length,
        };
  sendOssXml(call.ctx.res, 200, 'ListBucketResult', {
    Name: call.bucket,
    Prefix: encode(prefix),
    ...markers,
    MaxKeys: maxKeys,
    Delimiter: encode(delimiter ?? ''),
    IsTruncated: page.isTruncated,
    EncodingType: encoding,
    ...listOf('Contents', page.objects.map((o) => objectEntry(o, encode, ownerNode))),
    ...listOf('CommonPrefixes', page.commonPrefixes.map((p) => ({ Prefix: encode(p) }))),
  });
}

/** DeleteMultipleObjects: `<Delete><Quiet/><Object><Key/></Object>…`; with `encoding-type=url` keys come and go URL-encoded. */
export async function deleteMultipleObjects(call: OssCall): Promise<void> {
  const encoding = encodingType(call.ctx.query);
  const document = parseXml(await readCheckedBody(call.ctx, 2 * 1024 * 1024), 'Delete');
  const objects = asList(document.Object);
  if (objects.length === 0 || objects.length > MAX_DELETE_KEYS) throw errors.malformedXML();
  const quiet = asTrimmedText(document.Quiet)?.toLowerCase() === 'true';
  const deleted: XmlNode[] = [];
  for (const object of objects) {
    const sent = asText(object.Key);
    if (sent === undefined || sent === '') throw errors.malformedXML();
    const key = encoding ? decodeKey(sent) : sent;
    const versionId = asTrimmedText(object.VersionId);
    const outcome = await call.storage.deleteObject(call.actor, call.bucket, key, versionId);
    if (quiet) continue;
    deleted.push({
      Key: encoding ? urlEncode(key) : key,
      VersionId: versionId,
      DeleteMarker: outcome.deleteMarker || undefined,
      DeleteMarkerVersionId: outcome.deleteMarker ? outcome.versionId : undefined,
    });
  }
  sendOssXml(call.ctx.res, 200, 'DeleteResult', { EncodingType: encoding, Deleted: deleted });
}

function decodeKey(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw errors.invalidArgument('The key is not URL-encoded.', 'Key', value);
  }
}
