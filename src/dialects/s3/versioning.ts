import { ServiceError, errors } from '../../core/errors.js';
import type { VersionEntry, VersionsPage, VersionsQuery } from '../../core/versioning.js';
import { inOrder, parseXml } from '../common/xml.js';
import { checked, once } from '../common/xml-shape.js';
import { encodingType, intParam, optionalParam, type S3Call } from './call.js';
import { isoDate, owner, quoteEtag, sendEmpty, sendXml, urlEncode } from './render.js';
import { readVerifiedBody } from './request.js';

/** PutBucketVersioning: Enabled or Suspended (a bucket never returns to unversioned). */
export async function putBucketVersioning(call: S3Call): Promise<void> {
  const body = (await readVerifiedBody(call.ctx, call.auth, 64 * 1024)).toString('utf8');
  const document = checked(parseXml(body, 'VersioningConfiguration'), ['Status', 'MfaDelete']);
  const status = once(document.Status);
  const mfaDelete = once(document.MfaDelete);
  if (status !== 'Enabled' && status !== 'Suspended') throw errors.malformedXML();
  if (mfaDelete !== undefined && mfaDelete !== 'Enabled' && mfaDelete !== 'Disabled') throw errors.malformedXML();
  if (mfaDelete === 'Enabled') {
    // MFA Delete needs the x-amz-mfa header of a root MFA device; Tessera has no MFA devices.
    throw new ServiceError('InvalidRequest', 'MFA Delete can only be enabled with a valid MFA token (x-amz-mfa), which this server does not accept.', 400);
  }
  await call.storage.settings.putVersioning(call.actor, call.bucket, status);
  sendEmpty(call.ctx.res, 200);
}

export async function getBucketVersioning(call: S3Call): Promise<void> {
  const status = await call.storage.settings.getVersioning(call.actor, call.bucket);
  sendXml(call.ctx.res, 200, 'VersioningConfiguration', { Status: status });
}

/** What S3's and OSS's ListObjectVersions share: the query's parameters, the page, the owner every entry names. */
export async function readVersionsPage(
  call: Pick<S3Call, 'ctx' | 'storage' | 'actor' | 'bucket' | 'users'>,
  maxKeys: number,
  /** How the dialect writes keys under `encoding-type=url` (S3 and OSS differ). */
  urlEncoder: (value: string) => string,
): Promise<{ encoding: string | undefined; encode: (v: string) => string; query: VersionsQuery; page: VersionsPage; ownerNode: ReturnType<typeof owner> }> {
  const params = call.ctx.query;
  const encoding = encodingType(params);
  const query: VersionsQuery = {
    prefix: params.get('prefix') ?? '',
    delimiter: optionalParam(params, 'delimiter') || undefined,
    keyMarker: optionalParam(params, 'key-marker') || undefined,
    versionIdMarker: optionalParam(params, 'version-id-marker') || undefined,
    maxKeys,
  };
  const page = await call.storage.listObjectVersions(call.actor, call.bucket, query);
  const ownerId = (await call.storage.headBucket(call.actor, call.bucket)).owner;
  return { encoding, encode: encoding ? urlEncoder : (v: string) => v, query, page, ownerNode: owner(call.users.byId(ownerId), ownerId) };
}

/** ListObjectVersions: versions and delete markers, key ascending and newest first within a key. */
export async function listObjectVersions(call: S3Call): Promise<void> {
  const { encoding, encode, query, page, ownerNode } = await readVersionsPage(call, Math.min(intParam(call.ctx.query, 'max-keys', 1000), 1000), urlEncode);
  const { prefix, delimiter, keyMarker, versionIdMarker, maxKeys } = query;
  const common = (entry: VersionEntry) => ({
    Key: encode(entry.object.key),
    VersionId: entry.versionId,
    IsLatest: entry.isLatest,
    LastModified: isoDate(entry.object.lastModified),
  });
  sendXml(call.ctx.res, 200, 'ListVersionsResult', {
    Name: call.bucket,
    Prefix: encode(prefix),
    KeyMarker: encode(keyMarker ?? ''),
    VersionIdMarker: versionIdMarker ?? '',
    NextKeyMarker: page.isTruncated && page.nextKeyMarker !== undefined ? encode(page.nextKeyMarker) : undefined,
    NextVersionIdMarker: page.isTruncated ? page.nextVersionIdMarker : undefined,
    MaxKeys: maxKeys,
    Delimiter: delimiter === undefined ? undefined : encode(delimiter),
    IsTruncated: page.isTruncated,
    EncodingType: encoding,
    // One run in listing order, versions and markers interleaved as S3 writes them (SDKs split it into two lists).
    ...inOrder(
      page.entries.map((entry) =>
        entry.deleteMarker
          ? ['DeleteMarker', { ...common(entry), Owner: ownerNode }]
          : ['Version', { ...common(entry), ETag: quoteEtag(entry.object.etag), Size: entry.object.size, Owner: ownerNode, StorageClass: 'STANDARD' }],
      ),
    ),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
  });
}

/** `x-amz-version-id` (and `x-amz-delete-marker`) for an answer about one version. */
export function versionHeaders(versionId: string | undefined, deleteMarker = false): Record<string, string> {
  const headers: Record<string, string> = {};
  if (versionId !== undefined) headers['x-amz-version-id'] = versionId;
  if (deleteMarker) headers['x-amz-delete-marker'] = 'true';
  return headers;
}
