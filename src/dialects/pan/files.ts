import { sendObject } from '../common/object-response.js';
import { parseRange } from '../common/range.js';
import type { RequestContext } from '../../server/dialect.js';
import { ROOT_ID, validateName, type Drive, type Entry } from './drive.js';
import { CODE, PanError, panErrors } from './envelope.js';
import { originOf, type PanCall, type PanService } from './service.js';

const MAX_IDS = 100;
const DOWNLOAD_PATH = '/-/pan/download/';

function idsOf(call: PanCall, name: string): number[] {
  const ids = call.params.ids(name);
  if (ids.length > MAX_IDS) throw panErrors.invalid(name, `at most ${MAX_IDS} ids`);
  return ids;
}

/** `api/v2/file/list`: one folder (or a search of the drive), paged by `lastFileId` (-1 = last page). */
export async function list(call: PanCall): Promise<unknown> {
  const { drive, params } = call;
  const limit = Math.min(Math.max(params.int('limit', 100), 1), 100);
  const lastFileId = params.signedInt('lastFileId', 0);
  const afterKey = lastFileId > 0 ? (await drive.requireEntry(lastFileId)).key : undefined;
  const searchData = params.string('searchData') ?? '';
  if (searchData !== '') {
    const page = await drive.search(searchData, params.int('searchMode', 0) === 1, afterKey, limit);
    const fileList = await Promise.all(page.entries.map((entry) => drive.info(entry, 'list')));
    return { lastFileId: page.last?.id ?? -1, fileList };
  }
  const parentId = params.int('parentFileId', ROOT_ID);
  const parentKey = await drive.dirKey(parentId, 'parentFileId');
  const page = await drive.list(parentKey, afterKey, limit);
  const fileList = await Promise.all(page.entries.map((entry) => drive.info(entry, 'list', parentId)));
  return { lastFileId: page.last?.id ?? -1, fileList };
}

export async function mkdir(call: PanCall): Promise<unknown> {
  const { drive, params } = call;
  const name = params.requiredString('name');
  validateName(name);
  const parentKey = await drive.dirKey(params.int('parentID', ROOT_ID), 'parentID');
  const key = await drive.mkdirs(parentKey, [name]);
  return { dirID: (await drive.object(key))!.id };
}

export async function detail(call: PanCall): Promise<unknown> {
  return call.drive.info(await call.drive.requireEntry(call.params.int('fileID')), 'detail');
}

export async function infos(call: PanCall): Promise<unknown> {
  const entries: Entry[] = [];
  for (const id of idsOf(call, 'fileIds')) {
    const entry = await call.drive.entry(id);
    if (entry) entries.push(entry);
  }
  return { fileList: await Promise.all(entries.map((entry) => call.drive.info(entry, 'list'))) };
}

export async function trash(call: PanCall): Promise<unknown> {
  const entries = await requireEntries(call.drive, idsOf(call, 'fileIDs'));
  const now = new Date();
  for (const entry of entries) await call.service.store.trash(entry.id, call.drive.bucket, now);
  return null;
}

export async function recover(call: PanCall): Promise<unknown> {
  const abnormalFileIDs: number[] = [];
  for (const id of idsOf(call, 'fileIDs')) {
    const entry = await call.drive.entry(id);
    if (!entry || !(await call.service.store.isTrashed(id))) abnormalFileIDs.push(id);
    else await call.service.store.untrash(id);
  }
  return { abnormalFileIDs };
}

/** Deletes for good what is in the trash (a folder with everything in it). */
export async function remove(call: PanCall): Promise<unknown> {
  const entries = await requireEntries(call.drive, idsOf(call, 'fileIDs'));
  const notTrashed: Entry[] = [];
  for (const entry of entries) if (!(await call.service.store.isTrashed(entry.id))) notTrashed.push(entry);
  if (notTrashed.length > 0) {
    throw panErrors.badRequest(`只能彻底删除回收站中的文件 (not in the trash: ${notTrashed.map((entry) => entry.id).join(',')})`);
  }
  for (const entry of entries) await call.drive.remove(entry);
  return null;
}

export async function move(call: PanCall): Promise<unknown> {
  const { drive, params } = call;
  const entries = await requireEntries(drive, idsOf(call, 'fileIDs'));
  const parentKey = await drive.dirKey(params.int('toParentFileID'), 'toParentFileID');
  for (const entry of entries) await drive.move(entry, parentKey, entry.name);
  return null;
}

function renameEntry(drive: Drive, entry: Entry, name: string): Promise<void> {
  const slash = entry.key.slice(0, entry.isDir ? -1 : undefined).lastIndexOf('/');
  return drive.move(entry, entry.key.slice(0, slash + 1), name);
}

/** Every id's entry, or code 5066 naming the first that does not exist. */
async function requireEntries(drive: Drive, ids: number[]): Promise<Entry[]> {
  const entries: Entry[] = [];
  for (const id of ids) entries.push(await drive.requireEntry(id));
  return entries;
}

/** `PUT api/v1/file/name`: one file. */
export async function rename(call: PanCall): Promise<unknown> {
  await renameEntry(call.drive, await call.drive.requireEntry(call.params.int('fileId')), call.params.requiredString('fileName'));
  return null;
}

/** `POST api/v1/file/rename`: `renameList` of `"fileId|newName"`. */
export async function renameMany(call: PanCall): Promise<unknown> {
  const list = call.params.strings('renameList');
  if (list.length === 0) throw panErrors.missing('renameList');
  for (const item of list) {
    const bar = item.indexOf('|');
    if (bar < 1 || !/^\d+$/.test(item.slice(0, bar))) throw panErrors.invalid('renameList', `"${item}" is not "fileId|newName"`);
    await renameEntry(call.drive, await call.drive.requireEntry(Number(item.slice(0, bar))), item.slice(bar + 1));
  }
  return null;
}

export async function downloadInfo(call: PanCall): Promise<unknown> {
  const entry = await call.drive.requireEntry(call.params.int('fileId'));
  if (entry.isDir) throw panErrors.badRequest('文件夹不能下载 (a folder cannot be downloaded)');
  const path = `${DOWNLOAD_PATH}${entry.id}/${encodeURIComponent(entry.name)}`;
  return { downloadUrl: originOf(call.ctx.req) + call.service.signer.signedPath(path, call.service.config.urlTtlMs) };
}

export async function userInfo(call: PanCall): Promise<unknown> {
  const { drive, service, app } = call;
  const user = service.users.byId(app.user) ?? { id: app.user, displayName: app.user };
  const usage = await drive.storage.bucketUsage(drive.actor, drive.bucket);
  return {
    uid: numericUid(user.id),
    nickname: user.displayName,
    headImage: '',
    passport: '',
    mail: '',
    spaceUsed: usage.bytes,
    spacePermanent: service.config.spaceBytes,
    spaceTemp: 0,
    spaceTempExpr: '',
    vip: false,
    directTraffic: 0,
    isHideUID: false,
  };
}

/** 123pan uids are numbers: a stable one from the user id. */
function numericUid(id: string): number {
  let hash = 0;
  for (const char of id) hash = (Math.imul(hash, 31) + char.codePointAt(0)!) >>> 0;
  return 1_000_000_000 + (hash % 1_000_000_000);
}

/** The signed download link: GET (and HEAD, Range) with no other credential. */
export async function download(
  service: PanService,
  ctx: RequestContext,
  drive: (bucket: string) => Promise<Drive | undefined>,
): Promise<void> {
  const match = /^\/-\/pan\/download\/(\d+)\/[^/]*$/.exec(ctx.rawPath);
  if (!match || !service.signer.verify(ctx.rawPath, ctx.query)) {
    throw new PanError(CODE.unauthorized, '下载链接无效或已过期 (the download URL is invalid or expired)', 403);
  }
  const root = { userId: 'root', root: true };
  const object = await service.storage.objectById(root, Number(match[1]));
  const owner = object && (await drive(object.bucket));
  if (!object || !owner) throw new PanError(CODE.fileNotFound, '文件不存在', 404);
  const read = await service.storage.getObject(owner.actor, object.bucket, object.key);
  const name = object.key.slice(object.key.lastIndexOf('/') + 1);
  const headers: Record<string, string> = {
    'content-type': read.info.headers.contentType ?? 'application/octet-stream',
    'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
    etag: `"${read.info.etag}"`,
    'last-modified': read.info.lastModified.toUTCString(),
    'accept-ranges': 'bytes',
  };
  const rangeHeader = ctx.req.headers.range;
  const range = parseRange(typeof rangeHeader === 'string' ? rangeHeader : undefined, read.info.size);
  await sendObject(service.storage, read, ctx.res, headers, range, ctx.req.method === 'HEAD');
}
