/**
 * A hash worker: computes the digests of bodies being staged, so MD5 (and the
 * SHA-256 and CRCs clients ask to be verified) run beside the event loop rather
 * than on it. Messages of one job arrive in order; the bytes are in a slot of
 * shared memory (slot-pool.ts), acknowledged once hashed so the slot can be reused.
 */
import { parentPort } from 'node:worker_threads';
import { DigestSet } from './digests.js';
import type { HashRequest, HashResponse } from './hash-pool.js';

if (!parentPort) throw new Error('hash-worker runs as a worker thread');
const port = parentPort;
const arenas: SharedArrayBuffer[] = [];
const jobs = new Map<number, DigestSet>();

port.on('message', (message: HashRequest) => {
  switch (message.type) {
    case 'arena':
      arenas[message.index] = message.memory;
      break;
    case 'forget':
      arenas.length = Math.min(arenas.length, message.index);
      break;
    case 'begin':
      jobs.set(message.job, new DigestSet(message.extra));
      break;
    case 'update':
      // A dropped job's slots are still acknowledged: the slot is free either way.
      jobs.get(message.job)?.update(new Uint8Array(arenas[message.arena]!, message.offset, message.length));
      reply({ type: 'ack', slot: message.slot });
      break;
    case 'finish': {
      const set = jobs.get(message.job);
      jobs.delete(message.job);
      if (set) reply({ type: 'digests', job: message.job, digests: set.digests() });
      break;
    }
    case 'drop':
      jobs.delete(message.job);
      break;
  }
});

function reply(response: HashResponse): void {
  port.postMessage(response);
}
