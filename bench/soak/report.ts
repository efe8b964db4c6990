/** The soak's figures: a JSON document and the Markdown table made from it. */
import type { BlobAudit } from './blobs.js';
import type { Tally } from './ledger.js';
import type { Target } from './target.js';
import type { Verification } from './verify.js';

export interface SoakReport {
  date: string;
  command: string;
  mode: string;
  seed: string;
  concurrency: number;
  /** Minutes of load asked for, and the seconds the load really ran. */
  minutes: number;
  loadSeconds: number;
  verifySeconds: number;
  operations: Record<string, number>;
  operationsTotal: number;
  failures: Array<{ kind: string; cause: string; inWindow: boolean; count: number }>;
  failuresInWindows: number;
  failuresOutsideWindows: number;
  crashes: number;
  dbRestarts: number;
  windows: Array<{ what: string; startS: number; lengthS: number; serverErrors: Record<string, number> }>;
  verifiedObjects: number;
  verifiedParts: number;
  unackedPresent: number;
  unackedAbsent: number;
  dataLost: number;
  lost: string[];
  torn: string[];
  violations: string[];
  tempFilesLeft: string[];
  blobFiles: number;
  /** Blob files the metadata refers to that do not exist. */
  blobsMissing: string[];
  /** Blob files nothing refers to (a failure on one node, which sweeps them at start; counted in a cluster). */
  blobsUnreferenced: number;
  blobsUnreferencedFail: boolean;
  serverErrorsInWindows: number;
  serverErrorsOutsideWindows: Array<{ atS: number; status: number; what: string }>;
  /** Every 5xx answer seen (the first 300), inside windows or not. */
  serverErrors: Array<{ atS: number; status: number; what: string; inWindow: boolean }>;
  notes: Record<string, number>;
  ok: boolean;
}

export function buildReport(args: {
  command: string;
  seed: string;
  concurrency: number;
  minutes: number;
  startedAt: number;
  loadSeconds: number;
  verifySeconds: number;
  tally: Tally;
  target: Target;
  verification: Verification;
  tempFilesLeft: string[];
  blobs: BlobAudit;
}): SoakReport {
  const { tally, target, verification } = args;
  const failures = new Map<string, { kind: string; cause: string; inWindow: boolean; count: number }>();
  for (const f of tally.failures) {
    const key = `${f.kind}\0${f.cause}\0${f.inWindow}`;
    const entry = failures.get(key) ?? { kind: f.kind, cause: f.cause, inWindow: f.inWindow, count: 0 };
    entry.count++;
    failures.set(key, entry);
  }
  const outside = tally.serverErrors.filter((e) => !target.inWindow(e.at));
  const violations = [...tally.violations, ...verification.violations];
  const failuresOutsideWindows = tally.failures.filter((f) => !f.inWindow).length;
  const report: SoakReport = {
    date: new Date(args.startedAt).toISOString(),
    command: args.command,
    mode: target.mode,
    seed: args.seed,
    concurrency: args.concurrency,
    minutes: args.minutes,
    loadSeconds: args.loadSeconds,
    verifySeconds: args.verifySeconds,
    operations: Object.fromEntries([...tally.ops.entries()].sort()),
    operationsTotal: [...tally.ops.values()].reduce((a, b) => a + b, 0),
    failures: [...failures.values()].sort((a, b) => b.count - a.count),
    failuresInWindows: tally.failures.length - failuresOutsideWindows,
    failuresOutsideWindows,
    crashes: target.crashes,
    dbRestarts: target.dbRestarts,
    windows: target.windows.map((w) => {
      const end = w.end ?? Date.now();
      const serverErrors: Record<string, number> = {};
      for (const e of tally.serverErrors) if (e.at >= w.start && e.at <= end) serverErrors[e.status] = (serverErrors[e.status] ?? 0) + 1;
      return { what: w.what, startS: round((w.start - args.startedAt) / 1000), lengthS: round((end - w.start) / 1000), serverErrors };
    }),
    verifiedObjects: verification.verifiedObjects,
    verifiedParts: verification.verifiedParts,
    unackedPresent: verification.unackedPresent,
    unackedAbsent: verification.unackedAbsent,
    dataLost: verification.lost.length,
    lost: verification.lost,
    torn: verification.torn,
    violations,
    tempFilesLeft: args.tempFilesLeft,
    blobFiles: args.blobs.files,
    blobsMissing: args.blobs.missing,
    blobsUnreferenced: args.blobs.unreferenced.length,
    blobsUnreferencedFail: !target.isCluster && args.blobs.unreferenced.length > 0,
    serverErrorsInWindows: tally.serverErrors.length - outside.length,
    serverErrorsOutsideWindows: outside.map((e) => ({ atS: round((e.at - args.startedAt) / 1000), status: e.status, what: e.what })),
    serverErrors: tally.serverErrors
      .slice(0, 300)
      .map((e) => ({ atS: round((e.at - args.startedAt) / 1000), status: e.status, what: e.what, inWindow: target.inWindow(e.at) })),
    notes: Object.fromEntries([...tally.notes.entries()].sort()),
    ok: false,
  };
  report.ok =
    report.dataLost === 0 &&
    report.torn.length === 0 &&
    report.violations.length === 0 &&
    report.tempFilesLeft.length === 0 &&
    report.blobsMissing.length === 0 &&
    !report.blobsUnreferencedFail &&
    report.serverErrorsOutsideWindows.length === 0 &&
    report.failuresOutsideWindows === 0;
  return report;
}

const round = (n: number) => Math.round(n * 10) / 10;

export function markdown(r: SoakReport): string {
  const lines: string[] = [];
  const row = (...cells: Array<string | number>) => lines.push(`| ${cells.join(' | ')} |`);
  lines.push('# Chaos soak: latest run', '');
  lines.push(`${r.ok ? 'PASS' : 'FAIL'}: ${r.date}, \`${r.command}\``, '');
  row('', '');
  row('---', '---:');
  row('Mode', r.mode);
  row('Load', `${r.loadSeconds} s (asked: ${r.minutes} min), then verification ${r.verifySeconds} s`);
  row('Concurrency', r.concurrency);
  row('Seed', `\`${r.seed}\``);
  row('Operations done', r.operationsTotal);
  row('Crashes injected (SIGKILL)', r.crashes);
  row('Database restarts (SIGKILL)', r.dbRestarts);
  row('Failed operations in restart windows', r.failuresInWindows);
  row('Failed operations outside restart windows', r.failuresOutsideWindows);
  row('Acknowledged writes verified', `${r.verifiedObjects + r.verifiedParts} (${r.verifiedObjects} objects, ${r.verifiedParts} parts of open uploads)`);
  row('Unacknowledged writes (no answer)', `${r.unackedPresent} there and whole, ${r.unackedAbsent} not there`);
  row('**Data lost**', `**${r.dataLost}**`);
  row('Torn, phantom or resurrected objects', r.torn.length);
  row('Other invariant violations', r.violations.length);
  row('Temp files left after the sweep', r.tempFilesLeft.length);
  row('Blob files referenced but missing', r.blobsMissing.length);
  row(
    'Blob files nothing refers to',
    `${r.blobsUnreferenced} of ${r.blobFiles}${r.mode.startsWith('cluster') ? ' (a cluster sweeps orphans once an hour old: counted, not failed)' : ''}`,
  );
  row('5xx outside restart windows', `${r.serverErrorsOutsideWindows.length} (inside: ${r.serverErrorsInWindows})`);
  lines.push('');

  lines.push('## Operations by kind', '');
  row('Kind', 'Done', 'Failed in a window', 'Failed outside');
  row('---', '---:', '---:', '---:');
  const kinds = new Set([...Object.keys(r.operations), ...r.failures.map((f) => f.kind)]);
  for (const kind of [...kinds].sort()) {
    const failed = (inWindow: boolean) => r.failures.filter((f) => f.kind === kind && f.inWindow === inWindow).reduce((a, f) => a + f.count, 0);
    row(kind, r.operations[kind] ?? 0, failed(true), failed(false));
  }
  lines.push('', '`(attempt)` rows are failed attempts that the operation then resumed or retried; the others are operations that failed.', '');

  if (r.failures.length > 0) {
    lines.push('## Failures by cause', '');
    row('Kind', 'Cause', 'In a restart window', 'Count');
    row('---', '---', '---', '---:');
    for (const f of r.failures) row(f.kind, f.cause.replace(/\|/g, '\\|'), f.inWindow ? 'yes' : '**no**', f.count);
    lines.push('');
  }

  lines.push('## Restart windows', '', 'From the kill until the restarted server answers (`/-/health`, or for the database a request that needs it), plus a grace.', '');
  row('What', 'At (s)', 'Length (s)', '5xx answers in it');
  row('---', '---:', '---:', '---');
  for (const w of r.windows) {
    const errors = Object.entries(w.serverErrors).map(([status, n]) => `${n} × ${status}`).join(', ');
    row(w.what, w.startS, w.lengthS, errors || '0');
  }
  lines.push('');

  if (Object.keys(r.notes).length > 0) {
    lines.push('## Along the way', '');
    row('What', 'Count');
    row('---', '---:');
    for (const [what, count] of Object.entries(r.notes)) row(what, count);
    lines.push('');
  }

  const problems = [
    ...r.lost.map((p) => `lost: ${p}`),
    ...r.torn.map((p) => `torn: ${p}`),
    ...r.violations.map((p) => `violation: ${p}`),
    ...r.tempFilesLeft.map((p) => `temp file left: ${p}`),
    ...r.blobsMissing.map((id) => `blob file missing: ${id}`),
    ...(r.blobsUnreferencedFail ? [`${r.blobsUnreferenced} blob files nothing refers to after the restart's orphan sweep`] : []),
    ...r.serverErrorsOutsideWindows.map((e) => `5xx outside windows: ${e.status} at ${e.atS} s: ${e.what}`),
  ];
  if (problems.length > 0) {
    lines.push('## Problems', '');
    for (const p of problems.slice(0, 50)) lines.push(`- ${p.replace(/\n/g, ' ')}`);
    if (problems.length > 50) lines.push(`- … and ${problems.length - 50} more (see the JSON)`);
    lines.push('');
  }
  return lines.join('\n');
}
