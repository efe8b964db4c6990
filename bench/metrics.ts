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
  target?: { text: string; check(medians: Medians): boolean | undefined };
}

export function formatBytes(bytes: number): string {
  if (bytes >= 1 << 30 && bytes % (1 << 30) === 0) return `${bytes / (1 << 30)} GiB`;
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1 << 10 && bytes % (1 << 10) === 0) return `${bytes / (1 << 10)} KiB`;
  return `${bytes} B`;
}

const n = (value: number) => value.toLocaleString('en-US');

function ratioAtLeast(medians: Medians, other: string, factor: number, better: 'higher' | 'lower'): boolean | undefined {
  const t = medians.tessera;
  const o = medians[other];
  if (t === undefined || o === undefined) return undefined;
  return better === 'higher' ? t >= factor * o : t * factor <= o;
}

function below(limit: number): (medians: Medians) => boolean | undefined {
  return (medians) => (medians.tessera === undefined ? undefined : medians.tessera < limit);
}

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
      target: {
        text: '≥ 0.85× floor and ≥ 2× s3rver',
        check: (m) => {
          const a = ratioAtLeast(m, 'floor', 0.85, 'higher');
          const b = ratioAtLeast(m, 's3rver', 2, 'higher');
          return a === false || b === false ? false : a === undefined || b === undefined ? undefined : true;
        },
      },
    },
    { id: 'upload.serverCpu', row: '1b', title: 'Row 1: server CPU time', unit: 's per GiB', better: 'lower', rowKey: '1', rows: ['1'] },
    { id: 'upload.clientCpu', row: '1c', title: 'Row 1: client (harness) CPU time, for reference', unit: 's per GiB', better: 'lower', rowKey: '1', rows: ['1'] },
    {
      id: 'small.rps',
      row: '2',
      title: `Upload ${n(s.smallCount)} objects of ${formatBytes(s.smallBytes)}, ${s.smallConcurrency} in flight`,
      unit: 'requests/s',
      better: 'higher',
      rowKey: '2', rows: ['2'],
      target: { text: '> s3rver', check: (m) => ratioAtLeast(m, 's3rver', 1, 'higher') },
    },
    { id: 'small.serverCpu', row: '2b', title: 'Row 2: server CPU time', unit: 'ms per request', better: 'lower', rowKey: '2', rows: ['2'] },
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
      target: { text: '< 100 ms', check: below(100) },
    },
    { id: 'complete.sdk', row: '3b', title: 'Row 3 as the whole SDK call (XML building, signing, parsing included)', unit: 'ms', better: 'lower', rowKey: '3', rows: ['3'] },
    {
      id: 'listParts.first.wire',
      row: '4',
      title: `ListParts, first page of ${n(s.pageSize)} from ${n(s.partCount)} parts (round trip)`,
      unit: 'ms',
      better: 'lower',
      rowKey: '4', rows: ['4'],
      target: { text: '< 20 ms', check: below(20) },
    },
    {
      id: 'listParts.ninth.wire',
      row: '4p9',
      title: `ListParts, page 9 (parts ${n(8 * s.pageSize + 1)}–${n(9 * s.pageSize)}) (round trip)`,
      unit: 'ms',
      better: 'lower',
      rowKey: '4', rows: ['4'],
      target: { text: '< 20 ms', check: below(20) },
    },
    { id: 'listParts.first.sdk', row: '4b', title: 'Row 4 first page as the whole SDK call', unit: 'ms', better: 'lower', rowKey: '4', rows: ['4'] },
    { id: 'listParts.ninth.sdk', row: '4p9b', title: 'Row 4 page 9 as the whole SDK call', unit: 'ms', better: 'lower', rowKey: '4', rows: ['4'] },
    { id: 'download.mbps', row: '5', title: `Download the ${large} multipart object`, unit: 'MB/s', better: 'higher', rowKey: '5', rows: ['5'] },
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
      target: { text: '< 200 MB', check: below(200) },
    },
  ];
}
