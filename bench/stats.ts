/** Summaries of repeated measurements: the median is quoted, min and max shown. */

export interface Summary {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export function summarize(samples: number[]): Summary | undefined {
  const finite = samples.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return undefined;
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), samples: finite };
}

/**
 * How many times better the subject is than the other, from medians: for
 * higher-is-better measures subject ÷ other, for lower-is-better other ÷ subject.
 * Above 1 means the subject is ahead.
 */
export function advantage(subject: number, other: number, better: 'higher' | 'lower'): number {
  if (!(subject > 0) || !(other > 0)) return NaN;
  return better === 'higher' ? subject / other : other / subject;
}

/** Three significant digits, without exponent notation for the sizes seen here. */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return '–';
  const magnitude = Math.abs(value);
  if (magnitude >= 100) return Math.round(value).toLocaleString('en-US');
  if (magnitude >= 10) return value.toFixed(1);
  if (magnitude >= 1) return value.toFixed(2);
  return value.toPrecision(2);
}
