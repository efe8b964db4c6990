/** A file to upload and its path below the folder shown: `name.txt`, or `photos/2024/a.jpg` from a folder. */
export interface ChosenFile {
  file: File;
  path: string;
}

/**
 * The files of an `<input type=file>`: from a folder input (`webkitdirectory`) each carries its
 * path from the chosen folder down (`webkitRelativePath`, the folder's own name first).
 */
export function chosenFromInput(files: Iterable<File>): ChosenFile[] {
  return [...files].map((file) => ({ file, path: file.webkitRelativePath || file.name }));
}

/** A dropped file, or a dropped folder still to be walked. */
export type Dropped = File | FileSystemDirectoryEntry;

/**
 * What a drop carries, taken while the drop event runs (its DataTransfer is emptied after):
 * files as they are, folders as entries to walk (`webkitGetAsEntry`).
 */
export function takeDropped(transfer: DataTransfer): Dropped[] {
  const dropped: Dropped[] = [];
  for (const item of [...transfer.items]) {
    if (item.kind !== 'file') continue;
    const entry = item.webkitGetAsEntry();
    if (entry?.isDirectory) {
      dropped.push(entry as FileSystemDirectoryEntry);
      continue;
    }
    const file = item.getAsFile();
    if (file) dropped.push(file);
  }
  return dropped;
}

/** Every file of what was dropped, folders walked to the bottom; a folder's files start with its name. */
export async function chosenFromDrop(dropped: Dropped[]): Promise<ChosenFile[]> {
  const chosen: ChosenFile[] = [];
  for (const item of dropped) {
    if (item instanceof File) chosen.push({ file: item, path: item.name });
    else await walkDirectory(item, `${item.name}/`, chosen);
  }
  return chosen;
}

/**
 * Every file below `directory`, depth first. `readEntries` answers a batch at a time (Chromium:
 * 100), so it is asked again until it answers none. Empty folders add nothing: S3 has no folders,
 * as a folder chosen with the input brings none either.
 */
export async function walkDirectory(directory: FileSystemDirectoryEntry, path: string, into: ChosenFile[]): Promise<void> {
  const reader = directory.createReader();
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return;
    for (const entry of batch) {
      if (entry.isDirectory) await walkDirectory(entry as FileSystemDirectoryEntry, `${path}${entry.name}/`, into);
      else if (entry.isFile) into.push({ file: await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject)), path: path + entry.name });
    }
  }
}
