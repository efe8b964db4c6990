import { formatBytes, formatCount } from '../../components/format';

export function plural(count: number, noun: string): string {
  return `${formatCount(count)} ${noun}${count === 1 ? '' : 's'}`;
}

/** "In this bucket: 3 uploads, 1,104 parts, 1.2 MiB (1,234,567 bytes)", as ossutil's getallpartsize sums them. */
export function UploadTotalsLine({ label, uploads, totals }: { label: string; uploads?: number; totals: { parts: number; bytes: number } }) {
  return (
    <p class="totals">
      <strong>{label}:</strong> {uploads !== undefined ? `${plural(uploads, 'upload')}, ` : ''}
      {plural(totals.parts, 'part')}, {formatBytes(totals.bytes)} ({plural(totals.bytes, 'byte')})
    </p>
  );
}
