/**
 * Plain-text tables for terminal output: left-aligned text, right-aligned numbers, columns as
 * wide as their widest cell, '-' for missing (null) values. No colours, so output pipes cleanly.
 */
export interface Column<Row> {
  header: string;
  value: (row: Row) => string | number | null | undefined;
  align?: 'left' | 'right';
}

export function renderTable<Row>(columns: Column<Row>[], rows: readonly Row[]): string {
  const cells = rows.map((row) =>
    columns.map((c) => {
      const v = c.value(row);
      return v === null || v === undefined ? '-' : String(v);
    }),
  );
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => r[i]!.length)),
  );
  const line = (values: string[]) =>
    values
      .map((v, i) =>
        columns[i]!.align === 'right' ? v.padStart(widths[i]!) : v.padEnd(widths[i]!),
      )
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join('\n') + '\n';
}

/** Milliseconds with precision that fits the magnitude: 0.123, 1.23, 12.3, 123. */
export function formatMs(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return null;
  if (ms < 1) return ms.toFixed(3);
  if (ms < 10) return ms.toFixed(2);
  if (ms < 100) return ms.toFixed(1);
  return ms.toFixed(0);
}

/** A 0..1 share as a percentage with two decimals. */
export function formatPercent(share: number | null | undefined): string | null {
  if (share === null || share === undefined || !Number.isFinite(share)) return null;
  return `${(100 * share).toFixed(2)}%`;
}

/** 1234567 -> "1.23M"; small counts stay exact. */
export function formatCount(n: number | null | undefined): string | null {
  if (n === null || n === undefined || !Number.isFinite(n)) return null;
  const abs = Math.abs(n);
  if (abs >= 1e9) return `${(n / 1e9).toFixed(2)}G`;
  if (abs >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (abs >= 1e4) return `${(n / 1e3).toFixed(1)}k`;
  return String(n);
}

/** Bytes as B / KiB / MiB. */
export function formatBytes(n: number | null | undefined): string | null {
  if (n === null || n === undefined || !Number.isFinite(n)) return null;
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
