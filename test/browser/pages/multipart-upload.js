// Runs in the browser (bundled by test/helpers/browser-bundle.ts): a page on another origin
// uploads one object in parts to Tessera with the AWS SDK, as a web app does.
import { CompleteMultipartUploadCommand, CreateMultipartUploadCommand, S3Client, UploadPartCommand } from '@aws-sdk/client-s3';

/** The bytes of part `number` (1-based) of `size` bytes; test/browser/cors.test.ts makes the same. */
export function partBytes(number, size) {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + number * 7) % 251;
  return bytes;
}

/**
 * Creates the upload, sends each part (reading its ETag from the response header, which only a
 * CORS rule exposing ETag lets the page see) and completes it. Resolves to what happened, never
 * rejects: `{ ok: true, etags, etag }` or `{ ok: false, step, name, message, etags }`.
 */
export async function multipartUpload({ endpoint, region, credentials, bucket, key, partSizes }) {
  const client = new S3Client({
    endpoint,
    region,
    forcePathStyle: true,
    credentials,
    maxAttempts: 1,
    // A Uint8Array body needs no aws-chunked framing; the part list is checked by the server.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const etags = [];
  let step = 'CreateMultipartUpload';
  try {
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key, ContentType: 'application/octet-stream' }));
    for (let i = 0; i < partSizes.length; i++) {
      step = `UploadPart ${i + 1}`;
      const answer = await client.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId, PartNumber: i + 1, Body: partBytes(i + 1, partSizes[i]) }));
      etags.push(answer.ETag ?? null);
    }
    step = 'CompleteMultipartUpload';
    const done = await client.send(
      new CompleteMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
    );
    return { ok: true, etags, etag: done.ETag ?? null };
  } catch (err) {
    return { ok: false, step, name: err?.name ?? null, message: String(err?.message ?? err), etags };
  } finally {
    client.destroy();
  }
}
