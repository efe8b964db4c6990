/**
 * Tessera through its Alibaba Cloud OSS dialect: the same server process and root user as the
 * `tessera` contender, driven by the npm `ali-oss` SDK (v6) at its defaults: V1 signatures,
 * endpoint `http://127.0.0.1:PORT` (an IP endpoint: the bucket goes in the Host header as
 * `<bucket>.oss-cn-hangzhou.aliyuncs.com`, the path is the bare key), its keep-alive agent, no
 * retries. Only `multipartUpload`'s partSize and parallel are set, to the row's part size and
 * queue size.
 */
import { channel } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';
import { performance } from 'node:perf_hooks';
import OSS from 'ali-oss';
import { ACCESS_KEY, SECRET_KEY, startTessera } from './tessera.js';
import type { Contender, Instance, PartsUpload, Timed } from './types.js';

const BUCKET = 'bench';

/**
 * The SDK as its own JS documents it: @types/ali-oss lags behind it (ListParts fields typed as
 * numbers where the SDK hands strings over, required query fields that are optional).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AliOss = any;

interface OssResponse {
  status: number;
  headers: Record<string, string | undefined>;
}

const responseHeaders = channel('http.client.response.finish');

interface Urllib {
  request(url: string, params: unknown): Promise<unknown>;
}

/**
 * Times ali-oss calls, and inside each the HTTP exchange alone, the span the S3 contender's
 * innermost middleware measures. ali-oss builds and signs a request, then hands it to its HTTP
 * client, `urllib.request(url, params)`, through `client.urllib`: a pass-through there notes the
 * moment (nothing else changes: same urllib, same params, same keep-alive agent). The end is
 * when node:http has parsed the response headers, which it announces on the
 * `http.client.response.finish` diagnostics channel. Only requests whose URL contains `marker`
 * (the upload id) count, and a timed call must make exactly one.
 */
function wireTimer(client: AliOss): <T>(marker: string, call: () => Promise<T>) => Promise<Timed<T>> {
  const urllib = client.urllib as Urllib;
  let onHand: ((url: string) => void) | undefined;
  client.urllib = {
    request: (url: string, params: unknown) => {
      onHand?.(url);
      return urllib.request(url, params);
    },
  } satisfies Urllib;
  return async (marker, call) => {
    const handed: number[] = [];
    const answered: number[] = [];
    onHand = (url) => {
      if (url.includes(marker)) handed.push(performance.now());
    };
    const onHeaders = (message: unknown) => {
      if ((message as { request: ClientRequest }).request.path.includes(marker)) answered.push(performance.now());
    };
    responseHeaders.subscribe(onHeaders);
    try {
      const begin = performance.now();
      const value = await call();
      const totalMs = performance.now() - begin;
      if (handed.length !== 1 || answered.length !== 1) {
        throw new Error(`expected one HTTP exchange in the timed ali-oss call, saw ${handed.length} requests and ${answered.length} responses`);
      }
      return { value, totalMs, wireMs: answered[0]! - handed[0]! };
    } finally {
      onHand = undefined;
      responseHeaders.unsubscribe(onHeaders);
    }
  };
}

const unquote = (etag: string | undefined): string => (etag ?? '').replace(/"/g, '');

export const tesseraOss: Contender = {
  id: 'tessera-oss',
  label: 'Tessera (OSS)',
  sameServerAs: 'tessera',
  client:
    'ali-oss 6 at its defaults (V1 signatures, IP endpoint with the bucket in the Host header, keep-alive agent; no digest of part bodies); multipartUpload with partSize = the row’s part size, parallel = its queue size',
  notes: [
    'Tessera (OSS): the same server process, started the same way with the same root user, driven through its OSS dialect, which keeps a CRC-64 of every part and object besides the MD5.',
    'Tessera (OSS), row 1: `multipartUpload(name, path)` streams each part from the file; verified: the ETag is the MD5 of the parts’ MD5s and `x-oss-hash-crc64ecma` is the CRC-64 of the file (both computed while the file was written). Row 2: `put` of a Buffer (ali-oss adds a Content-MD5, which the server checks). Row 5: `getStream`, and `getStream` with a Range header.',
    'Tessera (OSS), row 4: `listParts` with `max-parts` and `part-number-marker`. Its round trip is timed from ali-oss handing the signed request to its HTTP client (a pass-through around `client.urllib.request`) until node:http has parsed the response headers (the `http.client.response.finish` diagnostics channel); the whole call adds ali-oss’s request building, signing and xml2js parsing. The server is warmed up with a 1-part upload (its Complete refuses the 3-part warm-up’s 1 KiB parts) and started without a config file.',
  ],
  unsupported: {
    '3': 'the OSS dialect refuses parts under 100 KB but the last at Complete (EntityTooSmall), as Alibaba Cloud OSS does, whatever `minPartSize` says; 10,000 parts of 1 KiB cannot be completed',
  },
  async start(options) {
    const server = await startTessera(options);
    const client: AliOss = new OSS({ accessKeyId: ACCESS_KEY, accessKeySecret: SECRET_KEY, bucket: BUCKET, endpoint: server.url } as OSS.Options);
    const timedCall = wireTimer(client);
    try {
      await client.putBucket(BUCKET);
    } catch (err) {
      // A server started on a copy of an earlier server's data (rows 3–4) has the bucket already.
      if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((err as { code?: string }).code ?? '')) {
        await server.stop();
        throw err;
      }
    }

    const partsUpload = (name: string, uploadId: string): PartsUpload => ({
      uploadId,
      uploadPart: async (partNumber, body) => {
        const result = await client.uploadPart(name, uploadId, partNumber, body, 0, body.length);
        return result.etag as string;
      },
      listParts: async (marker, maxParts) => {
        const query: Record<string, string> = { 'max-parts': String(maxParts) };
        if (marker > 0) query['part-number-marker'] = String(marker);
        const timed = await timedCall(uploadId, () => client.listParts(name, uploadId, query));
        const raw = (timed.value as { parts: unknown }).parts;
        const parts = (Array.isArray(raw) ? raw : raw ? [raw] : []) as Array<{ PartNumber: string }>;
        return { ...timed, value: parts.map((part) => Number(part.PartNumber)) };
      },
      complete: async (parts) => {
        const timed = await timedCall(uploadId, () =>
          client.completeMultipartUpload(
            name,
            uploadId,
            parts.map((part) => ({ number: part.partNumber, etag: part.etag })),
          ),
        );
        return { ...timed, value: unquote((timed.value as { etag?: string }).etag).toLowerCase() };
      },
    });

    const instance: Instance = {
      pid: server.pid,
      url: server.url,
      stop: () => server.stop(),

      uploadLarge: async (file, name, queueSize) => {
        const result = await client.multipartUpload(name, file.path, { partSize: file.partSize, parallel: queueSize });
        const headers = (result.res as OssResponse).headers;
        const etag = unquote(headers.etag).toLowerCase();
        const crc = headers['x-oss-hash-crc64ecma'];
        if (etag !== file.multipartEtag) throw new Error(`upload ETag ${etag} is not the multipart ETag ${file.multipartEtag}`);
        if (crc !== file.crc64) throw new Error(`upload x-oss-hash-crc64ecma ${String(crc)} is not the file's CRC-64 ${file.crc64}`);
        return { handle: name, verified: 'ETag = MD5 of the parts’ MD5s, x-oss-hash-crc64ecma = CRC-64 of the file' };
      },

      putSmall: async (name, body) => {
        await client.put(name, body);
      },

      download: async (handle, onChunk) => {
        const { stream } = await client.getStream(handle);
        for await (const chunk of stream as AsyncIterable<Buffer>) onChunk(chunk);
      },

      downloadRange: async (handle, start, end) => {
        const { stream, res } = await client.getStream(handle, { headers: { Range: `bytes=${start}-${end}` } });
        const chunks: Buffer[] = [];
        for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
        if ((res as OssResponse).status !== 206) throw new Error(`ranged getStream answered ${(res as OssResponse).status}, not 206`);
        return Buffer.concat(chunks);
      },

      createUpload: async (name) => {
        const init = await client.initMultipartUpload(name);
        return partsUpload(name, init.uploadId as string);
      },

      openUpload: (name, uploadId) => partsUpload(name, uploadId),
    };
    return instance;
  },
};
