/**
 * Tessera through its 123pan open-platform dialect: the same server process and root user as
 * the `tessera` contender, with a config file that declares one 123pan app acting as root (its
 * drive is the bucket `pan-root`), driven by the project's own `PanClient`
 * (src/client/pan.ts) at its defaults. Pan requests are recognised by their
 * `Platform: open_platform` header on the main listener, so no `--pan-address` is needed.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { HttpTransport } from '../../src/client/http.js';
import { PanClient } from '../../src/client/pan.js';
import { startTessera } from './tessera.js';
import type { Contender } from './types.js';

const APP = { clientID: 'bench-pan-app', clientSecret: 'bench-pan-app-secret-0123456789', user: 'root' };

/** A 123pan file name holds no '/': the harness's `small/000001` becomes `small-000001`. */
const fileName = (name: string): string => name.replace(/\//g, '-');

export const tesseraPan: Contender = {
  id: 'tessera-pan',
  label: 'Tessera (Pan)',
  sameServerAs: 'tessera',
  client:
    'the project’s PanClient (src/client/pan.ts) at its defaults: row 1 `uploadFile` V2 with parallel = the row’s queue size, row 2 `single/create`, downloads through the signed URL of `download_info` on the client’s HttpTransport',
  notes: [
    'Tessera (Pan): the same server process and root user, with a config file `{"panApps": [one app acting as root]}`; slice size and rate limits at their defaults (16 MiB slices for files up to 2 GiB, chosen by the server at create; the V2 upload endpoints have no limit, download_info 5/s).',
    'Tessera (Pan), row 1: `uploadFile` reads the whole file for its MD5 (create needs it), creates, then sends each slice as multipart/form-data with its sliceMD5 (read from disk once more), then upload_complete (polled 1 s apart if the server is still verifying: the log says whether it answered at once). All of it is in the row’s time. The server hashes slices in order as they arrive and checks the declared MD5 and size at completion. Verified: file/detail reports the file’s MD5 and size.',
    'Tessera (Pan), row 2: one `upload/v2/file/single/create` POST (multipart/form-data; MD5 and size declared and checked by the server) per object, to the upload host that `upload/v2/file/domain` named once at start; `/` in names becomes `-`.',
    'Tessera (Pan), row 5: `download_info` (once per object, in row 5’s time), then a GET of the signed URL it returned; the ranged reads reuse that URL with a Range header.',
  ],
  unsupported: {
    '3': '123pan dictates the slice size (16 MiB up to 2 GiB) and create needs the whole file’s MD5 and size before the first slice; a 123pan client cannot make 10,000 parts of 1 KiB, and upload_complete takes no part list',
    '4': '123pan’s list_upload_parts has no max-parts or marker: it returns every slice in one answer, so there is no page to time (nor a 10,000-part upload, row 3)',
  },
  async start(options) {
    const server = await startTessera(options, { panApps: [APP] });
    const transport = new HttpTransport();
    const client = new PanClient({ baseUrl: server.url, clientID: APP.clientID, clientSecret: APP.clientSecret, transport });
    let uploadHost: string;
    try {
      await client.login();
      const hosts = await client.domain();
      uploadHost = hosts[0] ?? server.url;
    } catch (err) {
      transport.destroy();
      await server.stop();
      throw err;
    }
    const downloadUrls = new Map<string, string>();
    const downloadUrl = async (handle: string): Promise<string> => {
      let url = downloadUrls.get(handle);
      if (url === undefined) downloadUrls.set(handle, (url = await client.downloadInfo(Number(handle))));
      return url;
    };
    const get = async (handle: string, range?: string) => {
      const url = new URL(await downloadUrl(handle));
      const response = await transport.send({
        method: 'GET',
        prepare: () => ({ url, headers: range ? { range } : ({} as Record<string, string>) }),
        idempotency: 'idempotent',
        stream: true,
      });
      const expected = range ? 206 : 200;
      if (response.status !== expected || !response.stream) {
        response.stream?.resume();
        throw new Error(`download GET answered ${response.status}, not ${expected}`);
      }
      return response.stream;
    };

    return {
      pid: server.pid,
      url: server.url,
      stop: async () => {
        transport.destroy();
        await server.stop();
      },

      uploadLarge: async (file, name, queueSize) => {
        const result = await client.uploadFile(file.path, { filename: fileName(name), parallel: queueSize, version: 2 });
        if (result.reuse) throw new Error('create answered reuse (instant upload): nothing was uploaded');
        if (result.etag !== file.md5) throw new Error(`the client hashed ${result.etag}, the file's MD5 is ${file.md5}`);
        const detail = await client.detail(result.fileID);
        if (detail.etag !== file.md5) throw new Error(`file/detail etag ${detail.etag} is not the file's MD5 ${file.md5}`);
        if (detail.size !== file.size) throw new Error(`file/detail size ${detail.size}, the file has ${file.size} bytes`);
        const slices = `${result.slices} slices of ${result.sliceSize} bytes (server's choice)`;
        return {
          handle: String(result.fileID),
          verified: `file/detail: etag = MD5 of the file, size = ${file.size}; ${slices}; upload_complete ${result.completedAtOnce ? 'answered at once' : 'was polled'}`,
        };
      },

      putSmall: async (name, body) => {
        const etag = createHash('md5').update(body).digest('hex');
        const created = await client.singleCreate(
          { parentFileID: 0, filename: fileName(name), etag, size: body.length },
          { length: body.length, open: () => Readable.from([body]) },
          uploadHost,
        );
        if (!created.completed || !(created.fileID > 0)) throw new Error(`single/create answered ${JSON.stringify(created)}`);
      },

      download: async (handle, onChunk) => {
        for await (const chunk of await get(handle)) onChunk(chunk as Buffer);
      },

      downloadRange: async (handle, start, end) => {
        const chunks: Buffer[] = [];
        for await (const chunk of await get(handle, `bytes=${start}-${end}`)) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      },
    };
  },
};
