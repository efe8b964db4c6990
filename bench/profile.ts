/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function,
 * per function and caller, and per broad category. Self time of a sample is the
 * time until the next sample, as Chrome DevTools counts it, but at most four
 * times the median sampling interval (a stalled sampler must not make hot spots).
 *
 * The profile samples the main JavaScript thread only. Native work called from
 * JavaScript (OpenSSL's MD5/SHA-256 inside Hash.update, zlib's crc32) is charged
 * to the JavaScript function that called it; work on libuv's thread pool (file
 * writes, fsync) is not in the profile at all: compare the profile's busy time
 * with the process's CPU time from /proc to see it.
 *
 *   node dist/bench/profile.js <file.cpuprofile> [--top N] [--windows windows.json --label LABEL]
 *
 * windows.json is what `npm run bench -- --profile` leaves next to the profiles:
 * [{ "label": "row 1: upload", "start": µs, "end": µs }, …].
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  name: string;
  selfMs: number;
  /** Share of the busy (non-idle) time. */
  share: number;
}

export interface ProfileSummary {
  file: string;
  totalMs: number;
  idleMs: number;
  busyMs: number;
  functions: ProfileEntry[];
  callers: ProfileEntry[];
  categories: ProfileEntry[];
}

function shortUrl(url: string): string {
  if (url === '') return '';
  if (url.startsWith('node:')) return url;
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  return basename(url);
}

function frameName(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (name.startsWith('(') && frame.url === '') return name;
  return `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

/** Broad buckets to see at a glance where the main thread goes. */
export function categoryOf(frame: CallFrame): string {
  const { functionName: fn, url } = frame;
  if (url === '' && fn.startsWith('(')) {
    if (fn === '(garbage collector)') return 'garbage collection';
    if (fn === '(idle)') return 'idle';
    if (fn === '(program)') return 'V8/native, unattributed (program)';
    return fn;
  }
  if (url === '') return 'Node native bindings called from JS (fs writeBuffer/open/close, …)';
  if (url === 'node:internal/crypto/hash' || url === 'node:internal/crypto/hash.js') return 'crypto hashing (MD5, SHA-256, HMAC: OpenSSL via Hash.update/digest)';
  if (url.startsWith('node:internal/crypto')) return 'crypto, other';
  if (url === 'node:zlib' && /crc32/i.test(fn)) return 'CRC32 (zlib.crc32)';
  if (/checksums\.js$/.test(url) || /crc64\.js$/.test(url)) return 'Tessera checksum code (CRC32/CRC32C/CRC64 JS)';
  if (/aws-chunked\.js$/.test(url)) return 'aws-chunked decoder';
  if (/sigv4\.js$/.test(url)) return 'SigV4 verification';
  if (url.startsWith('node:internal/streams') || url === 'node:stream' || url.startsWith('node:internal/webstreams')) return 'Node streams';
  if (url.startsWith('node:_http') || url.startsWith('node:internal/http') || url === 'node:http' || url === 'node:net' || url.startsWith('node:internal/net') || url.startsWith('node:internal/stream_base')) return 'HTTP and sockets (JS side)';
  if (url.startsWith('node:internal/fs') || url === 'node:fs') return 'fs calls (JS side; the syscalls run on the thread pool)';
  if (url.includes('better-sqlite3')) return 'SQLite (better-sqlite3)';
  if (url.includes('/node_modules/')) return `dependency: ${shortUrl(url).split('/')[0]}`;
  if (url.startsWith('node:')) return 'Node internals, other';
  if (url.includes('/dist/src/')) return `Tessera: ${shortUrl(url)}`;
  return 'other';
}

function top(map: Map<string, number>, busyMs: number, limit: number): ProfileEntry[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, selfMs]) => ({ name, selfMs, share: busyMs > 0 ? selfMs / busyMs : 0 }));
}

/**
 * `windows` (start and end in microseconds of CLOCK_MONOTONIC, the clock V8's
 * profile timestamps and process.hrtime use on Linux) keeps only the samples
 * taken inside them: the measured operations, not the setup around them.
 */
export async function summarizeCpuProfile(path: string, limit = 25, windows?: Array<[number, number]>): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(path, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parentOf.set(child, node.id);
  }

  // Sample i lasts from its timestamp to the next one's.
  const selfUs = new Map<number, number>();
  let time = profile.startTime;
  const stamps: number[] = [];
  for (const delta of profile.timeDeltas) stamps.push((time += delta));
  // On a loaded machine the sampler thread itself can stall for tens of ms; crediting the
  // whole gap to one sample would invent hot spots, so a sample counts for at most 4 intervals.
  const sortedDeltas = profile.timeDeltas.filter((d) => d > 0).sort((a, b) => a - b);
  const cap = 4 * (sortedDeltas[sortedDeltas.length >> 1] ?? 1000);
  const inWindow = (at: number) => !windows || windows.some(([start, end]) => at >= start && at < end);
  for (let i = 0; i < profile.samples.length; i++) {
    if (!inWindow(stamps[i]!)) continue;
    const until = i + 1 < stamps.length ? stamps[i + 1]! : profile.endTime;
    const duration = Math.min(cap, Math.max(0, until - stamps[i]!));
    selfUs.set(profile.samples[i]!, (selfUs.get(profile.samples[i]!) ?? 0) + duration);
  }

  const functions = new Map<string, number>();
  const callers = new Map<string, number>();
  const categories = new Map<string, number>();
  let idleMs = 0;
  let totalMs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    const ms = us / 1000;
    totalMs += ms;
    const category = categoryOf(node.callFrame);
    if (category === 'idle') {
      idleMs += ms;
      continue;
    }
    const name = frameName(node.callFrame);
    functions.set(name, (functions.get(name) ?? 0) + ms);
    const parent = byId.get(parentOf.get(id) ?? -1);
    const callerName = parent ? `${name}  ←  ${frameName(parent.callFrame)}` : name;
    callers.set(callerName, (callers.get(callerName) ?? 0) + ms);
    categories.set(category, (categories.get(category) ?? 0) + ms);
  }
  const busyMs = totalMs - idleMs;
  return {
    file: path,
    totalMs,
    idleMs,
    busyMs,
    functions: top(functions, busyMs, limit),
    callers: top(callers, busyMs, limit),
    categories: top(categories, busyMs, limit),
  };
}

export function renderProfileSummary(summary: ProfileSummary): string {
  const pct = (share: number) => `${(share * 100).toFixed(1)}%`;
  const table = (title: string, entries: ProfileEntry[]) => [
    `| ${title} | self ms | % of busy |`,
    '|---|---:|---:|',
    ...entries.map((e) => `| \`${e.name.replace(/\|/g, '\\|')}\` | ${e.selfMs.toFixed(0)} | ${pct(e.share)} |`),
    '',
  ];
  return [
    `Profile \`${summary.file}\`: ${(summary.totalMs / 1000).toFixed(2)} s sampled on the main thread, ` +
      `${(summary.busyMs / 1000).toFixed(2)} s busy, ${(summary.idleMs / 1000).toFixed(2)} s idle.`,
    '',
    ...table('Category', summary.categories),
    ...table('Function (self time)', summary.functions),
    ...table('Function  ←  caller', summary.callers.slice(0, 15)),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const argv = process.argv.slice(2);
  const option = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const file = argv[0];
  if (!file || file.startsWith('--')) {
    console.error('usage: node dist/bench/profile.js <file.cpuprofile> [--top N] [--windows windows.json --label LABEL]');
    process.exit(2);
  }
  const limit = Number(option('--top') ?? 25);
  let windows: Array<[number, number]> | undefined;
  const windowsFile = option('--windows');
  if (windowsFile) {
    const label = option('--label');
    const all = JSON.parse(await readFile(windowsFile, 'utf8')) as Array<{ label: string; start: number; end: number }>;
    windows = all.filter((w) => label === undefined || w.label === label).map((w): [number, number] => [w.start, w.end]);
  }
  console.log(renderProfileSummary(await summarizeCpuProfile(file, limit, windows)));
}
