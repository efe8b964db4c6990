/**
 * The floor: the least any storage server must do with an upload — stream the
 * request body to a file, MD5 it (the ETag every S3 client expects) and fsync it
 * — behind a bare node:http server. It speaks just enough of the S3 wire format
 * (path style, no authentication, no checksum checks, no metadata beyond the part
 * order) that the very same @aws-sdk client can drive it, so the client's own
 * cost is identical for the floor and for the S3 servers compared with it.
 *
 *   PUT  /b                              create bucket (no-op)
 *   PUT  /b/k                            object → file, MD5, fsync
 *   POST /b/k?uploads                    start a multipart upload
 *   PUT  /b/k?partNumber=N&uploadId=U    part → file, MD5, fsync
 *   POST /b/k?uploadId=U                 complete: write the part list (a manifest), fsync it
 *   GET  /b/k  [Range: bytes=a-b]        stream the file(s)
 *
 * `node floor-server.js <data-dir>` prints `floor listening on http://127.0.0.1:<port>`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const WRITE_BATCH_BYTES = 1 << 20;
const READ_CHUNK_BYTES = 256 * 1024;

const dataDir = process.argv[2];
if (!dataDir) {
  console.error('usage: floor-server <data-dir>');
  process.exit(2);
}

interface Piece {
  path: string;
  size: number;
  md5: Buffer;
}

/** Parts of open uploads, and what each key reads as: in memory, as the fastest index there is. */
const uploads = new Map<string, Map<number, Piece>>();
const objects = new Map<string, Piece[]>();

/** Streams the body to `path` in 1 MiB writes, MD5ing as it goes, then fsyncs. */
async function receive(req: IncomingMessage, path: string): Promise<Piece> {
  const file = await open(path, 'w', 0o600);
  const md5 = createHash('md5');
  let size = 0;
  try {
    let batch: Buffer[] = [];
    let batchBytes = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      md5.update(chunk);
      size += chunk.length;
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes >= WRITE_BATCH_BYTES) {
        await file.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes));
        batch = [];
        batchBytes = 0;
      }
    }
    if (batchBytes > 0) await file.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch, batchBytes));
    await file.sync();
  } finally {
    await file.close();
  }
  return { path, size, md5: md5.digest() };
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body = '', headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-length': String(Buffer.byteLength(body)), ...headers });
  res.end(body);
}

function xml(res: ServerResponse, body: string): void {
  send(res, 200, `<?xml version="1.0" encoding="UTF-8"?>\n${body}`, { 'content-type': 'application/xml' });
}

function fileName(key: string): string {
  return encodeURIComponent(key).replace(/\./g, '%2E');
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://floor');
  const [, bucket = '', ...rest] = url.pathname.split('/');
  const key = decodeURIComponent(rest.join('/'));
  const query = url.searchParams;
  if (req.headers['content-encoding']?.includes('aws-chunked')) {
    // The floor does not decode aws-chunked framing; say so rather than store it.
    return send(res, 501, 'aws-chunked bodies are not supported by the floor');
  }

  if (req.method === 'PUT' && key === '') return send(res, 200);

  if (req.method === 'PUT' && query.has('uploadId')) {
    const parts = uploads.get(query.get('uploadId')!);
    const partNumber = Number(query.get('partNumber'));
    if (!parts || !(partNumber >= 1)) return send(res, 404, 'NoSuchUpload');
    const piece = await receive(req, join(dataDir!, `u-${query.get('uploadId')}`, String(partNumber)));
    parts.set(partNumber, piece);
    return send(res, 200, '', { etag: `"${piece.md5.toString('hex')}"` });
  }

  if (req.method === 'PUT') {
    const piece = await receive(req, join(dataDir!, `o-${fileName(key)}`));
    objects.set(key, [piece]);
    return send(res, 200, '', { etag: `"${piece.md5.toString('hex')}"` });
  }

  if (req.method === 'POST' && query.has('uploads')) {
    const uploadId = randomBytes(16).toString('hex');
    await mkdir(join(dataDir!, `u-${uploadId}`));
    uploads.set(uploadId, new Map());
    return xml(res, `<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>${uploadId}</UploadId></InitiateMultipartUploadResult>`);
  }

  if (req.method === 'POST' && query.has('uploadId')) {
    const uploadId = query.get('uploadId')!;
    const parts = uploads.get(uploadId);
    if (!parts) return send(res, 404, 'NoSuchUpload');
    const body = await readAll(req);
    const chosen: Piece[] = [];
    for (const match of body.matchAll(/<Part>([\s\S]*?)<\/Part>/g)) {
      const number = Number(/<PartNumber>(\d+)<\/PartNumber>/.exec(match[1]!)?.[1]);
      const etag = /<ETag>(?:&quot;|")?([0-9a-fA-F]{32})/.exec(match[1]!)?.[1]?.toLowerCase();
      const piece = parts.get(number);
      if (!piece || piece.md5.toString('hex') !== etag) return send(res, 400, 'InvalidPart');
      chosen.push(piece);
    }
    // The one durable record a multipart object needs: which files, in which order.
    const manifest = await open(join(dataDir!, `m-${fileName(key)}`), 'w', 0o600);
    try {
      await manifest.write(JSON.stringify(chosen.map(({ path, size }) => ({ path, size }))));
      await manifest.sync();
    } finally {
      await manifest.close();
    }
    uploads.delete(uploadId);
    objects.set(key, chosen);
    const etag = `${createHash('md5').update(Buffer.concat(chosen.map((piece) => piece.md5))).digest('hex')}-${chosen.length}`;
    return xml(res, `<CompleteMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><ETag>"${etag}"</ETag></CompleteMultipartUploadResult>`);
  }

  if (req.method === 'GET' && key !== '') {
    const pieces = objects.get(key);
    if (!pieces) return send(res, 404, 'NoSuchKey');
    const size = pieces.reduce((sum, piece) => sum + piece.size, 0);
    let start = 0;
    let end = size - 1;
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (range) {
      start = Number(range[1]);
      end = range[2] ? Math.min(Number(range[2]), size - 1) : size - 1;
      res.writeHead(206, { 'content-length': String(end - start + 1), 'content-range': `bytes ${start}-${end}/${size}` });
    } else {
      res.writeHead(200, { 'content-length': String(size) });
    }
    let offset = 0;
    for (const piece of pieces) {
      const from = Math.max(start, offset) - offset;
      const to = Math.min(end, offset + piece.size - 1) - offset;
      offset += piece.size;
      if (to < from) continue;
      for await (const chunk of createReadStream(piece.path, { start: from, end: to, highWaterMark: READ_CHUNK_BYTES })) {
        if (res.destroyed) return;
        if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
      }
    }
    res.end();
    return;
  }

  send(res, 501, 'not implemented by the floor');
}

const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    if (res.headersSent) res.destroy();
    else send(res, 500, String(err));
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  console.log(`floor listening on http://127.0.0.1:${port}`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
