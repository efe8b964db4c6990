/**
 * A contender is one server the benchmark runs side by side with the others.
 * Adding one (say Tessera through its OSS dialect) means writing a module that
 * starts the server as a child process and implements the operations it can do;
 * a row whose operation is missing is reported as n/a with the contender's reason.
 */
import type { DataFile } from '../data.js';
import type { MeteredProcesses } from '../proc.js';

/** Table rows that a contender may be unable to run, keyed by row number. */
export type RowKey = '1' | '2' | '3' | '4' | '5' | '5r' | '6';

export interface StartOptions {
  /** A fresh, empty directory for this server's data, removed after it stops. */
  dataDir: string;
  /** 'bytes' for rows 1, 2, 5, 6; 'parts' for rows 3–4 (Tessera: minPartSize 1). */
  purpose: 'bytes' | 'parts';
  /** Run the server under `node --cpu-prof`, writing the profile here on exit. */
  cpuProfileDir?: string;
}

export interface Contender {
  /** Short lowercase id used on the command line and in the JSON: 'tessera', 's3rver'. */
  id: string;
  /** Column heading. */
  label: string;
  /** How the harness talks to it (client library, settings), for the notes. */
  client: string;
  /** Anything a reader must know to interpret this contender's numbers. */
  notes: string[];
  /** Rows this contender cannot run, with the reason shown instead of a number. */
  unsupported: Partial<Record<RowKey, string>>;
  /**
   * The id of the contender whose server this one drives through another door (Tessera's OSS
   * or 123pan dialect: `'tessera'`). Such a column is reported, but the subject is not compared
   * with itself: it gets no "vs" ratio column.
   */
  sameServerAs?: string;
  start(options: StartOptions): Promise<Instance>;
}

export interface UploadResult {
  /** Opaque handle for download (a key, or tus's upload URL). */
  handle: string;
  /** What was checked against the source file, e.g. "ETag = multipart MD5". */
  verified: string;
}

export interface Instance {
  pid: number;
  /** The processes whose CPU and memory the meters read; default `{ nodes: [pid] }` (see MeteredProcesses). */
  processes?: MeteredProcesses;
  url: string;
  /** Stops the server process (SIGTERM, then SIGKILL) and waits for it to exit. */
  stop(): Promise<void>;
  /** Behind a load balancer: each node on its own (not through the balancer), to warm them all up before rows 3–4. */
  nodes?: Instance[];

  /** Row 1: the whole file, `file.partSize` parts, up to `queueSize` in flight. Throws if the result is wrong. */
  uploadLarge?(file: DataFile, name: string, queueSize: number): Promise<UploadResult>;
  /** Row 2: one small object. */
  putSmall?(name: string, body: Buffer): Promise<void>;
  /** Row 5: streams the object to `onChunk`. */
  download?(handle: string, onChunk: (chunk: Buffer) => void): Promise<void>;
  /** Row 5: bytes [start, end] inclusive. */
  downloadRange?(handle: string, start: number, end: number): Promise<Buffer>;
  /** Rows 3–4: a multipart upload to fill with many small parts. */
  createUpload?(name: string): Promise<PartsUpload>;
  /** Rows 3–4: an upload created earlier (by a server on the same data), on this server. */
  openUpload?(name: string, uploadId: string): PartsUpload;
}

export interface Timed<T> {
  value: T;
  /** Whole client call, as an application sees it (request building, signing, response parsing included). */
  totalMs: number;
  /** From handing the signed request to the HTTP layer until the response headers arrived. */
  wireMs: number;
}

export interface PartsUpload {
  uploadId: string;
  uploadPart(partNumber: number, body: Buffer): Promise<string>;
  listParts?(partNumberMarker: number, maxParts: number): Promise<Timed<number[]>>;
  complete(parts: Array<{ partNumber: number; etag: string }>): Promise<Timed<string>>;
}
