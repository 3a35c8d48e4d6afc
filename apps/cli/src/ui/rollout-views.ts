/**
 * How rollouts look in the terminal: state and reason, the waves, and every device's step with
 * its latency against its previous variant.
 */
import type { RolloutTarget, RolloutView, RolloutWave } from './api-types';
import { TARGET_SETTLED } from './api-types';
import { formatMs, formatPercent, renderTable } from './table';

const when = (t: string | number | null | undefined): string =>
  t === null || t === undefined ? '-' : new Date(t).toISOString().replace('T', ' ').slice(0, 19);

export function settledTargets(rollout: RolloutView): number {
  return rollout.targets.filter((t) => TARGET_SETTLED.has(t.step)).length;
}

export function renderRolloutSummary(rollout: RolloutView): string {
  const settled = settledTargets(rollout);
  const done = rollout.targets.filter((t) => t.step === 'done').length;
  const lines = [
    `rollout ${rollout.id} of variant ${rollout.variantId}: ${rollout.state}`,
    `  devices  ${done} done, ${settled - done} failed/rolled back/skipped, ${rollout.targets.length - settled} in progress (of ${rollout.targets.length})`,
    `  created  ${when(rollout.createdAt)}  finished ${when(rollout.finishedAt)}`,
  ];
  if (rollout.reason) lines.push(`  reason   ${rollout.reason}`);
  return lines.join('\n') + '\n';
}

export function renderWaves(waves: readonly RolloutWave[]): string {
  return renderTable<RolloutWave>(
    [
      { header: 'WAVE', value: (w) => w.label },
      { header: 'PERCENT', value: (w) => `${w.percent}%`, align: 'right' },
      { header: 'DEVICES', value: (w) => w.deviceIds.length, align: 'right' },
      { header: 'STATE', value: (w) => w.state },
    ],
    waves,
  );
}

export function renderTargets(rollout: RolloutView): string {
  const labelOf = new Map(rollout.waves.map((w) => [w.index, w.label]));
  return renderTable<RolloutTarget>(
    [
      { header: 'DEVICE', value: (t) => t.deviceId },
      { header: 'WAVE', value: (t) => labelOf.get(t.wave) ?? String(t.wave) },
      { header: 'STEP', value: (t) => t.step },
      { header: 'P50 MS', value: (t) => formatMs(t.p50Ms), align: 'right' },
      { header: 'P99 MS', value: (t) => formatMs(t.p99Ms), align: 'right' },
      { header: 'PREV P50', value: (t) => formatMs(t.previousP50Ms), align: 'right' },
      { header: 'AGREEMENT', value: (t) => formatPercent(t.agreement), align: 'right' },
      { header: 'RETRIES', value: retriesOf, align: 'right' },
      { header: 'ERROR', value: (t) => t.error },
    ],
    rollout.targets,
  );
}

/** How many retries a device had, and when the next one goes out if one is waiting. */
function retriesOf(t: RolloutTarget): string {
  const n = t.retries ?? 0;
  return t.retryAt ? `${n}, next ${when(t.retryAt).slice(11)}` : String(n);
}

export function renderRollout(rollout: RolloutView): string {
  return `${renderRolloutSummary(rollout)}\n${renderWaves(rollout.waves)}\n${renderTargets(rollout)}`;
}

export function renderRolloutList(rollouts: readonly RolloutView[]): string {
  return renderTable<RolloutView>(
    [
      { header: 'ID', value: (r) => r.id },
      { header: 'VARIANT', value: (r) => r.variantId },
      { header: 'STATE', value: (r) => r.state },
      {
        header: 'DEVICES',
        value: (r) => `${settledTargets(r)}/${r.targets.length}`,
        align: 'right',
      },
      { header: 'CREATED', value: (r) => when(r.createdAt) },
      { header: 'REASON', value: (r) => r.reason },
    ],
    rollouts,
  );
}
