import { ServiceError, errors } from '../../core/errors.js';
import type { Actor } from '../../core/types.js';
import { actorOf, type UserDirectory } from '../../core/users.js';
import { defaultBucketFor, type PanApp } from '../../dialects/pan/config.js';
import { Drive, ROOT_ID, type Entry } from '../../dialects/pan/drive.js';
import type { PanService } from '../../dialects/pan/service.js';
import type { ApiCall } from './api.js';

/** What the console needs of the 123pan dialect: its apps (who has a drive) and its service (the drives). */
export interface PanDrives {
  apps: readonly PanApp[];
  service: () => Promise<PanService>;
}

/** One 123pan drive: the bucket of the user a 123pan app acts as (one drive for every app with the same user and bucket). */
export interface DriveSummary {
  user: string;
  displayName: string;
  bucket: string;
  /** The clientIDs of the apps acting on it (never their secrets). */
  apps: string[];
}

const MAX_PAGE = 100;

/** Every drive the config makes, in config order, one per user and bucket. */
export function allDrives(pan: PanDrives, users: UserDirectory): DriveSummary[] {
  const drives = new Map<string, DriveSummary>();
  for (const app of pan.apps) {
    const user = users.byId(app.user);
    if (!user) continue;
    // PanService.bucketOf's rule, without opening the service.
    const bucket = app.bucket ?? defaultBucketFor(app.user);
    const drive = drives.get(bucket) ?? { user: user.id, displayName: user.displayName, bucket, apps: [] };
    drive.apps.push(app.clientID);
    drives.set(bucket, drive);
  }
  return [...drives.values()];
}

/** The drives the caller may open: their own, every one for root. */
export function visibleDrives(call: ApiCall): DriveSummary[] {
  return allDrives(call.deps.pan, call.deps.users).filter((drive) => call.user.root || drive.user === call.user.id);
}

/** `GET pan/drives`: the caller's drives (root: all). */
export async function listDrives(call: ApiCall): Promise<unknown> {
  return { drives: visibleDrives(call) };
}

/**
 * `GET pan/drive?bucket=&parentFileId=&lastFileId=&limit=`: one folder of a drive, a page at a
 * time, as 123pan's `api/v2/file/list` answers it (the same records, the same file ids), plus
 * the folder's path from the root for breadcrumbs. Without `bucket`, the caller's own drive.
 */
export async function listDriveFolder(call: ApiCall): Promise<unknown> {
  const query = call.ctx.query;
  const drive = chooseDrive(call, query.get('bucket'));
  const parentFileId = wholeNumber(query.get('parentFileId'), 'parentFileId', ROOT_ID);
  const lastFileId = wholeNumber(query.get('lastFileId'), 'lastFileId', 0);
  const limit = wholeNumber(query.get('limit'), 'limit', MAX_PAGE);
  if (limit < 1 || limit > MAX_PAGE) throw errors.invalidArgument(`limit must be from 1 to ${MAX_PAGE}.`, 'limit', String(limit));

  const service = await call.deps.pan.service();
  // The drive acts as its owner, as the 123pan app does (root reads another user's drive as it is).
  const owner = call.deps.users.byId(drive.user)!;
  const actor: Actor = actorOf(owner);
  const pan = new Drive(service.storage, service.store, actor, drive.bucket);
  const summary = { user: drive.user, displayName: drive.displayName, bucket: drive.bucket };
  if (!(await bucketExists(call, drive.bucket))) {
    // No 123pan app has used the drive yet: its bucket is made on first use.
    if (parentFileId !== ROOT_ID) throw noSuchFile(parentFileId);
    return { drive: summary, folder: { fileId: ROOT_ID, path: [] }, lastFileId: -1, fileList: [] };
  }
  const folder = parentFileId === ROOT_ID ? undefined : await requireEntry(pan, parentFileId);
  if (folder && !folder.isDir) throw errors.invalidArgument(`${parentFileId} is a file, not a folder.`, 'parentFileId', String(parentFileId));
  const afterKey = lastFileId > 0 ? (await requireEntry(pan, lastFileId)).key : undefined;
  const parentKey = folder?.key ?? '';
  const page = await pan.list(parentKey, afterKey, limit);
  const fileList = await Promise.all(page.entries.map((entry) => pan.info(entry, 'list', parentFileId)));
  return { drive: summary, folder: { fileId: parentFileId, path: await pathOf(pan, parentKey) }, lastFileId: page.last?.id ?? -1, fileList };
}

function chooseDrive(call: ApiCall, bucket: string | null): DriveSummary {
  if (bucket === null || bucket === '') {
    const own = allDrives(call.deps.pan, call.deps.users).find((drive) => drive.user === call.user.id);
    if (!own) throw new ServiceError('NoSuchDrive', 'You have no 123pan drive: no 123pan app acts as you.', 404);
    return own;
  }
  const drive = allDrives(call.deps.pan, call.deps.users).find((candidate) => candidate.bucket === bucket);
  if (!drive) throw new ServiceError('NoSuchDrive', `No 123pan drive is kept in the bucket ${bucket}.`, 404);
  if (!call.user.root && drive.user !== call.user.id) throw errors.accessDenied();
  return drive;
}

async function bucketExists(call: ApiCall, bucket: string): Promise<boolean> {
  try {
    await call.deps.storage.headBucket({ userId: 'root', root: true }, bucket);
    return true;
  } catch (err) {
    if (err instanceof ServiceError && err.code === 'NoSuchBucket') return false;
    throw err;
  }
}

async function requireEntry(drive: Drive, id: number): Promise<Entry> {
  const entry = await drive.entry(id);
  if (!entry) throw noSuchFile(id);
  return entry;
}

function noSuchFile(id: number): ServiceError {
  return new ServiceError('NoSuchFile', `No file or folder of this drive has the id ${id}.`, 404);
}

/** The folders from the root down to `key` (`a/b/`), with their ids: the breadcrumbs. */
async function pathOf(drive: Drive, key: string): Promise<Array<{ fileId: number; filename: string }>> {
  const names = key.split('/').slice(0, -1);
  const path = [];
  for (let index = 0; index < names.length; index++) {
    const folderKey = names.slice(0, index + 1).join('/') + '/';
    path.push({ fileId: (await drive.ensureDir(folderKey)).id, filename: names[index]! });
  }
  return path;
}

function wholeNumber(value: string | null, name: string, fallback: number): number {
  if (value === null || value === '') return fallback;
  if (!/^\d{1,15}$/.test(value)) throw errors.invalidArgument(`${name} must be a whole number.`, name, value);
  return Number(value);
}
