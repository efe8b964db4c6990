/**
 * What the console remembers about unfinished multipart uploads, in localStorage so that it
 * outlives a reload or a closed tab: per file fingerprint (name, size, last modified, bucket,
 * key) the upload id and the part size. Never a credential: resuming needs a signed-in session.
 */
const STORAGE_KEY = 'tessera.console.resumable-uploads';

export interface StoredUpload {
  bucket: string;
  key: string;
  name: string;
  size: number;
  lastModified: number;
  uploadId: string;
  partBytes: number;
  /** ISO time the upload was started. */
  started: string;
}

export function fingerprint(file: { name: string; size: number; lastModified: number }, bucket: string, key: string): string {
  return JSON.stringify([file.name, file.size, file.lastModified, bucket, key]);
}

function readAll(): Record<string, StoredUpload> {
  try {
    const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') as unknown;
    return stored && typeof stored === 'object' && !Array.isArray(stored) ? (stored as Record<string, StoredUpload>) : {};
  } catch {
    return {};
  }
}

function writeAll(entries: Record<string, StoredUpload>): void {
  if (Object.keys(entries).length === 0) localStorage.removeItem(STORAGE_KEY);
  else localStorage.setItem(STORAGE_KEY, JSON.stringify(entries));
}

export function storedUpload(print: string): StoredUpload | undefined {
  const entry = readAll()[print];
  return entry && typeof entry.uploadId === 'string' && entry.partBytes > 0 ? entry : undefined;
}

export function rememberUpload(print: string, entry: StoredUpload): void {
  writeAll({ ...readAll(), [print]: entry });
}

export function forgetUpload(print: string): void {
  const entries = readAll();
  delete entries[print];
  writeAll(entries);
}

/** Unfinished uploads into a bucket, with their fingerprints. */
export function storedUploadsIn(bucket: string): Array<[string, StoredUpload]> {
  return Object.entries(readAll()).filter(([, entry]) => entry.bucket === bucket);
}

/**
 * When a file goes multipart, and its parts' size and parallelism. Tests may override them in
 * localStorage (`tessera.console.upload-settings`, JSON); the defaults suit a browser.
 */
export interface UploadSettings {
  multipartThresholdBytes: number;
  partBytes: number;
  parallelParts: number;
}

const SETTINGS_KEY = 'tessera.console.upload-settings';
const MIB = 1024 * 1024;
const DEFAULTS: UploadSettings = { multipartThresholdBytes: 8 * MIB, partBytes: 5 * MIB, parallelParts: 4 };
/** S3's bounds: parts of at least 5 MiB (but the last), at most 10,000 of them. */
const MIN_PART_BYTES = 5 * MIB;
const MAX_PARTS = 10_000;

export function uploadSettings(): UploadSettings {
  let stored: Partial<UploadSettings> = {};
  try {
    stored = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? '{}') as Partial<UploadSettings>;
  } catch {
    // Defaults.
  }
  const pick = (value: unknown, fallback: number) => (typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : fallback);
  return {
    multipartThresholdBytes: pick(stored.multipartThresholdBytes, DEFAULTS.multipartThresholdBytes),
    partBytes: Math.max(MIN_PART_BYTES, pick(stored.partBytes, DEFAULTS.partBytes)),
    parallelParts: Math.min(16, pick(stored.parallelParts, DEFAULTS.parallelParts)),
  };
}

/** The part size for a file: the setting, grown when the file would need more than 10,000 parts. */
export function partBytesFor(size: number, settings: UploadSettings): number {
  return Math.max(settings.partBytes, Math.ceil(size / MAX_PARTS));
}
