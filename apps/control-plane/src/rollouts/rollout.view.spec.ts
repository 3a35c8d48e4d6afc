import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FAILED_STEPS, rolloutView, rolloutViewOf } from './rollout.view';
import type { RolloutRow, TargetRow, TargetStep, WaveRow } from './rollouts.repository';

const rollout: RolloutRow = {
  id: 'ro_1',
  variant_id: 'var_1',
  artifact_sha256: 'a'.repeat(64),
  selector_json: '{"group":"pi5"}',
  strategy_json: '{"waves":[50,100],"soakMs":0}',
  abort_rules_json: '{}',
  device_deadline_ms: 60_000,
  input_name: null,
  input_shape_json: '[1,28,28,1]',
  state: 'running',
  reason: null,
  created_at: 0,
  updated_at: 0,
  finished_at: null,
};
const waves: WaveRow[] = [0, 1].map((idx) => ({
  rollout_id: 'ro_1',
  idx,
  label: idx === 0 ? 'canary' : 'wave 1',
  percent: idx === 0 ? 50 : 100,
  state: idx === 0 ? 'done' : 'running',
  started_at: 0,
  soak_until: null,
  finished_at: null,
}));
const target = (i: number, wave: number, step: TargetStep): TargetRow => ({
  rollout_id: 'ro_1',
  device_id: `dev-${i}`,
  wave,
  step,
  phase: null,
  command_id: null,
  previous_sha256: null,
  previous_variant_id: null,
  deployed: 0,
  baseline_done: 0,
  p50_ms: step === 'done' ? 3.5 : null,
  p99_ms: null,
  previous_p50_ms: null,
  agreement: null,
  error: step === 'failed' ? 'benchmark: boom' : null,
  switched: 0,
  rollback: null,
  deadline_at: null,
  retries: step === 'benchmark' ? 1 : 0,
  retry_at: step === 'benchmark' ? Date.UTC(2026, 0, 1) : null,
  updated_at: 0,
});
const targets = [
  target(0, 0, 'done'),
  target(1, 0, 'done'),
  target(2, 1, 'failed'),
  target(3, 1, 'skipped'),
  target(4, 1, 'benchmark'),
];

describe('rolloutView target detail', () => {
  it('lists every target by default, with counts per step and each wave its devices', () => {
    const view = rolloutView(rollout, waves, targets);
    assert.deepEqual(
      view.targets.map((t) => [t.deviceId, t.step]),
      targets.map((t) => [t.device_id, t.step]),
    );
    assert.deepEqual(view.targetCounts, { done: 2, failed: 1, skipped: 1, benchmark: 1 });
    // a target waiting for a retry says how many it had and when the next goes out
    assert.deepEqual(
      view.targets.map((t) => [t.retries, t.retryAt]),
      [
        [0, null],
        [0, null],
        [0, null],
        [0, null],
        [1, '2026-01-01T00:00:00.000Z'],
      ],
    );
    assert.deepEqual(
      view.waves.map((w) => w.deviceIds),
      [
        ['dev-0', 'dev-1'],
        ['dev-2', 'dev-3', 'dev-4'],
      ],
    );
  });

  it('summary carries no targets but the same counts and waves', () => {
    const all = rolloutView(rollout, waves, targets);
    const summary = rolloutView(rollout, waves, targets, 'summary');
    assert.deepEqual(summary.targets, []);
    assert.deepEqual(summary.targetCounts, all.targetCounts);
    assert.deepEqual(summary.waves, all.waves);
  });

  it('failed lists only failed, rolled-back and skipped targets', () => {
    const view = rolloutView(rollout, waves, targets, 'failed');
    assert.deepEqual(
      view.targets.map((t) => [t.deviceId, t.step, t.error]),
      [
        ['dev-2', 'failed', 'benchmark: boom'],
        ['dev-3', 'skipped', null],
      ],
    );
  });

  it('a wave with no targets lists no devices', () => {
    const view = rolloutView(rollout, waves, [target(0, 0, 'pending')], 'summary');
    assert.deepEqual(
      view.waves.map((w) => w.deviceIds),
      [['dev-0'], []],
    );
  });
  it('from steps alone (as a summary GET reads them) it equals the view from full rows', () => {
    const steps = targets.map(({ device_id, wave, step }) => ({ device_id, wave, step }));
    assert.deepEqual(
      rolloutViewOf(rollout, waves, steps, []),
      rolloutView(rollout, waves, targets, 'summary'),
    );
    const failed = targets.filter((t) => FAILED_STEPS.includes(t.step));
    assert.deepEqual(
      rolloutViewOf(rollout, waves, steps, failed),
      rolloutView(rollout, waves, targets, 'failed'),
    );
  });
});
