/**
 * s3rver (the Node S3 server people use today) as a bench contender process:
 * `node s3rver-server.js <data-dir>` listens on a free loopback port and prints
 * `s3rver listening on http://127.0.0.1:<port>`. Credentials: S3RVER / S3RVER.
 */
import { createRequire } from 'node:module';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as S3rverConstructor;

const directory = process.argv[2];
if (!directory) {
  console.error('usage: s3rver-server <data-dir>');
  process.exit(2);
}

// silent: its per-request logging is not part of what users measure in production.
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory });
const { port } = await server.run();
console.log(`s3rver listening on http://127.0.0.1:${port}`);

const stop = () => {
  void server.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
