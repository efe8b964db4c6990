import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { crc64 } from '../../core/crc64.js';
import { ServiceError } from '../../core/errors.js';
import type { Digests, ExtraDigest } from '../../core/types.js';

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

/** The digests the engine would compute while staging `body` (MD5 always, `extra` on request), for a body held whole. */
export function digestsOf(body: Buffer, extra: readonly ExtraDigest[] = []): Digests {
  const hash = (algorithm: string) => createHash(algorithm).update(body).digest();
  return {
    size: body.length,
    md5: hash('md5'),
    sha256: extra.includes('sha256') ? hash('sha256') : undefined,
    sha1: extra.includes('sha1') ? hash('sha1') : undefined,
    crc64: extra.includes('crc64') ? crc64(body).toString() : undefined,
  };
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
