/**
 * Output formats as ossutil (Go) prints them: `%-10s`-style padding, sizes with thousands
 * separators, UTC times as `2006-01-02 15:04:05`, local times as Go's `Time.String()`
 * (`2017-01-20 11:16:21 +0800 CST`, in the process's TZ).
 */
import { readFileSync } from 'node:fs';

export function padEnd(value: string | number, width: number): string {
  return String(value).padEnd(width);
}

export function padStart(value: string | number, width: number): string {
  return String(value).padStart(width);
}

/** 1234567 → `1,234,567` (ossutil's getSizeString). */
export function sizeString(size: number): string {
  return Math.trunc(size).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function two(n: number): string {
  return String(n).padStart(2, '0');
}

/** `2006-01-02 15:04:05`, UTC. */
export function utcTime(date: Date): string {
  return `${date.getUTCFullYear()}-${two(date.getUTCMonth() + 1)}-${two(date.getUTCDate())} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
}

/** `2006-01-02 15:04:05 -0700 MST` in the local zone (whole seconds, as the services send them). */
export function localTime(date: Date): string {
  const offsetMinutes = -date.getTimezoneOffset();
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const offset = `${sign}${two(Math.floor(abs / 60))}${two(abs % 60)}`;
  const stamp = `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`;
  return `${stamp} ${offset} ${zoneAbbreviation(date, offsetMinutes * 60)}`;
}

/** `\n0.123456(s) elapsed\n`. */
export function elapsedLine(startedNs: bigint): string {
  const seconds = Number(process.hrtime.bigint() - startedNs) / 1e9;
  return `\n${seconds.toFixed(6)}(s) elapsed\n`;
}

// --- Zone abbreviations as Go finds them: from the tz database file of $TZ (or /etc/localtime) ---

interface ZoneInfo {
  transitions: number[];
  indices: number[];
  types: Array<{ offset: number; abbreviation: string }>;
}

let zoneCache: { tz: string | undefined; info: ZoneInfo | string | undefined } | undefined;

/** The zone of $TZ: parsed tzfile data, a POSIX TZ string's own abbreviation, or undefined. */
function currentZone(): ZoneInfo | string | undefined {
  const tz = process.env.TZ;
  if (zoneCache !== undefined && zoneCache.tz === tz) return zoneCache.info;
  let info: ZoneInfo | string | undefined;
  if (tz === '') info = 'UTC';
  else {
    const name = tz?.replace(/^:/, '');
    const posix = name !== undefined ? /^([A-Za-z]{3,})[+-]?\d/.exec(name) : null;
    if (posix) info = posix[1];
    else info = readZoneFile(name === undefined ? '/etc/localtime' : name.startsWith('/') ? name : `/usr/share/zoneinfo/${name}`);
  }
  zoneCache = { tz, info };
  return info;
}

function readZoneFile(path: string): ZoneInfo | undefined {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch {
    return undefined;
  }
  if (data.length < 44 || data.toString('latin1', 0, 4) !== 'TZif') return undefined;
  const counts = (at: number) => [0, 1, 2, 3, 4, 5].map((i) => data.readUInt32BE(at + 20 + 4 * i)) as [number, number, number, number, number, number];
  let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(0);
  let at = 44;
  let timeSize = 4;
  if (data[4]! >= 0x32) {
    // Version 2+: skip the 32-bit block, read the 64-bit one.
    at += timecnt * 4 + timecnt + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
    [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(at);
    at += 44;
    timeSize = 8;
  }
  const transitions: number[] = [];
  for (let i = 0; i < timecnt; i++) {
    transitions.push(timeSize === 8 ? Number(data.readBigInt64BE(at + i * 8)) : data.readInt32BE(at + i * 4));
  }
  at += timecnt * timeSize;
  const indices = [...data.subarray(at, at + timecnt)];
  at += timecnt;
  const rawTypes: Array<{ offset: number; index: number }> = [];
  for (let i = 0; i < typecnt; i++) rawTypes.push({ offset: data.readInt32BE(at + i * 6), index: data[at + i * 6 + 5]! });
  at += typecnt * 6;
  const chars = data.toString('latin1', at, at + charcnt);
  const types = rawTypes.map((t) => ({ offset: t.offset, abbreviation: chars.slice(t.index, chars.indexOf('\0', t.index)) }));
  return { transitions, indices, types };
}

function zoneAbbreviation(date: Date, offsetSeconds: number): string {
  const zone = currentZone();
  if (typeof zone === 'string') return zone;
  if (zone !== undefined && zone.types.length > 0) {
    const seconds = Math.floor(date.getTime() / 1000);
    let index = -1;
    for (let i = 0; i < zone.transitions.length && zone.transitions[i]! <= seconds; i++) index = i;
    const current = index >= 0 ? zone.types[zone.indices[index]!] : zone.types[0];
    if (current && current.offset === offsetSeconds) return current.abbreviation;
    // Past the last transition (rules from the file's footer): the latest type with this offset.
    for (let i = zone.indices.length - 1; i >= 0; i--) {
      const type = zone.types[zone.indices[i]!];
      if (type?.offset === offsetSeconds) return type.abbreviation;
    }
    const any = zone.types.find((t) => t.offset === offsetSeconds);
    if (any) return any.abbreviation;
  }
  if (offsetSeconds === 0) return 'UTC';
  const sign = offsetSeconds < 0 ? '-' : '+';
  const abs = Math.abs(offsetSeconds) / 60;
  return `${sign}${two(Math.floor(abs / 60))}${abs % 60 ? two(abs % 60) : ''}`;
}

/**
 * ossutil's `total part size(MB):%.2f` of `float64(bytes/1024)/1024`: whole KiB, then MiB with two
 * decimals, rounded half to even on exact ties as Go's strconv does (JavaScript's toFixed rounds
 * them up).
 */
export function megabytes(bytes: number): string {
  const kib = BigInt(Math.floor(bytes / 1024));
  const scaled = kib * 100n;
  let hundredths = scaled / 1024n;
  const remainder = scaled % 1024n;
  if (remainder * 2n > 1024n || (remainder * 2n === 1024n && hundredths % 2n === 1n)) hundredths += 1n;
  const whole = hundredths / 100n;
  const fraction = (hundredths % 100n).toString().padStart(2, '0');
  return `${whole}.${fraction}`;
}
