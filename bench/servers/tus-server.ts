/**
 * @tus/server with @tus/file-store (the resumable-upload server people use today)
 * as a bench contender process: `node tus-server.js <data-dir>` serves the tus
 * protocol under /files/ on a free loopback port and prints
 * `tus listening on http://127.0.0.1:<port>`.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from '@tus/server';
import { FileStore } from '@tus/file-store';

const directory = process.argv[2];
if (!directory) {
  console.error('usage: tus-server <data-dir>');
  process.exit(2);
}

const tus = new Server({ path: '/files', datastore: new FileStore({ directory }) });
const http = createServer((req, res) => {
  void tus.handle(req, res);
});
http.listen(0, '127.0.0.1', () => {
  const { port } = http.address() as AddressInfo;
  console.log(`tus listening on http://127.0.0.1:${port}`);
});

const stop = () => {
  http.close(() => process.exit(0));
  http.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
