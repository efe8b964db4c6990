/** What each table row measures, its unit, which way is better, and Tessera's target. */
import type { RowKey } from './contenders/types.js';

export interface Sizes {
  /** Row 1 / 5 file size, bytes. */
  largeBytes: number;
  partBytes: number;
  queueSize: number;
  smallCount: number;
  smallBytes: number;
  smallConcurrency: number;
  /** Rows 3–4: parts in the upload. */
  partCount: number;
  tinyPartBytes: number;
  partConcurrency: number;
  /** Rows 4: max-parts per ListParts page; page 9 starts after 8 pages. */
  pageSize: number;
  /** Samples per run of the short operations (ListParts pages, ranged GETs). */
  shortSamples: number;
  rangeBytes: number;
}

export type Medians = Record<string, number | undefined>;

export interface MetricDef {
  id: string;
  /** Row label in the table: '1', '1b', … */
  row: string;
  title: string;
  unit: string;
  better: 'higher' | 'lower';
  /** The contender capability the metric needs (for n/a reasons). */
  rowKey: RowKey;
  /** The `--rows` values that produce it. */
  rows: string[];
  /** Informational rows carry no target. */
  targets?: TargetDef[];
  /** Shown only for the contenders that measured it (the load balancer's CPU), and only when one did. */
  onlyWhereMeasured?: boolean;
}

/** One target of a row: the bar for one contender (or a comparison of several). */
export interface TargetDef {
  /** As the Target column shows it. */
  text: string;
  /** Every contender the check reads: the target is shown only in a run that has them all. */
  needs: string[];
  /** Whether it is met; undefined when a median it needs is missing (the run failed). */
  check(medians: Medians): boolean | undefined;
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1 << 30 && bytes % (1 << 30) === 0) return `${bytes / (1 << 30)} GiB`;
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1 << 10 && bytes % (1 << 10) === 0) return `${bytes / (1 << 10)} KiB`;
  return `${bytes} B`;
}

const n = (value: number) => value.toLocaleString('en-US');

/** Tessera on SQLite, the subject. */
const SQLITE = 'tessera';
/** Tessera on PostgreSQL: one node, and three behind the proxy (bench/contenders/tessera-postgres.ts). */
const POSTGRES = 'tessera-pg';
const POSTGRES_3 = 'tessera-3pg';

/** Whether `a`'s median is at least `factor` times `b`'s (higher better), or `b`'s at least `factor` times `a`'s (lower better). */
function ratioAtLeast(medians: Medians, a: string, b: string, factor: number, better: 'higher' | 'lower'): boolean | undefined {
  const x = medians[a];
  const y = medians[b];
  if (x === undefined || y === undefined) return undefined;
  return better === 'higher' ? x >= factor * y : x * factor <= y;
}

function below(contender: string, limit: number): (medians: Medians) => boolean | undefined {
  return (medians) => (medians[contender] === undefined ? undefined : medians[contender] < limit);
}

/** The bar for PostgreSQL on rows 1 and 2: one node within 1.25× of SQLite (Tessera (S3) vs it ≤ 1.25×). */
const withinOfSqlite: TargetDef = {
  text: 'PostgreSQL, 1 node: within 1.25× of SQLite',
  needs: [SQLITE, POSTGRES],
  check: (m) => ratioAtLeast(m, POSTGRES, SQLITE, 1 / 1.25, 'higher'),
};

/** A latency bar for each PostgreSQL contender. */
function postgresBelow(limit: number, unit: string): TargetDef[] {
  return [
    { text: `PostgreSQL, 1 node: < ${limit} ${unit}`, needs: [POSTGRES], check: below(POSTGRES, limit) },
    { text: `PostgreSQL, 3 nodes: < ${limit} ${unit}`, needs: [POSTGRES_3], check: below(POSTGRES_3, limit) },
  ];
}

/** Issue #19's bar for downloads, hot and cold alike. */
const downloadTarget: TargetDef = {
  text: '≥ 0.9× floor, > s3rver and > tus',
  needs: [SQLITE, 'floor', 's3rver', 'tus'],
  check: (m) => {
    const checks = [ratioAtLeast(m, SQLITE, 'floor', 0.9, 'higher'), ratioAtLeast(m, SQLITE, 's3rver', 1, 'higher'), ratioAtLeast(m, SQLITE, 'tus', 1, 'higher')];
    return checks.includes(false) ? false : checks.includes(undefined) ? undefined : true;
  },
};

export function defineMetrics(s: Sizes): MetricDef[] {
  const large = formatBytes(s.largeBytes);
  const parts = `${formatBytes(s.partBytes)} parts, ${s.queueSize} in flight`;
  return [
    {
      id: 'upload.mbps',
      row: '1',
      title: `Upload a ${large} file as ${parts}`,
      unit: 'MB/s',
      better: 'higher',
      rowKey: '1', rows: ['1'],
      targets: [
        {
          text: '≥ 0.85× floor and ≥ 2× s3rver',
          needs: [SQLITE, 'floor', 's3rver'],
          check: (m) => {
            const a = ratioAtLeast(m, SQLITE, 'floor', 0.85, 'higher');
            const b = ratioAtLeast(m, SQLITE, 's3rver', 2, 'higher');
            return a === false || b === false ? false : a === undefined || b === undefined ? undefined : true;
          },
        },
        withinOfSqlite,
      ],
    },
    { id: 'upload.serverCpu', row: '1b', title: 'Row 1: server CPU time', unit: 's per GiB', better: 'lower', rowKey: '1', rows: ['1'] },
    { id: 'upload.clientCpu', row: '1c', title: 'Row 1: client (harness) CPU time, for reference', unit: 's per GiB', better: 'lower', rowKey: '1', rows: ['1'] },
    {
      id: 'upload.balancerCpu',
      row: '1d',
      title: 'Row 1: load balancer (proxy) CPU time, not in 1b',
      unit: 's per GiB',
      better: 'lower',
      rowKey: '1', rows: ['1'],
      onlyWhereMeasured: true,
    },
    {
      id: 'small.rps',
      row: '2',
      title: `Upload ${n(s.smallCount)} objects of ${formatBytes(s.smallBytes)}, ${s.smallConcurrency} in flight`,
      unit: 'requests/s',
      better: 'higher',
      rowKey: '2', rows: ['2'],
      targets: [{ text: '> s3rver', needs: [SQLITE, 's3rver'], check: (m) => ratioAtLeast(m, SQLITE, 's3rver', 1, 'higher') }, withinOfSqlite],
    },
    { id: 'small.serverCpu', row: '2b', title: 'Row 2: server CPU time', unit: 'ms per request', better: 'lower', rowKey: '2', rows: ['2'] },
    {
      id: 'small.balancerCpu',
      row: '2c',
      title: 'Row 2: load balancer (proxy) CPU time, not in 2b',
      unit: 'ms per request',
      better: 'lower',
      rowKey: '2', rows: ['2'],
      onlyWhereMeasured: true,
    },
    {
      id: 'parts.setupRate',
      row: '3a',
      title: `Setup of rows 3–4 (once, not per run): upload ${n(s.partCount)} parts of ${formatBytes(s.tinyPartBytes)}, ${s.partConcurrency} in flight`,
      unit: 'parts/s',
      better: 'higher',
      rowKey: '3', rows: ['3', '4'],
    },
    {
      id: 'complete.wire',
      row: '3',
      title: `Complete an upload of ${n(s.partCount)} small parts (round trip)`,
      unit: 'ms',
      better: 'lower',
      rowKey: '3', rows: ['3'],
      targets: [{ text: '< 100 ms', needs: [SQLITE], check: below(SQLITE, 100) }, ...postgresBelow(250, 'ms')],
    },
    { id: 'complete.sdk', row: '3b', title: 'Row 3 as the whole SDK call (XML building, signing, parsing included)', unit: 'ms', better: 'lower', rowKey: '3', rows: ['3'] },
    {
      id: 'listParts.first.wire',
      row: '4',
      title: `ListParts, first page of ${n(s.pageSize)} from ${n(s.partCount)} parts (round trip)`,
      unit: 'ms',
      better: 'lower',
      rowKey: '4', rows: ['4'],
      targets: [{ text: '< 20 ms', needs: [SQLITE], check: below(SQLITE, 20) }, ...postgresBelow(30, 'ms')],
    },
    {
      id: 'listParts.ninth.wire',
      row: '4p9',
      title: `ListParts, page 9 (parts ${n(8 * s.pageSize + 1)}–${n(9 * s.pageSize)}) (round trip)`,
      unit: 'ms',
      better: 'lower',
      rowKey: '4', rows: ['4'],
      targets: [{ text: '< 20 ms', needs: [SQLITE], check: below(SQLITE, 20) }, ...postgresBelow(30, 'ms')],
    },
    { id: 'listParts.first.sdk', row: '4b', title: 'Row 4 first page as the whole SDK call', unit: 'ms', better: 'lower', rowKey: '4', rows: ['4'] },
    { id: 'listParts.ninth.sdk', row: '4p9b', title: 'Row 4 page 9 as the whole SDK call', unit: 'ms', better: 'lower', rowKey: '4', rows: ['4'] },
    {
      id: 'download.hot.mbps',
      row: '5h',
      title: `Download the ${large} multipart object, hot (its files in the page cache)`,
      unit: 'MB/s',
      better: 'higher',
      rowKey: '5', rows: ['5'],
      targets: [downloadTarget],
    },
    {
      id: 'download.cold.mbps',
      row: '5c',
      title: `Download the ${large} multipart object, cold (its files evicted from the page cache)`,
      unit: 'MB/s',
      better: 'higher',
      rowKey: '5', rows: ['5'],
      targets: [downloadTarget],
    },
    { id: 'download.hot.serverCpu', row: '5hb', title: 'Row 5h: server CPU time', unit: 's per GiB', better: 'lower', rowKey: '5', rows: ['5'] },
    { id: 'download.cold.serverCpu', row: '5cb', title: 'Row 5c: server CPU time', unit: 's per GiB', better: 'lower', rowKey: '5', rows: ['5'] },
    {
      id: 'range.ms',
      row: '5r',
      title: `Download a ${formatBytes(s.rangeBytes)} range in its middle (across a part boundary)`,
      unit: 'ms',
      better: 'lower',
      rowKey: '5r', rows: ['5'],
    },
    {
      id: 'upload.peakRss',
      row: '6',
      title: 'Peak server RSS during row 1',
      unit: 'MB',
      better: 'lower',
      rowKey: '6', rows: ['1', '6'],
      targets: [{ text: '< 200 MB', needs: [SQLITE], check: below(SQLITE, 200) }],
    },
  ];
}
