import { createHash } from 'node:crypto';
import { crc64Combine } from './crc64.js';
import { ServiceError } from './errors.js';
import type { PartColumns } from './metadata/types.js';

/* CompleteMultipartUpload's checks of the client's part list against the parts stored. */

export function fingerprintOf(numbers: number[], etags: string[]): string {
  // `number:etag`, comma-separated: one string built as it goes, no array of 10,000 pieces to join.
  let text = '';
  for (let i = 0; i < numbers.length; i++) text += `${i === 0 ? '' : ','}${numbers[i]}:${etags[i]}`;
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Checks the list against the uploaded parts in one merge walk (both are in ascending order),
 * reporting what S3 reports, in its order: a part out of order, or not uploaded with that
 * ETag, where it occurs in the list; then the first part but the last under the minimum size.
 * A number listed several times in a row counts once, by its last entry (as AWS and Ceph do:
 * a client that uploaded a part twice at once lists both ETags, the one stored last last).
 * Returns the total size, the uploaded parts listed (indexes into `uploaded`), the part
 * numbers not listed and the counted entries' ETags (`etags` itself when nothing repeats).
 */
export function resolveParts(
  uploaded: PartColumns,
  uploadId: string,
  numbers: number[],
  etags: string[],
  minPartSize: number,
): { size: number; matched: number[]; unlisted: number[]; counted: string[] } {
  const count = uploaded.numbers.length;
  const matched: number[] = [];
  const unlisted: number[] = [];
  let size = 0;
  let previous = 0;
  let tooSmall = -1;
  let repeats = 0;
  let j = 0;
  for (let i = 0; i < numbers.length; i++) {
    const number = numbers[i]!;
    if (number <= previous) {
      throw new ServiceError('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.', 400, {
        UploadId: uploadId,
      });
    }
    // A later entry for the same number overrides this one, unchecked.
    if (numbers[i + 1] === number) {
      repeats++;
      continue;
    }
    previous = number;
    while (j < count && uploaded.numbers[j]! < number) unlisted.push(uploaded.numbers[j++]!);
    if (j === count || uploaded.numbers[j] !== number || uploaded.etags[j] !== etags[i]) {
      throw new ServiceError(
        'InvalidPart',
        "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag.",
        400,
        { UploadId: uploadId, PartNumber: String(number), ETag: etags[i]! },
      );
    }
    if (tooSmall < 0 && i < numbers.length - 1 && uploaded.sizes[j]! < minPartSize) tooSmall = j;
    size += uploaded.sizes[j]!;
    matched.push(j++);
  }
  while (j < count) unlisted.push(uploaded.numbers[j++]!);
  if (tooSmall >= 0) {
    throw new ServiceError('EntityTooSmall', 'Your proposed upload is smaller than the minimum allowed object size.', 400, {
      UploadId: uploadId,
      PartNumber: String(uploaded.numbers[tooSmall]),
      ProposedSize: String(uploaded.sizes[tooSmall]),
      MinSizeAllowed: String(minPartSize),
      ETag: uploaded.etags[tooSmall]!,
    });
  }
  const counted = repeats === 0 ? etags : matched.map((index) => uploaded.etags[index]!);
  return { size, matched, unlisted, counted };
}

export function combinedCrc64(uploaded: PartColumns, matched: number[]): string | undefined {
  let crc = 0n;
  for (const j of matched) {
    const partCrc = uploaded.crc64s[j];
    if (partCrc === null || partCrc === undefined) return undefined;
    crc = crc64Combine(crc, BigInt(partCrc), uploaded.sizes[j]!);
  }
  return crc.toString();
}
