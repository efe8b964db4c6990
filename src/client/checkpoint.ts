/**
 * The resumable upload's checkpoint, in the format ossutil (through the OSS Go SDK) writes:
 * one JSON file per transfer, named `md5(absolute source path)-md5("oss://bucket/key").cp`,
 * holding the upload id, the file's size and modification time and every part's
 * `{Chunk: {Number, Offset, Size}, Part: {PartNumber, ETag}, IsCompleted}`, self-checked by the
 * base64 MD5 of the document written with an empty `MD5` field.
 *
 * Unlike the Go SDK, writes are atomic (a temporary file renamed over the old one), so a process
 * killed while saving leaves the previous checkpoint intact, never a torn one.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

export const CHECKPOINT_MAGIC = 'FE8BB4EA-B593-4FAC-AD7A-2459A36E2E62';

export interface CheckpointPart {
  Chunk: { Number: number; Offset: number; Size: number };
  Part: { PartNumber: number; ETag: string };
  IsCompleted: boolean;
}

export interface Checkpoint {
  Magic: string;
  MD5: string;
  FilePath: string;
  FileStat: { Size: number; LastModified: string; MD5: string };
  ObjectKey: string;
  UploadID: string;
  Parts: CheckpointPart[];
}

function md5Hex(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

/** `<dir>/md5(abs source)-md5(dest URL).cp`, dest as `oss://bucket/key` (or `s3://…`). */
export function checkpointPath(dir: string, sourceFile: string, destUrl: string): string {
  return join(dir, `${md5Hex(resolve(sourceFile))}-${md5Hex(destUrl)}.cp`);
}

/** Go's encoding/json escapes these inside strings; so do we, so both write the same bytes. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Field order matters: the self-check hashes the serialized document. */
function canonical(cp: Checkpoint, md5: string): Checkpoint {
  return {
    Magic: cp.Magic,
    MD5: md5,
    FilePath: cp.FilePath,
    FileStat: { Size: cp.FileStat.Size, LastModified: cp.FileStat.LastModified, MD5: cp.FileStat.MD5 },
    ObjectKey: cp.ObjectKey,
    UploadID: cp.UploadID,
    Parts: cp.Parts.map((p) => ({
      Chunk: { Number: p.Chunk.Number, Offset: p.Chunk.Offset, Size: p.Chunk.Size },
      Part: { PartNumber: p.Part.PartNumber, ETag: p.Part.ETag },
      IsCompleted: p.IsCompleted,
    })),
  };
}

function selfMd5(cp: Checkpoint): string {
  return createHash('md5').update(goJson(canonical(cp, '')), 'utf8').digest('base64');
}

function serializeCheckpoint(cp: Checkpoint): string {
  return goJson(canonical(cp, selfMd5(cp)));
}

/** The checkpoint at `path`, or undefined when absent, unreadable, or failing its self-check. */
export async function loadCheckpoint(path: string): Promise<Checkpoint | undefined> {
  let parsed: Checkpoint;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8')) as Checkpoint;
  } catch {
    return undefined;
  }
  if (parsed?.Magic !== CHECKPOINT_MAGIC || !Array.isArray(parsed.Parts) || typeof parsed.FileStat !== 'object') return undefined;
  return selfMd5(parsed) === parsed.MD5 ? parsed : undefined;
}

export async function saveCheckpoint(path: string, cp: Checkpoint): Promise<void> {
  await writeCheckpointFile(path, serializeCheckpoint(cp));
}

/** Either checkpoint's document, written atomically: a temporary file (`<path>.<pid>.tmp`) renamed over the old one. */
export async function writeCheckpointFile(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode: 0o644 });
  await rename(temporary, path);
}

/** The checkpoint file name a save's temporary file (`<name>.<pid>.tmp`, as writeCheckpointFile names it) is for; undefined for any other name. */
export function checkpointOfTemporary(name: string): string | undefined {
  return /^(.+)\.\d+\.tmp$/.exec(name)?.[1];
}

/**
 * Removes a checkpoint (either kind), and the temporary files of saves of it that never got renamed:
 * a run interrupted (Ctrl-C leaves at once, kill -9) while saving leaves `<path>.<its pid>.tmp`, which
 * would otherwise outlive the transfer and keep the checkpoint directory from being removed.
 */
export async function removeCheckpoint(path: string): Promise<void> {
  const dir = dirname(path);
  const name = basename(path);
  const leftovers = (await readdir(dir).catch(() => [] as string[])).filter((entry) => checkpointOfTemporary(entry) === name);
  await Promise.all([path, ...leftovers.map((entry) => join(dir, entry))].map((file) => rm(file, { force: true })));
}

/** RFC 3339 with nanoseconds (Go's time.Time JSON form), UTC. */
export function goTime(mtimeNs: bigint): string {
  const ms = mtimeNs / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString().slice(0, 19);
  const nanos = (mtimeNs % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${iso}${nanos ? `.${nanos}` : ''}Z`;
}
