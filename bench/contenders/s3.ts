/**
 * The S3 operations every S3-speaking contender shares: the harness is the same
 * @aws-sdk/client-s3 + @aws-sdk/lib-storage client, at its defaults (flexible
 * checksums on, which over http means a signed SHA-256 payload hash plus an
 * x-amz-checksum-crc32 header on every part), aimed at a different endpoint.
 */
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { createReadStream } from 'node:fs';
import {
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Instance, PartsUpload, Timed } from './types.js';

// The SDK warns about Node 20 (under either of these names); the project supports Node 20.
process.env.AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING ??= '1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const BUCKET = 'bench';

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Anything with a middleware stack: a command. */
interface HasStack {
  middlewareStack: {
    add(middleware: unknown, options: { step: 'deserialize'; priority: 'low'; name: string }): void;
  };
}

/**
 * Sends a command and times both the whole call and the HTTP exchange alone: a
 * middleware at the innermost position (deserialize step, low priority) sees the
 * signed request go to the HTTP handler and the response headers come back.
 */
export async function timedSend<T>(client: S3Client, command: HasStack): Promise<Timed<T>> {
  let wireMs = NaN;
  command.middlewareStack.add(
    (next: (args: unknown) => Promise<unknown>) => async (args: unknown) => {
      const started = performance.now();
      try {
        return await next(args);
      } finally {
        wireMs = performance.now() - started;
      }
    },
    { step: 'deserialize', priority: 'low', name: 'benchWireTime' },
  );
  const started = performance.now();
  const value = (await client.send(command as never)) as T;
  return { value, totalMs: performance.now() - started, wireMs };
}

/** Builds an Instance from a started S3 server: creates the bench bucket and wires the operations. */
export async function s3Instance(
  server: { pid: number; url: string; stop(): Promise<void> },
  credentials: Credentials,
  options: { etagCheck: 'multipart' | 'whole-md5' | 'either'; encrypted?: boolean },
): Promise<Instance> {
  const client = new S3Client({ endpoint: server.url, region: 'us-east-1', forcePathStyle: true, credentials });
  try {
    await client.send(new CreateBucketCommand({ Bucket: BUCKET }));
  } catch (err) {
    // A server started on a copy of an earlier server's data (rows 3–4) has the bucket already.
    if (!['BucketAlreadyOwnedByYou', 'BucketAlreadyExists'].includes((err as Error).name)) throw err;
  }
  if (options.encrypted) {
    // Every object the rows write is then stored with SSE-S3, and every read decrypts.
    await client.send(
      new PutBucketEncryptionCommand({
        Bucket: BUCKET,
        ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      }),
    );
  }

  const partsUpload = (name: string, uploadId: string): PartsUpload => ({
    uploadId,
    uploadPart: async (partNumber, body) => {
      const out = await client.send(new UploadPartCommand({ Bucket: BUCKET, Key: name, UploadId: uploadId, PartNumber: partNumber, Body: body }));
      return out.ETag!;
    },
    listParts: async (marker, maxParts) => {
      const command = new ListPartsCommand({
        Bucket: BUCKET,
        Key: name,
        UploadId: uploadId,
        MaxParts: maxParts,
        PartNumberMarker: marker > 0 ? String(marker) : undefined,
      });
      const timed = await timedSend<{ Parts?: Array<{ PartNumber?: number }> }>(client, command as unknown as HasStack);
      return { ...timed, value: (timed.value.Parts ?? []).map((part) => part.PartNumber ?? -1) };
    },
    complete: async (parts) => {
      const command = new CompleteMultipartUploadCommand({
        Bucket: BUCKET,
        Key: name,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag })) },
      });
      const timed = await timedSend<{ ETag?: string }>(client, command as unknown as HasStack);
      return { ...timed, value: (timed.value.ETag ?? '').replace(/"/g, '') };
    },
  });

  return {
    pid: server.pid,
    url: server.url,
    stop: async () => {
      client.destroy();
      await server.stop();
    },

    uploadLarge: async (file, name, queueSize) => {
      const upload = new Upload({
        client,
        params: { Bucket: BUCKET, Key: name, Body: createReadStream(file.path) },
        partSize: file.partSize,
        queueSize,
      });
      const result = await upload.done();
      const etag = (result.ETag ?? '').replace(/"/g, '');
      const multipartOk = etag === file.multipartEtag;
      const wholeOk = etag === file.md5;
      const ok = options.etagCheck === 'multipart' ? multipartOk : options.etagCheck === 'whole-md5' ? wholeOk : multipartOk || wholeOk;
      if (!ok) throw new Error(`upload ETag ${etag} matches neither the multipart ETag ${file.multipartEtag} nor the MD5 ${file.md5}`);
      return { handle: name, verified: multipartOk ? 'ETag = MD5 of the parts’ MD5s' : 'ETag = MD5 of the file' };
    },

    putSmall: async (name, body) => {
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: name, Body: body }));
    },

    download: async (handle, onChunk) => {
      const response = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: handle }));
      for await (const chunk of response.Body as Readable) onChunk(chunk as Buffer);
    },

    downloadRange: async (handle, start, end) => {
      const response = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: handle, Range: `bytes=${start}-${end}` }));
      const chunks: Buffer[] = [];
      for await (const chunk of response.Body as Readable) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },

    createUpload: async (name) => {
      const created = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: name }));
      return partsUpload(name, created.UploadId!);
    },

    openUpload: (name, uploadId) => partsUpload(name, uploadId),
  };
}
