import { panErrors } from './envelope.js';

const MAX_HEADER_BYTES = 16 * 1024;
const MAX_FIELD_BYTES = 64 * 1024;

export interface FormPart {
  name: string;
  filename?: string;
  /** The part's bytes, streamed: read it (or not) before asking for the next part. */
  body: AsyncIterable<Buffer>;
}

/** The boundary of a `multipart/form-data` Content-Type, or undefined. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  if (!contentType || !/^multipart\/form-data/i.test(contentType)) return undefined;
  const match = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  return match ? (match[1] ?? match[2]) : undefined;
}

/**
 * A streaming multipart/form-data reader: parts come one at a time and a file part's bytes
 * flow through without being gathered, so a 1 GB `single/create` costs a few chunks of memory.
 */
export async function* readForm(source: AsyncIterable<Buffer>, boundary: string): AsyncGenerator<FormPart> {
  const reader = new ChunkReader(source);
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The first boundary has no CRLF before it: pretend it had one.
  reader.unshift(Buffer.from('\r\n'));
  await reader.skipPast(delimiter, 'the opening boundary');
  for (;;) {
    const after = await reader.take(2);
    if (after.toString('latin1') === '--') return;
    if (after.toString('latin1') !== '\r\n') throw malformed('a boundary is not followed by CRLF');
    const headerBlock = await reader.takeUntil(Buffer.from('\r\n\r\n'), MAX_HEADER_BYTES);
    const disposition = /^content-disposition:(.*)$/im.exec(headerBlock.toString('utf8'))?.[1] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? /\bname=([^;\s]+)/i.exec(disposition)?.[1];
    if (name === undefined) throw malformed('a part has no name');
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    let finished = false;
    const body = (async function* () {
      yield* reader.streamUntil(delimiter);
      finished = true;
    })();
    yield { name, filename, body };
    if (!finished) for await (const _ of body) void _;
  }
}

/** A text field's value (bounded). */
export async function fieldText(part: FormPart): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of part.body) {
    size += chunk.length;
    if (size > MAX_FIELD_BYTES) throw malformed(`field ${part.name} is too long`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function malformed(why: string) {
  return panErrors.badRequest(`multipart/form-data 格式错误: ${why}`);
}

class ChunkReader {
  private buffer: Buffer = Buffer.alloc(0);
  private readonly iterator: AsyncIterator<Buffer>;
  private done = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  unshift(data: Buffer): void {
    this.buffer = Buffer.concat([data, this.buffer]);
  }

  private async fill(what: string): Promise<void> {
    if (this.done) throw malformed(`the body ended before ${what}`);
    const next = await this.iterator.next();
    if (next.done) {
      this.done = true;
      throw malformed(`the body ended before ${what}`);
    }
    this.buffer = this.buffer.length === 0 ? next.value : Buffer.concat([this.buffer, next.value]);
  }

  async take(count: number): Promise<Buffer> {
    while (this.buffer.length < count) await this.fill('the end of the form');
    const taken = this.buffer.subarray(0, count);
    this.buffer = this.buffer.subarray(count);
    return taken;
  }

  async takeUntil(marker: Buffer, limit: number): Promise<Buffer> {
    for (;;) {
      const index = this.buffer.indexOf(marker);
      if (index >= 0) {
        const taken = this.buffer.subarray(0, index);
        this.buffer = this.buffer.subarray(index + marker.length);
        return taken;
      }
      if (this.buffer.length > limit) throw malformed('part headers are too long');
      await this.fill('the end of the part headers');
    }
  }

  async skipPast(marker: Buffer, what: string): Promise<void> {
    for (;;) {
      const index = this.buffer.indexOf(marker);
      if (index >= 0) {
        this.buffer = this.buffer.subarray(index + marker.length);
        return;
      }
      // Keep only what could still be the start of the marker.
      this.buffer = this.buffer.subarray(Math.max(0, this.buffer.length - marker.length + 1));
      await this.fill(what);
    }
  }

  /** Yields bytes up to `marker` (consumed, not yielded), holding back only what could start it. */
  async *streamUntil(marker: Buffer): AsyncGenerator<Buffer> {
    for (;;) {
      const index = this.buffer.indexOf(marker);
      if (index >= 0) {
        const last = this.buffer.subarray(0, index);
        this.buffer = this.buffer.subarray(index + marker.length);
        if (last.length > 0) yield last;
        return;
      }
      const safe = this.buffer.length - marker.length + 1;
      if (safe > 0) {
        const out = this.buffer.subarray(0, safe);
        this.buffer = this.buffer.subarray(safe);
        yield out;
      }
      await this.fill('the closing boundary');
    }
  }
}
