import { ServiceError, errors } from '../../core/errors.js';
import { MAX_PAGE } from '../../core/engine-parts.js';
import type { XmlNode } from '../common/xml.js';
import type { S3Call } from './call.js';
import { checksumDisplayName, partChecksumElement, wireType } from './checksums.js';
import { sendXml } from './render.js';
import { versionHeaders } from './versioning.js';
import { header } from './request.js';

/**
 * GetObjectAttributes (`GET /bucket/key?attributes`): what HeadObject and ListParts would tell,
 * in one answer holding only the root fields `x-amz-object-attributes` names. ObjectParts is for
 * multipart objects only: their part count, and (as S3 answers, only when the object has a
 * flexible checksum) a page of their parts' sizes and checksums, after `x-amz-part-number-marker`,
 * `x-amz-max-parts` (1,000 at most) long.
 */

const ATTRIBUTES = ['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize'] as const;
type Attribute = (typeof ATTRIBUTES)[number];

/** The names the header lists (comma-separated, possibly over several header lines). */
function requestedAttributes(call: S3Call): Set<Attribute> {
  const raw = header(call.ctx.req.headers, 'x-amz-object-attributes') ?? '';
  const names = raw
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) {
    throw new ServiceError(
      'InvalidRequest',
      'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty',
      400,
    );
  }
  const unknown = names.find((name) => !(ATTRIBUTES as readonly string[]).includes(name));
  if (unknown !== undefined) throw errors.invalidArgument('Invalid attribute name specified.', 'x-amz-object-attributes', unknown);
  return new Set(names as Attribute[]);
}

/** A non-negative integer header, or InvalidArgument naming it. */
function integerHeader(call: S3Call, name: string, fallback: number): number {
  const value = header(call.ctx.req.headers, name);
  if (value === undefined) return fallback;
  if (!/^\d{1,10}$/.test(value.trim())) throw errors.invalidArgument(`Provided ${name} not an integer or within integer range`, name, value);
  return Number(value.trim());
}

export async function getObjectAttributes(call: S3Call): Promise<void> {
  const wanted = requestedAttributes(call);
  const maxParts = Math.min(integerHeader(call, 'x-amz-max-parts', MAX_PAGE), MAX_PAGE);
  const marker = integerHeader(call, 'x-amz-part-number-marker', 0);
  const info = await call.storage.headObject(call.actor, call.bucket, call.key, call.ctx.query.get('versionId') ?? undefined);

  const body: XmlNode = {};
  // ETag without quotes, as S3 answers it here (and only here).
  if (wanted.has('ETag')) body.ETag = info.etag;
  if (wanted.has('Checksum') && info.checksum) {
    // The object's checksum as stored: a composite one without HeadObject's `-<parts>` suffix.
    body.Checksum = {
      [`Checksum${checksumDisplayName(info.checksum.algorithm)}`]: info.checksum.value.toString('base64'),
      ChecksumType: wireType(info.checksum.type),
    };
  }
  if (wanted.has('ObjectParts') && info.partsCount !== undefined) {
    const parts: XmlNode = { PartsCount: info.partsCount };
    if (info.checksum) {
      // A page of none is empty and, as ListParts answers it, not truncated.
      const rows = maxParts === 0 ? [] : await call.storage.objectParts(info, marker, maxParts + 1);
      const page = rows.slice(0, maxParts);
      Object.assign(parts, {
        PartNumberMarker: marker,
        NextPartNumberMarker: page.length > 0 ? page[page.length - 1]!.partNumber : marker,
        MaxParts: maxParts,
        IsTruncated: rows.length > maxParts,
        Part: page.map((part) => ({ PartNumber: part.partNumber, Size: part.size, ...partChecksumElement(part.checksum) })),
      });
    }
    body.ObjectParts = parts;
  }
  if (wanted.has('StorageClass')) body.StorageClass = 'STANDARD';
  if (wanted.has('ObjectSize')) body.ObjectSize = info.size;
  sendXml(call.ctx.res, 200, 'GetObjectAttributesResponse', body, {
    'last-modified': info.lastModified.toUTCString(),
    ...versionHeaders(info.versionId),
  });
}
