/**
 * Chaos soak (issue #18): `npm run soak -- --minutes N [--concurrency C] [--cluster] [--seed S]
 * [--kill-every A-B] [--out PATH]`.
 *
 * Mixed load (S3 with lib-storage and explicit multipart uploads, some aborted, some left open;
 * ali-oss puts and checkpointed multipart uploads; 123pan V1 and V2 uploads with resumes and
 * instant uploads; ranged and whole reads; listings) from C concurrent workers for N minutes,
 * while the server is SIGKILLed and started again every A–B seconds (in a cluster: one random node
 * at a time, and the database once). Every acknowledged write is in a ledger; at the end the
 * server is restarted cleanly and everything is checked (see bench/soak/verify.ts). The figures
 * go to bench/results/soak-latest.md (and .json beside it), or to --out; the exit code is 1 when
 * data was lost or an invariant broke.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { CreateBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { DEFAULT_RATE_LIMITS } from '../src/dialects/pan/config.js';
import { REPO_ROOT } from '../test/helpers/server.js';
import { auditBlobs, type BlobAudit } from './soak/blobs.js';
import { Bodies, prng } from './soak/bodies.js';
import { ALICE, ossClient, OSS_BUCKET, PAN_APP, PAN_BUCKET, panClient, s3Client, S3_BUCKET } from './soak/clients.js';
import { Ledger, Tally } from './soak/ledger.js';
import { buildReport, markdown } from './soak/report.js';
import { sleep, Target } from './soak/target.js';
import { verify } from './soak/verify.js';
import { runWorker, type Context } from './soak/workloads.js';

interface Options {
  minutes: number;
  concurrency: number;
  cluster: boolean;
  seed: string;
  killEvery: [number, number];
  out: string;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    minutes: 10,
    concurrency: 32,
    cluster: false,
    seed: randomBytes(6).toString('hex'),
    killEvery: [30, 90],
    out: join(REPO_ROOT, 'bench', 'results', 'soak-latest.md'),
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--minutes') options.minutes = positive(value(), arg);
    else if (arg === '--concurrency') options.concurrency = Math.round(positive(value(), arg));
    else if (arg === '--cluster') options.cluster = true;
    else if (arg === '--seed') options.seed = value();
    else if (arg === '--out') options.out = value();
    else if (arg === '--kill-every') {
      const match = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(value());
      if (!match || Number(match[1]) > Number(match[2]) || Number(match[1]) <= 0) throw new Error('--kill-every takes MIN-MAX seconds, e.g. 30-90');
      options.killEvery = [Number(match[1]), Number(match[2])];
    } else throw new Error(`unknown argument ${arg} (--minutes N, --concurrency C, --cluster, --seed S, --kill-every A-B, --out PATH)`);
  }
  if (options.concurrency > 64) throw new Error('--concurrency: at most 64');
  return options;
}

function positive(text: string, name: string): number {
  const n = Number(text);
  if (!(n > 0)) throw new Error(`${name} must be a positive number`);
  return n;
}

const KiB = 1024;
const PAN_SLICE = 256 * KiB;
/** Short leases and frequent sweeps, so a killed node's temp files go within seconds. */
const CLUSTER_TIMINGS = { TESSERA_NODE_LEASE_MS: '3000', TESSERA_GONE_NODE_GRACE_MS: '1000', TESSERA_TEMP_SWEEP_INTERVAL_MS: '250' };

async function main(): Promise<number> {
  const options = parseArgs(process.argv.slice(2));
  const command = ['npm run soak --', ...process.argv.slice(2)].join(' ');
  const log = (text: string) => console.log(`soak ${((Date.now() - startedAt) / 1000).toFixed(1)}s: ${text}`);
  const startedAt = Date.now();
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-soak-'));
  const scratch = await mkdtemp(join(tmpdir(), 'tessera-soak-files-'));
  const loadMs = options.minutes * 60_000;
  const tally = new Tally();
  const ledger = new Ledger();
  const random = prng(`${options.seed}:chaos`);
  const target = await Target.start({
    cluster: options.cluster,
    dataDir,
    config: {
      users: [ALICE],
      panApps: [PAN_APP],
      panRateLimits: Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((path) => [path, 0])),
      panSliceSize: PAN_SLICE,
      // Completions a crash interrupted are taken up again within seconds.
      panLeaseSeconds: 3,
      panRecoverySeconds: 2,
      // Parts of any size but the last (the soak's own multipart uploads use 128 KiB – 1 MiB parts).
      minPartSize: 1,
      sweepIntervalSeconds: 2,
      // Open uploads must outlive the run: their acknowledged parts are checked at the end.
      uploadExpirySeconds: Math.max(3600, Math.ceil(loadMs / 1000) * 4),
    },
    env: options.cluster ? CLUSTER_TIMINGS : {},
    graceMs: options.cluster ? 5000 : 3000,
  });
  log(`${target.mode} at ${target.url}, data in ${dataDir}, seed ${options.seed}`);

  const s3 = s3Client(target.url, tally);
  const aliceS3 = s3Client(target.url, tally, { accessKeyId: ALICE.accessKey, secretAccessKey: ALICE.secretKey });
  const pan = panClient(target.url, tally);
  const ctx: Context = {
    bodies: new Bodies(options.seed),
    ledger,
    tally,
    target,
    s3,
    aliceS3,
    oss: ossClient(target.url, tally),
    pan,
    panSliceSize: PAN_SLICE,
    scratch,
    deadline: Date.now() + loadMs,
  };
  let exitCode = 1;
  try {
    await s3.send(new CreateBucketCommand({ Bucket: S3_BUCKET }));
    await s3.send(new CreateBucketCommand({ Bucket: OSS_BUCKET }));
    // The drive's bucket is made on the app's first call.
    await pan.userInfo();

    const loadStart = Date.now();
    const chaos = runChaos(ctx, options, random, log);
    const workers = Array.from({ length: options.concurrency }, (_, id) => runWorker(ctx, { id, random: prng(`${options.seed}:worker:${id}`), seq: 0 }));
    await Promise.all(workers);
    await chaos;
    const loadSeconds = Math.round((Date.now() - loadStart) / 100) / 10;
    log(`load over: ${[...tally.ops.values()].reduce((a, b) => a + b, 0)} operations, ${tally.failures.length} failures, ${target.crashes} crashes`);

    // Clean restart, then the temp files of the killed processes must go.
    const verifyStart = Date.now();
    await target.settled();
    await target.cleanRestart();
    let tempFilesLeft = await target.tempFiles();
    for (const deadline = Date.now() + 30_000; tempFilesLeft.length > 0 && Date.now() < deadline; ) {
      await sleep(500);
      tempFilesLeft = await target.tempFiles();
    }
    log(`restarted cleanly; verifying ${ledger.objects.size} objects and ${ledger.uploads.size} uploads`);
    const verification = await verify(ctx, prng(`${options.seed}:verify`));
    // One node sweeps the orphans of the crashes in the background after its start: wait for it.
    let blobs: BlobAudit = await auditBlobs(target.dataDir, target.postgresUrl);
    for (const deadline = Date.now() + 30_000; !target.isCluster && blobs.unreferenced.length > 0 && Date.now() < deadline; ) {
      await sleep(1000);
      blobs = await auditBlobs(target.dataDir, target.postgresUrl);
    }
    const report = buildReport({
      command,
      seed: options.seed,
      concurrency: options.concurrency,
      minutes: options.minutes,
      startedAt,
      loadSeconds,
      verifySeconds: Math.round((Date.now() - verifyStart) / 100) / 10,
      tally,
      target,
      verification,
      tempFilesLeft,
      blobs,
    });
    const text = markdown(report);
    await mkdir(dirname(options.out), { recursive: true });
    await writeFile(options.out, `${text}\n`);
    await writeFile(options.out.replace(/\.md$/, '') + '.json', `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\n${text}`);
    console.log(`written to ${options.out}`);
    exitCode = report.ok ? 0 : 1;
  } finally {
    s3.destroy();
    aliceS3.destroy();
    pan.close();
    await target.cleanup();
    await rm(dataDir, { recursive: true, force: true });
    await rm(scratch, { recursive: true, force: true });
  }
  return exitCode;
}

/** Kills every A–B s until the load ends; in a cluster, the database once, past the middle of the run. */
async function runChaos(ctx: Context, options: Options, random: () => number, log: (text: string) => void): Promise<void> {
  const [min, max] = options.killEvery;
  const middle = ctx.deadline - (options.minutes * 60_000) / 2;
  let databaseDone = !options.cluster;
  for (;;) {
    let wait = (min + random() * (max - min)) * 1000;
    let database = false;
    if (!databaseDone && Date.now() + wait >= middle) {
      wait = Math.max(0, middle - Date.now());
      database = true;
    }
    // No kill in the last seconds: the load's last operations meet a server that is up.
    if (Date.now() + wait >= ctx.deadline - 2000) return;
    await sleep(wait);
    try {
      if (database) {
        databaseDone = true;
        log('killing the database');
        const probe = async () => (await ctx.s3.send(new ListBucketsCommand({}))).Buckets !== undefined;
        await ctx.target.restartDatabase(1500, probe);
        log('the database is back');
      } else {
        const what = await ctx.target.crash(random);
        log(`${what}; serving again`);
      }
    } catch (err) {
      ctx.tally.violation(`the server did not come back after a crash: ${String(err)}`);
      ctx.deadline = Date.now();
      return;
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(2);
  },
);
