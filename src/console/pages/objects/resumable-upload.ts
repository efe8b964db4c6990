import { crc32Base64 } from '../../api/crc32';
import { codeOf, endsSession } from '../../api/errors';
import { abortMultipartUpload, completeMultipartUpload, createMultipartUpload, listAllParts, uploadPart, type SentPart } from '../../api/multipart';
import { fingerprint, forgetUpload, partBytesFor, rememberUpload, storedUpload, uploadSettings, type UploadSettings } from './resumable-store';

export type UploadState = 'checking' | 'uploading' | 'paused' | 'failed' | 'done' | 'aborted';

/** What the page shows of one upload. */
export interface UploadView {
  id: string;
  name: string;
  key: string;
  size: number;
  state: UploadState;
  bytesDone: number;
  /** Bytes a second over this run's sent parts; undefined before the first part. */
  speed?: number;
  /** Parts found on the server when it resumed (sent before a pause, drop or reload). */
  resumedParts: number;
  error?: unknown;
}

/**
 * One file sent as a resumable multipart upload: parts of `partBytes` go `parallelParts` at a
 * time. The upload id is kept in localStorage under the file's fingerprint, so choosing the same
 * file again (after Pause, a dropped network, a reload or a closed tab) asks the server which parts
 * it holds (ListParts), keeps those whose size and CRC-32 match the file's bytes, and sends only
 * the rest. Complete or Abort forgets the entry.
 */
export class ResumableUpload {
  readonly id: string;
  private readonly print: string;
  private readonly settings: UploadSettings;
  private controller?: AbortController;
  private view: UploadView;
  private readonly listeners = new Set<(view: UploadView) => void>();

  constructor(
    readonly bucket: string,
    readonly key: string,
    readonly file: File,
    private readonly onFinished: (upload: ResumableUpload) => void,
  ) {
    this.print = fingerprint(file, bucket, key);
    this.id = this.print;
    this.settings = uploadSettings();
    this.view = { id: this.id, name: file.name, key, size: file.size, state: 'checking', bytesDone: 0, resumedParts: 0 };
  }

  current(): UploadView {
    return this.view;
  }

  subscribe(listener: (view: UploadView) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private update(change: Partial<UploadView>): void {
    this.view = { ...this.view, ...change };
    for (const listener of this.listeners) listener(this.view);
  }

  /** Starts, or resumes through ListParts; resolves when the upload is done, paused or failed. */
  async run(): Promise<void> {
    if (this.view.state === 'uploading' || this.view.state === 'done' || this.view.state === 'aborted') return;
    const controller = new AbortController();
    this.controller = controller;
    this.update({ state: 'checking', error: undefined, speed: undefined });
    try {
      const { uploadId, partBytes, held } = await this.prepare();
      controller.signal.throwIfAborted();
      const partCount = Math.max(1, Math.ceil(this.file.size / partBytes));
      const sent = new Map<number, SentPart>(held.map((part) => [part.partNumber, part]));
      const sizeOf = (partNumber: number) => Math.min(partBytes, this.file.size - (partNumber - 1) * partBytes);
      let bytesDone = held.reduce((sum, part) => sum + sizeOf(part.partNumber), 0);
      this.update({ state: 'uploading', bytesDone, resumedParts: held.length });

      const pending: number[] = [];
      for (let partNumber = 1; partNumber <= partCount; partNumber += 1) if (!sent.has(partNumber)) pending.push(partNumber);
      const started = performance.now();
      let bytesThisRun = 0;
      const worker = async () => {
        for (let partNumber = pending.shift(); partNumber !== undefined; partNumber = pending.shift()) {
          controller.signal.throwIfAborted();
          const start = (partNumber - 1) * partBytes;
          const part = await uploadPart(this.bucket, this.key, uploadId, partNumber, this.file.slice(start, start + sizeOf(partNumber)), controller.signal);
          sent.set(partNumber, part);
          bytesDone += sizeOf(partNumber);
          bytesThisRun += sizeOf(partNumber);
          const seconds = (performance.now() - started) / 1000;
          if (!controller.signal.aborted) this.update({ bytesDone, speed: seconds > 0 ? bytesThisRun / seconds : undefined });
        }
      };
      // The first failure stops the other workers too (their parts stay for the next resume);
      // it, not the cancellations it causes, is what the user is told.
      let firstFailure: { error: unknown } | undefined;
      const workers = Array.from({ length: Math.min(this.settings.parallelParts, pending.length) }, () =>
        worker().catch((err: unknown) => {
          firstFailure ??= { error: err };
          controller.abort();
        }),
      );
      await Promise.all(workers);
      if (firstFailure) throw firstFailure.error;
      controller.signal.throwIfAborted();
      await completeMultipartUpload(this.bucket, this.key, uploadId, [...sent.values()]);
      forgetUpload(this.print);
      this.update({ state: 'done', bytesDone: this.file.size });
      this.onFinished(this);
    } catch (err) {
      if (this.controller !== controller) return;
      if (controller.signal.aborted && this.view.state === 'paused') return;
      // An ended session keeps the upload's entry: sign in again and choose the file to resume.
      this.update({ state: endsSession(err) ? 'paused' : 'failed', error: err });
    } finally {
      if (this.controller === controller) this.controller = undefined;
    }
  }

  /**
   * The upload to continue: the remembered one with the parts the server holds that match the
   * file's bytes (size and CRC-32 against ListParts' answer), or a new one.
   */
  private async prepare(): Promise<{ uploadId: string; partBytes: number; held: SentPart[] }> {
    const stored = storedUpload(this.print);
    if (stored) {
      try {
        const listed = await listAllParts(this.bucket, this.key, stored.uploadId);
        const held: SentPart[] = [];
        for (const part of listed) {
          const start = (part.partNumber - 1) * stored.partBytes;
          const expected = Math.min(stored.partBytes, this.file.size - start);
          if (expected <= 0 || part.size !== expected || !part.checksumCRC32) continue;
          // A part that does not match is sent again (the new one replaces it on the server).
          if ((await crc32Base64(this.file.slice(start, start + expected))) !== part.checksumCRC32) continue;
          held.push({ partNumber: part.partNumber, etag: part.etag, checksumCRC32: part.checksumCRC32 });
        }
        return { uploadId: stored.uploadId, partBytes: stored.partBytes, held };
      } catch (err) {
        // The server no longer has it (completed, aborted or cleaned up elsewhere): start over.
        if (codeOf(err) !== 'NoSuchUpload') throw err;
        forgetUpload(this.print);
      }
    }
    const partBytes = partBytesFor(this.file.size, this.settings);
    const uploadId = await createMultipartUpload(this.bucket, this.key, this.file.type);
    rememberUpload(this.print, {
      bucket: this.bucket,
      key: this.key,
      name: this.file.name,
      size: this.file.size,
      lastModified: this.file.lastModified,
      uploadId,
      partBytes,
      started: new Date().toISOString(),
    });
    return { uploadId, partBytes, held: [] };
  }

  /** Stops sending: parts in flight are cancelled, parts sent stay on the server for Resume. */
  pause(): void {
    if (this.view.state !== 'uploading' && this.view.state !== 'checking') return;
    this.update({ state: 'paused', speed: undefined });
    this.controller?.abort();
  }

  /** Abandons the upload: AbortMultipartUpload frees the parts, and the entry is forgotten. */
  async abort(): Promise<void> {
    this.controller?.abort();
    this.controller = undefined;
    const stored = storedUpload(this.print);
    if (stored) {
      try {
        await abortMultipartUpload(this.bucket, this.key, stored.uploadId);
      } catch (err) {
        if (codeOf(err) !== 'NoSuchUpload') {
          this.update({ state: 'failed', error: err });
          return;
        }
      }
      forgetUpload(this.print);
    }
    this.update({ state: 'aborted' });
    this.onFinished(this);
  }
}

/** Whether a file goes multipart (resumable) rather than one PutObject. */
export function goesMultipart(file: File): boolean {
  return file.size > uploadSettings().multipartThresholdBytes;
}
