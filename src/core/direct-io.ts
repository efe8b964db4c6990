import { constants } from 'node:fs';
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { newBlobId } from './ids.js';

/**
 * Direct I/O (O_DIRECT) for large bodies. Written through the page cache, a GiB
 * cost the benchmark machine 1.8 CPU s in the kernel (copying into freshly
 * allocated cache pages); written direct, 0.2–0.35 s, and faster too. The price:
 * memory address, file offset and length must be multiples of the device's block
 * size, which is why bodies are staged through aligned slots (slot-pool.ts) and
 * the last block is padded, then cut back with ftruncate.
 */
export const DIRECT_BLOCK = 4096;

/** O_DIRECT where Node and the platform have it (Linux), else 0. */
export const O_DIRECT: number = (constants as { O_DIRECT?: number }).O_DIRECT ?? 0;

export function roundUpToBlock(bytes: number): number {
  return Math.ceil(bytes / DIRECT_BLOCK) * DIRECT_BLOCK;
}

/**
 * Whether files under `dir` can be written with O_DIRECT, and if so how to align
 * memory for it: the returned function finds, by trying a one-block write at each
 * 16-byte step, the first offset in a buffer the kernel accepts. Undefined where
 * the filesystem refuses O_DIRECT (tmpfs, some overlays) or no offset works.
 */
export async function probeDirectIo(dir: string): Promise<((memory: Buffer) => Promise<number>) | undefined> {
  if (O_DIRECT === 0) return undefined;
  const align = async (memory: Buffer): Promise<number> => {
    const path = join(dir, `probe-${newBlobId()}`);
    const file = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_DIRECT, 0o600);
    try {
      for (let offset = 0; offset + DIRECT_BLOCK <= Math.min(memory.length, 2 * DIRECT_BLOCK); offset += 16) {
        try {
          await file.write(memory, offset, DIRECT_BLOCK, 0);
          return offset;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EINVAL') throw err;
        }
      }
      throw new Error('no offset in the buffer is aligned for direct I/O');
    } finally {
      await file.close();
      await unlink(path).catch(() => {});
    }
  };
  try {
    await align(Buffer.from(new SharedArrayBuffer(2 * DIRECT_BLOCK)));
    return align;
  } catch {
    return undefined;
  }
}
