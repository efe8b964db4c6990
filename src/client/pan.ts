/**
 * A typed client for the 123pan open-platform API (Tessera's pan dialect, or open-api.123pan.com):
 * tokens, the V1 and V2 upload flows (instant upload by MD5 first, parallel slices streamed
 * from disk, resume by list_upload_parts, completion polled), and the drive's file endpoints.
 * Envelope errors become `PanApiError`; code 429 is retried after 0.5 s, code 401 once after a
 * fresh login when the client has the app's credentials.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, stat, unlink } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AbortError } from './errors.js';
import { eachPartInParallel } from './part-pool.js';
import { HttpTransport, throwIfAborted, type Idempotency, type RequestBody, type StreamBody, type TransportOptions } from './http.js';

export const PAN_PLATFORM = 'open_platform';

export class PanApiError extends Error {
  override readonly name = 'PanApiError';
  constructor(
    /** The envelope's code (401, 429, 5066, 20103, …), or the HTTP status for a transport-level answer. */
    readonly code: number,
    message: string,
    readonly endpoint: string,
    readonly traceId = '',
  ) {
    super(`${endpoint}: ${message} (code ${code})`);
  }
}

export interface PanClientOptions extends TransportOptions {
  /** `http://127.0.0.1:9000` (Tessera) or `https://open-api.123pan.com`. */
  baseUrl: string;
  clientID?: string;
  clientSecret?: string;
  accessToken?: string;
  /** Called whenever the client logs in by itself (to store the new token). */
  onToken?: (token: AccessToken) => void;
  transport?: HttpTransport;
  /** Between completion polls (the docs ask for at least 1 s). */
  pollIntervalMs?: number;
  /** How many completion polls before giving up. */
  maxPolls?: number;
}

export interface AccessToken {
  accessToken: string;
  /** RFC 3339, e.g. `2025-03-23T15:48:37+08:00`. */
  expiredAt: string;
}

export interface CreateArgs {
  parentFileID: number;
  filename: string;
  /** Lower-case hex MD5 of the whole file. */
  etag: string;
  size: number;
  /** 1 keep both, 2 overwrite. */
  duplicate?: 1 | 2;
  containDir?: boolean;
}

export interface CreateResult {
  fileID: number;
  preuploadID?: string;
  reuse: boolean;
  sliceSize: number;
  /** V2 only: the upload hosts. */
  servers?: string[];
}

export interface UploadedPart {
  /** A string, as in 123pan's documented example. */
  partNumber: string;
  size: number;
  etag: string;
}

export interface PanFile {
  fileId: number;
  filename: string;
  /** 0 file, 1 folder. */
  type: number;
  size: number;
  etag: string;
  status: number;
  parentFileId: number;
  category: number;
  trashed: number;
  createAt: string;
  updateAt: string;
}

export interface PanFileDetail {
  fileID: number;
  filename: string;
  type: number;
  size: number;
  etag: string;
  status: number;
  parentFileID: number;
  createAt: string;
  trashed: number;
}

export interface ListArgs {
  parentFileId?: number;
  limit?: number;
  lastFileId?: number;
  searchData?: string;
  searchMode?: 0 | 1;
}

export interface PanUserInfo {
  uid: number;
  nickname: string;
  spaceUsed: number;
  spacePermanent: number;
  [field: string]: unknown;
}

export interface PanUploadProgress {
  /** Bytes hashed (phase `hash`), of stored slices checked (phase `check`), or sent and skipped (phase `upload`). */
  bytes: number;
  /** The file's size; for phase `check`, the size of the slices the server lists (a resume). */
  total: number;
  phase: 'hash' | 'check' | 'upload' | 'complete';
  slicesDone: number;
  slices: number;
}

export interface PanUploadOptions {
  parentFileID?: number;
  /** Name in the drive; default the file's base name. */
  filename?: string;
  version?: 1 | 2;
  duplicate?: 1 | 2;
  containDir?: boolean;
  /** Slices in flight at once (default 4). */
  parallel?: number;
  signal?: AbortSignal;
  onProgress?: (progress: PanUploadProgress) => void;
  /** Called once per slice stored (not for slices skipped on resume). */
  onSlice?: (sliceNo: number) => void;
  /** Called when the whole file's MD5 is known, before create. */
  onHashed?: (etag: string, size: number) => void;
  /** Called as soon as create answers, before any slice is sent (the preuploadID, for `parts` or a resume). */
  onCreated?: (created: PanUploadCreated) => void;
}

export interface PanUploadCreated {
  /** Absent for an instant upload. */
  preuploadID?: string;
  reuse: boolean;
  fileID: number;
  etag: string;
  size: number;
  sliceSize: number;
  slices: number;
}

export interface PanUploadResult {
  fileID: number;
  /** Instant upload: the server had the content already. */
  reuse: boolean;
  preuploadID?: string;
  etag: string;
  size: number;
  sliceSize?: number;
  slices: number;
  /** Slices found on the server already (resume) and not sent again. */
  skippedSlices: number;
  uploadedSlices: number;
  /** Completion answered at once (true) or after polling (false). */
  completedAtOnce: boolean;
  /**
   * The session was completed by another upload of the same file (same app, folder, name and
   * MD5: the same preuploadID) while this one was sending: the server refused a slice, and then
   * answered that the upload is done. `uploadedSlices` counts what this run stored.
   */
  completedElsewhere?: boolean;
}

interface Envelope<T> {
  code: number;
  message: string;
  data: T;
  'x-traceID'?: string;
}

interface CallSpec {
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  body?: RequestBody;
  headers?: Record<string, string>;
  idempotency?: Idempotency;
  /** Absolute URL base (upload servers); default the client's base URL. */
  base?: string;
  auth?: boolean;
  signal?: AbortSignal;
}

const RATE_LIMIT_RETRIES = 40;
const RATE_LIMIT_DELAY_MS = 500;

export class PanClient {
  readonly baseUrl: string;
  private token?: string;
  private readonly transport: HttpTransport;
  private readonly ownsTransport: boolean;

  constructor(private readonly options: PanClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.token = options.accessToken;
    this.transport = options.transport ?? new HttpTransport(options);
    this.ownsTransport = options.transport === undefined;
  }

  get accessToken(): string | undefined {
    return this.token;
  }

  close(): void {
    if (this.ownsTransport) this.transport.destroy();
  }

  // Envelope calls

  /** One API call: the envelope's `data`, or a PanApiError. */
  async call<T>(method: string, path: string, spec: CallSpec = {}): Promise<T> {
    let relogged = false;
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(method, path, spec);
      } catch (err) {
        if (!(err instanceof PanApiError)) throw err;
        if (err.code === 429 && attempt < RATE_LIMIT_RETRIES) {
          await sleep(RATE_LIMIT_DELAY_MS, spec.signal);
          continue;
        }
        if (err.code === 401 && spec.auth !== false && !relogged && this.options.clientID && this.options.clientSecret) {
          relogged = true;
          await this.login();
          continue;
        }
        throw err;
      }
    }
  }

  private async once<T>(method: string, path: string, spec: CallSpec): Promise<T> {
    const url = new URL((spec.base ?? this.baseUrl).replace(/\/+$/, '') + path);
    for (const [name, value] of Object.entries(spec.query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
    const body = spec.json === undefined ? spec.body : JSON.stringify(spec.json);
    const response = await this.transport.send({
      method,
      prepare: () => {
        const headers: Record<string, string> = { platform: PAN_PLATFORM, ...spec.headers };
        if (spec.json !== undefined) headers['content-type'] = 'application/json';
        if (spec.auth !== false && this.token) headers.authorization = `Bearer ${this.token}`;
        return { url, headers };
      },
      body,
      idempotency: spec.idempotency ?? (method === 'GET' ? 'idempotent' : 'unsafe'),
      signal: spec.signal,
    });
    let envelope: Envelope<T>;
    try {
      envelope = JSON.parse(response.text) as Envelope<T>;
    } catch {
      throw new PanApiError(response.status, `not a 123pan answer: ${response.text.slice(0, 200)}`, path);
    }
    if (envelope.code !== 0) throw new PanApiError(envelope.code, envelope.message, path, envelope['x-traceID']);
    return envelope.data;
  }

  /** `POST api/v1/access_token` with the app's clientID and clientSecret; the token is kept for later calls. */
  async login(): Promise<AccessToken> {
    const { clientID, clientSecret } = this.options;
    if (!clientID || !clientSecret) throw new Error('login needs clientID and clientSecret');
    const token = await this.once<AccessToken>('POST', '/api/v1/access_token', { json: { clientID, clientSecret }, auth: false });
    this.token = token.accessToken;
    this.options.onToken?.(token);
    return token;
  }

  // Upload endpoints

  create(args: CreateArgs, version: 1 | 2 = 2, signal?: AbortSignal): Promise<CreateResult> {
    return this.call('POST', `/upload/v${version}/file/create`, { json: args, signal });
  }

  async getUploadUrl(preuploadID: string, sliceNo: number, signal?: AbortSignal): Promise<string> {
    const data = await this.call<{ presignedURL: string }>('POST', '/upload/v1/file/get_upload_url', {
      json: { preuploadID, sliceNo },
      idempotency: 'idempotent',
      signal,
    });
    return data.presignedURL;
  }

  /** PUT of one slice to its presigned URL: no Authorization, no Platform; HTTP 200 means stored. */
  async putSlice(presignedURL: string, body: RequestBody, signal?: AbortSignal): Promise<void> {
    const response = await this.transport.send({
      method: 'PUT',
      prepare: () => ({ url: new URL(presignedURL), headers: { 'content-type': 'application/octet-stream' } }),
      body,
      idempotency: 'idempotent',
      signal,
    });
    if (response.status !== 200) throw new PanApiError(response.status, response.text.slice(0, 200), 'PUT slice');
  }

  async listUploadParts(preuploadID: string, signal?: AbortSignal): Promise<UploadedPart[]> {
    const data = await this.call<{ parts: UploadedPart[] }>('POST', '/upload/v1/file/list_upload_parts', {
      json: { preuploadID },
      idempotency: 'idempotent',
      signal,
    });
    return data.parts ?? [];
  }

  uploadCompleteV1(preuploadID: string, signal?: AbortSignal): Promise<{ async: boolean; completed: boolean; fileID: number }> {
    return this.call('POST', '/upload/v1/file/upload_complete', { json: { preuploadID }, idempotency: 'idempotent', signal });
  }

  uploadAsyncResult(preuploadID: string, signal?: AbortSignal): Promise<{ completed: boolean; fileID: number }> {
    return this.call('POST', '/upload/v1/file/upload_async_result', { json: { preuploadID }, idempotency: 'idempotent', signal });
  }

  /** V2 slice: multipart/form-data with preuploadID, sliceNo, sliceMD5 and the slice, to an upload server. */
  async uploadSliceV2(server: string, args: { preuploadID: string; sliceNo: number; sliceMD5: string }, slice: StreamBody, signal?: AbortSignal): Promise<void> {
    const form = multipartBody({ preuploadID: args.preuploadID, sliceNo: String(args.sliceNo), sliceMD5: args.sliceMD5 }, 'slice', `slice${args.sliceNo}`, slice);
    await this.call('POST', '/upload/v2/file/slice', { base: server, body: form.body, headers: form.headers, idempotency: 'idempotent', signal });
  }

  /** V2 completion; code 20103 (still verifying) comes back as a PanApiError. */
  uploadCompleteV2(preuploadID: string, signal?: AbortSignal): Promise<{ completed: boolean; fileID: number }> {
    return this.call('POST', '/upload/v2/file/upload_complete', { json: { preuploadID }, idempotency: 'idempotent', signal });
  }

  domain(): Promise<string[]> {
    return this.call('GET', '/upload/v2/file/domain');
  }

  /** One-step upload of a whole file (at most 1 GB) to the upload domain. */
  async singleCreate(args: CreateArgs, file: StreamBody, server?: string, signal?: AbortSignal): Promise<{ fileID: number; completed: boolean }> {
    const base = server ?? (await this.domain())[0] ?? this.baseUrl;
    const fields: Record<string, string> = {
      parentFileID: String(args.parentFileID),
      filename: args.filename,
      etag: args.etag,
      size: String(args.size),
    };
    if (args.duplicate !== undefined) fields.duplicate = String(args.duplicate);
    if (args.containDir !== undefined) fields.containDir = String(args.containDir);
    const form = multipartBody(fields, 'file', args.filename, file);
    return this.call('POST', '/upload/v2/file/single/create', { base, body: form.body, headers: form.headers, signal });
  }

  sha1Reuse(args: { parentFileID: number; filename: string; sha1: string; size: number; duplicate?: 1 | 2 }): Promise<{ fileID: number; reuse: boolean }> {
    return this.call('POST', '/upload/v2/file/sha1_reuse', { json: args });
  }

  // File endpoints

  async mkdir(name: string, parentID = 0): Promise<number> {
    return (await this.call<{ dirID: number }>('POST', '/upload/v1/file/mkdir', { json: { name, parentID } })).dirID;
  }

  list(args: ListArgs = {}): Promise<{ lastFileId: number; fileList: PanFile[] }> {
    return this.call('GET', '/api/v2/file/list', { query: { parentFileId: 0, limit: 100, ...args } as Record<string, number | string | undefined> });
  }

  /** Every entry of a folder (or search), page after page. */
  async *listAll(args: ListArgs = {}): AsyncGenerator<PanFile> {
    let lastFileId = args.lastFileId ?? 0;
    for (;;) {
      const page = await this.list({ ...args, lastFileId });
      yield* page.fileList;
      if (page.lastFileId === -1 || page.fileList.length === 0) return;
      lastFileId = page.lastFileId;
    }
  }

  detail(fileID: number): Promise<PanFileDetail> {
    return this.call('GET', '/api/v1/file/detail', { query: { fileID } });
  }

  async infos(fileIds: number[]): Promise<PanFile[]> {
    return (await this.call<{ fileList: PanFile[] }>('POST', '/api/v1/file/infos', { json: { fileIds } })).fileList;
  }

  async trash(fileIDs: number[]): Promise<void> {
    await this.call('POST', '/api/v1/file/trash', { json: { fileIDs } });
  }

  async recover(fileIDs: number[]): Promise<number[]> {
    return (await this.call<{ abnormalFileIDs: number[] }>('POST', '/api/v1/file/recover', { json: { fileIDs } })).abnormalFileIDs;
  }

  /** Deletes for good; the files must be in the trash. */
  async delete(fileIDs: number[]): Promise<void> {
    await this.call('POST', '/api/v1/file/delete', { json: { fileIDs } });
  }

  async move(fileIDs: number[], toParentFileID: number): Promise<void> {
    await this.call('POST', '/api/v1/file/move', { json: { fileIDs, toParentFileID } });
  }

  async rename(fileId: number, fileName: string): Promise<void> {
    await this.call('PUT', '/api/v1/file/name', { json: { fileId, fileName } });
  }

  async downloadInfo(fileId: number): Promise<string> {
    return (await this.call<{ downloadUrl: string }>('GET', '/api/v1/file/download_info', { query: { fileId } })).downloadUrl;
  }

  userInfo(): Promise<PanUserInfo> {
    return this.call('GET', '/api/v1/user/info');
  }

  // High level

  /**
   * Uploads a file: its MD5 first (instant upload when the server has the content), then the
   * slices the server does not have yet (resume: list_upload_parts after create, which answers
   * the same preuploadID for the same file), `parallel` at a time, streamed from disk; then
   * completion, polled when the server verifies in the background.
   */
  async uploadFile(path: string, options: PanUploadOptions = {}): Promise<PanUploadResult> {
    const { signal } = options;
    const version = options.version ?? 2;
    const size = (await stat(path)).size;
    const report = (progress: Omit<PanUploadProgress, 'total'>, total = size) => options.onProgress?.({ ...progress, total });
    const whole = await hashRange(path, 0, size, ['md5'], signal, (bytes) => report({ bytes, phase: 'hash', slicesDone: 0, slices: 0 }));
    const etag = whole.md5!;
    options.onHashed?.(etag, size);
    const args: CreateArgs = {
      parentFileID: options.parentFileID ?? 0,
      filename: options.filename ?? basename(path),
      etag,
      size,
      duplicate: options.duplicate,
      containDir: options.containDir,
    };
    const created = await this.create(args, version, signal);
    options.onCreated?.({
      preuploadID: created.reuse ? undefined : created.preuploadID,
      reuse: created.reuse,
      fileID: created.fileID,
      etag,
      size,
      sliceSize: created.sliceSize,
      slices: created.reuse ? 0 : Math.max(1, Math.ceil(size / created.sliceSize)),
    });
    if (created.reuse) {
      return { fileID: created.fileID, reuse: true, etag, size, slices: 0, skippedSlices: 0, uploadedSlices: 0, completedAtOnce: true };
    }
    const preuploadID = created.preuploadID!;
    const sliceSize = created.sliceSize;
    const slices = Math.max(1, Math.ceil(size / sliceSize));
    const lengthOf = (sliceNo: number) => (sliceNo < slices ? sliceSize : size - (slices - 1) * sliceSize);

    // Resume: skip what the server holds with the right size and MD5.
    const stored = new Map((await this.listUploadParts(preuploadID, signal)).map((part) => [Number(part.partNumber), part]));
    const todo: number[] = [];
    let done = 0;
    let sent = 0;
    // Each listed slice is checked against the file (its MD5), which reads it: reported as phase `check`.
    const listed = [...stored.keys()].filter((sliceNo) => sliceNo >= 1 && sliceNo <= slices);
    const toCheck = listed.reduce((sum, sliceNo) => sum + lengthOf(sliceNo), 0);
    let checked = 0;
    if (listed.length > 0) report({ bytes: 0, phase: 'check', slicesDone: 0, slices: listed.length }, toCheck);
    for (let sliceNo = 1; sliceNo <= slices; sliceNo++) {
      const part = stored.get(sliceNo);
      const length = lengthOf(sliceNo);
      const start = (sliceNo - 1) * sliceSize;
      let same = false;
      if (part) {
        const before = checked;
        const onBytes = (bytes: number) => report({ bytes: before + bytes, phase: 'check', slicesDone: done, slices: listed.length }, toCheck);
        same = part.size === length && part.etag.toLowerCase() === (await hashRange(path, start, length, ['md5'], signal, onBytes)).md5;
        checked = before + length;
      }
      if (same) {
        done++;
        sent += length;
      } else {
        todo.push(sliceNo);
      }
    }
    const skippedSlices = done;
    report({ bytes: sent, phase: 'upload', slicesDone: done, slices });

    const server = created.servers?.[0] ?? this.baseUrl;
    const sendSlice = async (sliceNo: number, signal: AbortSignal) => {
      const start = (sliceNo - 1) * sliceSize;
      const length = lengthOf(sliceNo);
      let inFlight = 0;
      const body: StreamBody = {
        length,
        open: () => {
          inFlight = 0;
          const stream = length === 0 ? Readable.from([]) : createReadStream(path, { start, end: start + length - 1 });
          stream.on('data', (chunk: Buffer | string) => {
            inFlight += chunk.length;
            report({ bytes: sent + inFlight, phase: 'upload', slicesDone: done, slices });
          });
          return stream;
        },
      };
      if (version === 1) {
        await this.putSlice(await this.getUploadUrl(preuploadID, sliceNo, signal), body, signal);
      } else {
        const sliceMD5 = (await hashRange(path, start, length, ['md5'], signal)).md5!;
        await this.uploadSliceV2(server, { preuploadID, sliceNo, sliceMD5 }, body, signal);
      }
      done++;
      sent += length;
      options.onSlice?.(sliceNo);
      report({ bytes: sent, phase: 'upload', slicesDone: done, slices });
    };
    const common = { reuse: false, preuploadID, etag, size, sliceSize, slices, skippedSlices } as const;
    let storedNow = 0;
    try {
      // The first failure stops the other slices (their requests are cut).
      await eachPartInParallel(todo, options.parallel ?? 4, signal, async (sliceNo, sliceSignal) => {
        await sendSlice(sliceNo, sliceSignal);
        storedNow++;
      });
    } catch (failure) {
      // A refused slice may mean that another upload of the same file completed this session meanwhile.
      const elsewhere = failure instanceof PanApiError && !signal?.aborted ? await this.finishedElsewhere(preuploadID, version, signal).catch(() => undefined) : undefined;
      if (elsewhere === undefined) throw failure;
      return { ...common, fileID: elsewhere, uploadedSlices: storedNow, completedAtOnce: false, completedElsewhere: true };
    }

    report({ bytes: size, phase: 'complete', slicesDone: slices, slices });
    const completion = await this.complete(preuploadID, version, signal);
    return { ...common, fileID: completion.fileID, uploadedSlices: todo.length, completedAtOnce: completion.atOnce };
  }

  /**
   * The fileID when the session is completed (or being completed) by someone else; undefined when
   * it is still open for slices. upload_async_result answers `done` with the fileID, refuses an open
   * session, and waits a moment on one being verified (then upload_complete is polled).
   */
  private async finishedElsewhere(preuploadID: string, version: 1 | 2, signal?: AbortSignal): Promise<number | undefined> {
    const now = await this.uploadAsyncResult(preuploadID, signal);
    if (now.completed && now.fileID !== 0) return now.fileID;
    return (await this.complete(preuploadID, version, signal)).fileID;
  }

  /** upload_complete, then polls (V1 upload_async_result, V2 upload_complete) until the file exists. */
  async complete(preuploadID: string, version: 1 | 2, signal?: AbortSignal): Promise<{ fileID: number; atOnce: boolean }> {
    const interval = this.options.pollIntervalMs ?? 1000;
    const maxPolls = this.options.maxPolls ?? 300;
    if (version === 1) {
      const first = await this.uploadCompleteV1(preuploadID, signal);
      if (first.completed && first.fileID !== 0) return { fileID: first.fileID, atOnce: true };
      for (let poll = 0; poll < maxPolls; poll++) {
        await sleep(interval, signal);
        const result = await this.uploadAsyncResult(preuploadID, signal);
        if (result.completed && result.fileID !== 0) return { fileID: result.fileID, atOnce: false };
      }
    } else {
      for (let poll = 0; poll <= maxPolls; poll++) {
        if (poll > 0) await sleep(interval, signal);
        try {
          const result = await this.uploadCompleteV2(preuploadID, signal);
          if (result.completed && result.fileID !== 0) return { fileID: result.fileID, atOnce: poll === 0 };
        } catch (err) {
          if (!(err instanceof PanApiError && err.code === 20103)) throw err;
        }
      }
    }
    throw new PanApiError(20103, `the upload was still being verified after ${maxPolls} polls`, 'upload_complete');
  }

  /** Downloads a file through its signed download URL, to `dest` (written as `dest.part`, then renamed). */
  async download(fileId: number, dest: string, signal?: AbortSignal): Promise<{ size: number; md5: string }> {
    const url = await this.downloadInfo(fileId);
    const response = await this.transport.send({
      method: 'GET',
      prepare: () => ({ url: new URL(url), headers: {} }),
      idempotency: 'idempotent',
      stream: true,
      signal,
    });
    if (response.status !== 200 || !response.stream) throw new PanApiError(response.status, response.text.slice(0, 200), 'download');
    const md5 = createHash('md5');
    let size = 0;
    const temp = `${dest}.part`;
    try {
      await pipeline(
        response.stream,
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            md5.update(chunk);
            size += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(temp),
        { signal },
      );
      await rename(temp, dest);
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
    return { size, md5: md5.digest('hex') };
  }
}

/** MD5 / SHA-1 of a file range, streamed. */
export async function hashRange(
  path: string,
  start: number,
  length: number,
  algorithms: Array<'md5' | 'sha1'>,
  signal?: AbortSignal,
  onBytes?: (bytes: number) => void,
): Promise<{ md5?: string; sha1?: string }> {
  const hashes = algorithms.map((name) => [name, createHash(name)] as const);
  if (length > 0) {
    let bytes = 0;
    for await (const chunk of createReadStream(path, { start, end: start + length - 1, highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
      throwIfAborted(signal);
      for (const [, hash] of hashes) hash.update(chunk);
      bytes += chunk.length;
      onBytes?.(bytes);
    }
  }
  return Object.fromEntries(hashes.map(([name, hash]) => [name, hash.digest('hex')]));
}

/** A multipart/form-data body: text fields first, then one file streamed from `file` (re-openable for retries). */
export function multipartBody(fields: Record<string, string>, fileField: string, filename: string, file: StreamBody): { body: StreamBody; headers: Record<string, string> } {
  const boundary = `----tessera${createHash('md5').update(String(Math.random())).digest('hex')}`;
  const head = Buffer.from(
    Object.entries(fields)
      .map(([name, value]) => `--${boundary}\r\ncontent-disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
      .join('') +
      `--${boundary}\r\ncontent-disposition: form-data; name="${fileField}"; filename="${filename.replace(/["\r\n]/g, '_')}"\r\n` +
      'content-type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  return {
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    body: {
      length: head.length + file.length + tail.length,
      open: () =>
        Readable.from(
          (async function* () {
            yield head;
            yield* file.open() as AsyncIterable<Buffer>;
            yield tail;
          })(),
        ),
    },
  };
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError());
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new AbortError());
      },
      { once: true },
    );
  });
}
