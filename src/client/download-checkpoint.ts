/**
 * The resumable download's checkpoint, kept beside the upload checkpoints (same directory, same
 * conventions as checkpoint.ts): one JSON file per transfer named
 * `md5("oss://bucket/key")-md5(absolute target path).cp` (source first, as ossutil names its
 * download checkpoints), in the shape of the Go SDK's download checkpoint (Magic, MD5, FilePath,
 * Object, ObjStat {Size, LastModified, Etag}, Parts, PartStat), self-checked by the base64 MD5 of
 * the document written with an empty `MD5`, and written atomically (temporary file, rename).
 *
 * Each part also keeps the MD5 and CRC-64 of its bytes, taken as they were written, as strings
 * (a CRC-64 does not fit a JSON number), so a resumed download still checks the whole object.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { writeCheckpointFile } from './checkpoint.js';

export const DOWNLOAD_CHECKPOINT_MAGIC = '92611BED-89E2-46B6-89E5-72F273D4B0A3';

export interface DownloadPart {
  Index: number;
  Start: number;
  /** Inclusive. */
  End: number;
  /** Hex MD5 of the part's bytes, once downloaded. */
  MD5: string;
  /** CRC-64/ECMA of the part's bytes (decimal), once downloaded. */
  CRC64: string;
}

export interface DownloadCheckpoint {
  Magic: string;
  MD5: string;
  FilePath: string;
  Object: string;
  ObjStat: { Size: number; LastModified: string; Etag: string };
  Parts: DownloadPart[];
  PartStat: boolean[];
}

function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** `<dir>/md5(source URL)-md5(abs target).cp`. */
export function downloadCheckpointPath(dir: string, sourceUrl: string, targetFile: string): string {
  return join(dir, `${md5Hex(sourceUrl)}-${md5Hex(resolve(targetFile))}.cp`);
}

function canonical(cp: DownloadCheckpoint, md5: string): DownloadCheckpoint {
  return {
    Magic: cp.Magic,
    MD5: md5,
    FilePath: cp.FilePath,
    Object: cp.Object,
    ObjStat: { Size: cp.ObjStat.Size, LastModified: cp.ObjStat.LastModified, Etag: cp.ObjStat.Etag },
    Parts: cp.Parts.map((p) => ({ Index: p.Index, Start: p.Start, End: p.End, MD5: p.MD5, CRC64: p.CRC64 })),
    PartStat: [...cp.PartStat],
  };
}

function selfMd5(cp: DownloadCheckpoint): string {
  return createHash('md5').update(JSON.stringify(canonical(cp, '')), 'utf8').digest('base64');
}

export async function loadDownloadCheckpoint(path: string): Promise<DownloadCheckpoint | undefined> {
  let parsed: DownloadCheckpoint;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8')) as DownloadCheckpoint;
  } catch {
    return undefined;
  }
  if (parsed?.Magic !== DOWNLOAD_CHECKPOINT_MAGIC || !Array.isArray(parsed.Parts) || !Array.isArray(parsed.PartStat) || typeof parsed.ObjStat !== 'object') return undefined;
  if (parsed.Parts.length !== parsed.PartStat.length) return undefined;
  return selfMd5(parsed) === parsed.MD5 ? parsed : undefined;
}

export async function saveDownloadCheckpoint(path: string, cp: DownloadCheckpoint): Promise<void> {
  await writeCheckpointFile(path, JSON.stringify(canonical(cp, selfMd5(cp))));
}
