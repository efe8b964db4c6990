/** The floor: bench/servers/floor-server.ts (file + MD5 + fsync), driven by the same S3 client. */
import { spawnServer } from '../proc.js';
import { benchServer } from './paths.js';
import { s3Instance } from './s3.js';
import type { Contender } from './types.js';

const NOT_A_SERVER_OF_RECORD = 'the floor only moves bytes (rows 1, 2, 5, 6); it keeps no part index to complete or list';

export const floor: Contender = {
  id: 'floor',
  label: 'floor',
  client: 'same as Tessera (S3) (the floor ignores signatures and checksums)',
  notes: [
    'floor: a bare node:http server that streams each body to a file in 1 MiB writes, MD5s it and fsyncs it; no authentication, no checksum verification, part index in memory, Complete writes and fsyncs a manifest of part files.',
  ],
  unsupported: { '3': NOT_A_SERVER_OF_RECORD, '4': NOT_A_SERVER_OF_RECORD },
  async start({ dataDir }) {
    const server = await spawnServer([benchServer('floor-server'), dataDir], {
      name: 'floor',
      ready: /floor listening on (http:\/\/\S+)/,
    });
    return s3Instance(
      { pid: server.pid, url: server.url, stop: async () => void (await server.stop()) },
      { accessKeyId: 'floor', secretAccessKey: 'floor' },
      { etagCheck: 'multipart' },
    );
  },
};
