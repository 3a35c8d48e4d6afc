/**
 * The latency report as pure functions: per (variant, device) and per (variant, profile) the
 * medians of the reported p50/p90/p99, the spread of p50s, the sample count, and the
 * predictor's figure beside the measured one. CSV is the same rows, one per line.
 */

/** One stored measurement, as the report reads it. */
export interface LatencySample {
  variantId: string;
  deviceId: string;
  profileId: string | null;
  p50Ms: number;
  p90Ms: number | null;
  p99Ms: number | null;
}

export interface Prediction {
  ms: number;
  calibrated: boolean;
}

/** Prediction for a variant on a profile (and a device, for its own calibration); null if none. */
export type Predict = (
  variantId: string,
  profileId: string,
  deviceId?: string,
) => Prediction | null;

export interface LatencyReportRow {
  scope: 'device' | 'profile';
  variantId: string;
  profileId: string | null;
  deviceId: string | null;
  /** Devices behind the row (1 for a device row). */
  devices: number;
  /** Measurements behind the row. */
  n: number;
  p50Ms: number;
  p90Ms: number | null;
  p99Ms: number | null;
  /** Lowest and highest p50: across runs for a device row, across devices for a profile row. */
  spreadMs: { min: number; max: number };
  source: 'measured';
  predictedMs: number | null;
  predictionCalibrated: boolean | null;
  /** (predicted − measured) / measured, percent. */
  predictionErrorPct: number | null;
}

export interface LatencyReport {
  rows: LatencyReportRow[];
}

export function buildLatencyReport(
  samples: readonly LatencySample[],
  predict: Predict,
): LatencyReport {
  const byDevice = groupBy(samples, (s) => `${s.variantId}\u0000${s.deviceId}`);
  const deviceRows: LatencyReportRow[] = [...byDevice.values()].map((group) => {
    const first = group[0]!;
    const p50s = group.map((s) => s.p50Ms);
    return withPrediction(
      {
        scope: 'device',
        variantId: first.variantId,
        profileId: first.profileId,
        deviceId: first.deviceId,
        devices: 1,
        n: group.length,
        p50Ms: median(p50s)!,
        p90Ms: median(group.map((s) => s.p90Ms)),
        p99Ms: median(group.map((s) => s.p99Ms)),
        spreadMs: { min: Math.min(...p50s), max: Math.max(...p50s) },
        source: 'measured',
        predictedMs: null,
        predictionCalibrated: null,
        predictionErrorPct: null,
      },
      first.profileId ? predict(first.variantId, first.profileId, first.deviceId) : null,
    );
  });
  const byProfile = groupBy(
    deviceRows.filter((r) => r.profileId !== null),
    (r) => `${r.variantId}\u0000${r.profileId}`,
  );
  const profileRows: LatencyReportRow[] = [...byProfile.values()].map((group) => {
    const first = group[0]!;
    const p50s = group.map((r) => r.p50Ms);
    return withPrediction(
      {
        scope: 'profile',
        variantId: first.variantId,
        profileId: first.profileId,
        deviceId: null,
        devices: group.length,
        n: group.reduce((a, r) => a + r.n, 0),
        p50Ms: median(p50s)!,
        p90Ms: median(group.map((r) => r.p90Ms)),
        p99Ms: median(group.map((r) => r.p99Ms)),
        spreadMs: { min: Math.min(...p50s), max: Math.max(...p50s) },
        source: 'measured',
        predictedMs: null,
        predictionCalibrated: null,
        predictionErrorPct: null,
      },
      predict(first.variantId, first.profileId!),
    );
  });
  const order = (r: LatencyReportRow) =>
    `${r.variantId}\u0000${r.profileId ?? '\uffff'}\u0000${r.scope === 'profile' ? '' : r.deviceId}`;
  return { rows: [...profileRows, ...deviceRows].sort((a, b) => order(a).localeCompare(order(b))) };
}

const CSV_COLUMNS = [
  'scope',
  'variant_id',
  'profile_id',
  'device_id',
  'devices',
  'n',
  'p50_ms',
  'p90_ms',
  'p99_ms',
  'spread_min_ms',
  'spread_max_ms',
  'source',
  'predicted_ms',
  'prediction_calibrated',
  'prediction_error_pct',
] as const;

export function latencyReportCsv(report: LatencyReport): string {
  const lines = report.rows.map((r) =>
    [
      r.scope,
      r.variantId,
      r.profileId,
      r.deviceId,
      r.devices,
      r.n,
      r.p50Ms,
      r.p90Ms,
      r.p99Ms,
      r.spreadMs.min,
      r.spreadMs.max,
      r.source,
      r.predictedMs,
      r.predictionCalibrated,
      r.predictionErrorPct,
    ]
      .map(csvField)
      .join(','),
  );
  return [CSV_COLUMNS.join(','), ...lines].join('\n') + '\n';
}

function csvField(value: string | number | boolean | null): string {
  if (value === null) return '';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : value.toFixed(4);
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function withPrediction(row: LatencyReportRow, prediction: Prediction | null): LatencyReportRow {
  if (!prediction) return row;
  return {
    ...row,
    predictedMs: prediction.ms,
    predictionCalibrated: prediction.calibrated,
    predictionErrorPct: row.p50Ms > 0 ? ((prediction.ms - row.p50Ms) / row.p50Ms) * 100 : null,
  };
}

function median(values: readonly (number | null)[]): number | null {
  const xs = values.filter((v): v is number => v !== null).sort((a, b) => a - b);
  if (xs.length === 0) return null;
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
