/** The REST shape of a rollout (contract shared with the CLI), built from its rows. */
import type { RolloutRow, TargetRow, TargetStep, WaveRow, WaveState } from './rollouts.repository';

export interface RolloutWaveView {
  index: number;
  label: string;
  percent: number;
  deviceIds: string[];
  state: WaveState;
}

export interface RolloutTargetView {
  deviceId: string;
  wave: number;
  step: TargetStep;
  p50Ms: number | null;
  p99Ms: number | null;
  previousP50Ms: number | null;
  agreement: number | null;
  /** The last failure; while a retry waits, the retryable error that caused it. */
  error: string | null;
  /** Steps sent again after a retryable device error. */
  retries: number;
  /** When the waiting retry goes out (ISO time), or null. */
  retryAt: string | null;
}

/**
 * How much of the target list a view carries: `all` (the default), `summary` (none: only
 * `targetCounts`, for watching a large rollout cheaply) or `failed` (failed, rolled back, skipped).
 */
export type TargetsDetail = 'all' | 'summary' | 'failed';
export const TARGETS_DETAILS: readonly TargetsDetail[] = ['all', 'summary', 'failed'];
export const FAILED_STEPS: readonly TargetStep[] = ['failed', 'rolled-back', 'skipped'];
const FAILED: ReadonlySet<TargetStep> = new Set(FAILED_STEPS);

export interface RolloutView {
  id: string;
  variantId: string;
  state: RolloutRow['state'];
  reason: string | null;
  selector: unknown;
  strategy: unknown;
  abortRules: unknown;
  deviceDeadlineMs: number;
  waves: RolloutWaveView[];
  targets: RolloutTargetView[];
  /** Targets per step, whatever `targets` carries. */
  targetCounts: Partial<Record<TargetStep, number>>;
  createdAt: string;
  finishedAt: string | null;
}

/** What a summary needs of each target: where it is, not what it measured. */
export type TargetStepRow = Pick<TargetRow, 'device_id' | 'wave' | 'step'>;

export function rolloutView(
  row: RolloutRow,
  waves: WaveRow[],
  targets: TargetRow[],
  detail: TargetsDetail = 'all',
): RolloutView {
  const listed =
    detail === 'all'
      ? targets
      : detail === 'failed'
        ? targets.filter((t) => FAILED.has(t.step))
        : [];
  return rolloutViewOf(row, waves, targets, listed);
}

/**
 * The view from each target's step alone plus the full rows it lists (`summary`: none;
 * `failed`: the failed, rolled-back and skipped ones): at 10,000 targets reading every column
 * of every target for a summary cost about a quarter of a second per request.
 */
export function rolloutViewOf(
  row: RolloutRow,
  waves: WaveRow[],
  steps: readonly TargetStepRow[],
  listed: readonly TargetRow[],
): RolloutView {
  const byWave = new Map<number, string[]>();
  const targetCounts: Partial<Record<TargetStep, number>> = {};
  for (const t of steps) {
    const ids = byWave.get(t.wave);
    if (ids) ids.push(t.device_id);
    else byWave.set(t.wave, [t.device_id]);
    targetCounts[t.step] = (targetCounts[t.step] ?? 0) + 1;
  }
  return {
    id: row.id,
    variantId: row.variant_id,
    state: row.state,
    reason: row.reason,
    selector: JSON.parse(row.selector_json) as unknown,
    strategy: JSON.parse(row.strategy_json) as unknown,
    abortRules: JSON.parse(row.abort_rules_json) as unknown,
    deviceDeadlineMs: row.device_deadline_ms,
    waves: waves.map((w) => ({
      index: w.idx,
      label: w.label,
      percent: w.percent,
      deviceIds: byWave.get(w.idx) ?? [],
      state: w.state,
    })),
    targets: listed.map(targetView),
    targetCounts,
    createdAt: new Date(row.created_at).toISOString(),
    finishedAt: row.finished_at === null ? null : new Date(row.finished_at).toISOString(),
  };
}

export function targetView(t: TargetRow): RolloutTargetView {
  return {
    deviceId: t.device_id,
    wave: t.wave,
    step: t.step,
    p50Ms: t.p50_ms,
    p99Ms: t.p99_ms,
    previousP50Ms: t.previous_p50_ms,
    agreement: t.agreement,
    error: t.error,
    retries: t.retries,
    retryAt: t.retry_at === null ? null : new Date(t.retry_at).toISOString(),
  };
}
