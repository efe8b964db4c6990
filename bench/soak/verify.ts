/**
 * The end of the soak: with the chaos over and the server restarted cleanly, everything in the
 * ledger is checked against what the server holds.
 */
import { createHash } from 'node:crypto';
import { HeadObjectCommand, ListObjectsV2Command, ListPartsCommand, type S3Client } from '@aws-sdk/client-s3';
import { normalEtag } from './bodies.js';
import { OSS_BUCKET, PAN_BUCKET, S3_BUCKET } from './clients.js';
import type { ObjectRecord, UploadRecord } from './ledger.js';
import { streamedMd5, type Context } from './workloads.js';

export interface Verification {
  /** Acknowledged objects and parts found whole. */
  verifiedObjects: number;
  verifiedParts: number;
  /** Acknowledged objects or parts missing or not whole. */
  lost: string[];
  /** Unacknowledged writes visible but not whole, keys nobody wrote, deleted objects back. */
  torn: string[];
  /** Other broken invariants (an aborted upload still there). */
  violations: string[];
  /** Unacknowledged writes (in flight at a kill) that turned out to exist, whole. */
  unackedPresent: number;
  unackedAbsent: number;
}

export async function verify(ctx: Context, random: () => number, parallel = 8): Promise<Verification> {
  const result: Verification = { verifiedObjects: 0, verifiedParts: 0, lost: [], torn: [], violations: [], unackedPresent: 0, unackedAbsent: 0 };
  const clientFor = (bucket: string): S3Client => (bucket === PAN_BUCKET ? ctx.aliceS3 : ctx.s3);

  const checkObject = async (record: ObjectRecord): Promise<void> => {
    const name = `${record.bucket}/${record.key} (${record.via})`;
    const s3 = clientFor(record.bucket);
    const head = await s3.send(new HeadObjectCommand({ Bucket: record.bucket, Key: record.key })).then(
      (out) => ({ size: out.ContentLength ?? -1, etag: normalEtag(out.ETag) }),
      (err: { name?: string; $metadata?: { httpStatusCode?: number } }) => {
        if (err.$metadata?.httpStatusCode === 404) return undefined;
        throw err;
      },
    );
    const expectedMd5 = ctx.bodies.md5(record.body);
    const whole = async (): Promise<string | undefined> => {
      if (!head) return 'missing';
      if (head.size !== record.body.size) return `${head.size} bytes, expected ${record.body.size}`;
      if (!record.etags.includes(head.etag)) return `ETag ${head.etag}, expected ${record.etags.join(' or ')}`;
      const full = await streamedMd5(s3, record.bucket, record.key);
      if (full.size !== record.body.size || full.md5 !== expectedMd5) return `read back ${full.size} bytes with MD5 ${full.md5}, expected ${expectedMd5}`;
      const first = Math.floor(random() * record.body.size);
      const last = Math.min(record.body.size - 1, first + Math.floor(random() * 256 * 1024));
      const range = await streamedMd5(s3, record.bucket, record.key, `bytes=${first}-${last}`);
      const expected = ctx.bodies.bytes(record.body, first, last - first + 1);
      if (range.md5 !== createHash('md5').update(expected).digest('hex')) return `range ${first}-${last} differs`;
      return undefined;
    };
    switch (record.state) {
      case 'acked': {
        const problem = await whole();
        if (problem) result.lost.push(`${name}: ${problem}`);
        else result.verifiedObjects++;
        return;
      }
      case 'deleted':
        if (head) result.torn.push(`${name}: its delete was acknowledged, yet it is there`);
        return;
      default: {
        // Written or deleted without an answer: there or not; if there, whole.
        if (!head) {
          result.unackedAbsent++;
          return;
        }
        const problem = await whole();
        if (problem) result.torn.push(`${name} (${record.state}, no answer): ${problem}`);
        else result.unackedPresent++;
      }
    }
  };

  const checkUpload = async (upload: UploadRecord): Promise<void> => {
    const name = `upload ${upload.bucket}/${upload.key} ${upload.uploadId}`;
    const listed = new Map<number, { size: number; etag: string }>();
    let gone = false;
    try {
      let marker: string | undefined;
      do {
        const page = await ctx.s3.send(new ListPartsCommand({ Bucket: upload.bucket, Key: upload.key, UploadId: upload.uploadId, PartNumberMarker: marker }));
        for (const part of page.Parts ?? []) listed.set(part.PartNumber!, { size: part.Size ?? -1, etag: normalEtag(part.ETag) });
        marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
      } while (marker);
    } catch (err) {
      if ((err as { name?: string }).name !== 'NoSuchUpload') throw err;
      gone = true;
    }
    if (upload.state === 'aborted' || upload.state === 'completed') {
      if (!gone) result.violations.push(`${name}: ${upload.state}, yet ListParts still lists it`);
      return;
    }
    if (gone) {
      // An upload with an unanswered Abort or Complete may be gone; an open one must not be.
      if (upload.state === 'open') {
        for (const [n, part] of upload.parts) if (part.acked) result.lost.push(`${name}: part ${n} acknowledged, the upload is gone`);
      }
      return;
    }
    for (const [n, part] of upload.parts) {
      const seen = listed.get(n);
      if (!seen) {
        if (part.acked) result.lost.push(`${name}: acknowledged part ${n} not listed`);
        continue;
      }
      if (seen.size !== part.size || seen.etag !== part.etag) {
        (part.acked ? result.lost : result.torn).push(`${name}: part ${n} listed with ${seen.size} bytes, ETag ${seen.etag}; written ${part.size}, ${part.etag}`);
      } else if (part.acked) result.verifiedParts++;
    }
    for (const n of listed.keys()) if (!upload.parts.has(n)) result.torn.push(`${name}: part ${n} listed, never sent`);
  };

  await inParallel([...ctx.ledger.objects.values()], parallel, (record) =>
    checkObject(record).catch((err) => void result.violations.push(`${record.bucket}/${record.key}: verification failed: ${String(err)}`)),
  );
  await inParallel([...ctx.ledger.uploads.values()], parallel, (upload) =>
    checkUpload(upload).catch((err) => void result.violations.push(`upload ${upload.uploadId}: verification failed: ${String(err)}`)),
  );

  // Nothing listed that nobody wrote.
  for (const bucket of [S3_BUCKET, OSS_BUCKET, PAN_BUCKET]) {
    let token: string | undefined;
    do {
      const page = await clientFor(bucket).send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
      for (const item of page.Contents ?? []) {
        if (!ctx.ledger.get(bucket, item.Key!)) result.torn.push(`${bucket}/${item.Key}: listed, never written`);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }
  return result;
}

async function inParallel<T>(items: T[], parallel: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}
