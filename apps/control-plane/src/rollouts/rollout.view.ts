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
  error: string | null;
}

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
  createdAt: string;
  finishedAt: string | null;
}

export function rolloutView(row: RolloutRow, waves: WaveRow[], targets: TargetRow[]): RolloutView {
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
      deviceIds: targets.filter((t) => t.wave === w.idx).map((t) => t.device_id),
      state: w.state,
    })),
    targets: targets.map(targetView),
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
  };
}
