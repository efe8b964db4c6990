/**
 * The streaming reader of browser form uploads (S3 POST Object, OSS PostObject): a
 * multipart/form-data body whose text fields come first and whose `file` part carries the object.
 * The fields before the file are read (bounded), then the file's bytes flow to the caller as they
 * arrive, never gathered; fields after the file are read and dropped, as S3 and OSS ignore them.
 */
import type { IncomingMessage } from 'node:http';
import { Busboy, type BusboyFileStream, type BusboyInstance } from '@fastify/busboy';
import { ServiceError, errors } from '../../core/errors.js';

export interface FormField {
  /** As sent (the dialects compare names without case). */
  name: string;
  value: string;
}

export interface FormFile {
  /** The part's filename past its last slash or backslash; '' without one. */
  filename: string;
  /** The part's own Content-Type ('text/plain' when it has none). */
  contentType: string;
  /**
   * The file's bytes as they arrive. Fails with MalformedPOSTRequest when the form breaks off,
   * with IncompleteBody when the client hangs up.
   */
  body: AsyncIterable<Buffer>;
}

export interface FormHead {
  /** The fields before the file, in order. */
  fields: FormField[];
  /**
   * Bytes of the form before the file: its boundaries, part headers and values. When they pass
   * the reader's `maxPreDataBytes`, reading stops there and this is over that limit.
   */
  preDataBytes: number;
  /** Why there is no file: the body is not well-formed multipart/form-data. */
  malformed?: ServiceError;
  file?: FormFile;
  /** Once the file is read: reads the rest of the body, whose fields are ignored, to its end. */
  rest(): Promise<void>;
  /** Stops reading, leaving the rest of the body unread (an error answer then closes the connection). */
  abandon(): void;
}

/** A text part's Content-Disposition line and the blank line after its headers, besides the name. */
const PART_HEADER_BYTES = 'Content-Disposition: form-data; name=""\r\n\r\n'.length;
/** No real form's part carries more than its Content-Disposition and Content-Type. */
const MAX_PART_HEADER_BYTES = 8 * 1024;

function malformedPost(): ServiceError {
  return new ServiceError('MalformedPOSTRequest', 'The body of your POST request is not well-formed multipart/form-data.', 400);
}

/** Whether a request is a form post: POST with a multipart/form-data body (one without a boundary is malformed). */
export function isFormPost(req: IncomingMessage): boolean {
  return req.method === 'POST' && /^multipart\/form-data\s*(;|$)/i.test(req.headers['content-type'] ?? '');
}

/** Fields by lower-case name; a name sent twice holds both values, comma-separated. */
export function fieldMap(fields: readonly FormField[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const { name, value } of fields) {
    const lower = name.toLowerCase();
    const before = map.get(lower);
    map.set(lower, before === undefined ? value : `${before},${value}`);
  }
  return map;
}

/**
 * Reads a form post up to its file part (or its end): resolves with the fields and the file still
 * to be read. Never more than `maxPreDataBytes` (plus one network chunk) is read before the file,
 * and no field value is held beyond that size. Rejects only when the client hangs up first.
 */
export function readFormHead(req: IncomingMessage, maxPreDataBytes: number): Promise<FormHead> {
  const fields: FormField[] = [];
  let preDataBytes = 0;
  let fedBytes = 0;
  let file: BusboyFileStream | undefined;
  let ended = false;
  let settle: (head: FormHead) => void = () => {};
  let fail: (err: unknown) => void = () => {};
  const head = new Promise<FormHead>((resolve, reject) => {
    settle = resolve;
    fail = reject;
  });
  let endReading: () => void = () => {};
  // Settled when the body has been read to its end, or reading stopped.
  const finished = new Promise<void>((resolve) => (endReading = resolve));
  const boundary = /boundary=(?:"([^"]*)"|([^;\s]*))/i.exec(req.headers['content-type'] ?? '');
  /** `--<boundary>\r\n` before each part, and its CRLF after. */
  const framingBytes = (boundary?.[1] ?? boundary?.[2] ?? '').length + 6;

  let busboy: BusboyInstance;
  try {
    busboy = Busboy({
      headers: req.headers as { 'content-type': string },
      // Past the limit a value is cut short (and the form refused): no field is held beyond it.
      limits: { fieldSize: maxPreDataBytes + 1, files: 1, headerSize: MAX_PART_HEADER_BYTES, headerPairs: 16 },
      isPartAFile: (name) => name?.toLowerCase() === 'file',
    });
  } catch {
    // No boundary (or one busboy cannot use): nothing of the body is read.
    endReading();
    return Promise.resolve({ fields, preDataBytes, malformed: malformedPost(), rest: () => finished, abandon: () => {} });
  }

  function headOf(malformed?: ServiceError, body?: FormFile): FormHead {
    return { fields, preDataBytes, malformed, file: body, rest: () => finished, abandon };
  }

  function stop(): void {
    if (ended) return;
    ended = true;
    req.unpipe(busboy);
    req.off('data', countFed);
    req.pause();
    busboy.removeAllListeners('field');
    busboy.removeAllListeners('file');
    endReading();
  }

  function abandon(): void {
    stop();
    file?.destroy();
  }

  /** Before the file, every byte fed is form data: more than the limit, and the form is refused unread. */
  function countFed(chunk: Buffer): void {
    if (file === undefined && fedBytes > maxPreDataBytes) {
      preDataBytes = Math.max(preDataBytes, fedBytes);
      stop();
      settle(headOf());
      return;
    }
    fedBytes += chunk.length;
  }

  busboy.on('field', (name: string | undefined, value: string, _nameCut: boolean, valueCut: boolean, _encoding: string, type: string) => {
    if (file !== undefined) return; // after the file: ignored, as S3 and OSS ignore it
    if (name === undefined) {
      stop();
      settle(headOf(malformedPost()));
      return;
    }
    // The part as it was sent: its framing, headers and value.
    const typeHeader = type === 'text/plain' ? 0 : 'Content-Type: \r\n'.length + type.length;
    preDataBytes += framingBytes + PART_HEADER_BYTES + Buffer.byteLength(name) + typeHeader + Buffer.byteLength(value);
    fields.push({ name, value });
    if (valueCut || preDataBytes > maxPreDataBytes) {
      stop();
      settle(headOf());
    }
  });

  busboy.on('file', (_name: string, stream: BusboyFileStream, filename: string | undefined, _encoding: string, type: string) => {
    file = stream;
    // The parser may still report an error on the file after its reader is gone: never unhandled.
    stream.on('error', () => {});
    settle(headOf(undefined, { filename: filename ?? '', contentType: type, body: fileBody(stream) }));
  });

  busboy.on('finish', () => {
    ended = true;
    endReading();
    settle(headOf());
  });

  busboy.on('error', () => {
    // Before the file: the form is malformed. In the file: its reader fails. After it: ignored.
    const malformed = malformedPost();
    file?.destroy(malformed);
    stop();
    settle(headOf(malformed));
  });

  const hangUp = () => {
    if (req.complete || ended) return;
    const gone = errors.incompleteBody();
    file?.destroy(gone);
    stop();
    fail(gone);
  };
  req.on('close', hangUp);
  req.on('error', hangUp);

  req.on('data', countFed);
  req.pipe(busboy);
  return head;
}

/** The file part's bytes; a parser error surfaces as MalformedPOSTRequest. */
async function* fileBody(stream: BusboyFileStream): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) yield chunk as Buffer;
  } catch (err) {
    throw err instanceof ServiceError ? err : malformedPost();
  }
}

/** What S3 and OSS answer for a form that lacks a field it needs before the file (the file's place is last). */
export function missingField(name: string): ServiceError {
  return errors.invalidArgument(`Bucket POST must contain a field named '${name}'.  If it is specified, please check the order of the fields.`, name, '');
}

/**
 * What every form upload is checked for before its signature: a well-formed body, at most
 * `maxPreDataBytes` of fields before the file, a `key` field and a file. Answers the fields by
 * lower-case name, and the file still to be read.
 */
export function requireUpload(form: FormHead, maxPreDataBytes: number): { fields: Map<string, string>; file: FormFile } {
  if (form.malformed) throw form.malformed;
  if (form.preDataBytes > maxPreDataBytes) {
    throw new ServiceError('MaxPostPreDataLengthExceeded', 'Your POST request fields preceeding the upload file was too large.', 400, {
      MaxPostPreDataLengthBytes: String(maxPreDataBytes),
    });
  }
  const fields = fieldMap(form.fields);
  if (!fields.has('key')) throw missingField('key');
  if (!form.file) throw errors.invalidArgument('POST requires exactly one file upload per request.', 'file', '0');
  return { fields, file: form.file };
}

/** Runs a form upload's handler; when it fails, the rest of the form is left unread. */
export async function handleUpload(form: FormHead, handler: () => Promise<void>): Promise<void> {
  try {
    await handler();
  } catch (err) {
    form.abandon();
    throw err;
  }
}

/**
 * `success_action_redirect`: the URL with `bucket`, `key` and `etag` added, as S3 and OSS send the
 * browser on; undefined for a value that is not an http(s) URL, which both then ignore.
 */
export function successRedirect(value: string | undefined, added: { bucket: string; key: string; etag: string }): URL | undefined {
  if (!value) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  for (const [name, text] of Object.entries(added)) url.searchParams.append(name, text);
  return url;
}
