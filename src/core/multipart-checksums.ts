/**
 * A multipart object's checksum from its parts' stored checksums, without reading a byte:
 * COMPOSITE is the algorithm's digest of the parts' digests concatenated in part order;
 * FULL_OBJECT (CRCs only) is the CRC of the whole content, combined from the parts' CRCs
 * and sizes. Parts come as columns (hex digests, sizes) with the indexes of the listed ones,
 * as Complete holds them for 10,000 parts.
 */
import { REFLECTED_POLYNOMIALS } from './checksums.js';
import { CrcCombiner, type Crc64Halves } from './crc-combine.js';
import { runningChecksum } from './digests.js';
import { ServiceError, errors } from './errors.js';
import { normalizeEtag } from './etag.js';
import type { PartColumns } from './metadata/types.js';
import type { Checksum, ChecksumAlgorithm, ChecksumSpec, ChecksumType, CompletedPart, ObjectChecksum } from './types.js';

/** The CRCs that combine into a full-object checksum, by their reflected polynomials. */
const COMBINERS: Partial<Record<ChecksumAlgorithm, { combiner: CrcCombiner; bytes: 4 | 8 }>> = {
  crc32: { combiner: new CrcCombiner(...REFLECTED_POLYNOMIALS.crc32), bytes: 4 },
  crc32c: { combiner: new CrcCombiner(...REFLECTED_POLYNOMIALS.crc32c), bytes: 4 },
  crc64nvme: { combiner: new CrcCombiner(...REFLECTED_POLYNOMIALS.crc64nvme), bytes: 8 },
};

/** Whether parts' checksums of this algorithm can be combined into the whole content's (the CRCs). */
export function combinesToFullObject(algorithm: ChecksumAlgorithm): boolean {
  return COMBINERS[algorithm] !== undefined;
}

/** Digest of the listed parts' digests, concatenated in order (the caller appends `-N` where the wire wants it). */
export function compositeChecksum(algorithm: ChecksumAlgorithm, digestsHex: readonly string[], listed: readonly number[]): Buffer {
  let joined = '';
  for (const j of listed) joined += digestsHex[j]!;
  const checksum = runningChecksum(algorithm);
  checksum.update(Buffer.from(joined, 'hex'));
  return checksum.digest();
}

/** CRC of the listed parts' bytes end to end, from their CRCs (hex) and sizes. */
export function fullObjectChecksum(
  algorithm: ChecksumAlgorithm,
  digestsHex: readonly string[],
  sizes: readonly number[],
  listed: readonly number[],
): Buffer {
  const crc = COMBINERS[algorithm];
  if (!crc) throw new Error(`${algorithm} parts do not combine into a full-object checksum`);
  const whole: Crc64Halves = { hi: 0, lo: 0 };
  const part: Crc64Halves = { hi: 0, lo: 0 };
  for (const j of listed) {
    const hex = digestsHex[j]!;
    part.hi = crc.bytes === 8 ? parseInt(hex.slice(0, 8), 16) : 0;
    part.lo = parseInt(hex.slice(-8), 16);
    crc.combiner.combine(whole, part, sizes[j]!, whole);
  }
  const out = Buffer.alloc(crc.bytes);
  if (crc.bytes === 8) {
    out.writeUInt32BE(whole.hi, 0);
    out.writeUInt32BE(whole.lo, 4);
  } else {
    out.writeUInt32BE(whole.lo, 0);
  }
  return out;
}

/** What a Complete request says of the checksums, to be checked against the upload's. */
export interface StatedChecksums {
  /** The type the client believes the upload has. */
  type?: ChecksumType;
  /** The whole object's checksum as the client computed it; a composite one may name its part count. */
  object?: Checksum & { partCount?: number };
}

/**
 * The checksum a completed multipart object gets, after checking the Complete request against
 * the upload: the stated type must be the upload's; with a COMPOSITE upload every listed part
 * names its checksum (FULL_OBJECT: may), each equal to the stored part's; an upload that announced
 * no algorithm takes none in the list. A stated object checksum must equal the one computed.
 * `listed` is the request's part list (undefined when the server chose the parts itself);
 * `matched` the uploaded parts it resolved to, in order.
 */
export function completedChecksum(input: {
  uploadId: string;
  spec: ChecksumSpec | undefined;
  listed: readonly CompletedPart[] | undefined;
  uploaded: PartColumns;
  matched: readonly number[];
  stated: StatedChecksums | undefined;
}): ObjectChecksum | undefined {
  const { uploadId, spec, listed, uploaded, matched, stated } = input;
  // An upload that named no algorithm is a FULL_OBJECT one to S3 (it would default to CRC-64/NVME).
  const type = spec?.type ?? 'full-object';
  if (stated?.type !== undefined && stated.type !== type) {
    throw new ServiceError(
      'InvalidRequest',
      `The upload was created using the ${wireType(type)} checksum mode. The complete request must use the same checksum mode.`,
      400,
    );
  }
  if (listed) checkListedParts(uploadId, spec, listed, uploaded, matched);
  if (!spec) return undefined;

  const digests = uploaded.checksums!;
  const value =
    spec.type === 'composite'
      ? compositeChecksum(spec.algorithm, digests, matched)
      : fullObjectChecksum(spec.algorithm, digests, uploaded.sizes, matched);
  const claim = stated?.object;
  if (claim) {
    const countDiffers = claim.partCount !== undefined && (spec.type !== 'composite' || claim.partCount !== matched.length);
    if (claim.algorithm !== spec.algorithm || countDiffers || !claim.value.equals(value)) {
      throw new ServiceError('BadDigest', `The ${claim.algorithm} you specified did not match the calculated checksum.`, 400);
    }
  }
  return { algorithm: spec.algorithm, type: spec.type, value };
}

/** Each listed part's checksum against the stored part's, walking both lists in part order. */
function checkListedParts(
  uploadId: string,
  spec: ChecksumSpec | undefined,
  listed: readonly CompletedPart[],
  uploaded: PartColumns,
  matched: readonly number[],
): void {
  if (!spec) {
    // Nothing was announced, so no listed checksum can be one the part was stored with.
    const part = listed.find((entry) => entry.checksum !== undefined);
    if (part) throw invalidPart(uploadId, part);
    return;
  }
  const digests = uploaded.checksums!;
  let i = 0;
  for (const j of matched) {
    const number = uploaded.numbers[j]!;
    while (i < listed.length - 1 && listed[i]!.partNumber < number) i++;
    // A part number listed twice: the last entry is the one that counts.
    while (i < listed.length - 1 && listed[i + 1]!.partNumber === number) i++;
    const part = listed[i]!;
    const claimed = part.checksum;
    if (!claimed) {
      if (spec.type === 'full-object') continue;
      throw new ServiceError(
        'InvalidRequest',
        `The upload was created using a ${spec.algorithm} checksum. The complete request must include the checksum for each part. It was missing for part ${number} in the request.`,
        400,
      );
    }
    if (claimed.algorithm !== spec.algorithm) {
      throw new ServiceError('BadDigest', `The ${claimed.algorithm} you specified for part ${number} did not match what we received.`, 400);
    }
    if (digests[j] === '' || claimed.value.toString('hex') !== digests[j]!.toLowerCase()) throw invalidPart(uploadId, part);
  }
}

function invalidPart(uploadId: string, part: CompletedPart): ServiceError {
  return errors.invalidPart(uploadId, part.partNumber, normalizeEtag(part.etag));
}

/** COMPOSITE / FULL_OBJECT, as S3 spells a checksum type. */
export function wireType(type: ChecksumType): string {
  return type === 'composite' ? 'COMPOSITE' : 'FULL_OBJECT';
}
