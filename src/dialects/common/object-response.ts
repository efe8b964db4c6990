import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PieceStream } from '../../core/plain-read.js';
import type { ObjectRead, Storage } from '../../core/storage.js';
import { evaluateConditions, readConditions } from './conditions.js';
import type { ByteRange } from './range.js';

/**
 * GET/HEAD conditional headers: a failed precondition throws 412; "not modified" is answered
 * here with 304 (carrying the ETag and Last-Modified of `headers`) and returns true.
 */
export function answeredNotModified(req: IncomingMessage, res: ServerResponse, read: ObjectRead, headers: Record<string, string>): boolean {
  if (evaluateConditions(readConditions(req.headers), read.info) !== 'not-modified') return false;
  res.writeHead(304, { etag: headers.etag!, 'last-modified': headers['last-modified']! });
  res.end();
  return true;
}

/** Answers 200 (or 206 for a range) with `headers` and, unless HEAD, streams the bytes across the object's blobs. */
export async function sendObject(
  storage: Storage,
  read: ObjectRead,
  res: ServerResponse,
  headers: Record<string, string>,
  range: ByteRange | undefined,
  headOnly: boolean,
): Promise<void> {
  const { size } = read.info;
  if (range) {
    headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
    headers['content-length'] = String(range.end - range.start + 1);
  } else {
    headers['content-length'] = String(size);
  }
  if (headOnly || size === 0) {
    res.writeHead(range ? 206 : 200, headers);
    res.end();
    return;
  }
  const stream = await storage.openRead(read, range?.start ?? 0, range?.end ?? size - 1);
  // The first bytes before the status: a blob that cannot be read (missing, or failing its
  // integrity check) is an error answer; only a failure further on cuts the body short.
  try {
    await once(stream, 'readable');
  } catch (err) {
    stream.destroy();
    throw err;
  }
  res.writeHead(range ? 206 : 200, headers);
  try {
    if (stream instanceof PieceStream) await writeRecycling(stream, res);
    else await pipeline(stream, res);
  } catch {
    // The client went away, or a blob could not be read: either way the response is cut short.
    res.destroy();
  }
}

/**
 * pipeline(stream, res), but each chunk goes back to the stream once the socket has taken it
 * (the write's callback), for the stream's next read to reuse (core/plain-read.ts).
 */
async function writeRecycling(stream: PieceStream, res: ServerResponse): Promise<void> {
  // Settles either way ('error' before 'close' rejects once()): never left rejected and unawaited.
  const closed = once(res, 'close').then(
    () => void (res.writableFinished || stream.destroy()),
    () => void stream.destroy(),
  );
  try {
    for await (const chunk of stream as Readable & AsyncIterable<Buffer>) {
      if (res.destroyed) throw new Error('the client went away');
      if (!res.write(chunk, (err) => void (err || stream.recycle(chunk)))) {
        await Promise.race([once(res, 'drain'), closed]);
      }
    }
    res.end();
    await Promise.race([once(res, 'finish'), closed]);
  } finally {
    stream.destroy();
  }
}
