import { consoleApi } from './console-api';

/** A 123pan drive: the bucket of a user that 123pan apps act as. */
export interface PanDrive {
  user: string;
  displayName: string;
  bucket: string;
  /** The clientIDs of the apps acting on it. */
  apps: string[];
}

/** One file or folder as 123pan's `api/v2/file/list` gives it (times in Beijing time, as 123pan writes them). */
export interface PanFile {
  fileId: number;
  filename: string;
  /** 0 file, 1 folder. */
  type: 0 | 1;
  size: number;
  /** The file's MD5 ('' for a folder). */
  etag: string;
  parentFileId: number;
  trashed: 0 | 1;
  createAt: string;
  updateAt: string;
}

export interface PanFolderPage {
  drive: { user: string; displayName: string; bucket: string };
  /** The folder listed and its folders from the root (without the root), for breadcrumbs. */
  folder: { fileId: number; path: Array<{ fileId: number; filename: string }> };
  /** Where the next page starts; -1 on the last page (123pan's convention). */
  lastFileId: number;
  fileList: PanFile[];
}

/** 123pan's largest page. */
export const PAN_PAGE_SIZE = 100;

export async function listPanDrives(): Promise<PanDrive[]> {
  return (await consoleApi<{ drives: PanDrive[] }>('GET', 'pan/drives')).drives;
}

/** One page of a folder (`parentFileId` 0 is the root) of the drive in `bucket` (the caller's own when undefined). */
export async function listPanFolder(bucket: string | undefined, parentFileId: number, lastFileId: number): Promise<PanFolderPage> {
  const query = new URLSearchParams({ parentFileId: String(parentFileId), lastFileId: String(lastFileId), limit: String(PAN_PAGE_SIZE) });
  if (bucket) query.set('bucket', bucket);
  return consoleApi<PanFolderPage>('GET', `pan/drive?${query.toString()}`);
}
