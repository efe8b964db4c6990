/** The scale bench's table (Markdown) and plots (one PNG per series). */
import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writePlot, type LineChart, type Point } from './scale-plots.js';
import { LISTING_POSITIONS, type ListingResult, type ScaleReport } from './scale-types.js';
import { formatNumber, type Summary } from './stats.js';

const MiB = 1024 * 1024;
const backendName = (backend: string) => (backend === 'sqlite' ? 'SQLite' : 'PostgreSQL');
const n = (value: number) => value.toLocaleString('en-US');
const cell = (s: Summary | undefined) => (s ? `${formatNumber(s.median)} (${formatNumber(s.min)}–${formatNumber(s.max)})` : 'failed');

function listingTable(title: string, results: ListingResult[], unit: string): string[] {
  if (results.length === 0) return [];
  return [
    `### ${title}`,
    '',
    `Round trip, median (min–max) ms; in square brackets, the entries on the page (keys or uploads, and common prefixes).`,
    '',
    `| Backend | ${unit} | Fill, s | ${LISTING_POSITIONS.join(' | ')} |`,
    `| --- | ---: | ---: | ${LISTING_POSITIONS.map(() => '---:').join(' | ')} |`,
    ...results.map(
      (r) => `| ${backendName(r.backend)} | ${n(r.count)} | ${formatNumber(r.fillSeconds)} | ${LISTING_POSITIONS.map((p) => `${cell(r.pages[p]?.wire)} [${r.pages[p]?.entries}]`).join(' | ')} |`,
    ),
    '',
    `Whole SDK call (signing and parsing the XML included), median ms:`,
    '',
    `| Backend | ${unit} | ${LISTING_POSITIONS.join(' | ')} |`,
    `| --- | ---: | ${LISTING_POSITIONS.map(() => '---:').join(' | ')} |`,
    ...results.map((r) => `| ${backendName(r.backend)} | ${n(r.count)} | ${LISTING_POSITIONS.map((p) => formatNumber(r.pages[p]?.whole?.median ?? NaN)).join(' | ')} |`),
    '',
    `Server CPU per page (utime+stime of \`tessera serve\`; on PostgreSQL, plus every PostgreSQL process's), ms, averaged over the timed calls: less sensitive to the machine's load than the times above.`,
    '',
    `| Backend | ${unit} | ${LISTING_POSITIONS.join(' | ')} |`,
    `| --- | ---: | ${LISTING_POSITIONS.map(() => '---:').join(' | ')} |`,
    ...results.map((r) => `| ${backendName(r.backend)} | ${n(r.count)} | ${LISTING_POSITIONS.map((p) => formatNumber(r.pages[p]?.serverCpuMs ?? NaN)).join(' | ')} |`),
    '',
  ];
}

/** The Markdown of bench/results/<out>.md; `forDocs`: for the section of docs/benchmarks.md (no title, images from there). */
export function renderScale(report: ScaleReport, forDocs = false): string {
  const lines: string[] = [
    ...(forDocs ? [] : [`# Scale curves${report.quick ? ' (quick smoke run, not for comparison)' : ''}`, '']),
    `\`${report.command}\` · ${report.date} · ${report.machine.cpus} cores (${report.machine.cpuModel}), Node ${report.machine.node} · ` +
      `load average ${report.loadAverage.start.join(' ')} at the start, ${report.loadAverage.end.join(' ')} at the end · ${formatNumber(report.durationSeconds)} s in all.`,
    '',
    `Every figure is measured over HTTP with @aws-sdk/client-s3 against a real \`tessera serve\` (SQLite: its own meta.db; PostgreSQL: \`--metadata\` on a throwaway PostgreSQL at its durable defaults). ` +
      `The rows listed are **fixtures cloned by SQL** from a template object, upload or part that the server wrote over S3 (bench/scale-fixtures.ts): ` +
      `keys \`dNN/kNNNNNNN\` in 10 directories; every cloned object has one segment pointing at the template's blob (one small blob shared by all), every cloned part the template part's blob. ` +
      `The "Fill" column is the time the SQL took. Pages are ${report.samples} timed calls after 3 warm-up calls. Round trip: from the signed request handed to the HTTP layer to the response headers.`,
    '',
    ...listingTable('ListObjectsV2, 1,000-key pages', report.listObjects, 'Objects'),
    ...listingTable('ListMultipartUploads, 1,000-upload pages', report.listUploads, 'Uploads'),
  ];
  if (report.parts.length > 0) {
    lines.push(
      '### ListParts and Complete by part count',
      '',
      'ListParts pages of 1,000 parts (round trip), every page one after another (whole calls), and CompleteMultipartUpload listing every part (whole call; no byte is read at Complete); median (min–max) ms; server CPU per call in brackets.',
      '',
      '| Backend | Parts | ListParts first page | ListParts middle page | All pages | Complete |',
      '| --- | ---: | ---: | ---: | ---: | ---: |',
      ...report.parts.map(
        (r) =>
          `| ${backendName(r.backend)} | ${n(r.parts)} | ${cell(r.firstPage.wire)} [${formatNumber(r.firstPage.serverCpuMs)}] | ${cell(r.middlePage.wire)} [${formatNumber(r.middlePage.serverCpuMs)}] | ${cell(r.allPages)} | ${cell(r.complete)} [${formatNumber(r.completeCpuMs)}] |`,
      ),
      '',
    );
  }
  if (report.concurrency.length > 0) {
    const bytes = report.concurrency[0]!.partBytes;
    lines.push(
      `### UploadPart by concurrency (${formatNumber(bytes / MiB)} MiB parts)`,
      '',
      `One upload, parts of one pseudo-random buffer sent by N workers at once (each part is a whole UploadPart call with a signed payload and a CRC32; as every part is the same buffer, the client gives the SDK their values computed once, and the server hashes and verifies each part as always), on a fresh SQLite server. Peak RSS: the server process's, VmHWM reset at the start of each level (or polled VmRSS). Staging slots: the shared memory bodies are staged through (\`tessera_staging_memory_bytes\` on /-/metrics after the level; the pool grows with the bodies received at once and never shrinks), part of the RSS once touched.`,
      '',
      '| Backend | In flight | Parts | MB/s | p50, ms | p99, ms | Peak RSS, MB | Staging slots, MB | Load average after |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
      ...report.concurrency.map(
        (r) =>
          `| ${backendName(r.backend)} | ${r.concurrency} | ${r.error ? `${r.parts} (**failed**: ${r.error})` : r.parts} | ${formatNumber(r.megabytesPerSecond)} | ${formatNumber(r.latency?.median ?? NaN)} | ${formatNumber(r.p99Ms)} | ${formatNumber(r.peakRssBytes / 1e6)} | ${formatNumber(r.stagingBytes / 1e6)} | ${r.loadAverage.join(' ')} |`,
      ),
      '',
    );
  }
  if (report.metadataSize.length > 0) {
    lines.push(
      '### Metadata size on disk',
      '',
      'Growth of the metadata while the fixture was filled, scaled to a million rows. SQLite: meta.db plus its WAL after `wal_checkpoint(TRUNCATE)` (objects: the object row and its one segment row). PostgreSQL: `pg_total_relation_size` (heap, indexes, TOAST) of objects + segments, or of parts.',
      '',
      '| Backend | What | Rows filled | Grew by, MiB | Per million rows, MiB |',
      '| --- | --- | ---: | ---: | ---: |',
      ...report.metadataSize.map(
        (r) => `| ${backendName(r.backend)} | ${r.what} | ${n(r.rows)} | ${formatNumber(r.bytes / MiB)} | ${formatNumber(r.bytesPerMillion / MiB)} |`,
      ),
      '',
    );
  }
  if (Object.keys(report.plots).length > 0) {
    lines.push('### Plots', '', ...Object.entries(report.plots).map(([series, file]) => `![${series}](${forDocs ? '../bench/results/' : ''}${file})`), '');
  }
  const text = lines.join('\n');
  return forDocs ? text.replace(/^### /gm, '#### ') : text;
}

function listingCharts(results: ListingResult[], what: string): LineChart[][] {
  const backends = [...new Set(results.map((r) => r.backend))];
  const chart = (backend: string, title: string, pick: (page: ListingResult['pages'][string] | undefined) => number): LineChart => ({
    title: `${backendName(backend)}: ${title}`,
    x: `${what} in the bucket`,
    y: 'ms',
    logX: true,
    target: { y: 20, label: 'target: 20 ms' },
    points: results
      .filter((r) => r.backend === backend)
      .flatMap((r) => LISTING_POSITIONS.map((p): Point => ({ x: r.count, y: pick(r.pages[p]), line: p }))),
  });
  return backends.map((backend) => [
    chart(backend, 'round trip of one page, median', (page) => page?.wire?.median ?? NaN),
    chart(backend, 'server CPU per page', (page) => page?.serverCpuMs ?? NaN),
  ]);
}

/** Writes one PNG per series measured; returns series → file name. */
export async function plotScale(report: ScaleReport, dir: string, out: string): Promise<Record<string, string>> {
  const plots: Record<string, string> = {};
  const plot = async (series: string, title: string, charts: Array<LineChart | LineChart[]>) => {
    const file = `${out}-${series}.png`;
    await writePlot(join(dir, file), title, charts);
    plots[series] = file;
  };
  if (report.listObjects.length > 0) await plot('list-objects', 'ListObjectsV2: 1,000-key page time by bucket size', listingCharts(report.listObjects, 'Objects'));
  if (report.listUploads.length > 0) await plot('list-uploads', 'ListMultipartUploads: page time by uploads in progress', listingCharts(report.listUploads, 'Uploads'));
  if (report.parts.length > 0) {
    const points = (pick: (r: ScaleReport['parts'][number]) => number, label: string) =>
      report.parts.map((r): Point => ({ x: r.parts, y: pick(r), line: `${backendName(r.backend)}: ${label}` }));
    await plot('parts', 'ListParts and Complete by part count', [
      {
        title: 'ListParts, median ms',
        x: 'Parts in the upload',
        y: 'ms',
        points: [
          ...points((r) => r.firstPage.wire?.median ?? NaN, 'first page (round trip)'),
          ...points((r) => r.middlePage.wire?.median ?? NaN, 'middle page (round trip)'),
          ...points((r) => r.allPages?.median ?? NaN, 'every page'),
          ...points((r) => r.firstPage.serverCpuMs, 'first page (server CPU)'),
        ],
      },
      { title: 'CompleteMultipartUpload listing every part, median ms', x: 'Parts in the upload', y: 'ms', points: [...points((r) => r.complete?.median ?? NaN, 'Complete'), ...points((r) => r.completeCpuMs, 'Complete (server CPU)')] },
    ]);
  }
  if (report.concurrency.length > 0) {
    const points = (pick: (r: ScaleReport['concurrency'][number]) => number) =>
      report.concurrency.map((r): Point => ({ x: r.concurrency, y: pick(r), line: backendName(r.backend) }));
    const mib = formatNumber(report.concurrency[0]!.partBytes / MiB);
    await plot('concurrency', `UploadPart of ${mib} MiB parts by parts in flight`, [
      { title: 'Throughput', x: 'Parts in flight', y: 'MB/s', logX: true, points: points((r) => r.megabytesPerSecond) },
      { title: 'p99 part latency', x: 'Parts in flight', y: 'ms', logX: true, points: points((r) => r.p99Ms) },
      { title: 'Peak server RSS', x: 'Parts in flight', y: 'MB (10⁶ bytes)', logX: true, target: { y: 300, label: 'target: 300 MB' }, points: points((r) => r.peakRssBytes / 1e6) },
    ]);
  }
  if (report.metadataSize.length > 0) {
    await plot('metadata-size', 'Metadata on disk per million rows', [
      {
        title: 'MiB per million rows',
        x: 'what',
        y: 'MiB',
        bar: true,
        points: report.metadataSize.map((r): Point => ({ x: 0, y: r.bytesPerMillion / MiB, line: `${backendName(r.backend)}: ${r.what}` })),
      },
    ]);
  }
  return plots;
}

const START = '<!-- bench-results:scale:start -->';
const END = '<!-- bench-results:scale:end -->';

/** Replaces the section between the scale markers of `path` with the run's tables; false when there are none. */
export async function updateScaleSection(path: string, report: ScaleReport): Promise<boolean> {
  if (!existsSync(path)) return false;
  const text = await readFile(path, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return false;
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${text.slice(0, start)}${START}\n${renderScale(report, true)}\n${END}${text.slice(end + END.length)}`);
  await rename(temp, path);
  return true;
}
