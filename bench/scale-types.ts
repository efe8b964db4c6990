/** The scale bench's results, as bench/results/scale.json holds them. */
import type { Backend } from './scale-fixtures.js';
import type { Summary } from './stats.js';

export const SERIES = ['list-objects', 'list-uploads', 'parts', 'concurrency', 'metadata-size'] as const;
export type Series = (typeof SERIES)[number];

export interface Sizes {
  objects: number[];
  uploads: number[];
  parts: number[];
  /** Complete samples per part count: each needs an upload of its own. */
  completes: number;
  concurrency: number[];
  partBytes: number;
  /** At least this many parts per concurrency level. */
  minParts: number;
  /** Parts filled for the metadata size per million parts: uploads × parts each. */
  sizeParts: [number, number];
}

export const LISTING_POSITIONS = ['first page', 'middle (start-after)', 'delimiter=/ (root)', 'delimiter=/ (middle directory)'] as const;

export interface PageResult {
  entries: number;
  /** Round trip: signed request handed to the HTTP layer until the response headers. */
  wire: Summary | undefined;
  /** The whole SDK call (signing, XML parsing). */
  whole: Summary | undefined;
  /** The server's CPU (utime+stime; with PostgreSQL, its processes' too) per call, averaged over the timed calls, ms. */
  serverCpuMs: number;
}

export interface ListingResult {
  backend: Backend;
  count: number;
  fillSeconds: number;
  pages: Record<string, PageResult>;
}

export interface PartsResult {
  backend: Backend;
  parts: number;
  fillSeconds: number;
  firstPage: PageResult;
  middlePage: PageResult;
  /** Every page, one after the other (ms, whole calls). */
  allPages: Summary | undefined;
  complete: Summary | undefined;
  /** Server CPU per Complete, ms. */
  completeCpuMs: number;
}

export interface ConcurrencyResult {
  backend: Backend;
  concurrency: number;
  partBytes: number;
  parts: number;
  megabytesPerSecond: number;
  latency: Summary | undefined;
  p99Ms: number;
  peakRssBytes: number;
  peakSource: string;
  /** The server's staging slots (tessera_staging_memory_bytes) after the level: the pool's high-water mark so far. */
  stagingBytes: number;
  /** Set when a part failed: the level stopped there (its figures cover the parts before). */
  error?: string;
  loadAverage: number[];
}

export interface SizeResult {
  backend: Backend;
  what: 'objects' | 'parts';
  rows: number;
  bytes: number;
  bytesPerMillion: number;
  fillSeconds: number;
}

export interface ScaleReport {
  date: string;
  command: string;
  quick: boolean;
  samples: number;
  sizes: Sizes;
  machine: { cpus: number; cpuModel: string; memoryBytes: number; node: string };
  loadAverage: { start: number[]; end: number[] };
  durationSeconds: number;
  backends: Backend[];
  series: Series[];
  listObjects: ListingResult[];
  listUploads: ListingResult[];
  parts: PartsResult[];
  concurrency: ConcurrencyResult[];
  metadataSize: SizeResult[];
  plots: Record<string, string>;
}

