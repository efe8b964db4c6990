import type { IncomingMessage } from 'node:http';
import { ServiceError } from '../../core/errors.js';

/** Reads a small request body (XML, JSON, forms) whole, refusing anything over `limit` bytes. */
export async function readSmallBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return collectSmall(req as AsyncIterable<Buffer>, limit, Number(req.headers['content-length']));
}

/** Gathers a (decoded) body known to be small, refusing it early when `declared` or the bytes exceed `limit`. */
export async function collectSmall(body: AsyncIterable<Buffer>, limit: number, declared?: number): Promise<Buffer> {
  if (declared !== undefined && Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(limit: number): ServiceError {
  return new ServiceError('MaxMessageLengthExceeded', `Your request was too big (limit ${limit} bytes).`, 400);
}

/** Wraps a body so `observe` sees every chunk on its way through, without buffering. */
export async function* tap(body: AsyncIterable<Buffer>, observe: (chunk: Buffer) => void): AsyncGenerator<Buffer> {
  for await (const chunk of body) {
    observe(chunk);
    yield chunk;
  }
}
