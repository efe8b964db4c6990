/**
 * `npm run bench:versions [-- --sizes 10000,100000,1000000] [--backends sqlite,postgres] [--samples N] [--results-dir DIR]`:
 * how the time of one ListObjectVersions page (1,000 entries) grows with the number of versions in
 * the bucket, on SQLite and on PostgreSQL. Writes bench/results/scale-versions.{md,json}.
 *
 * The history is a fixture, not a million PUTs: a real server makes the bucket (versioning
 * Enabled) and two versions of one template key; then one SQL statement per table clones those
 * rows (see fillVersions) into keys `d<NN>/k<NNNNNNN>`, VERSIONS_PER_KEY versions each: the current
 * one in `objects`, the older ones in `object_versions` with their seq and noncurrent time. The
 * clones have no bytes (no segments): a listing never reads them, a GET would fail.
 *
 * Each page is timed as the whole SDK call (@aws-sdk/client-s3 at its defaults, signing and XML
 * parsing included), after warm-up calls, at four positions: the first page, a page from a key
 * marker in the middle of the bucket, one from a key marker plus a version-id marker in the middle
 * of a key's history, and with `delimiter=/` (the bucket's DIRECTORIES common prefixes, one page).
 * TESSERA_BENCH_KEEP=1 keeps each data directory (SQLite's meta.db, or the PostgreSQL cluster) to look into.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { CreateBucketCommand, ListObjectVersionsCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client, type ListObjectVersionsCommandOutput } from '@aws-sdk/client-s3';
import { timedSend } from './contenders/s3.js';
import { startPostgres, type TestPostgres } from '../test/helpers/postgres.js';
import { REPO_ROOT } from './contenders/paths.js';
import { ACCESS_KEY, SECRET_KEY, startTessera } from './contenders/tessera.js';
import { formatNumber, summarize, type Summary } from './stats.js';

process.env.AWS_SDK_JS_SUPPRESS_NODE_DEPRECATION_WARNING ??= '1';

const BUCKET = 'versions';
const TEMPLATE_KEY = 'template';
const VERSIONS_PER_KEY = 10;
const DIRECTORIES = 100;
const PAGE = 1000;
const WARM_UP = 3;

type Backend = 'sqlite' | 'postgres';
type Position = 'first page' | 'middle (key-marker)' | 'middle (key-marker + version-id-marker)' | 'delimiter=/';
const POSITIONS: Position[] = ['first page', 'middle (key-marker)', 'middle (key-marker + version-id-marker)', 'delimiter=/'];

interface Measured {
  backend: Backend;
  versions: number;
  fillSeconds: number;
  pages: Record<Position, PageTimes>;
}

function parseArgs(argv: string[]): { sizes: number[]; backends: Backend[]; samples: number; resultsDir: string } {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i < 0 ? undefined : argv[i + 1];
  };
  const sizes = (value('--sizes') ?? '10000,100000,1000000').split(',').map(Number);
  for (const size of sizes) if (!Number.isInteger(size) || size < VERSIONS_PER_KEY * DIRECTORIES) throw new Error(`--sizes: ${size} is not a whole number of at least ${VERSIONS_PER_KEY * DIRECTORIES}`);
  const backends = (value('--backends') ?? 'sqlite,postgres').split(',') as Backend[];
  for (const backend of backends) if (backend !== 'sqlite' && backend !== 'postgres') throw new Error(`--backends: unknown ${backend}`);
  const samples = Number(value('--samples') ?? 15);
  if (!Number.isInteger(samples) || samples < 1) throw new Error('--samples must be a positive integer');
  const resultsDir = value('--results-dir') ?? join(REPO_ROOT, 'bench', 'results');
  return { sizes, backends, samples, resultsDir };
}

/** The key of clone `i`: spread over DIRECTORIES directories, in the same order as `i`. */
const keyOf = (i: number, keys: number): string => {
  const perDirectory = Math.ceil(keys / DIRECTORIES);
  return `d${String(Math.floor(i / perDirectory)).padStart(2, '0')}/k${String(i).padStart(7, '0')}`;
};

/**
 * Clones the template key's current row and its one noncurrent row: `keys` current rows, and
 * VERSIONS_PER_KEY - 1 noncurrent ones under each key (seq 1 oldest). One statement per table.
 * Version ids are 32 hexadecimal characters (a subset of the ids Tessera makes).
 */
async function fillVersions(backend: Backend, where: { dataDir: string; postgres?: TestPostgres }, keys: number): Promise<void> {
  const history = VERSIONS_PER_KEY - 1;
  const perDirectory = Math.ceil(keys / DIRECTORIES);
  if (backend === 'sqlite') {
    const db = new Database(join(where.dataDir, 'meta.db'));
    db.pragma('journal_mode = WAL');
    const columns = (table: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).map((c) => c.name);
    const objectColumns = columns('objects').filter((c) => !['id', 'key', 'version_id'].includes(c));
    const versionColumns = columns('object_versions').filter((c) => !['id', 'key', 'version_id', 'seq', 'noncurrent_since'].includes(c));
    const key = `printf('d%02d/k%07d', n.i / ${perDirectory}, n.i)`;
    const numbers = `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${keys - 1})`;
    db.transaction(() => {
      db.exec(`${numbers}
        INSERT INTO objects (key, version_id, ${objectColumns.join(', ')})
        SELECT ${key}, lower(hex(randomblob(16))), ${objectColumns.map((c) => `t.${c}`).join(', ')}
        FROM n, (SELECT * FROM objects WHERE bucket = '${BUCKET}' AND key = '${TEMPLATE_KEY}') t`);
      db.exec(`${numbers}, h(s) AS (SELECT 1 UNION ALL SELECT s + 1 FROM h WHERE s < ${history})
        INSERT INTO object_versions (id, key, version_id, seq, noncurrent_since, ${versionColumns.join(', ')})
        SELECT NULL, ${key}, lower(hex(randomblob(16))), h.s, t.noncurrent_since + h.s, ${versionColumns.map((c) => `t.${c}`).join(', ')}
        FROM n, h, (SELECT * FROM object_versions WHERE bucket = '${BUCKET}' AND key = '${TEMPLATE_KEY}') t`);
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.exec('ANALYZE');
    db.close();
    return;
  }
  const client = new pg.Client({ connectionString: where.postgres!.url });
  await client.connect();
  try {
    const columns = async (table: string) =>
      (await client.query<{ column_name: string }>(`SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position`, [table])).rows.map((r) => r.column_name);
    const objectColumns = (await columns('objects')).filter((c) => !['id', 'key', 'version_id'].includes(c));
    const versionColumns = (await columns('object_versions')).filter((c) => !['id', 'key', 'version_id', 'seq', 'noncurrent_since'].includes(c));
    const key = `'d' || lpad((n.i / ${perDirectory})::text, 2, '0') || '/k' || lpad(n.i::text, 7, '0')`;
    await client.query('BEGIN');
    await client.query(`INSERT INTO objects (key, version_id, ${objectColumns.join(', ')})
      SELECT ${key}, md5(random()::text || n.i), ${objectColumns.map((c) => `t.${c}`).join(', ')}
      FROM generate_series(0, ${keys - 1}) AS n(i), (SELECT * FROM objects WHERE bucket = '${BUCKET}' AND key = '${TEMPLATE_KEY}') t`);
    await client.query(`INSERT INTO object_versions (id, key, version_id, seq, noncurrent_since, ${versionColumns.join(', ')})
      SELECT NULL, ${key}, md5(random()::text || n.i || '.' || h.s), h.s, t.noncurrent_since + h.s, ${versionColumns.map((c) => `t.${c}`).join(', ')}
      FROM generate_series(0, ${keys - 1}) AS n(i), generate_series(1, ${history}) AS h(s),
           (SELECT * FROM object_versions WHERE bucket = '${BUCKET}' AND key = '${TEMPLATE_KEY}') t`);
    await client.query('COMMIT');
    await client.query('ANALYZE objects');
    await client.query('ANALYZE object_versions');
  } finally {
    await client.end();
  }
}

/** Round trip (signed request handed over → response headers) and whole SDK call, in ms. */
interface PageTimes {
  wire: Summary | undefined;
  whole: Summary | undefined;
}

async function timePage(s3: S3Client, input: ConstructorParameters<typeof ListObjectVersionsCommand>[0], samples: number, expectEntries: number): Promise<PageTimes> {
  const wire: number[] = [];
  const whole: number[] = [];
  for (let i = 0; i < WARM_UP + samples; i++) {
    const timed = await timedSend<ListObjectVersionsCommandOutput>(s3, new ListObjectVersionsCommand(input));
    const page = timed.value;
    const entries = (page.Versions?.length ?? 0) + (page.DeleteMarkers?.length ?? 0) + (page.CommonPrefixes?.length ?? 0);
    if (entries !== expectEntries) throw new Error(`${JSON.stringify(input)}: ${entries} entries, expected ${expectEntries}`);
    if (i < WARM_UP) continue;
    wire.push(timed.wireMs);
    whole.push(timed.totalMs);
  }
  return { wire: summarize(wire), whole: summarize(whole) };
}

async function measure(backend: Backend, versions: number, samples: number): Promise<Measured> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-scale-versions-'));
  // Searchable by others: under root, PostgreSQL runs as the postgres user and keeps its cluster in here.
  await chmod(dataDir, 0o711);
  const postgres = backend === 'postgres' ? await startPostgres({ dir: join(dataDir, 'postgres'), durable: true }) : undefined;
  const blobs = backend === 'postgres' ? join(dataDir, 'shared') : dataDir;
  const server = await startTessera({ dataDir: blobs, purpose: 'bytes' }, undefined, postgres?.url);
  const s3 = new S3Client({ endpoint: server.url, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    await s3.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: TEMPLATE_KEY, Body: 'older' }));
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: TEMPLATE_KEY, Body: 'newer' }));
    const keys = versions / VERSIONS_PER_KEY;
    const started = Date.now();
    await fillVersions(backend, { dataDir: blobs, postgres }, keys);
    const fillSeconds = (Date.now() - started) / 1000;
    console.log(`${backend}, ${versions.toLocaleString('en-US')} versions: filled in ${formatNumber(fillSeconds)} s`);

    const middleKey = keyOf(Math.floor(keys / 2), keys);
    const history = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET, Prefix: middleKey, MaxKeys: VERSIONS_PER_KEY }));
    const midVersion = history.Versions![Math.floor(VERSIONS_PER_KEY / 2)]!.VersionId!;
    // Entries after the middle key: the later keys' versions and the template key's two.
    const afterMiddle = (keys - Math.floor(keys / 2) - 1) * VERSIONS_PER_KEY + 2;
    const restOfMiddle = VERSIONS_PER_KEY - Math.floor(VERSIONS_PER_KEY / 2) - 1;
    const inputs: Record<Position, [ConstructorParameters<typeof ListObjectVersionsCommand>[0], number]> = {
      'first page': [{ Bucket: BUCKET, MaxKeys: PAGE }, PAGE],
      'middle (key-marker)': [{ Bucket: BUCKET, MaxKeys: PAGE, KeyMarker: middleKey }, Math.min(PAGE, afterMiddle)],
      'middle (key-marker + version-id-marker)': [
        { Bucket: BUCKET, MaxKeys: PAGE, KeyMarker: middleKey, VersionIdMarker: midVersion },
        Math.min(PAGE, afterMiddle + restOfMiddle),
      ],
      // The directories and the template key: one page of common prefixes, each a reseek.
      'delimiter=/': [{ Bucket: BUCKET, MaxKeys: PAGE, Delimiter: '/' }, DIRECTORIES + 2],
    };
    const pages = {} as Record<Position, PageTimes>;
    for (const position of POSITIONS) {
      const [input, expected] = inputs[position];
      pages[position] = await timePage(s3, input, samples, expected);
      console.log(`  ${position}: ${formatNumber(pages[position].wire?.median ?? NaN)} ms round trip, ${formatNumber(pages[position].whole?.median ?? NaN)} ms whole call`);
    }
    return { backend, versions, fillSeconds, pages };
  } finally {
    s3.destroy();
    await server.stop();
    await postgres?.cleanup();
    if (process.env.TESSERA_BENCH_KEEP) console.log(`  kept ${dataDir} (TESSERA_BENCH_KEEP)`);
    else await rm(dataDir, { recursive: true, force: true });
  }
}

function render(results: Measured[], samples: number): string {
  const table = (title: string, pick: (times: PageTimes) => Summary | undefined) => [
    `### ${title}`,
    '',
    `| Backend | Versions | Fill, s | ${POSITIONS.join(' | ')} |`,
    `| --- | ---: | ---: | ${POSITIONS.map(() => '---:').join(' | ')} |`,
    ...results.map((r) => {
      const cells = POSITIONS.map((p) => {
        const s = pick(r.pages[p]);
        return s ? `${formatNumber(s.median)} (${formatNumber(s.min)}–${formatNumber(s.max)})` : 'failed';
      });
      return `| ${r.backend === 'sqlite' ? 'SQLite' : 'PostgreSQL'} | ${r.versions.toLocaleString('en-US')} | ${formatNumber(r.fillSeconds)} | ${cells.join(' | ')} |`;
    }),
    '',
  ];
  return [
    `# ListObjectVersions page time by bucket size`,
    '',
    `${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model.trim()}), Node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at the end. One page of ${PAGE} entries (the delimiter page: ${DIRECTORIES} common prefixes and the template key's 2 versions), median of ${samples} calls after ${WARM_UP} warm-up calls (min–max), ms. ${VERSIONS_PER_KEY} versions per key (1 current, ${VERSIONS_PER_KEY - 1} noncurrent), keys in ${DIRECTORIES} directories; the history is a fixture cloned by SQL (bench/scale-versions.ts says how), not written by PUTs.`,
    '',
    ...table('Round trip: the signed request handed to the HTTP layer until the response headers arrive (the server builds the whole document first)', (t) => t.wire),
    ...table('Whole SDK call (@aws-sdk/client-s3: signing, and parsing the XML of 1,000 versions, included)', (t) => t.whole),
  ].join('\n');
}

async function main(): Promise<void> {
  const { sizes, backends, samples, resultsDir: dir } = parseArgs(process.argv.slice(2));
  const results: Measured[] = [];
  for (const backend of backends) for (const versions of sizes) results.push(await measure(backend, versions, samples));
  const markdown = render(results, samples);
  await writeFile(join(dir, 'scale-versions.md'), markdown);
  await writeFile(join(dir, 'scale-versions.json'), JSON.stringify({ samples, results }, null, 2) + '\n');
  process.stdout.write(markdown);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
