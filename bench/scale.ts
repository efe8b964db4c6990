/**
 * `npm run bench:scale [-- --quick] [--backends sqlite,postgres] [--series list-objects,list-uploads,parts,concurrency,metadata-size]
 *  [--samples N] [--results-dir DIR] [--out NAME]`: how Tessera's costs grow with the size of the store (issue #19).
 * Writes <out>.md, <out>.json and one plot per series, <out>-<series>.png, into bench/results (out:
 * `scale`, or `scale-quick` with --quick). `npm run bench` runs it after the side-by-side rows.
 *
 * Series (each against a real `tessera serve`, driven by @aws-sdk/client-s3 over HTTP):
 * - list-objects: ListObjectsV2 page time at 10k, 100k and 1M objects in one bucket, first page,
 *   from a start-after key in the middle, delimiter=/ at the root, and the first page of a middle
 *   directory with delimiter=/. SQLite and PostgreSQL.
 * - list-uploads: ListMultipartUploads page time at 1k, 10k and 100k uploads in progress, same positions (key-marker).
 * - parts: ListParts (first page, a page from the middle, every page) and Complete at 1k, 5k and 10k parts.
 * - concurrency: UploadPart throughput, p50/p99 part latency and the server's peak RSS at 1, 4, 16,
 *   64 and 256 parts of 16 MiB in flight (SQLite only: the metadata is one row per part).
 * - metadata-size: bytes of metadata per million objects and per million parts.
 * The rows are fixtures cloned by SQL from a template written over S3 (bench/scale-fixtures.ts says how).
 * TESSERA_BENCH_KEEP=1 keeps the data directories.
 */
import { Agent } from 'node:http';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createHash, randomBytes } from 'node:crypto';
import { crc32 } from '@node-rs/crc32';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startPostgres, postgresBinDir, type TestPostgres } from '../test/helpers/postgres.js';
import { timedSend } from './contenders/s3.js';
import { REPO_ROOT } from './contenders/paths.js';
import { ACCESS_KEY, SECRET_KEY, startTessera } from './contenders/tessera.js';
import { cpuBetween, killStartedServers, onInterrupt, ProcessMeter, readCpu, type CpuReading, type MeteredProcesses } from './proc.js';
import { connect, DIRECTORIES, keyOf, TEMPLATE_KEY, type Backend, type FixtureConnection } from './scale-fixtures.js';
import { renderScale, plotScale, updateScaleSection } from './scale-report.js';
import { LISTING_POSITIONS, SERIES, type ConcurrencyResult, type ListingResult, type PageResult, type PartsResult, type ScaleReport, type Series, type SizeResult, type Sizes } from './scale-types.js';
import { formatNumber, summarize, type Summary } from './stats.js';

process.env.AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING ??= '1';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const MiB = 1024 * 1024;
const DEFAULT_RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');
const PAGE = 1000;
const WARM_UP = 3;

function sizesFor(quick: boolean): Sizes {
  return quick
    ? { objects: [2000, 4000], uploads: [1500, 3000], parts: [200, 400], completes: 1, concurrency: [1, 4, 16], partBytes: MiB, minParts: 8, sizeParts: [2, 5000] }
    : {
        objects: [10_000, 100_000, 1_000_000],
        uploads: [1000, 10_000, 100_000],
        parts: [1000, 5000, 10_000],
        completes: 5,
        concurrency: [1, 4, 16, 64, 256],
        partBytes: 16 * MiB,
        minParts: 16,
        sizeParts: [100, 10_000],
      };
}

interface Options {
  quick: boolean;
  backends: Backend[];
  series: Series[];
  samples: number;
  resultsDir: string;
  out: string;
  argv: string[];
}

function parseArgs(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
    return v;
  };
  const known = new Set(['--quick', '--backends', '--series', '--samples', '--results-dir', '--out']);
  for (const arg of argv) if (arg.startsWith('--') && !known.has(arg)) throw new Error(`unknown option ${arg}`);
  const quick = argv.includes('--quick');
  const backends = (value('--backends') ?? (postgresBinDir() ? 'sqlite,postgres' : 'sqlite')).split(',') as Backend[];
  for (const backend of backends) if (backend !== 'sqlite' && backend !== 'postgres') throw new Error(`--backends: unknown ${backend}`);
  const series = (value('--series') ?? SERIES.join(',')).split(',') as Series[];
  for (const s of series) if (!SERIES.includes(s)) throw new Error(`--series: unknown ${s} (${SERIES.join(', ')})`);
  const samples = Number(value('--samples') ?? (quick ? 2 : 15));
  if (!Number.isInteger(samples) || samples < 1) throw new Error('--samples must be a positive integer');
  const resultsDir = resolve(value('--results-dir') ?? DEFAULT_RESULTS_DIR);
  const out = value('--out') ?? (quick ? 'scale-quick' : 'scale');
  return { quick, backends, series, samples, resultsDir, out, argv };
}

const log = (message: string) => console.log(`[scale ${new Date().toISOString().slice(11, 19)}] ${message}`);
const load = () => loadavg().map((l) => Number(l.toFixed(2)));

function s3Client(url: string, maxSockets = 50): { s3: S3Client; destroy(): void } {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const s3 = new S3Client({
    endpoint: url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY },
    requestHandler: new NodeHttpHandler({ httpAgent: agent }),
  });
  return {
    s3,
    destroy: () => {
      s3.destroy();
      agent.destroy();
    },
  };
}

/** Times one page `samples` times after warm-up calls; `count` checks each answer's entries. */
async function timePage(s3: S3Client, processes: MeteredProcesses, make: () => object, count: (page: unknown) => number, expected: number, samples: number): Promise<PageResult> {
  const wire: number[] = [];
  const whole: number[] = [];
  let cpuBefore: CpuReading | undefined;
  for (let i = 0; i < WARM_UP + samples; i++) {
    if (i === WARM_UP) cpuBefore = readCpu(processes);
    const timed = await timedSend<unknown>(s3, make() as never);
    const entries = count(timed.value);
    if (entries !== expected) throw new Error(`${JSON.stringify((make() as { input: unknown }).input)}: ${entries} entries, expected ${expected}`);
    if (i < WARM_UP) continue;
    wire.push(timed.wireMs);
    whole.push(timed.totalMs);
  }
  const cpu = cpuBetween(cpuBefore!, readCpu(processes));
  return { entries: expected, wire: summarize(wire), whole: summarize(whole), serverCpuMs: (cpu.server * 1000) / samples };
}

/** Keys `keyOf(i, count)` in directory `directory`. */
function inDirectory(directory: number, count: number): number {
  const per = Math.ceil(count / DIRECTORIES);
  return Math.max(0, Math.min(count, (directory + 1) * per) - directory * per);
}

const MIDDLE_DIRECTORY = Math.floor(DIRECTORIES / 2);

interface Place {
  backend: Backend;
  dataDir: string;
  postgres?: TestPostgres;
  url: string;
  /** The server's process, and PostgreSQL's postmaster: their CPU is the server's. */
  processes: MeteredProcesses;
}

async function listObjectsSeries(place: Place, s3: S3Client, db: FixtureConnection, sizes: Sizes, samples: number, measured: SizeResult[], wantSize: boolean): Promise<ListingResult[]> {
  const results: ListingResult[] = [];
  for (const count of sizes.objects) {
    const bucket = `objects-${count}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: TEMPLATE_KEY, Body: 'one small blob, shared by every clone' }));
    const largest = count === Math.max(...sizes.objects);
    const before = largest && wantSize ? await db.size('objects') : 0;
    const started = performance.now();
    await db.fillObjects(bucket, count);
    const fillSeconds = (performance.now() - started) / 1000;
    if (largest && wantSize) {
      const bytes = (await db.size('objects')) - before;
      measured.push({ backend: place.backend, what: 'objects', rows: count, bytes, bytesPerMillion: (bytes * 1e6) / count, fillSeconds });
    }
    log(`${place.backend}: ${count.toLocaleString('en-US')} objects filled in ${formatNumber(fillSeconds)} s (load ${load().join(' ')})`);
    const middle = Math.floor(count / 2);
    const entries = (page: unknown) => {
      const p = page as { Contents?: unknown[]; CommonPrefixes?: unknown[] };
      return (p.Contents?.length ?? 0) + (p.CommonPrefixes?.length ?? 0);
    };
    const positions: Record<string, [object, number]> = {
      'first page': [{ Bucket: bucket, MaxKeys: PAGE }, PAGE],
      // The keys after the middle one, and the template.
      'middle (start-after)': [{ Bucket: bucket, MaxKeys: PAGE, StartAfter: keyOf(middle, count) }, Math.min(PAGE, count - middle)],
      'delimiter=/ (root)': [{ Bucket: bucket, MaxKeys: PAGE, Delimiter: '/' }, DIRECTORIES + 1],
      'delimiter=/ (middle directory)': [
        { Bucket: bucket, MaxKeys: PAGE, Delimiter: '/', Prefix: `d${String(MIDDLE_DIRECTORY).padStart(2, '0')}/` },
        Math.min(PAGE, inDirectory(MIDDLE_DIRECTORY, count)),
      ],
    };
    const pages: Record<string, PageResult> = {};
    for (const position of LISTING_POSITIONS) {
      const [input, expected] = positions[position]!;
      pages[position] = await timePage(s3, place.processes, () => new ListObjectsV2Command(input as never), entries, expected, samples);
      log(`  ${position}: ${formatNumber(pages[position].wire?.median ?? NaN)} ms round trip, ${formatNumber(pages[position].whole?.median ?? NaN)} ms whole call, server CPU ${formatNumber(pages[position].serverCpuMs)} ms`);
    }
    results.push({ backend: place.backend, count, fillSeconds, pages });
  }
  return results;
}

async function listUploadsSeries(place: Place, s3: S3Client, db: FixtureConnection, sizes: Sizes, samples: number): Promise<ListingResult[]> {
  const results: ListingResult[] = [];
  for (const count of sizes.uploads) {
    const bucket = `uploads-${count}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: TEMPLATE_KEY }));
    const started = performance.now();
    await db.fillUploads(bucket, count);
    const fillSeconds = (performance.now() - started) / 1000;
    log(`${place.backend}: ${count.toLocaleString('en-US')} uploads filled in ${formatNumber(fillSeconds)} s (load ${load().join(' ')})`);
    const middle = Math.floor(count / 2);
    const entries = (page: unknown) => {
      const p = page as { Uploads?: unknown[]; CommonPrefixes?: unknown[] };
      return (p.Uploads?.length ?? 0) + (p.CommonPrefixes?.length ?? 0);
    };
    const positions: Record<string, [object, number]> = {
      'first page': [{ Bucket: bucket, MaxUploads: PAGE }, PAGE],
      'middle (start-after)': [{ Bucket: bucket, MaxUploads: PAGE, KeyMarker: keyOf(middle, count) }, Math.min(PAGE, count - middle)],
      'delimiter=/ (root)': [{ Bucket: bucket, MaxUploads: PAGE, Delimiter: '/' }, DIRECTORIES + 1],
      'delimiter=/ (middle directory)': [
        { Bucket: bucket, MaxUploads: PAGE, Delimiter: '/', Prefix: `d${String(MIDDLE_DIRECTORY).padStart(2, '0')}/` },
        Math.min(PAGE, inDirectory(MIDDLE_DIRECTORY, count)),
      ],
    };
    const pages: Record<string, PageResult> = {};
    for (const position of LISTING_POSITIONS) {
      const [input, expected] = positions[position]!;
      pages[position] = await timePage(s3, place.processes, () => new ListMultipartUploadsCommand(input as never), entries, expected, samples);
      log(`  ${position}: ${formatNumber(pages[position].wire?.median ?? NaN)} ms round trip, ${formatNumber(pages[position].whole?.median ?? NaN)} ms whole call, server CPU ${formatNumber(pages[position].serverCpuMs)} ms`);
    }
    results.push({ backend: place.backend, count, fillSeconds, pages });
  }
  return results;
}

/** The bucket `parts` with a template upload holding one 1 KiB part; returns the upload's id and the part's ETag. */
async function partsTemplate(s3: S3Client): Promise<{ uploadId: string; etag: string }> {
  await s3.send(new CreateBucketCommand({ Bucket: 'parts' }));
  const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'parts', Key: TEMPLATE_KEY }));
  const { ETag } = await s3.send(new UploadPartCommand({ Bucket: 'parts', Key: TEMPLATE_KEY, UploadId, PartNumber: 1, Body: randomBytes(1024) }));
  return { uploadId: UploadId!, etag: ETag! };
}

async function partsSeries(place: Place, s3: S3Client, db: FixtureConnection, sizes: Sizes, samples: number, template: { uploadId: string; etag: string }): Promise<PartsResult[]> {
  const results: PartsResult[] = [];
  const newUpload = async (key: string, parts: number) => {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'parts', Key: key }));
    await db.fillParts(template.uploadId, UploadId!, parts);
    return UploadId!;
  };
  for (const parts of sizes.parts) {
    const started = performance.now();
    const listed = await newUpload(`list-${parts}`, parts);
    const completing: string[] = [];
    for (let i = 0; i < sizes.completes; i++) completing.push(await newUpload(`complete-${parts}-${i}`, parts));
    const fillSeconds = (performance.now() - started) / 1000;
    log(`${place.backend}: ${1 + sizes.completes} uploads of ${parts.toLocaleString('en-US')} parts filled in ${formatNumber(fillSeconds)} s`);
    const entries = (page: unknown) => (page as { Parts?: unknown[] }).Parts?.length ?? 0;
    const input = { Bucket: 'parts', Key: `list-${parts}`, UploadId: listed, MaxParts: PAGE };
    const firstPage = await timePage(s3, place.processes, () => new ListPartsCommand(input), entries, Math.min(PAGE, parts), samples);
    const middle = Math.floor(parts / 2);
    const middlePage = await timePage(s3, place.processes, () => new ListPartsCommand({ ...input, PartNumberMarker: String(middle) }), entries, Math.min(PAGE, parts - middle), samples);
    const all: number[] = [];
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      let marker: string | undefined;
      let seen = 0;
      for (;;) {
        const page = await s3.send(new ListPartsCommand({ ...input, PartNumberMarker: marker }));
        seen += page.Parts?.length ?? 0;
        if (!page.IsTruncated) break;
        marker = page.NextPartNumberMarker;
      }
      if (seen !== parts) throw new Error(`ListParts of ${parts} parts saw ${seen}`);
      all.push(performance.now() - t0);
    }
    const completes: number[] = [];
    const cpuBefore = readCpu(place.processes);
    const list = Array.from({ length: parts }, (_, i) => ({ PartNumber: i + 1, ETag: template.etag }));
    for (let i = 0; i < completing.length; i++) {
      const timed = await timedSend<{ ETag?: string }>(
        s3,
        new CompleteMultipartUploadCommand({ Bucket: 'parts', Key: `complete-${parts}-${i}`, UploadId: completing[i], MultipartUpload: { Parts: list } }),
      );
      if (!timed.value.ETag?.endsWith(`-${parts}"`)) throw new Error(`Complete of ${parts} parts answered ETag ${timed.value.ETag}`);
      completes.push(timed.totalMs);
    }
    const completeCpuMs = (cpuBetween(cpuBefore, readCpu(place.processes)).server * 1000) / completing.length;
    const result: PartsResult = { backend: place.backend, parts, fillSeconds, firstPage, middlePage, allPages: summarize(all), complete: summarize(completes), completeCpuMs };
    log(
      `  ListParts first page ${formatNumber(firstPage.wire?.median ?? NaN)} ms, middle ${formatNumber(middlePage.wire?.median ?? NaN)} ms, all ${Math.ceil(parts / PAGE)} pages ${formatNumber(result.allPages?.median ?? NaN)} ms; Complete ${formatNumber(result.complete?.median ?? NaN)} ms (server CPU ${formatNumber(completeCpuMs)} ms)`,
    );
    results.push(result);
  }
  return results;
}

async function partsSizeSeries(place: Place, s3: S3Client, db: FixtureConnection, sizes: Sizes, template: { uploadId: string }): Promise<SizeResult> {
  const [uploads, each] = sizes.sizeParts;
  const before = await db.size('parts');
  const started = performance.now();
  for (let i = 0; i < uploads; i++) {
    const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'parts', Key: `size-${i}` }));
    await db.fillParts(template.uploadId, UploadId!, each);
  }
  const fillSeconds = (performance.now() - started) / 1000;
  const bytes = (await db.size('parts')) - before;
  const rows = uploads * each;
  log(`${place.backend}: ${rows.toLocaleString('en-US')} parts filled in ${formatNumber(fillSeconds)} s: ${formatNumber(bytes / MiB)} MiB`);
  return { backend: place.backend, what: 'parts', rows, bytes, bytesPerMillion: (bytes * 1e6) / rows, fillSeconds };
}

/** The server's staging slot memory (tessera_staging_memory_bytes on /-/metrics): it grows with the bodies received at once and never shrinks. */
async function stagingMemory(url: string): Promise<number> {
  const text = await (await fetch(`${url}/-/metrics`)).text();
  const match = /^tessera_staging_memory_bytes (\d+)/m.exec(text);
  if (!match) throw new Error('/-/metrics has no tessera_staging_memory_bytes');
  return Number(match[1]);
}

/**
 * The command with its payload's SHA-256 given (x-amz-content-sha256, which the SDK's signer takes
 * instead of hashing the body). One client process stands for many clients here: hashing 16 MiB per
 * part on its one thread, at 256 parts in flight, starved the sockets of bodies for longer than
 * the server's 60 s body-idle timeout. The server still hashes and verifies every part.
 */
function presigned<T extends { middlewareStack: { add(...args: never[]): void } }>(command: T, sha256: string): T {
  (command.middlewareStack as unknown as { add(m: unknown, o: object): void }).add(
    (next: (args: { request: { headers: Record<string, string> } }) => Promise<unknown>) => async (args: { request: { headers: Record<string, string> } }) => {
      args.request.headers['x-amz-content-sha256'] = sha256;
      return next(args);
    },
    { step: 'build', name: 'benchPayloadSha256' },
  );
  return command;
}

/** Parts of one shared buffer, `concurrency` in flight, on a fresh server; the server's peak RSS meanwhile. */
async function concurrencySeries(backend: Backend, root: string, sizes: Sizes): Promise<ConcurrencyResult[]> {
  const dataDir = join(root, `${backend}-concurrency`);
  await mkdir(dataDir, { recursive: true });
  const server = await startTessera({ dataDir, purpose: 'bytes' });
  const { s3, destroy } = s3Client(server.url, Math.max(...sizes.concurrency) * 2);
  const results: ConcurrencyResult[] = [];
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'concurrency' }));
    const body = randomBytes(sizes.partBytes);
    // Every part is this one buffer: the client hashes it once, not once per part (see presigned).
    const bodySha256 = createHash('sha256').update(body).digest('hex');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    const bodyCrc32 = crc.toString('base64');
    // Warm-up: a connection and a part through every code path.
    const warm = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'concurrency', Key: 'warm-up' }));
    await s3.send(new UploadPartCommand({ Bucket: 'concurrency', Key: 'warm-up', UploadId: warm.UploadId, PartNumber: 1, Body: body }));
    await s3.send(new AbortMultipartUploadCommand({ Bucket: 'concurrency', Key: 'warm-up', UploadId: warm.UploadId }));
    for (const concurrency of sizes.concurrency) {
      const parts = Math.max(concurrency, sizes.minParts);
      const key = `c${concurrency}`;
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: 'concurrency', Key: key }));
      const meter = new ProcessMeter(server.pid);
      const latencies: number[] = [];
      let next = 1;
      meter.start();
      const started = performance.now();
      let failure: string | undefined;
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (next <= parts && failure === undefined) {
            const partNumber = next++;
            const t0 = performance.now();
            await s3.send(presigned(new UploadPartCommand({ Bucket: 'concurrency', Key: key, UploadId, PartNumber: partNumber, Body: body, ChecksumCRC32: bodyCrc32 }), bodySha256));
            latencies.push(performance.now() - t0);
          }
        }).map((worker) => worker.catch((err: unknown) => void (failure ??= `${(err as Error).name}: ${(err as Error).message}`))),
      );
      const seconds = (performance.now() - started) / 1000;
      const metered = meter.stop();
      await s3.send(new AbortMultipartUploadCommand({ Bucket: 'concurrency', Key: key, UploadId }));
      const stagingBytes = await stagingMemory(server.url);
      const sorted = [...latencies].sort((a, b) => a - b);
      const p99Ms = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
      const result: ConcurrencyResult = {
        backend,
        concurrency,
        partBytes: sizes.partBytes,
        parts,
        megabytesPerSecond: (latencies.length * sizes.partBytes) / 1e6 / seconds,
        latency: summarize(latencies),
        p99Ms,
        peakRssBytes: metered.peakRss,
        peakSource: metered.peakSource,
        stagingBytes,
        loadAverage: load(),
        // A level that failed is reported as such, and the next levels still run.
        error: failure,
      };
      if (failure) log(`${backend}: ${concurrency} in flight FAILED after ${latencies.length} parts: ${failure}`);
      log(
        `${backend}: ${concurrency} in flight, ${parts} parts: ${formatNumber(result.megabytesPerSecond)} MB/s, p50 ${formatNumber(result.latency?.median ?? NaN)} ms, p99 ${formatNumber(p99Ms)} ms, peak RSS ${formatNumber(metered.peakRss / 1e6)} MB, staging slots ${formatNumber(stagingBytes / 1e6)} MB (load ${result.loadAverage.join(' ')})`,
      );
      results.push(result);
    }
  } finally {
    destroy();
    await server.stop();
  }
  return results;
}

async function runBackend(backend: Backend, root: string, options: Options, sizes: Sizes, report: ScaleReport): Promise<void> {
  const wants = (s: Series) => options.series.includes(s);
  if (wants('list-objects') || wants('list-uploads') || wants('parts') || wants('metadata-size')) {
    const dataDir = join(root, backend);
    await mkdir(dataDir, { recursive: true });
    await chmod(dataDir, 0o711);
    const postgres = backend === 'postgres' ? await startPostgres({ dir: join(dataDir, 'postgres'), durable: true }) : undefined;
    const forget = postgres ? onInterrupt(() => process.kill(postgres.pid, 'SIGQUIT')) : () => undefined;
    const blobs = postgres ? join(dataDir, 'shared') : dataDir;
    await mkdir(blobs, { recursive: true });
    let server: Awaited<ReturnType<typeof startTessera>> | undefined;
    let client: ReturnType<typeof s3Client> | undefined;
    let db: FixtureConnection | undefined;
    try {
      // minPartSize 1: the parts series completes uploads of 1 KiB parts.
      server = await startTessera({ dataDir: blobs, purpose: 'parts' }, { minPartSize: 1 }, postgres?.url);
      client = s3Client(server.url);
      db = await connect({ backend, dataDir: blobs, postgresUrl: postgres?.url });
      const place: Place = { backend, dataDir: blobs, postgres, url: server.url, processes: { nodes: [server.pid], database: postgres ? [postgres.pid] : undefined } };
      const s3 = client.s3;
      if (wants('list-objects') || wants('metadata-size')) {
        const listed = await listObjectsSeries(place, s3, db, wants('list-objects') ? sizes : { ...sizes, objects: [Math.max(...sizes.objects)] }, options.samples, report.metadataSize, wants('metadata-size'));
        if (wants('list-objects')) report.listObjects.push(...listed);
      }
      if (wants('list-uploads')) report.listUploads.push(...(await listUploadsSeries(place, s3, db, sizes, options.samples)));
      if (wants('parts') || wants('metadata-size')) {
        const template = await partsTemplate(s3);
        if (wants('parts')) report.parts.push(...(await partsSeries(place, s3, db, sizes, options.samples, template)));
        if (wants('metadata-size')) report.metadataSize.push(await partsSizeSeries(place, s3, db, sizes, template));
      }
    } finally {
      await db?.close();
      client?.destroy();
      await server?.stop();
      await postgres?.cleanup();
      forget();
    }
  }
  if (wants('concurrency') && backend === 'sqlite') report.concurrency.push(...(await concurrencySeries(backend, root, sizes)));
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`bench:scale: ${(err as Error).message}`);
    process.exit(2);
  }
  const sizes = sizesFor(options.quick);
  const started = performance.now();
  const root = await mkdtemp(join(tmpdir(), 'tessera-scale-'));
  // Searchable by others: under root, PostgreSQL runs as the postgres user and keeps its cluster in here.
  await chmod(root, 0o711);
  const interrupted = () => {
    killStartedServers();
    void rm(root, { recursive: true, force: true }).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  const cpuList = cpus();
  const args = options.argv.join(' ');
  const report: ScaleReport = {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    command: `npm run bench:scale${args ? ` -- ${args}` : ''}`,
    quick: options.quick,
    samples: options.samples,
    sizes,
    machine: { cpus: cpuList.length, cpuModel: cpuList[0]?.model.trim() ?? 'unknown', memoryBytes: totalmem(), node: process.version },
    loadAverage: { start: load(), end: [] },
    durationSeconds: 0,
    backends: options.backends,
    series: options.series,
    listObjects: [],
    listUploads: [],
    parts: [],
    concurrency: [],
    metadataSize: [],
    plots: {},
  };
  try {
    for (const backend of options.backends) await runBackend(backend, root, options, sizes, report);
  } finally {
    if (process.env.TESSERA_BENCH_KEEP) log(`kept ${root} (TESSERA_BENCH_KEEP)`);
    else await rm(root, { recursive: true, force: true });
  }
  report.loadAverage.end = load();
  report.durationSeconds = (performance.now() - started) / 1000;
  await mkdir(options.resultsDir, { recursive: true });
  report.plots = await plotScale(report, options.resultsDir, options.out);
  const markdown = renderScale(report);
  await writeFile(join(options.resultsDir, `${options.out}.md`), markdown);
  await writeFile(join(options.resultsDir, `${options.out}.json`), JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(markdown);
  log(`wrote ${options.out}.md, ${options.out}.json and ${Object.keys(report.plots).length} plots in ${options.resultsDir}`);
  // A full run into bench/results refreshes the section of docs/benchmarks.md between the scale markers.
  if (!options.quick && options.out === 'scale' && options.resultsDir === DEFAULT_RESULTS_DIR) {
    const doc = join(REPO_ROOT, 'docs', 'benchmarks.md');
    log(`${doc}: ${(await updateScaleSection(doc, report)) ? 'scale results section updated' : 'no bench-results:scale markers; not updated'}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  killStartedServers();
  process.exit(1);
});
