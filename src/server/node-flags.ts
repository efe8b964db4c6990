/**
 * Node flags the server process starts with: `npm start` and the `tessera` bin pass
 * them (test/server/node-flags.test.ts keeps those two in step with this list).
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

/**
 * Environment the server process starts with, set the same two ways (glibc reads it
 * once, before any JavaScript runs).
 *
 * Why: those body chunks are malloc'd and freed tens of thousands of times per GiB,
 * and with glibc's default trim threshold (128 KiB) the freed top of the heap went
 * back to the kernel and was faulted in, zeroed, again: up to ~90,000 page faults
 * per GiB on the event loop, about 0.1–0.3 CPU s. Keeping up to 64 MiB of free heap
 * took that to a few hundred; other C libraries ignore the variable.
 */
export const SERVER_ENV: Readonly<Record<string, string>> = { MALLOC_TRIM_THRESHOLD_: String(64 << 20) };

/** SERVER_ENV as `NAME=value` words, for a shell command line or `env -S`. */
export const SERVER_ENV_WORDS: readonly string[] = Object.entries(SERVER_ENV).map(([name, value]) => `${name}=${value}`);

/** Which of SERVER_NODE_FLAGS and SERVER_ENV this process was started without. */
export function missingLaunchSettings(execArgv: readonly string[] = process.execArgv, env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    ...SERVER_NODE_FLAGS.filter((flag) => !execArgv.includes(flag)),
    ...Object.entries(SERVER_ENV)
      .filter(([name, value]) => env[name] !== value)
      .map(([name, value]) => `${name}=${value}`),
  ];
}
