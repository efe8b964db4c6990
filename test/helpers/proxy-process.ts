import { startProxy } from './proxy.js';

/**
 * `node dist/test/helpers/proxy-process.js BACKEND_URL...`: the round-robin proxy in a process of
 * its own, so that its memory and CPU are its own (test/server/proxy.test.ts measures its peak RSS).
 * Prints `proxy listening on URL`; SIGTERM stops it.
 */
const proxy = await startProxy(process.argv.slice(2));
process.on('SIGTERM', () => void proxy.close().then(() => process.exit(0)));
console.log(`proxy listening on ${proxy.url}`);
