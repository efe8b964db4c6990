/**
 * A hash worker: computes the digests of bodies being staged, so MD5 (and the
 * SHA-256 and CRCs clients ask to be verified) run beside the event loop rather
 * than on it. Messages of one job arrive in order; the bytes are in a slot of shared
 * memory, handed back (acknowledged) once hashed.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DigestSet } from './digests.js';
import type { HashRequest, HashResponse } from './hash-pool.js';

if (!parentPort) throw new Error('hash-worker runs as a worker thread');
const port = parentPort;
const { arena, slotBytes } = workerData as { arena: SharedArrayBuffer; slotBytes: number };
const jobs = new Map<number, DigestSet>();

port.on('message', (message: HashRequest) => {
  switch (message.type) {
    case 'begin':
      jobs.set(message.job, new DigestSet(message.extra));
      break;
    case 'update':
      jobs.get(message.job)?.update(new Uint8Array(arena, message.slot * slotBytes, message.length));
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
