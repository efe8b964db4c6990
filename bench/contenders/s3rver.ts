/** s3rver 3 (npm), driven by the same S3 client as Tessera. */
import { spawnServer } from '../proc.js';
import { benchServer } from './paths.js';
import { s3Instance } from './s3.js';
import type { Contender } from './types.js';

export const s3rver: Contender = {
  id: 's3rver',
  label: 's3rver',
  client: 'same as Tessera (S3)',
  notes: [
    's3rver: writes parts with fs streams and never fsyncs (its writes may still be in the page cache when a row ends); Complete re-reads every part and writes the whole object again; the ETag it returns is the MD5 of the whole object.',
  ],
  unsupported: {
    '4': 's3rver 3.7 implements no ListParts (GET ?uploadId is not routed)',
  },
  async start({ dataDir }) {
    const server = await spawnServer([benchServer('s3rver-server'), dataDir], {
      name: 's3rver',
      ready: /s3rver listening on (http:\/\/\S+)/,
    });
    return s3Instance(
      { pid: server.pid, url: server.url, stop: async () => void (await server.stop()) },
      { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      { etagCheck: 'whole-md5' },
    );
  },
};
