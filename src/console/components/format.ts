const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 → "1.5 KiB"; bytes below 1 KiB exactly. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${UNITS[unit]}`;
}

export function formatCount(count: number): string {
  return count.toLocaleString('en-US');
}

/** A time as the user's locale writes it, to the second. */
export function formatDate(date: Date | string | undefined): string {
  if (date === undefined) return '';
  const value = typeof date === 'string' ? new Date(date) : date;
  return value.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}
