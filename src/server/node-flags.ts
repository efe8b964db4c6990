/**
 * Node flags the server process starts with: `npm start` and the `tessera` bin pass
 * them (test/unit/node-flags.test.ts keeps those two in step with this list).
 *
 * Why: node:http hands each request-body chunk to JavaScript as a new Buffer, and V8
 * counts those bytes against the old generation's first limit (a dozen MB above the
 * live heap) until a GC frees them. Tessera allocates little else per chunk, so that
 * limit is reached before a young-generation scavenge frees the chunks: a 1 GiB
 * upload ran ~55 full mark-compacts (`--trace-gc`), about 1.2 CPU s per GiB with
 * their helper threads. Starting the old generation at 64 MB leaves the chunks to
 * the scavenges: 2 full GCs per GiB, and the same peak RSS.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];

/** Which of SERVER_NODE_FLAGS this process was started without. */
export function missingNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return SERVER_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
