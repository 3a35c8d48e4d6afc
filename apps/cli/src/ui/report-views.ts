/**
 * How reports look in the terminal: the latency report (one row per device and per profile)
 * and the Pareto set of a model's variants (accuracy x latency x size).
 */
import type { ParetoAnswer, ParetoPoint } from './api-types';
import {
  formatBytes,
  formatCount,
  formatMs,
  formatPercent,
  renderTable,
  type Column,
} from './table';

type Row = Record<string, unknown>;

/** The rows of a report answer, whether it is a bare array or `{ rows }` / grouped lists. */
export function reportRows(answer: unknown): { title: string; rows: Row[] }[] {
  if (Array.isArray(answer)) return [{ title: '', rows: answer as Row[] }];
  if (answer && typeof answer === 'object') {
    const groups = Object.entries(answer as Row)
      .filter(([, v]) => Array.isArray(v) && v.every((x) => x && typeof x === 'object'))
      .map(([k, v]) => ({ title: k, rows: v as Row[] }));
    if (groups.length) return groups;
  }
  return [];
}

/** Known columns first, in reading order, then any other scalar fields the server added. */
const PREFERRED = [
  'scope',
  'level',
  'kind',
  'deviceId',
  'device',
  'profileId',
  'profile',
  'group',
  'variantId',
  'variant',
  'devices',
  'n',
  'count',
  'p50Ms',
  'p90Ms',
  'p99Ms',
  'spreadMs',
  'minMs',
  'maxMs',
  'predictedMs',
  'source',
  'predictionErrorPct',
  'predictionCalibrated',
];

const HEADERS: Record<string, string> = {
  deviceId: 'DEVICE',
  profileId: 'PROFILE',
  variantId: 'VARIANT',
  p50Ms: 'P50 MS',
  p90Ms: 'P90 MS',
  p99Ms: 'P99 MS',
  spreadMs: 'SPREAD MS',
  minMs: 'MIN MS',
  maxMs: 'MAX MS',
  predictedMs: 'PREDICTED MS',
  predictionErrorPct: 'PRED ERR %',
  predictionCalibrated: 'CALIBRATED',
};

function cell(key: string, value: unknown): string | number | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'number') {
    if (/Ms$/.test(key)) return formatMs(value);
    if (/Pct$/.test(key)) return `${value > 0 ? '+' : ''}${value.toFixed(1)}`;
    return Number(value.toFixed(4));
  }
  if (typeof value === 'object') {
    const v = value as Row;
    if (typeof v.min === 'number' && typeof v.max === 'number')
      return `${formatMs(v.min)}..${formatMs(v.max)}`;
    return JSON.stringify(value);
  }
  return String(value);
}

export function renderReportRows(rows: readonly Row[]): string {
  if (rows.length === 0) return '(no measurements)\n';
  const keys = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) keys.add(k);
  const ordered = [
    ...PREFERRED.filter((k) => keys.has(k)),
    ...[...keys].filter((k) => !PREFERRED.includes(k)),
  ].filter((k) => rows.some((r) => r[k] === null || typeof r[k] !== 'object' || isSpread(r[k])));
  const columns: Column<Row>[] = ordered.map((k) => ({
    header: HEADERS[k] ?? k.replace(/([a-z])([A-Z])/g, '$1 $2').toUpperCase(),
    value: (r) => cell(k, r[k]),
    align: rows.some((r) => typeof r[k] === 'number') ? 'right' : 'left',
  }));
  return renderTable(columns, rows);
}

const isSpread = (v: unknown) => !!v && typeof v === 'object' && typeof (v as Row).min === 'number';

export function renderLatencyReport(answer: unknown): string {
  const groups = reportRows(answer);
  if (groups.length === 0) return '(no measurements)\n';
  return groups
    .map((g) => (g.title && groups.length > 1 ? `${g.title}:\n` : '') + renderReportRows(g.rows))
    .join('\n');
}

export function renderPareto(answer: ParetoAnswer): string {
  const front = new Set(answer.pareto);
  const points = [...answer.points].sort(
    (a, b) =>
      (a.p50Ms ?? Infinity) - (b.p50Ms ?? Infinity) || (b.accuracy ?? 0) - (a.accuracy ?? 0),
  );
  return renderTable<ParetoPoint>(
    [
      { header: 'FRONT', value: (p) => (front.has(p.variantId) ? '*' : '') },
      { header: 'VARIANT', value: (p) => p.variantId },
      { header: 'METHOD', value: (p) => p.method },
      { header: 'ACCURACY', value: (p) => formatPercent(p.accuracy), align: 'right' },
      { header: 'P50 MS', value: (p) => formatMs(p.p50Ms), align: 'right' },
      { header: 'SOURCE', value: (p) => p.latencySource },
      { header: 'SIZE', value: (p) => formatBytes(p.bytes), align: 'right' },
      { header: 'PARAMS', value: (p) => formatCount(p.params), align: 'right' },
      { header: 'FLOPS', value: (p) => formatCount(p.flops), align: 'right' },
      { header: 'DEPLOY AS', value: (p) => p.deployableVariantId ?? '' },
    ],
    points,
  );
}
