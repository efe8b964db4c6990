/**
 * `npm run bench [-- options]`: Tessera (through its S3, OSS and 123pan dialects)
 * side by side with s3rver, tus and the floor, every server a child process on
 * loopback with its own temp data dir, every row measured for every contender in
 * the same run. See docs/benchmarks.md.
 *
 *   --quick                 short smoke run (small sizes, 1 run)
 *   --runs N                repetitions (default 3; quick: 1)
 *   --rows 1,2,3,4,5,6      rows to run (default all)
 *   --contenders a,b        contenders to run (default tessera,tessera-oss,tessera-pan,s3rver,tus,floor;
 *                           also tessera-pg and tessera-3pg: Tessera on PostgreSQL, one node and three behind a proxy;
 *                           tessera-direct, tessera-buffered: Tessera with directIo true, false)
 *   --profile               run Tessera alone (or the one contender --contenders names) under node --cpu-prof
 *                           (row 1 unless --rows) and summarise the profile per operation
 *   --out NAME              results file name under bench/results (default latest; quick, partial, profile otherwise)
 *   --results-dir DIR       write the results files there instead (docs/benchmarks.md is then left alone)
 *   --baseline DIR          another checkout of Tessera, built (npm run build there): adds the contenders
 *                           baseline, baseline-pg and baseline-3pg, the same as tessera, tessera-pg and
 *                           tessera-3pg but started from DIR's dist, to measure a change side by side
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { chmod, cp, mkdtemp, mkdir, open, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem, type as osType } from 'node:os';
import { join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { floor } from './contenders/floor.js';
import { REPO_ROOT } from './contenders/paths.js';
import { s3rver } from './contenders/s3rver.js';
import { tessera, tesseraBuffered, tesseraContender, tesseraDirect, tesseraSse, type Baseline } from './contenders/tessera.js';
import { tesseraOss } from './contenders/tessera-oss.js';
import { tesseraPan } from './contenders/tessera-pan.js';
import { clusterContender, tesseraCluster, tesseraPostgres } from './contenders/tessera-postgres.js';
import { tus } from './contenders/tus.js';
import type { Contender, Instance, RowKey } from './contenders/types.js';
import { createDataFile, DownloadChecker, keystream, type DataFile } from './data.js';
import { defineMetrics, formatBytes, type MetricDef, type Sizes } from './metrics.js';
import { evictDirectory, warmDirectory } from './page-cache.js';
import { cpuBetween, killStartedServers, ProcessMeter, readCpu, type CpuReading } from './proc.js';
import { renderProfileSummary, summarizeCpuProfile } from './profile.js';
import { metricResult, renderMarkdown, resultMarkers, updateMarkedSection, writeReport, type Cell, type Report } from './report.js';
import { summarize } from './stats.js';
import { runScaleCurves } from './scale-step.js';

/** What a run without --contenders measures. */
const DEFAULT_CONTENDERS: Contender[] = [tessera, tesseraSse, tesseraOss, tesseraPan, s3rver, tus, floor];
/** Tessera on PostgreSQL (cluster mode) needs PostgreSQL's server binaries: measured when asked for. */
const ALL_CONTENDERS: Contender[] = [...DEFAULT_CONTENDERS, tesseraPostgres, tesseraCluster, tesseraDirect, tesseraBuffered];
const SUBJECT = 'tessera';
const MiB = 1 << 20;
const GiB = 1 << 30;
/** A row that has not finished after this long is reported as failed. */
const ROW_TIMEOUT_MS = 5 * 60_000;
/** Untimed lists of pages 1 and 9 on each node before row 4 is measured. */
const WARM_LISTS = 3;
/** Pause after starting a server on copied data, before measuring. */
const SETTLE_MS = 1000;

const DEFAULT_RESULTS_DIR = join(REPO_ROOT, 'bench', 'results');

interface Options {
  quick: boolean;
  runs: number;
  rows: Set<string>;
  contenders: Contender[];
  profile: boolean;
  /** The contender run under --cpu-prof (with --profile). */
  profiled?: string;
  out: string;
  /** Where the results files go; docs/benchmarks.md is updated only in the default place. */
  resultsDir: string;
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
  const known = new Set(['--quick', '--runs', '--rows', '--contenders', '--profile', '--out', '--results-dir', '--baseline', '--help']);
  for (const arg of argv) if (arg.startsWith('--') && !known.has(arg)) throw new Error(`unknown option ${arg}`);
  if (argv.includes('--help')) {
    console.log(`usage: npm run bench -- [--quick] [--runs N] [--rows 1,2,3,4,5,6] [--contenders ${ALL_CONTENDERS.map((c) => c.id).join(',')}] [--profile] [--out NAME] [--results-dir DIR]`);
    console.log(`default contenders: ${DEFAULT_CONTENDERS.map((c) => c.id).join(',')}`);
    process.exit(0);
  }
  const quick = argv.includes('--quick');
  const profile = argv.includes('--profile');
  const rowsArg = value('--rows');
  const rows = new Set((rowsArg ?? (profile ? '1' : '1,2,3,4,5,6')).split(',').map((r) => r.trim()));
  for (const row of rows) if (!['1', '2', '3', '4', '5', '6'].includes(row)) throw new Error(`unknown row ${row}`);
  const baselineDir = value('--baseline');
  const available = baselineDir === undefined ? ALL_CONTENDERS : [...ALL_CONTENDERS, ...baselineContenders(resolve(baselineDir))];
  const contenderArg = value('--contenders') ?? (profile ? SUBJECT : undefined);
  const contenders = contenderArg
    ? contenderArg.split(',').map((id) => {
        const found = available.find((c) => c.id === id.trim());
        if (!found) throw new Error(`unknown contender ${id}; known: ${available.map((c) => c.id).join(', ')}`);
        return found;
      })
    : DEFAULT_CONTENDERS;
  if (profile && contenders.length !== 1) throw new Error('--profile runs one contender');
  const runs = Number(value('--runs') ?? (quick || profile ? 1 : 3));
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');
  const partial = rowsArg !== undefined || contenderArg !== undefined;
  const out = value('--out') ?? (profile ? 'profile' : quick ? 'quick' : partial ? 'partial' : 'latest');
  if (profile && out === 'latest') throw new Error('--profile results cannot be the latest results');
  const resultsDir = resolve(value('--results-dir') ?? DEFAULT_RESULTS_DIR);
  return { quick, runs, rows, contenders, profile, profiled: profile ? contenders[0]!.id : undefined, out, resultsDir, argv };
}

/** `--baseline DIR`: Tessera's contenders started from another built checkout, named by its commit. */
function baselineContenders(dir: string): Contender[] {
  const cli = join(dir, 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(cli)) throw new Error(`--baseline: ${cli} does not exist (run npm run build in ${dir})`);
  let name = dir;
  try {
    name = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout: the directory names it.
  }
  const baseline: Baseline = { name, cli };
  return [tesseraContender(baseline), clusterContender(1, baseline), clusterContender(3, baseline)];
}

function sizesFor(quick: boolean): Sizes {
  return {
    largeBytes: quick ? 128 * MiB : GiB,
    partBytes: 16 * MiB,
    queueSize: 4,
    smallCount: quick ? 200 : 1000,
    smallBytes: 64 * 1024,
    smallConcurrency: 16,
    partCount: quick ? 1000 : 10_000,
    tinyPartBytes: 1024,
    partConcurrency: 16,
    pageSize: quick ? 100 : 1000,
    shortSamples: 5,
    rangeBytes: MiB,
  };
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once. */
async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** Flushes dirty pages so one contender's unsynced writes are not paid for by the next. */
function syncDisks(): void {
  try {
    execFileSync('sync');
  } catch {
    // Not fatal: only fairness between contenders suffers.
  }
}

class Recorder {
  readonly samples = new Map<string, Map<string, number[]>>();
  readonly failures = new Map<string, Map<string, string>>();

  add(metric: string, contender: string, value: number): void {
    let byContender = this.samples.get(metric);
    if (!byContender) this.samples.set(metric, (byContender = new Map()));
    byContender.set(contender, [...(byContender.get(contender) ?? []), value]);
  }

  fail(metrics: string[], contender: string, err: unknown): void {
    const message = (err as Error).message?.split('\n')[0] ?? String(err);
    for (const metric of metrics) {
      let byContender = this.failures.get(metric);
      if (!byContender) this.failures.set(metric, (byContender = new Map()));
      if (!byContender.has(contender)) byContender.set(contender, `failed: ${message}`);
    }
  }
}

const ROW_METRICS: Record<string, string[]> = {
  '1': ['upload.mbps', 'upload.serverCpu', 'upload.clientCpu', 'upload.peakRss'],
  '2': ['small.rps', 'small.serverCpu'],
  '3': ['complete.wire', 'complete.sdk'],
  '4': ['listParts.first.wire', 'listParts.ninth.wire', 'listParts.first.sdk', 'listParts.ninth.sdk'],
  setup: ['parts.setupRate'],
  '5': ['download.cold.mbps', 'download.hot.mbps', 'download.cold.serverCpu', 'download.hot.serverCpu'],
  '5r': ['range.ms'],
};

const fmt = (value: number, digits = 1) => value.toFixed(digits);

/** For the log, where a server is more than one process: its CPU by group (nodes, database) and the balancer's, per `unit`. */
function cpuSplit(instance: Instance, cpu: CpuReading, per: number, unit: string): string {
  const processes = instance.processes;
  if (!processes || (processes.nodes.length === 1 && !processes.database && !processes.balancer)) return '';
  const parts = [`${processes.nodes.length === 1 ? 'node' : `${processes.nodes.length} nodes`} ${fmt(cpu.nodes / per, 2)}`];
  if (processes.database) parts.push(`PostgreSQL ${fmt(cpu.database / per, 2)}`);
  const balancer = processes.balancer ? `; proxy ${fmt(cpu.balancer / per, 2)} ${unit} besides` : '';
  return ` (${parts.join(' + ')})${balancer}`;
}

/** Now on CLOCK_MONOTONIC in microseconds: the clock of V8's profile timestamps, so windows line up with server profiles. */
function monotonicUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

class Bench {
  readonly recorder = new Recorder();
  /** When each measured operation ran, per contender: to cut server CPU profiles down to them. */
  readonly windows: Array<{ contender: string; label: string; start: number; end: number }> = [];
  private file?: DataFile;
  /** Per contender: the data directory of a server that filled the rows 3–4 upload, and what it returned. */
  private readonly snapshots = new Map<string, { dataDir: string; uploadId: string; etags: string[]; expectedEtags: string[] }>();
  private rangeExpected?: { start: number; end: number; bytes: Buffer };
  /** How rows 5c and 5h put the stored files out of or into the page cache, for the notes. */
  readonly cacheMethods = new Set<string>();

  constructor(
    readonly options: Options,
    readonly sizes: Sizes,
    readonly tmpRoot: string,
    readonly profileDir?: string,
  ) {}

  /** Runs `operation` and remembers when, under `label`. */
  private async window<T>(contender: string, label: string, operation: () => Promise<T>): Promise<T> {
    const start = monotonicUs();
    try {
      return await operation();
    } finally {
      this.windows.push({ contender, label, start, end: monotonicUs() });
    }
  }

  private wants(row: string): boolean {
    return this.options.rows.has(row);
  }

  private supports(contender: Contender, row: RowKey): boolean {
    return contender.unsupported[row] === undefined;
  }

  async prepare(): Promise<void> {
    if (!['1', '5', '6'].some((row) => this.wants(row))) return;
    const started = performance.now();
    this.file = await createDataFile(join(this.tmpRoot, 'upload.bin'), this.sizes.largeBytes, this.sizes.partBytes);
    const { largeBytes, rangeBytes } = this.sizes;
    // The middle of the file is a part boundary: the range spans two parts.
    const start = largeBytes / 2 - rangeBytes / 2;
    const bytes = Buffer.alloc(rangeBytes);
    const handle = await open(this.file.path, 'r');
    await handle.read(bytes, 0, rangeBytes, start);
    await handle.close();
    this.rangeExpected = { start, end: start + rangeBytes - 1, bytes };
    log(`data: ${formatBytes(largeBytes)} of pseudo-random bytes in ${fmt((performance.now() - started) / 1000)} s (${this.file.path})`);
  }

  async cleanup(): Promise<void> {
    await this.file?.remove();
  }

  async runAll(): Promise<void> {
    const { contenders, runs } = this.options;
    for (let run = 0; run < runs; run++) {
      // Rotate the order each run so no contender always goes first (cold) or last (warm disk).
      const order = contenders.map((_, i) => contenders[(i + run) % contenders.length]!);
      log(`\n== run ${run + 1}/${runs}: ${order.map((c) => c.id).join(', ')}`);
      for (const contender of order) {
        if (['1', '2', '5', '6'].some((row) => this.wants(row))) await this.bytesPhase(contender, run);
        const partsRows = (['3', '4'] as const).filter((row) => this.wants(row) && this.supports(contender, row));
        if (partsRows.length > 0) await this.partsPhase(contender, run, partsRows);
      }
    }
  }

  /**
   * Starts the contender on `dataDir` (default: a fresh directory), runs `body`, and
   * always stops the server and deletes the directory (unless `keep`). Failures are
   * recorded against `metrics` for this contender.
   */
  private async withServer(
    contender: Contender,
    purpose: 'bytes' | 'parts',
    metrics: string[],
    location: { dataDir: string; fresh: boolean; keep: boolean },
    body: (instance: Instance) => Promise<void>,
  ): Promise<boolean> {
    const { dataDir } = location;
    if (location.fresh) await mkdir(dataDir);
    let instance: Instance | undefined;
    let ok = false;
    try {
      instance = await contender.start({ dataDir, purpose, cpuProfileDir: contender.id === this.options.profiled ? this.profileDir : undefined });
      await body(instance);
      ok = true;
    } catch (err) {
      log(`  ${contender.id}: ${(err as Error).message}`);
      this.recorder.fail(metrics, contender.id, err);
    } finally {
      await instance?.stop().catch(() => {});
      await rm(`${dataDir}.config.json`, { force: true });
      if (!location.keep || !ok) await rm(dataDir, { recursive: true, force: true });
      syncDisks();
    }
    return ok;
  }

  /** Rows 1 and 6, then 5 on the object row 1 uploaded, then 2: one server. */
  private async bytesPhase(contender: Contender, run: number): Promise<void> {
    const { sizes, recorder } = this;
    const id = contender.id;
    const metrics = [...ROW_METRICS['1']!, ...ROW_METRICS['2']!, ...ROW_METRICS['5']!, ...ROW_METRICS['5r']!];
    const dataDir = join(this.tmpRoot, `${contender.id}-bytes-${run}`);
    await this.withServer(contender, 'bytes', metrics, { dataDir, fresh: true, keep: false }, async (instance) => {
      let handle: string | undefined;
      const file = this.file;
      if (file && instance.uploadLarge && this.supports(contender, '1')) {
        try {
          const meter = new ProcessMeter(instance.processes ?? instance.pid);
          const clientBefore = process.cpuUsage();
          meter.start();
          const started = performance.now();
          const uploadLarge = instance.uploadLarge.bind(instance);
          const result = await this.window(id, 'row 1: upload', () =>
            withTimeout(uploadLarge(file, 'large.bin', sizes.queueSize), ROW_TIMEOUT_MS, 'row 1 upload'),
          );
          const seconds = (performance.now() - started) / 1000;
          const measured = meter.stop();
          const client = process.cpuUsage(clientBefore);
          handle = result.handle;
          const gib = file.size / GiB;
          if (this.wants('1')) {
            recorder.add('upload.mbps', id, file.size / 1e6 / seconds);
            recorder.add('upload.serverCpu', id, measured.cpuSeconds / gib);
            recorder.add('upload.clientCpu', id, (client.user + client.system) / 1e6 / gib);
            if (instance.processes?.balancer) recorder.add('upload.balancerCpu', id, measured.cpu.balancer / gib);
          }
          if (this.wants('6') || this.wants('1')) recorder.add('upload.peakRss', id, measured.peakRss / 1e6);
          log(
            `  ${id} row 1: ${fmt(file.size / 1e6 / seconds)} MB/s, server ${fmt(measured.cpuSeconds / gib, 2)} CPU s/GiB${cpuSplit(instance, measured.cpu, gib, 's/GiB')}, ` +
              `client ${fmt((client.user + client.system) / 1e6 / gib, 2)} CPU s/GiB, peak RSS ${fmt(measured.peakRss / 1e6)} MB (${measured.peakSource}); ${result.verified}`,
          );
        } catch (err) {
          log(`  ${id} row 1: ${(err as Error).message}`);
          recorder.fail([...ROW_METRICS['1']!, ...ROW_METRICS['5']!, ...ROW_METRICS['5r']!], id, err);
        }
      }

      if (file && handle !== undefined && this.wants('5')) {
        if (instance.download && this.supports(contender, '5')) {
          // Cold first (the files evicted), then hot (every file read once): the same object both times.
          for (const temperature of ['cold', 'hot'] as const) {
            const metric = `download.${temperature}.mbps`;
            const cpuMetric = `download.${temperature}.serverCpu`;
            const row = temperature === 'cold' ? '5c' : '5h';
            try {
              const cache = temperature === 'cold' ? await evictDirectory(dataDir) : await warmDirectory(dataDir);
              this.cacheMethods.add(`${row}: ${cache.method}`);
              const checker = new DownloadChecker(file);
              const processes = instance.processes ?? { nodes: [instance.pid] };
              const cpuBefore = readCpu(processes);
              const started = performance.now();
              const download = instance.download.bind(instance);
              const target = handle;
              await this.window(id, `row ${row}: download`, () =>
                withTimeout(download(target, (chunk) => checker.update(chunk)), ROW_TIMEOUT_MS, `row ${row} download`),
              );
              const seconds = (performance.now() - started) / 1000;
              const cpu = cpuBetween(cpuBefore, readCpu(processes));
              checker.finish(`${id} download`);
              recorder.add(metric, id, file.size / 1e6 / seconds);
              recorder.add(cpuMetric, id, cpu.server / (file.size / GiB));
              const resident = cache.residentBytes === undefined ? '' : `, ${fmt(cache.residentBytes / MiB)} of ${fmt(cache.totalBytes / MiB)} MiB stored cached before`;
              log(`  ${id} row ${row}: ${fmt(file.size / 1e6 / seconds)} MB/s, server ${fmt(cpu.server / (file.size / GiB), 2)} CPU s/GiB (size and ${file.samples.size} samples checked${resident})`);
            } catch (err) {
              log(`  ${id} row ${row}: ${(err as Error).message}`);
              recorder.fail([metric, cpuMetric], id, err);
            }
          }
        }
        if (instance.downloadRange && this.supports(contender, '5r') && this.rangeExpected) {
          try {
            const { start, end, bytes } = this.rangeExpected;
            const times: number[] = [];
            for (let i = 0; i < sizes.shortSamples; i++) {
              const started = performance.now();
              const got = await withTimeout(instance.downloadRange(handle, start, end), ROW_TIMEOUT_MS, 'row 5 range');
              times.push(performance.now() - started);
              if (!got.equals(bytes)) throw new Error(`range ${start}-${end}: ${got.length} bytes that differ from the file`);
            }
            for (const ms of times) recorder.add('range.ms', id, ms);
            log(`  ${id} row 5 range: ${times.map((t) => fmt(t)).join(', ')} ms`);
          } catch (err) {
            log(`  ${id} row 5 range: ${(err as Error).message}`);
            recorder.fail(ROW_METRICS['5r']!, id, err);
          }
        }
      }

      if (this.wants('2') && instance.putSmall && this.supports(contender, '2')) {
        try {
          const source = keystream(`small-${run}`)(MiB + sizes.smallBytes);
          const put = instance.putSmall.bind(instance);
          const processes = instance.processes ?? { nodes: [instance.pid] };
          const cpuBefore = readCpu(processes);
          const started = performance.now();
          await this.window(id, 'row 2: small PUTs', () =>
            withTimeout(
              pool(sizes.smallCount, sizes.smallConcurrency, async (i) => {
                const offset = (i * 4099) % MiB;
                await put(`small/${String(i).padStart(6, '0')}`, source.subarray(offset, offset + sizes.smallBytes));
              }),
              ROW_TIMEOUT_MS,
              'row 2',
            ),
          );
          const seconds = (performance.now() - started) / 1000;
          const cpu = cpuBetween(cpuBefore, readCpu(processes));
          const kiloRequests = sizes.smallCount / 1000;
          recorder.add('small.rps', id, sizes.smallCount / seconds);
          recorder.add('small.serverCpu', id, cpu.server / kiloRequests);
          if (processes.balancer) recorder.add('small.balancerCpu', id, cpu.balancer / kiloRequests);
          log(
            `  ${id} row 2: ${fmt(sizes.smallCount / seconds)} requests/s, server ${fmt(cpu.server / kiloRequests, 2)} CPU ms/request` +
              cpuSplit(instance, cpu, kiloRequests, 'ms/request'),
          );
        } catch (err) {
          log(`  ${id} row 2: ${(err as Error).message}`);
          recorder.fail(ROW_METRICS['2']!, id, err);
        }
      }
    });
  }

  /**
   * Rows 3–4. Filling an upload with 10,000 parts is the slow part, and it is not
   * what rows 3–4 measure, so it happens once per contender: a server fills the
   * upload and stops, and its data directory becomes a snapshot. Every run then
   * starts a fresh server on a copy of the snapshot, lists the parts (row 4) and
   * completes the upload (row 3).
   */
  private async partsPhase(contender: Contender, run: number, rows: Array<'3' | '4'>): Promise<void> {
    const { sizes, recorder } = this;
    const id = contender.id;
    const name = 'parts.bin';
    const metrics = rows.flatMap((row) => ROW_METRICS[row]!);
    let snapshot = this.snapshots.get(id);
    if (!snapshot) {
      const dataDir = join(this.tmpRoot, `${id}-parts-snapshot`);
      const bytes = sizes.tinyPartBytes;
      const source = keystream(`parts-${id}`)(sizes.partCount * bytes);
      const etags: string[] = new Array(sizes.partCount);
      let uploadId = '';
      const filled = await this.withServer(contender, 'parts', [...ROW_METRICS.setup!, ...metrics], { dataDir, fresh: true, keep: true }, async (instance) => {
        if (!instance.createUpload) throw new Error('the contender module has no createUpload');
        const upload = await instance.createUpload(name);
        uploadId = upload.uploadId;
        const started = performance.now();
        await this.window(id, 'rows 3–4 setup: tiny part uploads', () =>
          withTimeout(
            pool(sizes.partCount, sizes.partConcurrency, async (i) => {
              etags[i] = await upload.uploadPart(i + 1, source.subarray(i * bytes, (i + 1) * bytes));
            }),
            ROW_TIMEOUT_MS,
            'rows 3–4 setup',
          ),
        );
        const setupSeconds = (performance.now() - started) / 1000;
        recorder.add('parts.setupRate', id, sizes.partCount / setupSeconds);
        log(`  ${id} rows 3–4 setup: ${sizes.partCount} parts in ${fmt(setupSeconds)} s (${fmt(sizes.partCount / setupSeconds, 0)} parts/s), kept as a snapshot`);
      });
      if (!filled) return;
      const partMd5s = etags.map((etag) => Buffer.from(etag.replace(/"/g, ''), 'hex'));
      snapshot = {
        dataDir,
        uploadId,
        etags,
        expectedEtags: [
          `${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${sizes.partCount}`,
          createHash('md5').update(source).digest('hex'),
        ],
      };
      this.snapshots.set(id, snapshot);
    }

    const { uploadId, etags, expectedEtags } = snapshot;
    const dataDir = join(this.tmpRoot, `${id}-parts-${run}`);
    await cp(snapshot.dataDir, dataDir, { recursive: true, preserveTimestamps: true });
    await this.withServer(contender, 'parts', metrics, { dataDir, fresh: false, keep: false }, async (instance) => {
      if (!instance.openUpload) throw new Error('the contender module has no openUpload');
      const upload = instance.openUpload(name, uploadId);
      // Let start-up housekeeping (Tessera's orphan sweep over the blob directories) finish first.
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
      // A production server has run ListParts and Complete before: warm this one up (not timed) by
      // completing a 3-part upload, or a 1-part one where the contender's Complete refuses parts this
      // small (row 3 n/a, OSS): the last part may be of any size; and, for row 4, by listing pages 1
      // and 9 of the upload itself WARM_LISTS times (the first few lists of 1,000 parts a process
      // serves take two to three times as long). Behind a load balancer, every node on its own.
      const warmCount = this.supports(contender, '3') ? 3 : 1;
      for (const [index, target] of (instance.nodes ?? [instance]).entries()) {
        if (!target.createUpload) continue;
        const warm = await target.createUpload(`warm-up-${index}.bin`);
        const warmParts = [];
        for (let i = 1; i <= warmCount; i++) warmParts.push({ partNumber: i, etag: await warm.uploadPart(i, Buffer.alloc(sizes.tinyPartBytes, i)) });
        await warm.complete(warmParts);
        const measured = target.openUpload?.(name, uploadId);
        if (rows.includes('4') && measured?.listParts) {
          for (let i = 0; i < WARM_LISTS; i++) for (const marker of [0, 8 * sizes.pageSize]) await measured.listParts(marker, sizes.pageSize);
        }
      }

      if (rows.includes('4')) {
        try {
          if (!upload.listParts) throw new Error('the contender module has no listParts');
          const listParts = upload.listParts.bind(upload);
          const page = sizes.pageSize;
          const lines: string[] = [];
          for (let i = 0; i < sizes.shortSamples; i++) {
            for (const [which, marker] of [['first', 0], ['ninth', 8 * page]] as const) {
              const listed = await this.window(id, 'row 4: ListParts', () => withTimeout(listParts(marker, page), ROW_TIMEOUT_MS, 'row 4'));
              const numbers = listed.value;
              if (numbers.length !== page || numbers[0] !== marker + 1 || numbers[page - 1] !== marker + page) {
                throw new Error(`ListParts after ${marker}: got ${numbers.length} parts, ${numbers[0]}…${numbers[numbers.length - 1]}`);
              }
              recorder.add(`listParts.${which}.wire`, id, listed.wireMs);
              recorder.add(`listParts.${which}.sdk`, id, listed.totalMs);
              lines.push(`${which} ${fmt(listed.wireMs)}/${fmt(listed.totalMs)}`);
            }
          }
          log(`  ${id} row 4 (round trip/SDK ms): ${lines.join(', ')}`);
        } catch (err) {
          log(`  ${id} row 4: ${(err as Error).message}`);
          recorder.fail(ROW_METRICS['4']!, id, err);
        }
      }

      if (rows.includes('3')) {
        try {
          const parts = etags.map((etag, i) => ({ partNumber: i + 1, etag }));
          const done = await this.window(id, 'row 3: Complete', () => withTimeout(upload.complete(parts), ROW_TIMEOUT_MS, 'row 3 Complete'));
          if (!expectedEtags.includes(done.value)) throw new Error(`Complete returned ETag ${done.value}, expected one of ${expectedEtags.join(', ')}`);
          recorder.add('complete.wire', id, done.wireMs);
          recorder.add('complete.sdk', id, done.totalMs);
          log(`  ${id} row 3: round trip ${fmt(done.wireMs)} ms, SDK call ${fmt(done.totalMs)} ms`);
        } catch (err) {
          log(`  ${id} row 3: ${(err as Error).message}`);
          recorder.fail(ROW_METRICS['3']!, id, err);
        }
      }
    });
  }
}

function cellFor(def: MetricDef, contender: Contender, bench: Bench, wantedRows: Set<string>): Cell | undefined {
  if (!def.rows.some((row) => wantedRows.has(row))) return undefined;
  // Measured first: row 3a (the parts setup) is measured for a contender that runs row 4 but not row 3.
  const summary = summarize(bench.recorder.samples.get(def.id)?.get(contender.id) ?? []);
  if (summary) return { summary };
  if (def.onlyWhereMeasured) return undefined;
  const reason = contender.unsupported[def.rowKey];
  if (reason) return { na: reason };
  return { na: bench.recorder.failures.get(def.id)?.get(contender.id) ?? 'not measured' };
}

/** MB/s of MD5, SHA-256 and CRC32 on 16 MiB updates (best of 5, to see past other load): to apportion profile time. */
function measureHashSpeeds(): string {
  const data = keystream('hash-speed')(16 * MiB);
  const rate = (run: () => void) => {
    let best = Infinity;
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      run();
      if (i > 0) best = Math.min(best, performance.now() - started);
    }
    return data.length / 1e6 / (best / 1000);
  };
  const md5 = rate(() => createHash('md5').update(data).digest());
  const sha256 = rate(() => createHash('sha256').update(data).digest());
  const crc = rate(() => crc32(data));
  return `MD5 ${md5.toFixed(0)} MB/s, SHA-256 ${sha256.toFixed(0)} MB/s, CRC32 ${crc.toFixed(0)} MB/s`;
}

async function main(): Promise<void> {
  let options: Options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(`bench: ${(err as Error).message} (see --help)`);
    process.exit(2);
  }
  const sizes = sizesFor(options.quick);
  const startedAt = new Date();
  const loadStart = loadavg();
  const started = performance.now();
  const tmpRoot = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
  // Searchable by others (not listable): under root, PostgreSQL runs as the postgres user and must
  // reach its cluster in a contender's data directory in here.
  await chmod(tmpRoot, 0o711);
  const profileDir = options.profile ? await mkdtemp(join(tmpdir(), 'tessera-bench-profile-')) : undefined;
  const hashSpeeds = options.profile ? measureHashSpeeds() : '';
  const bench = new Bench(options, sizes, tmpRoot, profileDir);
  const interrupted = () => {
    killStartedServers();
    void rm(tmpRoot, { recursive: true, force: true }).finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    await bench.prepare();
    await bench.runAll();
  } finally {
    await bench.cleanup();
    await rm(tmpRoot, { recursive: true, force: true });
  }

  const cpuList = cpus();
  const metrics = defineMetrics(sizes)
    .map((def) => {
      const cells: Record<string, Cell> = {};
      for (const contender of options.contenders) {
        const cell = cellFor(def, contender, bench, options.rows);
        if (cell) cells[contender.id] = cell;
      }
      return Object.keys(cells).length > 0 ? metricResult(def, cells) : undefined;
    })
    .filter((metric) => metric !== undefined);
  const args = options.argv.join(' ');
  const report: Report = {
    title: options.quick
      ? 'Quick smoke run (not for comparison)'
      : options.profile
        ? `Profiling run (${options.contenders[0]!.label} under --cpu-prof)`
        : options.out === 'latest'
          ? 'Latest results'
          : `Results: ${options.out}`,
    date: startedAt.toISOString().replace(/\.\d+Z$/, 'Z'),
    command: `npm run bench${args ? ` -- ${args}` : ''}`,
    machine: {
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model.trim() ?? 'unknown',
      memoryBytes: totalmem(),
      os: `${osType()} ${release()}`,
      node: process.version,
    },
    loadAverage: { start: loadStart, end: loadavg() },
    runs: options.runs,
    quick: options.quick,
    durationSeconds: (performance.now() - started) / 1000,
    sizes,
    subject: SUBJECT,
    contenders: options.contenders.map(({ id, label, client, notes, sameServerAs }) => ({ id, label, client, notes, sameServerAs })),
    metrics,
    notes: [
      `The harness (the clients) runs as \`node ${process.execArgv.join(' ') || '(no flags)'}\`; \`npm run bench\` starts it with \`--initial-old-space-size=64\`, as Tessera's server is started: its clients' 16 MiB part buffers otherwise cost it ~75 full GCs per GiB, CPU taken from the server under test on the same cores.`,
      'Servers run one at a time, each as its own child process on 127.0.0.1 with a fresh temp data directory, stopped and deleted (then `sync`) before the next starts; the contender order rotates each run.',
      'Server CPU is utime+stime of the server process (all threads) from /proc/<pid>/stat over the measured window; peak RSS is VmHWM from /proc/<pid>/status after resetting it through /proc/<pid>/clear_refs at the start of row 1, cross-checked by polling VmRSS every 20 ms.',
      'Rows 3–4: the upload is filled once per contender (row 3a); each run starts a fresh server on a copy of that data directory, waits 1 s, warms it up, untimed, by completing a 3-part upload (1 part where the contender cannot complete 1 KiB parts) and listing pages 1 and 9 of the upload three times each (behind a load balancer: every node, directly), then lists (row 4) and completes (row 3).',
      'Round trip (rows 3–4) is timed inside the SDK from handing the signed request to the HTTP handler until the response headers arrive (ali-oss: from its call to urllib, its HTTP client, until node:http has parsed the response headers); the "whole SDK call" rows add request building, signing and XML parsing on the client.',
      'Downloads (row 5) are of the object row 1 wrote, twice: cold (5c), with every file of the contender’s data directory taken out of the page cache first, then hot (5h), with every file read once first, so neither depends on how the server wrote (with `directIo` on, Tessera writes large bodies past the cache); the log gives the MiB of stored files left cached before each. Every download is checked (size, and bytes sampled every 4 MiB against the file; ranges byte for byte).',
      ...[...bench.cacheMethods].sort().map((method) => `Row ${method}.`),
      'Method: docs/benchmarks.md.',
    ],
  };

  const dir = options.resultsDir;
  if (!options.profile) {
    // A profiled server is slower: its table goes only into the profile report below.
    const written = await writeReport(dir, options.out, report);
    console.log(renderMarkdown(report));
    log(`wrote ${written.markdown} and ${written.json}`);
  }
  // The results of a named run (latest, cluster, …) go between that name's markers in the docs, where there are some.
  if (!options.profile && !options.quick && dir === DEFAULT_RESULTS_DIR) {
    const docs = [join(REPO_ROOT, 'docs', 'benchmarks.md')];
    const { start, end } = resultMarkers(options.out);
    for (const doc of docs) {
      if (await updateMarkedSection(doc, report, options.out)) log(`updated the ${options.out} results section of ${doc}`);
      else log(`${doc}: no ${start}/${end} markers (or no file); not updated`);
    }
  }

  // A full run goes on with the scale curves (bench/scale.ts, `npm run bench:scale` alone).
  if (!options.profile && !options.quick && options.out === 'latest') await runScaleCurves(dir);

  if (profileDir) {
    const profiles = (await readdir(profileDir)).filter((name) => name.endsWith('.cpuprofile'));
    const sections: string[] = [];
    const profiled = options.profiled!;
    const mine = bench.windows.filter((w) => w.contender === profiled);
    await writeFile(join(profileDir, 'windows.json'), JSON.stringify(mine, null, 1));
    const labels = [...new Set(mine.map((w) => w.label))];
    for (const name of profiles) {
      const path = join(profileDir, name);
      for (const label of labels) {
        const windows = mine.filter((w) => w.label === label).map((w): [number, number] => [w.start, w.end]);
        const summary = await summarizeCpuProfile(path, 25, windows);
        // Each server process has its own profile; windows of the other process leave it empty.
        if (summary.totalMs === 0) continue;
        const wallMs = windows.reduce((sum, [start, end]) => sum + (end - start) / 1000, 0);
        sections.push(`## ${label} (${windows.length} window${windows.length === 1 ? '' : 's'}, ${wallMs.toFixed(0)} ms wall)\n\n${renderProfileSummary(summary)}`);
      }
      sections.push(`## Whole lifetime of the server in ${name}\n\n${renderProfileSummary(await summarizeCpuProfile(path, 25))}`);
    }
    const text = [
      `# ${options.contenders[0]!.label} under --cpu-prof`,
      '',
      `\`${report.command}\` · ${report.date} · raw profiles and the operation windows (windows.json) kept in ${profileDir}; open the profiles in Chrome DevTools or speedscope, or re-summarise with \`node dist/bench/profile.js <file> --windows <dir>/windows.json --label '<label>'\`.`,
      '',
      'Each section keeps only the samples taken while the harness was running that operation against Tessera.',
      ...(bench.recorder.samples.get('upload.serverCpu')?.get(profiled) ?? []).map(
        (perGiB) =>
          `Row 1 server CPU from /proc (all threads: JavaScript, thread pool, GC): ${(perGiB * (sizes.largeBytes / GiB)).toFixed(2)} s. ` +
          'Where the main thread\'s busy time below is close to the wall time, the JavaScript thread is the bottleneck; where it exceeds the /proc CPU time, the machine was overcommitted and the thread was waiting for a core while sampled.',
      ),
      `Hash throughput of one core of this machine, measured by the harness just before the run (to split \`Hash.update\`, which MD5 and SHA-256 share): ${hashSpeeds}.`,
      'Timings come from a profiled server (the profiler itself costs some CPU): use them for shares, not for the table.',
      '',
      renderMarkdown(report),
      ...sections,
    ].join('\n');
    const path = join(dir, `${options.out}-${profiled}-cpu.md`);
    await mkdir(dir, { recursive: true });
    await writeFile(path, text);
    console.log(sections.join('\n'));
    log(`wrote ${path}`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
