/**
 * `tessera pan upload`: what the user sees while a file goes up. The preuploadID is printed on
 * stderr as soon as create answers (for `tessera pan parts ID` from another terminal); on a
 * terminal the hashing and then the upload are drawn as cp's bar (bytes, rate, ETA), otherwise
 * hashing lines and a line per stored slice. Ctrl-C (or SIGTERM) stops at once with 130 (143)
 * and says how to resume; the end result is checked against the server (file detail: MD5, size).
 */
import { basename } from 'node:path';
import { PanApiError, type PanClient, type PanUploadCreated, type PanUploadProgress, type PanUploadResult } from '../client/pan.js';
import { LabelledBar, tickMs } from './progress.js';

export interface UploadFlags {
  parent: number;
  name?: string;
  v1?: boolean;
  v2?: boolean;
  duplicate?: 1 | 2;
  parallel: number;
  json?: boolean;
}

/** Progress on stderr: bars on a terminal, lines otherwise. */
class UploadReporter {
  private bar: LabelledBar | undefined;
  private phase: PanUploadProgress['phase'] | 'created' | undefined;
  private lastLine = 0;
  private last: PanUploadProgress | undefined;
  private hashStarted = 0;
  created: PanUploadCreated | undefined;

  constructor(
    private readonly file: string,
    private readonly tty: boolean,
  ) {}

  private line(text: string): void {
    process.stderr.write(`${text}\n`);
  }

  update(progress: PanUploadProgress): void {
    this.last = progress;
    if (progress.phase === 'hash') {
      if (this.phase !== 'hash') {
        this.phase = 'hash';
        this.hashStarted = Date.now();
        this.lastLine = Date.now();
        if (this.tty) this.bar = new LabelledBar('hashing  ', progress.total);
        else this.line(`hashing ${this.file}: MD5 of ${progress.total} bytes (for instant upload)`);
      }
      if (this.bar) this.bar.update(progress.bytes);
      else if (Date.now() - this.lastLine >= tickMs()) {
        this.lastLine = Date.now();
        this.line(`hashing ${this.file}: ${progress.bytes} / ${progress.total} bytes (${percent(progress.bytes, progress.total)})`);
      }
      return;
    }
    if (progress.phase === 'check') {
      if (this.phase !== 'check') {
        this.phase = 'check';
        this.line(`checking the ${progress.slices} slices the server holds against ${this.file} (MD5 of each)`);
        if (this.tty) this.bar = new LabelledBar('checking ', progress.total);
      }
      this.bar?.update(progress.bytes);
      return;
    }
    if (progress.phase === 'upload') {
      if (this.phase !== 'upload') {
        this.endBar();
        this.phase = 'upload';
        if (progress.slicesDone > 0) this.line(`resuming: ${progress.slicesDone} of ${progress.slices} slices are on the server already`);
        if (this.tty) this.bar = new LabelledBar('uploading', progress.total, process.stderr, progress.bytes);
      }
      this.bar?.update(progress.bytes);
      return;
    }
    if (this.phase !== 'complete') {
      this.phase = 'complete';
      this.endBar();
      this.line('all slices sent; completing (the server checks the whole MD5)');
    }
  }

  /** create answered: the hashing is over, the preuploadID is known. */
  onCreated(created: PanUploadCreated): void {
    this.created = created;
    this.endBar();
    if (this.phase === 'hash' && !this.tty) this.line(`hashed ${this.file}: MD5 ${created.etag} (${created.size} bytes in ${((Date.now() - this.hashStarted) / 1000).toFixed(1)} s)`);
    else if (this.phase === undefined) this.line(`${this.file}: MD5 ${created.etag} (${created.size} bytes)`);
    this.phase = 'created';
    if (created.preuploadID) {
      this.line(`preuploadID ${created.preuploadID} (${created.slices} slices of ${created.sliceSize} bytes; "tessera pan parts ${created.preuploadID}" lists those stored)`);
    }
  }

  slice(sliceNo: number): void {
    if (!this.tty) this.line(`slice ${sliceNo} stored (${this.last ? `${this.last.slicesDone + 1}/${this.last.slices}` : ''})`);
  }

  endBar(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

function percent(part: number, whole: number): string {
  return `${whole ? ((part * 100) / whole).toFixed(1) : '100.0'}%`;
}

/**
 * Runs the upload. Resolves when the file is on the server with this file's MD5 and size;
 * rejects otherwise (the caller prints the error and exits 1). Exits 130/143 itself on a signal.
 */
export async function panUpload(api: PanClient, file: string, flags: UploadFlags): Promise<void> {
  const reporter = new UploadReporter(file, process.stderr.isTTY === true);
  const controller = new AbortController();
  const interrupted = (signal: NodeJS.Signals) => {
    controller.abort();
    reporter.endBar();
    const created = reporter.created;
    const again = 'run the same command again (same file, folder and name) to resume';
    if (created?.preuploadID) {
      process.stderr.write(
        `\ninterrupted: the slices stored so far stay on the server under preuploadID ${created.preuploadID}; ${again} ("tessera pan parts ${created.preuploadID}" lists them)\n`,
      );
    } else {
      process.stderr.write(`\ninterrupted before any slice was sent; ${again}\n`);
    }
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  let result: PanUploadResult;
  let hashed: { etag: string; size: number } | undefined;
  try {
    result = await api.uploadFile(file, {
      parentFileID: flags.parent,
      filename: flags.name,
      version: flags.v1 ? 1 : 2,
      duplicate: flags.duplicate,
      parallel: flags.parallel,
      signal: controller.signal,
      onProgress: (p) => reporter.update(p),
      onSlice: (sliceNo) => reporter.slice(sliceNo),
      onHashed: (etag, size) => (hashed = { etag, size }),
      onCreated: (created) => reporter.onCreated(created),
    });
  } catch (err) {
    reporter.endBar();
    // create refuses a name that is taken (without --duplicate): fine when that file is this one.
    const there = err instanceof PanApiError && err.code === 400 && err.endpoint.endsWith('/file/create') && hashed && !flags.duplicate
      ? await sameFileThere(api, flags.parent, flags.name ?? basename(file), hashed).catch(() => undefined)
      : undefined;
    if (there === undefined) {
      const id = reporter.created?.preuploadID;
      if (id) process.stderr.write(`preuploadID ${id}: run the same command again (same file, folder and name) to resume from the slices the server still holds\n`);
      throw err;
    }
    if (flags.json) process.stdout.write(JSON.stringify({ fileID: there, alreadyThere: true, etag: hashed!.etag, size: hashed!.size }) + '\n');
    else process.stdout.write(`${file} is already on the server as fileID ${there} (same name, MD5 ${hashed!.etag} and size), nothing sent\n`);
    return;
  } finally {
    reporter.endBar();
    process.removeListener('SIGINT', interrupted);
    process.removeListener('SIGTERM', interrupted);
  }

  // Exit 0 only for a file that is there with this file's content.
  const detail = await api.detail(result.fileID);
  if (detail.etag.toLowerCase() !== result.etag || detail.size !== result.size) {
    throw new Error(`the server's fileID ${result.fileID} has MD5 ${detail.etag} and ${detail.size} bytes, not this file's MD5 ${result.etag} and ${result.size} bytes`);
  }
  if (flags.json) {
    process.stdout.write(JSON.stringify(result) + '\n');
    return;
  }
  let how: string;
  if (result.reuse) {
    how = `${file} is already on the server (instant upload), nothing sent: fileID ${result.fileID}`;
  } else if (result.completedElsewhere) {
    how = `${file} was completed meanwhile by another upload of the same file (preuploadID ${result.preuploadID}): fileID ${result.fileID}; this run stored ${result.uploadedSlices} of ${result.slices} slices`;
  } else {
    const skipped = result.skippedSlices ? `, ${result.skippedSlices} already there` : '';
    how = `uploaded ${file} as fileID ${result.fileID}: ${result.uploadedSlices} of ${result.slices} slices sent${skipped}`;
  }
  process.stdout.write(`${how} (MD5 ${result.etag}, checked)\n`);
}

/** The fileID of a file named `name` in folder `parent` with this MD5 and size (not trashed), if there is one. */
async function sameFileThere(api: PanClient, parent: number, name: string, hashed: { etag: string; size: number }): Promise<number | undefined> {
  for await (const entry of api.listAll({ parentFileId: parent })) {
    if (entry.type === 0 && !entry.trashed && entry.filename === name && entry.etag.toLowerCase() === hashed.etag && entry.size === hashed.size) return entry.fileId;
  }
  return undefined;
}
