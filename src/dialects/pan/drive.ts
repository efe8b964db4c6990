import type { StoredObject } from '../../core/metadata/types.js';
import { ServiceError } from '../../core/errors.js';
import type { Storage } from '../../core/storage.js';
import type { Actor } from '../../core/types.js';
import { panErrors } from './envelope.js';
import type { Metadata } from '../../core/metadata/types.js';

/** One file or folder of a drive: an engine object (a folder is a `dir/` marker object). */
export interface Entry {
  id: number;
  key: string;
  name: string;
  isDir: boolean;
  object: StoredObject;
}

export const ROOT_ID = 0;
const MAX_NAME_LENGTH = 255;
const FORBIDDEN = /["\\/:*?|><]/;
const SEARCH_SCAN_LIMIT = 10_000;

const EMPTY: AsyncIterable<Buffer> = { [Symbol.asyncIterator]: async function* () {} };

/**
 * A pan user's drive over the engine: the files are the objects of one bucket, the path is the
 * key, folders are `path/` marker objects (made on first sight for prefixes that S3 clients
 * only implied) and a file's id is its object's row id. So an object put through S3 or OSS is
 * in the drive at once, and a file uploaded here is an object those clients can read.
 */
export class Drive {
  constructor(
    readonly storage: Storage,
    readonly store: Metadata,
    readonly actor: Actor,
    readonly bucket: string,
  ) {}

  async entry(id: number): Promise<Entry | undefined> {
    const object = await this.storage.objectById(this.actor, id);
    if (!object || object.bucket !== this.bucket) return undefined;
    return toEntry(object);
  }

  async requireEntry(id: number): Promise<Entry> {
    const entry = await this.entry(id);
    if (!entry) throw panErrors.fileNotFound(id);
    return entry;
  }

  /** The key prefix of folder `id` ('' for the root). */
  async dirKey(id: number, name = 'parentFileID'): Promise<string> {
    if (id === ROOT_ID) return '';
    const entry = await this.entry(id);
    if (!entry) throw panErrors.fileNotFound(id);
    if (!entry.isDir) throw panErrors.invalid(name, `${id} is a file, not a folder`);
    return entry.key;
  }

  async object(key: string): Promise<StoredObject | undefined> {
    try {
      return await this.storage.headObject(this.actor, this.bucket, key);
    } catch (err) {
      if (err instanceof ServiceError && err.code === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  /** The marker of folder `key` (`a/b/`), made if only implied by the keys below it. */
  async ensureDir(key: string): Promise<StoredObject> {
    const existing = await this.object(key);
    if (existing) return existing;
    try {
      return await this.storage.putObject(this.actor, this.bucket, key, EMPTY, { headers: { contentType: 'application/x-directory' }, userMeta: {} }, {
        forbidOverwrite: true,
      });
    } catch (err) {
      if (err instanceof ServiceError && err.code === 'FileAlreadyExists') return (await this.object(key))!;
      throw err;
    }
  }

  /** Makes folders `names` below `parentKey` (mkdir -p); returns the last one's key. */
  async mkdirs(parentKey: string, names: string[]): Promise<string> {
    let key = parentKey;
    for (const name of names) {
      validateName(name);
      const file = await this.object(key + name);
      if (file && !(await this.store.isTrashed(file.id))) throw panErrors.sameName(name);
      key = `${key}${name}/`;
      await this.ensureDir(key);
    }
    return key;
  }

  async parentIdOf(key: string): Promise<number> {
    const parent = parentKeyOf(key);
    return parent === '' ? ROOT_ID : (await this.ensureDir(parent)).id;
  }

  private async folderExists(key: string): Promise<boolean> {
    if (await this.object(key)) return true;
    return (await this.storage.listObjects(this.actor, this.bucket, { prefix: key, maxKeys: 1 })).objects.length > 0;
  }

  /**
   * Where a new file named `name` goes under `parentKey`, by 123pan's `duplicate` rule:
   * none → the name must be free; 1 → keep both (`name(1).ext`); 2 → overwrite a file.
   * A file in the trash does not hold its name: it is replaced.
   */
  async placeFile(parentKey: string, name: string, duplicate: number): Promise<{ key: string; overwrite: boolean }> {
    const taken = async (candidate: string): Promise<'free' | 'trashed' | 'file' | 'folder'> => {
      if (await this.folderExists(`${parentKey}${candidate}/`)) return 'folder';
      const file = await this.object(parentKey + candidate);
      if (!file) return 'free';
      return (await this.store.isTrashed(file.id)) ? 'trashed' : 'file';
    };
    const state = await taken(name);
    if (state === 'free' || state === 'trashed') return { key: parentKey + name, overwrite: state === 'trashed' };
    if (duplicate === 2 && state === 'file') return { key: parentKey + name, overwrite: true };
    if (duplicate !== 1) throw panErrors.sameName(name);
    const dot = name.lastIndexOf('.');
    const [base, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    for (let n = 1; ; n++) {
      const candidate = `${base}(${n})${ext}`;
      const now = await taken(candidate);
      if (now === 'free' || now === 'trashed') return { key: parentKey + candidate, overwrite: now === 'trashed' };
    }
  }

  /** One page of a folder, folders and files in key order, after `afterKey`. */
  async list(parentKey: string, afterKey: string | undefined, limit: number): Promise<{ entries: Entry[]; last?: Entry }> {
    const page = await this.storage.listObjects(this.actor, this.bucket, { prefix: parentKey, delimiter: '/', after: afterKey, maxKeys: limit });
    const entries = page.objects.filter((object) => object.key !== parentKey).map(toEntry);
    for (const prefix of page.commonPrefixes) entries.push(toEntry(await this.ensureDir(prefix)));
    entries.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const last = page.isTruncated ? entries.find((entry) => entry.key === page.nextMarker) ?? entries[entries.length - 1] : undefined;
    return { entries, last };
  }

  /** Files and folders anywhere in the drive whose name contains (or, exactly, is) `text`. */
  async search(text: string, exact: boolean, afterKey: string | undefined, limit: number): Promise<{ entries: Entry[]; last?: Entry }> {
    const needle = text.toLowerCase();
    const entries: Entry[] = [];
    let after = afterKey;
    let scanned = 0;
    for (;;) {
      const page = await this.storage.listObjects(this.actor, this.bucket, { after, maxKeys: 1000 });
      for (const object of page.objects) {
        scanned++;
        const entry = toEntry(object);
        const name = entry.name.toLowerCase();
        if (exact ? name === needle : name.includes(needle)) entries.push(entry);
        if (entries.length >= limit || scanned >= SEARCH_SCAN_LIMIT) {
          const more = page.isTruncated || object !== page.objects[page.objects.length - 1];
          return { entries, last: more ? entry : undefined };
        }
      }
      if (!page.isTruncated || page.objects.length === 0) return { entries };
      after = page.objects[page.objects.length - 1]!.key;
    }
  }

  /** Every object of folder `entry` (its marker included), or the file alone. */
  async objectsOf(entry: Entry): Promise<StoredObject[]> {
    if (!entry.isDir) return [entry.object];
    const all: StoredObject[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.storage.listObjects(this.actor, this.bucket, { prefix: entry.key, after, maxKeys: 1000 });
      all.push(...page.objects);
      if (!page.isTruncated || page.objects.length === 0) return all;
      after = page.objects[page.objects.length - 1]!.key;
    }
  }

  /** Moves (and renames) `entry` to `parentKey` + `name`, keeping every id. */
  async move(entry: Entry, parentKey: string, name: string): Promise<void> {
    validateName(name);
    if (entry.isDir && parentKey.startsWith(entry.key)) throw panErrors.badRequest('不能将文件夹移动到自身或其子文件夹中 (cannot move a folder into itself)');
    const target = entry.isDir ? `${parentKey}${name}/` : parentKey + name;
    if (target === entry.key) return;
    const other = entry.isDir ? await this.object(parentKey + name) : await this.folderExists(`${parentKey}${name}/`);
    if (other) throw panErrors.sameName(name);
    const moves = (await this.objectsOf(entry)).map((object) => ({ from: object.key, to: target + object.key.slice(entry.key.length) }));
    try {
      await this.storage.renameObjects(this.actor, this.bucket, moves);
    } catch (err) {
      if (err instanceof ServiceError && err.code === 'FileAlreadyExists') throw panErrors.sameName(name);
      throw err;
    }
  }

  /** Deletes a file, or a folder with everything in it. */
  async remove(entry: Entry): Promise<void> {
    for (const object of await this.objectsOf(entry)) {
      await this.storage.deleteObject(this.actor, this.bucket, object.key);
      await this.store.untrash(object.id);
    }
  }

  /** 123pan's file record, in the list's (`fileId`) or the detail's (`fileID`) spelling. */
  async info(entry: Entry, style: 'list' | 'detail', parentId?: number): Promise<Record<string, unknown>> {
    const parent = parentId ?? (await this.parentIdOf(entry.key));
    const time = chinaTime(entry.object.lastModified);
    const common = {
      filename: entry.name,
      type: entry.isDir ? 1 : 0,
      size: entry.isDir ? 0 : entry.object.size,
      etag: entry.isDir ? '' : (entry.object.contentMd5 ?? entry.object.etag),
      status: 0,
    };
    const trashed = (await this.store.isTrashed(entry.id)) ? 1 : 0;
    if (style === 'detail') return { fileID: entry.id, ...common, parentFileID: parent, createAt: time, updateAt: time, trashed };
    return { fileId: entry.id, ...common, parentFileId: parent, category: entry.isDir ? 0 : categoryOf(entry.name), trashed, createAt: time, updateAt: time };
  }
}

function toEntry(object: StoredObject): Entry {
  const isDir = object.key.endsWith('/');
  return { id: object.id, key: object.key, name: nameOf(object.key), isDir, object };
}

export function nameOf(key: string): string {
  const trimmed = key.endsWith('/') ? key.slice(0, -1) : key;
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

export function parentKeyOf(key: string): string {
  const trimmed = key.endsWith('/') ? key.slice(0, -1) : key;
  return trimmed.slice(0, trimmed.lastIndexOf('/') + 1);
}

/** 123pan's file-name rules: under 256 characters, none of `"\/:*?|><`, not only spaces. */
export function validateName(name: string): void {
  if (name.length === 0 || name.trim() === '') throw panErrors.invalid('filename', '文件名不能为空或全部是空格 (empty or only spaces)');
  if (name.length > MAX_NAME_LENGTH) throw panErrors.invalid('filename', `文件名要小于256个字符 (${name.length} characters)`);
  if (FORBIDDEN.test(name)) throw panErrors.invalid('filename', '文件名不能包含 "\\/:*?|>< (forbidden character)');
}

/** 2025-03-23 15:48:37 in Beijing time, as 123pan writes times. */
function chinaTime(date: Date): string {
  return new Date(date.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
}

/** RFC 3339 in +08:00, as 123pan writes `expiredAt`. */
export function chinaRfc3339(date: Date): string {
  return new Date(date.getTime() + 8 * 3600_000).toISOString().slice(0, 19) + '+08:00';
}

const CATEGORIES: Array<[number, RegExp]> = [
  [1, /\.(mp3|flac|wav|aac|m4a|ogg|ape|wma)$/i],
  [2, /\.(mp4|mkv|avi|mov|wmv|flv|webm|ts|rmvb|m4v)$/i],
  [3, /\.(jpe?g|png|gif|bmp|webp|heic|svg|tiff?)$/i],
];

function categoryOf(name: string): number {
  return CATEGORIES.find(([, pattern]) => pattern.test(name))?.[0] ?? 0;
}
