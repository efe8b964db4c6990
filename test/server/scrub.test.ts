/**
 * Bit rot (docs/reliability.md): `tessera scrub` against a real server's data directory, on SQLite
 * and on PostgreSQL; every blob's CRC32C is recorded when written; a full GET of an object whose
 * blob was altered on disk fails (checked by that CRC32C, or by the MD5 for a blob recorded without
 * one, as before schema version 13); the background scrub logs what it finds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, stat, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Crc32c } from '../../src/core/checksums.js';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { unsignedPayloadHeaders } from '../helpers/raw.js';
import { postgresBinDir, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { s3Client } from '../helpers/s3.js';
import { CLI, filesUnder, startNode, type TestServer } from '../helpers/server.js';

const KiB = 1024;
const BUCKET = 'scrubbed';
const md5Hex = (data: Buffer) => createHash('md5').update(data).digest('hex');
const crc32cOf = (data: Buffer) => {
  const crc = new Crc32c();
  crc.update(data);
  return crc.digest().readUInt32BE(0);
};

/**
 * Runs `sql` on the server's metadata, straight in the database (SQLite's meta.db, or PostgreSQL),
 * beside the running server: to read what it recorded, or to make a blob look as if written
 * before its CRC32C was kept. `?` placeholders; rows come back as objects.
 */
async function metadataSql(dataDir: string, postgresUrl: string | undefined, sql: string, params: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  if (postgresUrl) {
    const client = new pg.Client({ connectionString: postgresUrl });
    await client.connect();
    try {
      let n = 0;
      return (await client.query(sql.replace(/\?/g, () => `$${++n}`), params)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end();
    }
  }
  const db = new Database(join(dataDir, 'meta.db'));
  try {
    const statement = db.prepare(sql);
    return statement.reader ? (statement.all(...params) as Array<Record<string, unknown>>) : (statement.run(...params), []);
  } finally {
    db.close();
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

interface JsonFinding {
  kind: string;
  corrupt: boolean;
  blobId: string;
  path: string;
  detail: string;
  references: Array<{ bucket: string; key: string; partNumber: number; object: boolean; uploadId?: string; versionId?: string | null; encryption?: string }>;
}

function parseJson(run: Run): { findings: JsonFinding[]; summary: Record<string, number> } {
  const lines = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string } & Record<string, unknown>);
  const summary = lines.pop()!;
  assert.equal(summary.type, 'summary', run.stdout);
  return { findings: lines.map((line) => line as unknown as JsonFinding), summary: summary as unknown as Record<string, number> };
}

/** The blob file of exactly `size` bytes (each blob of the scenario has a size of its own). */
async function blobOfSize(dataDir: string, size: number): Promise<string> {
  const files = [];
  for (const path of await filesUnder(join(dataDir, 'blobs'))) if ((await stat(path)).size === size) files.push(path);
  assert.equal(files.length, 1, `one blob of ${size} bytes`);
  return files[0]!;
}

async function flipByte(path: string, position: number): Promise<void> {
  const file = await open(path, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, position);
    byte[0] = byte[0]! ^ 0x01;
    await file.write(byte, 0, 1, position);
  } finally {
    await file.close();
  }
}

/** The whole body through the SDK: its bytes, or the error the SDK (or the cut stream) gave. */
async function getWhole(s3: S3Client, key: string): Promise<Buffer | Error> {
  try {
    const answer = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await answer.Body!.transformToByteArray());
  } catch (err) {
    return err as Error;
  }
}

/** A plain signed GET: the status, the Content-Length announced, the bytes that came, and whether the body came whole. */
function rawGet(baseUrl: string, key: string): Promise<{ status: number; length: number; received: number; complete: boolean }> {
  const path = `/${BUCKET}/${key}`;
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: url.hostname, port: url.port, method: 'GET', path, headers: unsignedPayloadHeaders(baseUrl, 'GET', path, 0), agent: false },
      (res) => {
        let received = 0;
        res.on('data', (chunk: Buffer) => (received += chunk.length));
        const done = () => resolve({ status: res.statusCode!, length: Number(res.headers['content-length']), received, complete: res.complete });
        res.on('close', done);
        res.on('error', () => {});
      },
    );
    req.on('error', reject);
    req.end();
  });
}

async function waitFor(predicate: () => boolean, what: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function scenario(backend: string, usePostgres: boolean): void {
  describe(`tessera scrub (${backend})`, () => {
    let postgres: TestPostgres | undefined;
    let server: TestServer;
    let s3: S3Client;
    const scrubArgs = () => ['scrub', '--data', server.dataDir, ...(postgres ? ['--metadata', postgres.url] : [])];
    const single = randomBytes(200_000);
    const parts = [randomBytes(300 * KiB), randomBytes(300 * KiB + 1), randomBytes(100 * KiB)];
    const pendingPart = randomBytes(150_000);
    const sealed = randomBytes(123_457);
    const intact = randomBytes(1_000);
    // 1 MiB or more: hashed on a hash worker as it is read (BlobStore.readHashed), in 2 MiB slots.
    const large = randomBytes(3 * 1024 * KiB + 5);
    const largeIntact = randomBytes(2 * 1024 * KiB + 513);
    // Large with its CRC32C: read 1 MiB at a time, each chunk added to the CRC as it goes out.
    const largeCrc = randomBytes(3 * 1024 * KiB + 7);
    let multipartUpload: string;
    let pendingUpload: string;
    const orphanName = 'ab' + '0'.repeat(30);

    before(async () => {
      if (usePostgres) postgres = await startPostgres();
      server = await startNode({ config: { minPartSize: 64 * KiB }, metadata: postgres?.url });
      s3 = s3Client(server);
      await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'single', Body: single }));
      await s3.send(new CopyObjectCommand({ Bucket: BUCKET, Key: 'copy', CopySource: `${BUCKET}/single` }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'sealed', Body: sealed, ServerSideEncryption: 'AES256' }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'intact', Body: intact }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'large', Body: large }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'large-intact', Body: largeIntact }));
      await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'large-crc', Body: largeCrc }));
      multipartUpload = (await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'multi' }))).UploadId!;
      const etags = [];
      for (const [index, body] of parts.entries()) {
        etags.push((await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'multi', UploadId: multipartUpload, PartNumber: index + 1, Body: body }))).ETag!);
      }
      await s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: BUCKET,
          Key: 'multi',
          UploadId: multipartUpload,
          MultipartUpload: { Parts: etags.map((ETag, index) => ({ ETag, PartNumber: index + 1 })) },
        }),
      );
      pendingUpload = (await s3.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: 'pending' }))).UploadId!;
      await s3.send(new UploadPartCommand({ Bucket: BUCKET, Key: 'pending', UploadId: pendingUpload, PartNumber: 1, Body: pendingPart }));
      // A file nothing refers to, written two hours ago (a crash's leftover).
      const orphan = join(server.dataDir, 'blobs', 'ab', orphanName);
      await writeFile(orphan, 'left over');
      const past = new Date(Date.now() - 2 * 60 * 60 * 1000);
      await utimes(orphan, past, past);
    });
    after(async () => {
      s3?.destroy();
      await server?.cleanup();
      await postgres?.cleanup();
    });

    it('finds every blob intact while the server runs: exit 0, the counts, the orphan file reported', async () => {
      const run = await runCli([...scrubArgs(), '--json']);
      assert.equal(run.code, 0, run.stdout + run.stderr);
      const { findings, summary } = parseJson(run);
      // single (shared by copy), sealed, intact, large, large-intact, large-crc, the three parts of multi, the pending part.
      assert.equal(summary.blobs, 10);
      assert.equal(summary.verified, 10, 'every blob has an MD5 on record or sealed records');
      const sizes = [single, sealed, intact, large, largeIntact, largeCrc, pendingPart, ...parts].map((body) => body.length);
      assert.equal(summary.bytes, sizes.reduce((sum, size) => sum + size, 0));
      assert.deepEqual([summary.corrupt, summary.missing, summary.unverifiable, summary.orphans], [0, 0, 0, 1]);
      assert.deepEqual(findings.map((finding) => [finding.kind, finding.blobId, finding.corrupt]), [['orphan', orphanName, false]]);
    });

    it("records every blob's CRC32C where the blob is referred to: segments and parts", async () => {
      const crcs = async (sql: string) =>
        (await metadataSql(server.dataDir, postgres?.url, sql)).map((row) => (row.blob_crc32c === null ? null : Number(row.blob_crc32c)));
      const objectCrcs = (key: string) =>
        crcs(`SELECT s.blob_crc32c FROM segments s JOIN objects o ON o.id = s.object_id WHERE o.bucket = '${BUCKET}' AND o.key = '${key}' ORDER BY s.seq`);
      assert.deepEqual(await objectCrcs('single'), [crc32cOf(single)]);
      assert.deepEqual(await objectCrcs('copy'), [crc32cOf(single)], 'a copy keeps its source blob and its CRC');
      assert.deepEqual(await objectCrcs('large'), [crc32cOf(large)], 'hashed on a worker: the same');
      assert.deepEqual(await objectCrcs('sealed'), [crc32cOf(sealed)], "an encrypted blob's is of its plaintext");
      assert.deepEqual(await crcs(`SELECT blob_crc32c FROM parts WHERE upload_id = '${multipartUpload}' ORDER BY part_number`), parts.map(crc32cOf));
      assert.deepEqual(await crcs(`SELECT blob_crc32c FROM parts WHERE upload_id = '${pendingUpload}'`), [crc32cOf(pendingPart)]);
    });

    it('refuses bad usage with exit 2', async () => {
      assert.equal((await runCli(['scrub', '--data', server.dataDir, '--rate', 'fast'])).code, 2);
      assert.equal((await runCli(['scrub', '--data', join(server.dataDir, 'nowhere')])).code, 2);
      assert.equal((await runCli(['scrub', '--data', server.dataDir, '--metadata', 'mysql://x'])).code, 2);
    });

    describe('after bit rot', () => {
      let singleBlob: string;
      let part1Blob: string;
      let part2Blob: string;
      let pendingBlob: string;
      let sealedBlob: string;
      let largeBlob: string;
      let largeCrcBlob: string;

      before(async () => {
        singleBlob = await blobOfSize(server.dataDir, single.length);
        part1Blob = await blobOfSize(server.dataDir, parts[0]!.length);
        part2Blob = await blobOfSize(server.dataDir, parts[1]!.length);
        pendingBlob = await blobOfSize(server.dataDir, pendingPart.length);
        largeBlob = await blobOfSize(server.dataDir, large.length);
        largeCrcBlob = await blobOfSize(server.dataDir, largeCrc.length);
        assert.deepEqual(await readFile(singleBlob), single, 'a plaintext blob holds the bytes as sent');
        // Sealed: header, then 64 KiB records of 16-byte tags; larger than the content.
        const sealedFiles = [];
        for (const path of await filesUnder(join(server.dataDir, 'blobs'))) {
          if ((await stat(path)).size > sealed.length && (await stat(path)).size < sealed.length + 200) sealedFiles.push(path);
        }
        assert.equal(sealedFiles.length, 1);
        sealedBlob = sealedFiles[0]!;
        await flipByte(singleBlob, 123_456);
        await flipByte(part1Blob, 299 * KiB);
        await truncate(part2Blob, 200 * KiB);
        await unlink(pendingBlob);
        await flipByte(sealedBlob, 100_000);
        await flipByte(largeBlob, large.length - 2);
        await flipByte(largeCrcBlob, largeCrc.length - 2);
        // 'large' as written before CRC32Cs were kept (schema version 13): its reads fall back to its MD5.
        await metadataSql(
          server.dataDir,
          postgres?.url,
          `UPDATE segments SET blob_crc32c = NULL WHERE object_id IN (SELECT id FROM objects WHERE bucket = ? AND key = ?)`,
          [BUCKET, 'large'],
        );
      });

      it('names each corrupt or missing blob and who refers to it: exit 1', async () => {
        const run = await runCli([...scrubArgs(), '--json', '--no-orphans']);
        assert.equal(run.code, 1, run.stdout + run.stderr);
        const { findings, summary } = parseJson(run);
        assert.deepEqual([summary.blobs, summary.corrupt, summary.missing, summary.unverifiable, summary.orphans], [10, 6, 1, 0, 0]);
        const byPath = new Map(findings.map((finding) => [finding.path, finding]));
        const path = (file: string) => relative(server.dataDir, file);
        const refs = (finding: JsonFinding | undefined) =>
          finding?.references.map((ref) => [ref.key, ref.object, ref.partNumber, ref.uploadId ?? null]).sort();

        const flipped = byPath.get(path(singleBlob));
        assert.equal(flipped?.kind, 'digest');
        assert.match(flipped.detail, new RegExp(md5Hex(single)));
        assert.deepEqual(refs(flipped), [['copy', true, 1, null], ['single', true, 1, null]], 'the copy shares the blob');

        const rotPart = byPath.get(path(part1Blob));
        assert.equal(rotPart?.kind, 'digest');
        assert.deepEqual(refs(rotPart), [['multi', true, 1, multipartUpload]]);

        const cut = byPath.get(path(part2Blob));
        assert.equal(cut?.kind, 'size');
        assert.deepEqual(refs(cut), [['multi', true, 2, multipartUpload]]);

        const gone = byPath.get(path(pendingBlob));
        assert.equal(gone?.kind, 'missing');
        assert.deepEqual(refs(gone), [['pending', false, 1, pendingUpload]]);

        const tampered = byPath.get(path(sealedBlob));
        assert.equal(tampered?.kind, 'tampered');
        assert.deepEqual(refs(tampered), [['sealed', true, 1, null]]);
        assert.equal(tampered.references[0]!.encryption, 'sse-s3');
        assert.equal(byPath.get(path(largeBlob))?.kind, 'digest');
        assert.equal(byPath.get(path(largeCrcBlob))?.kind, 'digest');
        assert.equal(findings.length, 7);

        // The same in words.
        const text = await runCli([...scrubArgs(), '--no-orphans']);
        assert.equal(text.code, 1);
        assert.match(text.stdout, new RegExp(`CORRUPT \\(digest\\) ${path(singleBlob)}: .*\\n  referred to by ${BUCKET}/copy\\n  referred to by ${BUCKET}/single`));
        assert.match(text.stdout, new RegExp(`MISSING ${path(pendingBlob)}: no file\\n  referred to by upload ${pendingUpload} of ${BUCKET}/pending, part 1 \\(in progress\\)`));
        assert.match(text.stdout, /Checked 10 blobs, .*: 6 corrupt, 1 missing, 0 unverifiable, 0 orphan files\./);
      });

      it('never serves a full GET of an altered object as complete, and logs the blob', async () => {
        // Small: its one chunk is held back until its CRC32C is checked, so the answer is an error.
        const small = await getWhole(s3, 'single');
        assert.ok(small instanceof Error, 'the flipped object is not served');
        const blobId = relative(join(server.dataDir, 'blobs'), singleBlob).split('/')[1]!;
        await waitFor(() => server.stdout().includes(blobId), 'the log line naming the blob');
        const line = server.stdout().split('\n').find((entry) => entry.includes(blobId))!;
        const logged = JSON.parse(line) as Record<string, unknown>;
        assert.equal(logged.level, 'error');
        assert.deepEqual([logged.bucket, logged.key, logged.path], [BUCKET, 'single', singleBlob]);
        assert.match(JSON.stringify(logged), new RegExp(`CRC32C ${crc32cOf(single).toString(16).padStart(8, '0')} recorded`));
        // The copy shares the blob: the same.
        assert.ok((await getWhole(s3, 'copy')) instanceof Error);

        // Multipart: part 1 is one read, checked before anything goes out.
        const multi = await getWhole(s3, 'multi');
        assert.ok(multi instanceof Error, 'never served');
        const partBlobId = relative(join(server.dataDir, 'blobs'), part1Blob).split('/')[1]!;
        await waitFor(() => server.stdout().includes(partBlobId), 'the log line naming the part blob');

        // Large, recorded without a CRC32C (hashed against its MD5 on a worker): its first 2 MiB go out, then the connection is cut before the last slot.
        const cutLarge = await getWhole(s3, 'large');
        assert.ok(cutLarge instanceof Error, 'the large flipped object is not served whole');
        // Seen without the SDK (which may check a CRC32 of its own): 200, the first slot, then the cut.
        // (At most what went out before the cut: bytes still queued in the process when it came are dropped.)
        const rawLarge = await rawGet(server.url, 'large');
        assert.deepEqual([rawLarge.status, rawLarge.length, rawLarge.complete], [200, large.length, false]);
        assert.ok(rawLarge.received <= 2 * 1024 * KiB, `${rawLarge.received} bytes: never the held-back slot`);
        assert.equal((await rawGet(server.url, 'multi')).status, 500);
        // Large with its CRC32C: its first 1 MiB reads go out, then the connection is cut before the read with the flipped byte.
        const rawCrc = await rawGet(server.url, 'large-crc');
        assert.deepEqual([rawCrc.status, rawCrc.length, rawCrc.complete], [200, largeCrc.length, false]);
        assert.ok(rawCrc.received < largeCrc.length - 2, `${rawCrc.received} bytes: never the flipped byte`);
        const crcBlobId = relative(join(server.dataDir, 'blobs'), largeCrcBlob).split('/')[1]!;
        await waitFor(() => server.stdout().includes(crcBlobId), 'the log line naming the large blob checked by CRC32C');
        assert.match(server.stdout().split('\n').find((entry) => entry.includes(crcBlobId))!, /CRC32C [0-9a-f]{8} recorded/);
        assert.ok((await getWhole(s3, 'large-crc')) instanceof Error);
        assert.equal((await rawGet(server.url, 'single')).status, 500);
        assert.deepEqual(await rawGet(server.url, 'large-intact'), { status: 200, length: largeIntact.length, received: largeIntact.length, complete: true });
        const largeBlobId = relative(join(server.dataDir, 'blobs'), largeBlob).split('/')[1]!;
        await waitFor(() => server.stdout().includes(largeBlobId), 'the log line naming the large blob');
        const largeLine = server.stdout().split('\n').find((entry) => entry.includes(largeBlobId))!;
        assert.match(largeLine, new RegExp(`MD5 ${md5Hex(large)} recorded`), 'checked by its MD5');
        assert.deepEqual(await getWhole(s3, 'large-intact'), largeIntact);

        // An intact object still reads, and a range inside the altered blob is not checked (docs/reliability.md).
        assert.deepEqual(await getWhole(s3, 'intact'), intact);
        const ranged = await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'multi', Range: `bytes=${300 * KiB}-${300 * KiB + 9}` }));
        assert.deepEqual(Buffer.from(await ranged.Body!.transformToByteArray()), parts[1]!.subarray(0, 10));
      });

      it('runs in the background when configured, logging each finding at error level (and verifyGets: false serves unchecked)', async () => {
        await server.stop();
        const restarted = await startNode({ dataDir: server.dataDir, metadata: postgres?.url, config: { minPartSize: 64 * KiB, scrubIntervalHours: 1, scrubRateMBps: 50, verifyGets: false } });
        try {
          const blobId = relative(join(server.dataDir, 'blobs'), pendingBlob).split('/')[1]!;
          await waitFor(() => restarted.stdout().includes('"msg":"scrub done"'), 'the scrub to finish');
          const lines = restarted.stdout().split('\n').filter((line) => line.includes('scrub: corrupt or missing blob'));
          assert.equal(lines.length, 7, restarted.stdout());
          const missing = lines.map((line) => JSON.parse(line) as Record<string, unknown>).find((entry) => entry.blobId === blobId)!;
          assert.equal(missing.level, 'error');
          assert.equal(missing.kind, 'missing');
          assert.deepEqual(missing.references, [`upload ${pendingUpload} of ${BUCKET}/pending, part 1 (in progress)`]);
          // verifyGets off: a full GET is counted, not hashed, so the flipped object goes out whole.
          assert.deepEqual(await rawGet(restarted.url, 'single'), { status: 200, length: single.length, received: single.length, complete: true });
        } finally {
          await restarted.stop();
        }
      });
    });
  });
}

scenario('SQLite', false);
if (postgresBinDir()) scenario('PostgreSQL', true);
