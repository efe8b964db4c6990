/**
 * The soak's operations. Each worker loops: pick an operation (by weight), run it, count it. Every
 * write goes into the ledger before its first byte and is marked acknowledged only on its success
 * answer; reads and listings check what they get against the ledger as they go.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { PanClient, PanUploadResult } from '../../src/client/pan.js';
import { normalEtag, type Bodies, type BodySpec } from './bodies.js';
import { causeOf, OSS_BUCKET, PAN_BUCKET, S3_BUCKET, statusOf } from './clients.js';
import type { Ledger, ObjectRecord, Tally, UploadRecord } from './ledger.js';
import type { Target } from './target.js';

const KiB = 1024;
const MiB = 1024 * KiB;
/** lib-storage's part size (S3's minimum). */
export const S3_PART = 5 * MiB;

export interface Context {
  bodies: Bodies;
  ledger: Ledger;
  tally: Tally;
  target: Target;
  s3: S3Client;
  /** Alice's S3 client: the pan drive is her bucket. */
  aliceS3: S3Client;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  oss: any;
  pan: PanClient;
  panSliceSize: number;
  scratch: string;
  /** When the workers stop picking new operations. */
  deadline: number;
}

export interface Worker {
  id: number;
  random: () => number;
  seq: number;
}

type Operation = (ctx: Context, w: Worker) => Promise<void>;

const OPERATIONS: Array<[string, number, Operation]> = [
  ['s3.put', 22, s3Put],
  ['s3.multipart', 10, s3Multipart],
  ['oss.put', 8, ossPut],
  ['oss.multipart', 6, ossMultipart],
  ['pan.v1', 6, (ctx, w) => panUpload(ctx, w, 1)],
  ['pan.v2', 6, (ctx, w) => panUpload(ctx, w, 2)],
  ['pan.instant', 3, panInstant],
  ['pan.resume', 4, panResume],
  ['get.range', 20, getRange],
  ['get.full', 6, getFull],
  ['list', 8, list],
  ['s3.delete', 5, s3Delete],
];
const TOTAL_WEIGHT = OPERATIONS.reduce((sum, [, weight]) => sum + weight, 0);

/** One worker: operations until the deadline. */
export async function runWorker(ctx: Context, worker: Worker): Promise<void> {
  while (Date.now() < ctx.deadline) {
    let pick = worker.random() * TOTAL_WEIGHT;
    const [kind, , operation] = OPERATIONS.find(([, weight]) => (pick -= weight) < 0) ?? OPERATIONS[0]!;
    worker.seq++;
    const start = Date.now();
    try {
      await operation(ctx, worker);
      ctx.tally.done(kind);
    } catch (err) {
      if (err instanceof Skip) continue;
      recordFailure(ctx, kind, start, err);
      // Do not hammer a server that is down: wait until it is back.
      if (ctx.target.inWindow(Date.now())) await ctx.target.settled();
    }
  }
}

/** Nothing to do (no acknowledged object to read yet, say): not an operation. */
class Skip extends Error {}

function recordFailure(ctx: Context, kind: string, start: number, err: unknown): void {
  const at = Date.now();
  const status = statusOf(err);
  // The S3 SDK's handler and ali-oss's HTTP client counted their own 5xx answers; the pan client's are counted here.
  const counted = (err as { $metadata?: unknown }).$metadata !== undefined || kind.startsWith('oss.');
  if (status !== undefined && status >= 500 && !counted) ctx.tally.serverError(status, `${kind}: ${causeOf(err)}`);
  const inWindow = ctx.target.overlapsWindow(start, at);
  ctx.tally.fail({ kind, cause: causeOf(err), inWindow, at, message: String((err as Error)?.message ?? err).slice(0, 300) });
}

/** 1 KiB – 8 MiB, most of them small. */
function objectSize(random: () => number): number {
  const r = random();
  if (r < 0.6) return KiB + Math.floor(random() * 255 * KiB);
  if (r < 0.9) return 256 * KiB + Math.floor(random() * 3.75 * MiB);
  return 4 * MiB + Math.floor(random() * 4 * MiB);
}

function between(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

// Writes

async function s3Put(ctx: Context, w: Worker): Promise<void> {
  const key = `s3/${w.id}/${w.seq}`;
  const body: BodySpec = { id: key, size: objectSize(w.random) };
  const etags = [ctx.bodies.md5(body), ctx.bodies.multipartEtag(body, S3_PART)];
  const record = ctx.ledger.writing({ bucket: S3_BUCKET, key, body, etags, via: 's3.put' });
  try {
    const upload = new Upload({
      client: ctx.s3,
      params: { Bucket: S3_BUCKET, Key: key, Body: ctx.bodies.stream(body) },
      partSize: S3_PART,
      queueSize: 2,
      leavePartsOnError: false,
    });
    const out = await upload.done();
    const etag = normalEtag(out.ETag);
    if (!etags.includes(etag)) ctx.tally.violation(`s3.put ${key}: answered ETag ${etag}, expected one of ${etags.join(', ')}`);
    ctx.ledger.acked(record, etag);
  } catch (err) {
    record.state = 'unknown';
    throw err;
  }
}

/** CreateMultipartUpload, 2–8 parts, then Complete (half), Abort (a quarter) or left open. */
async function s3Multipart(ctx: Context, w: Worker): Promise<void> {
  const key = `mpu/${w.id}/${w.seq}`;
  const partSize = between(w.random, 128 * KiB, 1 * MiB);
  const count = between(w.random, 2, 8);
  const body: BodySpec = { id: key, size: partSize * (count - 1) + between(w.random, 1, partSize) };
  const created = await ctx.s3.send(new CreateMultipartUploadCommand({ Bucket: S3_BUCKET, Key: key }));
  const upload: UploadRecord = { bucket: S3_BUCKET, key, uploadId: created.UploadId!, body, partSize, parts: new Map(), state: 'open' };
  ctx.ledger.uploads.set(upload.uploadId, upload);
  for (let n = 1; n <= count; n++) {
    const offset = (n - 1) * partSize;
    const size = Math.min(partSize, body.size - offset);
    const bytes = ctx.bodies.bytes(body, offset, size);
    const part = { offset, size, etag: createHash('md5').update(bytes).digest('hex'), acked: false };
    upload.parts.set(n, part);
    const out = await ctx.s3.send(new UploadPartCommand({ Bucket: S3_BUCKET, Key: key, UploadId: upload.uploadId, PartNumber: n, Body: bytes }));
    if (normalEtag(out.ETag) !== part.etag) ctx.tally.violation(`UploadPart ${key} #${n}: answered ETag ${out.ETag}, expected ${part.etag}`);
    part.acked = true;
    ctx.tally.note('S3 parts acknowledged');
  }
  const choice = w.random();
  if (choice < 0.5) {
    const etag = ctx.bodies.multipartEtag(body, partSize);
    const record = ctx.ledger.writing({ bucket: S3_BUCKET, key, body, etags: [etag], via: 's3.multipart' });
    try {
      const parts = [...upload.parts.entries()].map(([PartNumber, part]) => ({ PartNumber, ETag: `"${part.etag}"` }));
      const out = await ctx.s3.send(new CompleteMultipartUploadCommand({ Bucket: S3_BUCKET, Key: key, UploadId: upload.uploadId, MultipartUpload: { Parts: parts } }));
      if (normalEtag(out.ETag) !== etag) ctx.tally.violation(`Complete ${key}: answered ETag ${out.ETag}, expected ${etag}`);
      ctx.ledger.acked(record, etag);
      upload.state = 'completed';
      ctx.tally.note('S3 uploads completed');
    } catch (err) {
      record.state = 'unknown';
      upload.state = 'complete-unknown';
      throw err;
    }
  } else if (choice < 0.75) {
    try {
      await ctx.s3.send(new AbortMultipartUploadCommand({ Bucket: S3_BUCKET, Key: key, UploadId: upload.uploadId }));
      upload.state = 'aborted';
      ctx.tally.note('S3 uploads aborted');
    } catch (err) {
      upload.state = 'abort-unknown';
      throw err;
    }
  } else {
    ctx.tally.note('S3 uploads left open');
  }
}

async function ossPut(ctx: Context, w: Worker): Promise<void> {
  const key = `oss/${w.id}/${w.seq}`;
  const body: BodySpec = { id: key, size: between(w.random, KiB, MiB) };
  const etag = ctx.bodies.md5(body);
  const record = ctx.ledger.writing({ bucket: OSS_BUCKET, key, body, etags: [etag], via: 'oss.put' });
  try {
    const out = await ctx.oss.put(key, ctx.bodies.bytes(body));
    const answered = normalEtag(out.res.headers.etag);
    if (answered !== etag) ctx.tally.violation(`oss.put ${key}: answered ETag ${answered}, expected ${etag}`);
    ctx.ledger.acked(record, etag);
  } catch (err) {
    record.state = 'unknown';
    throw err;
  }
}

/** ali-oss multipartUpload from a file, resumed from its checkpoint after a failure (up to 3 times). */
async function ossMultipart(ctx: Context, w: Worker): Promise<void> {
  const key = `oss-mpu/${w.id}/${w.seq}`;
  const partSize = between(w.random, 256 * KiB, MiB);
  const body: BodySpec = { id: key, size: between(w.random, MiB, 6 * MiB) };
  const etag = ctx.bodies.multipartEtag(body, partSize);
  const path = join(ctx.scratch, `oss-${w.id}-${w.seq}`);
  await ctx.bodies.writeFile(body, path);
  const record = ctx.ledger.writing({ bucket: OSS_BUCKET, key, body, etags: [etag], via: 'oss.multipart' });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let checkpoint: any;
  try {
    for (let attempt = 0; ; attempt++) {
      const start = Date.now();
      try {
        const out = await ctx.oss.multipartUpload(key, path, {
          partSize,
          parallel: 2,
          checkpoint,
          // eslint-disable-next-line @typescript-eslint/no-explicit-any
          progress: (_p: number, cpt: any) => {
            if (cpt) checkpoint = cpt;
          },
        });
        const answered = normalEtag(out.etag ?? out.res?.headers?.etag);
        if (answered && answered !== etag) ctx.tally.violation(`oss.multipart ${key}: answered ETag ${answered}, expected ${etag}`);
        ctx.ledger.acked(record, etag);
        if (attempt > 0) ctx.tally.note('OSS uploads resumed from a checkpoint');
        return;
      } catch (err) {
        if (attempt >= 3 || !checkpoint) throw err;
        recordFailure(ctx, 'oss.multipart (attempt)', start, err);
        await ctx.target.settled();
      }
    }
  } catch (err) {
    record.state = 'unknown';
    throw err;
  } finally {
    await rm(path, { force: true });
  }
}

/** The pan client's upload (instant upload check, slices, completion), again after a failure: it resumes. */
async function panUpload(ctx: Context, w: Worker, version: 1 | 2): Promise<void> {
  const filename = `pan-v${version}-${w.id}-${w.seq}.bin`;
  const body: BodySpec = { id: filename, size: between(w.random, 16 * KiB, 3 * MiB) };
  await uploadPanFile(ctx, w, filename, body, version, 'pan.v' + version);
}

async function uploadPanFile(ctx: Context, w: Worker, filename: string, body: BodySpec, version: 1 | 2, via: string): Promise<PanUploadResult> {
  const etags = [ctx.bodies.md5(body), ctx.bodies.multipartEtag(body, ctx.panSliceSize)];
  const path = join(ctx.scratch, `${filename}-${w.seq}`);
  await ctx.bodies.writeFile(body, path);
  const record = ctx.ledger.writing({ bucket: PAN_BUCKET, key: filename, body, etags, via });
  try {
    for (let attempt = 0; ; attempt++) {
      const start = Date.now();
      try {
        const out = await ctx.pan.uploadFile(path, { filename, version, duplicate: 2, parallel: 2 });
        if (out.etag !== etags[0] || out.size !== body.size) ctx.tally.violation(`${via} ${filename}: the client hashed ${out.etag}/${out.size}`);
        ctx.ledger.acked(record);
        if (out.skippedSlices > 0) ctx.tally.note('pan uploads resumed (slices skipped)');
        if (attempt > 0) ctx.tally.note('pan uploads retried after a failure');
        return out;
      } catch (err) {
        if (attempt >= 3 || !ctx.target.overlapsWindow(start, Date.now())) throw err;
        recordFailure(ctx, `${via} (attempt)`, start, err);
        await ctx.target.settled();
      }
    }
  } catch (err) {
    record.state = 'unknown';
    throw err;
  } finally {
    await rm(path, { force: true });
  }
}

/**
 * A pan upload broken off after some of its slices (V1 or V2), then the client's upload of the same
 * file: it must get the same upload back and skip every slice already acknowledged.
 */
async function panResume(ctx: Context, w: Worker): Promise<void> {
  const version: 1 | 2 = w.random() < 0.5 ? 1 : 2;
  const filename = `pan-resume-v${version}-${w.id}-${w.seq}.bin`;
  const slice = ctx.panSliceSize;
  const slices = between(w.random, 3, 10);
  const body: BodySpec = { id: filename, size: slice * (slices - 1) + between(w.random, 1, slice) };
  const sent = between(w.random, 1, slices - 1);
  const created = await ctx.pan.create({ parentFileID: 0, filename, etag: ctx.bodies.md5(body), size: body.size, duplicate: 2 }, version);
  if (created.reuse || created.sliceSize !== slice) throw new Error(`pan create ${filename}: reuse ${created.reuse}, slice size ${created.sliceSize}`);
  for (let sliceNo = 1; sliceNo <= sent; sliceNo++) {
    const bytes = ctx.bodies.bytes(body, (sliceNo - 1) * slice, slice);
    if (version === 1) {
      await ctx.pan.putSlice(await ctx.pan.getUploadUrl(created.preuploadID!, sliceNo), bytes);
    } else {
      const sliceMD5 = createHash('md5').update(bytes).digest('hex');
      await ctx.pan.uploadSliceV2(created.servers?.[0] ?? ctx.pan.baseUrl, { preuploadID: created.preuploadID!, sliceNo, sliceMD5 }, { length: bytes.length, open: () => Readable.from([bytes]) });
    }
  }
  ctx.tally.note('pan slices acknowledged before a break');
  const out = await uploadPanFile(ctx, w, filename, body, version, 'pan.resume');
  if (out.reuse) {
    // An attempt of the resume completed the upload and lost its answer in a crash: the retry's
    // create found the content there (an instant upload), and there was nothing left to resume.
    ctx.tally.note('pan resumes completed by an attempt whose answer was lost');
  } else if (out.preuploadID !== created.preuploadID) {
    ctx.tally.violation(`pan.resume ${filename}: resumed as upload ${String(out.preuploadID)}, begun as ${created.preuploadID}`);
  } else if (out.skippedSlices < sent) {
    ctx.tally.violation(`pan.resume ${filename}: ${sent} slices acknowledged before the break, ${out.skippedSlices} found on resume`);
  }
}

/** The content of an acknowledged pan file again under a new name: the server must reuse it. */
async function panInstant(ctx: Context, w: Worker): Promise<void> {
  const source = ctx.ledger.pickAcked(w.random, (r) => r.bucket === PAN_BUCKET);
  if (!source) throw new Skip();
  const filename = `pan-instant-${w.id}-${w.seq}.bin`;
  const reused = (await uploadPanFile(ctx, w, filename, source.body, 2, 'pan.instant')).reuse;
  ctx.tally.note(reused ? 'pan instant uploads (content reused)' : 'pan instant uploads not reused (content sent)');
}

async function s3Delete(ctx: Context, w: Worker): Promise<void> {
  const record = ctx.ledger.pickAcked(w.random, (r) => r.bucket === S3_BUCKET && r.busy === 0);
  if (!record) throw new Skip();
  record.state = 'deleting';
  try {
    await ctx.s3.send(new DeleteObjectCommand({ Bucket: record.bucket, Key: record.key }));
    record.state = 'deleted';
  } catch (err) {
    record.state = 'delete-unknown';
    throw err;
  }
}

// Reads

function clientFor(ctx: Context, record: ObjectRecord): S3Client {
  return record.bucket === PAN_BUCKET ? ctx.aliceS3 : ctx.s3;
}

/** A random range of an acknowledged object; its bytes must be the body's. */
async function getRange(ctx: Context, w: Worker): Promise<void> {
  const record = ctx.ledger.pickAcked(w.random);
  if (!record) throw new Skip();
  record.busy++;
  try {
    const size = record.body.size;
    const first = Math.floor(w.random() * size);
    const last = Math.min(size - 1, first + Math.floor(w.random() * MiB));
    const out = await clientFor(ctx, record).send(new GetObjectCommand({ Bucket: record.bucket, Key: record.key, Range: `bytes=${first}-${last}` }));
    const got = Buffer.from(await out.Body!.transformToByteArray());
    if (!got.equals(ctx.bodies.bytes(record.body, first, last - first + 1))) {
      ctx.tally.violation(`ranged GET ${record.bucket}/${record.key} bytes=${first}-${last}: ${got.length} bytes that are not the body's`);
    }
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') ctx.tally.violation(`ranged GET ${record.bucket}/${record.key}: NoSuchKey for an acknowledged object`);
    throw err;
  } finally {
    record.busy--;
  }
}

/** A whole acknowledged object, streamed: its MD5 must be the body's. */
async function getFull(ctx: Context, w: Worker): Promise<void> {
  const record = ctx.ledger.pickAcked(w.random);
  if (!record) throw new Skip();
  record.busy++;
  try {
    const { md5, size } = await streamedMd5(clientFor(ctx, record), record.bucket, record.key);
    if (size !== record.body.size || md5 !== ctx.bodies.md5(record.body)) {
      ctx.tally.violation(`GET ${record.bucket}/${record.key}: ${size} bytes, MD5 ${md5}; expected ${record.body.size}, ${ctx.bodies.md5(record.body)}`);
    }
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') ctx.tally.violation(`GET ${record.bucket}/${record.key}: NoSuchKey for an acknowledged object`);
    throw err;
  } finally {
    record.busy--;
  }
}

export async function streamedMd5(s3: S3Client, bucket: string, key: string, range?: string): Promise<{ md5: string; size: number; etag: string }> {
  const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: range }));
  const hash = createHash('md5');
  let size = 0;
  for await (const chunk of out.Body as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { md5: hash.digest('hex'), size, etag: normalEtag(out.ETag) };
}

/**
 * One worker's keys of one kind listed: every object acknowledged before the listing began and not
 * deleted since must be there; every key listed must be one the soak wrote, with its full size; an
 * object whose delete was acknowledged before must not be.
 */
async function list(ctx: Context, w: Worker): Promise<void> {
  const [bucket, kind] = w.random() < 0.7 ? [S3_BUCKET, w.random() < 0.6 ? 's3' : 'mpu'] : [OSS_BUCKET, w.random() < 0.5 ? 'oss' : 'oss-mpu'];
  const prefix = `${kind}/${Math.floor(w.random() * 64)}/`;
  const started = Date.now();
  const before = new Map<string, ObjectRecord['state']>();
  for (const record of ctx.ledger.objects.values()) if (record.bucket === bucket && record.key.startsWith(prefix)) before.set(record.key, record.state);
  const listed = new Map<string, number>();
  let token: string | undefined;
  do {
    const page = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: 500 }));
    for (const item of page.Contents ?? []) listed.set(item.Key!, item.Size ?? -1);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  for (const [key, size] of listed) {
    const record = ctx.ledger.get(bucket, key);
    if (!record) ctx.tally.violation(`LIST ${bucket}/${prefix}: ${key} was never written`);
    else if (size !== record.body.size) ctx.tally.violation(`LIST ${bucket}/${prefix}: ${key} listed with ${size} bytes, written with ${record.body.size}`);
    else if (before.get(key) === 'deleted') ctx.tally.violation(`LIST ${bucket}/${prefix}: ${key} listed after its delete was acknowledged`);
  }
  for (const [key, state] of before) {
    const now = ctx.ledger.get(bucket, key)!;
    if (state === 'acked' && now.state === 'acked' && (now.ackedAt ?? started) < started && !listed.has(key)) {
      ctx.tally.violation(`LIST ${bucket}/${prefix}: acknowledged ${key} missing`);
    }
  }
}
