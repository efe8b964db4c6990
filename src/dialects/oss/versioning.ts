import type { VersionEntry } from '../../core/versioning.js';
import { errors } from '../../core/errors.js';
import { inOrder, parseXml } from '../common/xml.js';
import { checked, once } from '../common/xml-shape.js';
import { intParam } from '../s3/call.js';
import { sendEmpty } from '../s3/render.js';
import { readVersionsPage } from '../s3/versioning.js';
import { objectType, ossEtag, sendOssXml, STORAGE_CLASS, urlEncode } from './render.js';
import { readCheckedBody, type OssCall } from './request.js';

/** PutBucketVersioning: `<VersioningConfiguration><Status>Enabled|Suspended</Status>`. */
export async function putBucketVersioning(call: OssCall): Promise<void> {
  const document = checked(parseXml(await readCheckedBody(call.ctx, 64 * 1024), 'VersioningConfiguration'), ['Status']);
  const status = once(document.Status);
  if (status !== 'Enabled' && status !== 'Suspended') throw errors.malformedXML();
  await call.storage.settings.putVersioning(call.actor, call.bucket, status);
  sendEmpty(call.ctx.res, 200);
}

export async function getBucketVersioning(call: OssCall): Promise<void> {
  const status = await call.storage.settings.getVersioning(call.actor, call.bucket);
  sendOssXml(call.ctx.res, 200, 'VersioningConfiguration', { Status: status });
}

/** ListObjectVersions (`GET /?versions`): versions and delete markers, key ascending, newest first. */
export async function listObjectVersions(call: OssCall): Promise<void> {
  const requested = intParam(call.ctx.query, 'max-keys', 100);
  if (requested < 1 || requested > 1000) throw errors.invalidArgument('Argument max-keys must be between 1 and 1000.', 'max-keys', String(requested));
  const { encoding, encode, query, page, ownerNode } = await readVersionsPage(call, requested, urlEncode);
  const { prefix, delimiter, keyMarker, versionIdMarker, maxKeys } = query;
  const common = (entry: VersionEntry) => ({
    Key: encode(entry.object.key),
    VersionId: entry.versionId,
    IsLatest: entry.isLatest,
    LastModified: entry.object.lastModified.toISOString(),
  });
  sendOssXml(call.ctx.res, 200, 'ListVersionsResult', {
    Name: call.bucket,
    Prefix: encode(prefix),
    KeyMarker: encode(keyMarker ?? ''),
    VersionIdMarker: versionIdMarker ?? '',
    MaxKeys: maxKeys,
    Delimiter: delimiter === undefined ? undefined : encode(delimiter),
    IsTruncated: page.isTruncated,
    EncodingType: encoding,
    NextKeyMarker: page.isTruncated && page.nextKeyMarker !== undefined ? encode(page.nextKeyMarker) : undefined,
    NextVersionIdMarker: page.isTruncated ? page.nextVersionIdMarker : undefined,
    // One run in listing order, versions and markers interleaved as OSS writes them.
    ...inOrder(
      page.entries.map((entry) =>
        entry.deleteMarker
          ? ['DeleteMarker', { ...common(entry), Owner: ownerNode }]
          : [
              'Version',
              {
                ...common(entry),
                ETag: ossEtag(entry.object.etag),
                Type: objectType(entry.object),
                Size: entry.object.size,
                StorageClass: STORAGE_CLASS,
                Owner: ownerNode,
              },
            ],
      ),
    ),
    CommonPrefixes: page.commonPrefixes.map((p) => ({ Prefix: encode(p) })),
  });
}

/** `x-oss-version-id` (and `x-oss-delete-marker`) for an answer about one version. */
export function ossVersionHeaders(versionId: string | undefined, deleteMarker = false): Record<string, string> {
  const headers: Record<string, string> = {};
  if (versionId !== undefined) headers['x-oss-version-id'] = versionId;
  if (deleteMarker) headers['x-oss-delete-marker'] = 'true';
  return headers;
}
