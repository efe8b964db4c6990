/**
 * ossutil's automatic part size and per-file parallelism (`cp` without `--part-size` and
 * `--parallel`), so a file is cut into the same parts ossutil would cut it into.
 */

/** OSS's smallest part (all but the last). */
export const OSS_MIN_PART_SIZE = 100 * 1024;
/** S3's smallest part (all but the last). */
export const S3_MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PART_COUNT = 10_000;

const MAX_IDEAL_PART_COUNT = 1000;
const MAX_IDEAL_PART_SIZE = 500 * 1024 * 1024;
const MIN_IDEAL_PART_SIZE = 1024 * 1024;
const MIN_IDEAL_PART_COUNT = 20;

export function partCount(fileSize: number, partSize: number): number {
  return fileSize === 0 ? 1 : Math.floor((fileSize - 1) / partSize) + 1;
}

/**
 * ossutil's rule: ceil(size / 10000), at least 100 KB; while there are more than 1000 parts
 * and a part is under 500 MB, a fifth as many parts; while a part is under 1 MB and there are
 * more than 20, five times larger parts. `minPartSize` raises the floor (5 MiB for S3).
 */
export function autoPartSize(fileSize: number, minPartSize = OSS_MIN_PART_SIZE): number {
  let size = Math.max(Math.ceil(fileSize / MAX_PART_COUNT), OSS_MIN_PART_SIZE);
  let count = partCount(fileSize, size);
  while (count > MAX_IDEAL_PART_COUNT && size < MAX_IDEAL_PART_SIZE) {
    count = Math.floor(count / 5);
    size = Math.ceil(fileSize / count);
  }
  while (size < MIN_IDEAL_PART_SIZE && count > MIN_IDEAL_PART_COUNT) {
    size *= 5;
    count = partCount(fileSize, size);
  }
  return Math.max(size, minPartSize);
}

/** ossutil's routines per file by part count: <2 → 1, <4 → 2, ≤20 → 4, ≤300 → 8, ≤500 → 10, else 12. */
export function autoParallel(parts: number): number {
  if (parts < 2) return 1;
  if (parts < 4) return 2;
  if (parts <= 20) return 4;
  if (parts <= 300) return 8;
  if (parts <= 500) return 10;
  return 12;
}
