import { SLOT_BYTES } from '../../src/core/slot-pool.js';

/** A body as a network would deliver it: chunks of uneven sizes, one of them larger than a staging slot. */
export async function* chunked(body: Buffer): AsyncGenerator<Buffer> {
  const sizes = [65_536, 1, 7_000, 1.5 * SLOT_BYTES, 16_384, 333];
  for (let offset = 0, i = 0; offset < body.length; i++) {
    const chunk = body.subarray(offset, offset + sizes[i % sizes.length]!);
    offset += chunk.length;
    yield chunk;
  }
}
