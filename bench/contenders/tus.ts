/**
 * @tus/server + @tus/file-store, driven by raw tus 1.0.0 requests over node:http:
 * POST to create (with the body, for small objects: creation-with-upload), then
 * PATCH at increasing offsets.
 */
import { createReadStream } from 'node:fs';
import { Agent, request, type IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { spawnServer } from '../proc.js';
import { benchServer } from './paths.js';
import type { Contender } from './types.js';

const TUS = { 'tus-resumable': '1.0.0' };

interface Response {
  status: number;
  headers: IncomingMessage['headers'];
  body: IncomingMessage;
}

function send(agent: Agent, url: string, method: string, headers: Record<string, string>, body?: Buffer | Readable): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent }, (res) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: res }));
    req.on('error', reject);
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (err) => req.destroy(err));
      body.pipe(req);
    }
  });
}

async function expectStatus(response: Response, status: number, what: string): Promise<void> {
  let text = '';
  for await (const chunk of response.body) text += (chunk as Buffer).toString('utf8');
  if (response.status !== status) throw new Error(`tus ${what}: HTTP ${response.status} ${text.slice(0, 200)}`);
}

const NO_MULTIPART = 'tus has no multipart uploads: one upload is one file appended to at an offset, so there are no parts to complete or list';

export const tus: Contender = {
  id: 'tus',
  label: 'tus',
  client: 'raw tus 1.0.0 requests (node:http, keep-alive); no client-side hashing',
  notes: [
    'tus: @tus/file-store appends to one file per upload with fs streams, keeps no MD5 or other digest, and never fsyncs.',
    'tus, row 1: one upload PATCHed in 16 MiB requests one after another (1 in flight): the protocol appends at an offset, and @tus/file-store has no concatenation extension for parallel parts.',
    'tus, row 2: one POST per object carrying the body (creation-with-upload).',
  ],
  unsupported: {
    '3': NO_MULTIPART,
    '4': NO_MULTIPART,
    '5r': '@tus/server serves whole files only (no Range support in its GET handler)',
  },
  async start({ dataDir }) {
    const server = await spawnServer([benchServer('tus-server'), dataDir], {
      name: 'tus',
      ready: /tus listening on (http:\/\/\S+)/,
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const endpoint = `${server.url}/files/`;

    const create = async (length: number, body?: Buffer): Promise<string> => {
      const headers: Record<string, string> = { ...TUS, 'upload-length': String(length) };
      if (body) {
        headers['content-type'] = 'application/offset+octet-stream';
        headers['content-length'] = String(body.length);
      } else {
        headers['content-length'] = '0';
      }
      const response = await send(agent, endpoint, 'POST', headers, body ?? Buffer.alloc(0));
      const location = response.headers.location;
      await expectStatus(response, 201, 'create');
      if (!location) throw new Error('tus create: no Location header');
      if (body && response.headers['upload-offset'] !== String(body.length)) {
        throw new Error(`tus create-with-upload: offset ${response.headers['upload-offset']}, expected ${body.length}`);
      }
      return new URL(location, endpoint).href;
    };

    return {
      pid: server.pid,
      url: server.url,
      stop: async () => {
        agent.destroy();
        await server.stop();
      },

      uploadLarge: async (file) => {
        const location = await create(file.size);
        for (let offset = 0; offset < file.size; offset += file.partSize) {
          const length = Math.min(file.partSize, file.size - offset);
          const response = await send(
            agent,
            location,
            'PATCH',
            { ...TUS, 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream', 'content-length': String(length) },
            createReadStream(file.path, { start: offset, end: offset + length - 1, highWaterMark: 1 << 20 }),
          );
          const newOffset = response.headers['upload-offset'];
          await expectStatus(response, 204, 'PATCH');
          if (newOffset !== String(offset + length)) throw new Error(`tus PATCH: offset ${newOffset}, expected ${offset + length}`);
        }
        return { handle: location, verified: 'final Upload-Offset = file size (tus keeps no digest)' };
      },

      putSmall: async (_name, body) => {
        await create(body.length, body);
      },

      download: async (handle, onChunk) => {
        const response = await send(agent, handle, 'GET', { ...TUS });
        if (response.status !== 200) return expectStatus(response, 200, 'GET');
        for await (const chunk of response.body) onChunk(chunk as Buffer);
      },
    };
  },
};
