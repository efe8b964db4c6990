/** The results as a markdown table (for people) and JSON (every sample, for tools). */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MetricDef, Sizes } from './metrics.js';
import { advantage, formatNumber, type Summary } from './stats.js';

export interface Cell {
  summary?: Summary;
  /** Why there is no number: the contender cannot do the row, or the run failed. */
  na?: string;
}

export interface MetricResult {
  id: string;
  row: string;
  title: string;
  unit: string;
  better: 'higher' | 'lower';
  /** The row's targets for the contenders in this run, and whether each was met (null: not enough data to tell). */
  targets?: Array<{ text: string; met: boolean | null }>;
  cells: Record<string, Cell>;
}

export interface Report {
  title: string;
  date: string;
  command: string;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; os: string; node: string };
  loadAverage: { start: number[]; end: number[] };
  runs: number;
  quick: boolean;
  durationSeconds: number;
  sizes: Sizes;
  subject: string;
  /** `sameServerAs`: the subject's own server, driven through another dialect or with another bucket setting (no ratio column). */
  contenders: Array<{ id: string; label: string; client: string; notes: string[]; sameServerAs?: string }>;
  metrics: MetricResult[];
  notes: string[];
}

/** The row's results; a target is kept when every contender it needs ran (had a cell). */
export function metricResult(def: MetricDef, cells: Record<string, Cell>): MetricResult {
  const medians: Record<string, number | undefined> = {};
  for (const [id, cell] of Object.entries(cells)) medians[id] = cell.summary?.median;
  const targets = (def.targets ?? [])
    .filter((target) => target.needs.every((id) => id in cells))
    .map((target) => ({ text: target.text, met: target.check(medians) ?? null }));
  return { id: def.id, row: def.row, title: def.title, unit: def.unit, better: def.better, targets: targets.length > 0 ? targets : undefined, cells };
}

function cellText(cell: Cell | undefined, footnote: (text: string) => number): string {
  if (!cell) return '';
  if (cell.summary) {
    const { median, min, max, samples } = cell.summary;
    if (samples.length === 1) return `**${formatNumber(median)}**`;
    return `**${formatNumber(median)}** (${formatNumber(min)}–${formatNumber(max)})`;
  }
  return `n/a [${footnote(cell.na ?? 'not measured')}]`;
}

export function renderMarkdown(report: Report): string {
  const subject = report.contenders.find((c) => c.id === report.subject);
  // Ratio columns compare the subject with the other servers, not with itself through another dialect.
  const others = report.contenders.filter((c) => c.id !== report.subject && c.sameServerAs !== report.subject);
  const dialects = report.contenders.filter((c) => c.sameServerAs === report.subject);
  const footnotes: string[] = [];
  const footnote = (text: string) => {
    const index = footnotes.indexOf(text);
    if (index >= 0) return index + 1;
    footnotes.push(text);
    return footnotes.length;
  };

  const gib = report.machine.memoryBytes / (1 << 30);
  const lines: string[] = [];
  lines.push(`## ${report.title}`);
  lines.push('');
  lines.push(
    `${report.date} · ${report.machine.cpus} cores (${report.machine.cpuModel}), ${gib.toFixed(1)} GiB memory, ` +
      `${report.machine.os}, Node ${report.machine.node} · load average ${report.loadAverage.start[0]!.toFixed(2)} at start, ` +
      `${report.loadAverage.end[0]!.toFixed(2)} at end · took ${Math.round(report.durationSeconds)} s`,
  );
  lines.push('');
  lines.push(`Command: \`${report.command}\` · ${report.runs} run${report.runs === 1 ? '' : 's'} per row, the median quoted in bold, (min–max) after it.`);
  if (subject) {
    lines.push(
      `"${subject.label} vs X" is ${subject.label}'s advantage from the medians: its value ÷ X's where higher is better, ` +
        `X's ÷ its where lower is better; above 1 means ${subject.label} is ahead. MB = 10⁶ bytes.` +
        (dialects.length > 0
          ? ` ${dialects.map((c) => c.label).join(', ')}: the same server as ${subject.label}, driven another way (another dialect and its client, or another bucket setting: see the notes); not given ratio columns, and the targets are ${subject.label}'s.`
          : ''),
    );
  }
  lines.push('');

  const header = ['#', 'Measure', 'Unit', ...report.contenders.map((c) => c.label)];
  if (subject) header.push(...others.map((c) => `${subject.label} vs ${c.label}`), 'Target', 'Met');
  lines.push(`| ${header.join(' | ')} |`);
  lines.push(`|${header.map((_, i) => (i >= 3 && i < 3 + report.contenders.length ? '---:' : '---')).join('|')}|`);

  for (const metric of report.metrics) {
    const row = [metric.row, metric.title, metric.unit];
    for (const contender of report.contenders) {
      const cell = metric.cells[contender.id];
      row.push(cellText(cell && cell.na ? { na: `${contender.label}: ${cell.na}` } : cell, footnote));
    }
    if (subject) {
      const mine = metric.cells[subject.id]?.summary?.median;
      for (const other of others) {
        const theirs = metric.cells[other.id]?.summary?.median;
        const ratio = mine !== undefined && theirs !== undefined ? advantage(mine, theirs, metric.better) : NaN;
        row.push(Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '');
      }
      // Several targets (SQLite's, then PostgreSQL's): their texts and verdicts in the same order.
      const targets = metric.targets ?? [];
      row.push(targets.map((target) => target.text).join('; '));
      row.push(targets.map((target) => (target.met === null ? '?' : target.met ? 'yes' : '**no**')).join('; '));
    }
    lines.push(`| ${row.map((text) => text.replace(/\|/g, '\\|')).join(' | ')} |`);
  }
  lines.push('');

  if (footnotes.length > 0) {
    lines.push('n/a:');
    lines.push('');
    footnotes.forEach((text, i) => lines.push(`${i + 1}. ${text}`));
    lines.push('');
  }
  lines.push('Notes:');
  lines.push('');
  for (const contender of report.contenders) lines.push(`- ${contender.label} client: ${contender.client}.`);
  for (const contender of report.contenders) for (const note of contender.notes) lines.push(`- ${note}`);
  for (const note of report.notes) lines.push(`- ${note}`);
  lines.push('');
  return lines.join('\n');
}

/** Writes `<name>.md` and `<name>.json` atomically (temp file, then rename). */
export async function writeReport(dir: string, name: string, report: Report): Promise<{ markdown: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const markdown = join(dir, `${name}.md`);
  const json = join(dir, `${name}.json`);
  await writeAtomic(markdown, `# Tessera benchmarks\n\n${renderMarkdown(report)}`);
  await writeAtomic(json, JSON.stringify(report, null, 2) + '\n');
  return { markdown, json };
}

async function writeAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, path);
}

/** The markers around the results of the run written as `name` (`latest`: the plain ones). */
export function resultMarkers(name = 'latest'): { start: string; end: string } {
  const tag = name === 'latest' ? 'bench-results' : `bench-results:${name}`;
  return { start: `<!-- ${tag}:start -->`, end: `<!-- ${tag}:end -->` };
}

/**
 * Replaces the text between the markers of the run `name` in `path` with the table.
 * Returns false (and leaves the file alone) when the file or the markers are missing.
 */
export async function updateMarkedSection(path: string, report: Report, name = 'latest'): Promise<boolean> {
  if (!existsSync(path)) return false;
  const text = await readFile(path, 'utf8');
  const markers = resultMarkers(name);
  const start = text.indexOf(markers.start);
  const end = text.indexOf(markers.end);
  if (start < 0 || end < start) return false;
  const section = `${markers.start}\n${renderMarkdown(report)}\n${markers.end}`;
  await writeAtomic(path, text.slice(0, start) + section + text.slice(end + markers.end.length));
  return true;
}
