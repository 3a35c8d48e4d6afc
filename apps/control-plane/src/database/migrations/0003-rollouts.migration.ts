import type { Migration } from './migration';

/**
 * Rollouts: one row per rollout (its request and where it stands), one per wave, one per
 * target device. A target row names the command in flight (`command_id`), written in the same
 * transaction that queues the command, so after a restart the driver follows the same command
 * instead of sending another. Drift probes (the previous variant's predictions on a probe
 * batch, published as a labelled sample) are kept per (rollout, previous artifact).
 */
export const migration0003: Migration = {
  version: 3,
  name: 'rollouts',
  sql: `
    CREATE TABLE rollouts (
      id TEXT PRIMARY KEY,
      variant_id TEXT NOT NULL,
      artifact_sha256 TEXT NOT NULL,
      selector_json TEXT NOT NULL,
      strategy_json TEXT NOT NULL,
      abort_rules_json TEXT NOT NULL,
      device_deadline_ms INTEGER NOT NULL,
      input_name TEXT,
      input_shape_json TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'succeeded', 'aborted')),
      reason TEXT,
      created_at INTEGER NOT NULL,
      updated_at INTEGER NOT NULL,
      finished_at INTEGER
    );
    CREATE INDEX rollouts_by_state ON rollouts(state, created_at);

    CREATE TABLE rollout_waves (
      rollout_id TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
      idx INTEGER NOT NULL,
      label TEXT NOT NULL,
      percent REAL NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('pending', 'running', 'soaking', 'done', 'aborted')),
      started_at INTEGER,
      soak_until INTEGER,
      finished_at INTEGER,
      PRIMARY KEY (rollout_id, idx)
    );

    CREATE TABLE rollout_targets (
      rollout_id TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
      device_id TEXT NOT NULL,
      wave INTEGER NOT NULL,
      step TEXT NOT NULL CHECK (step IN ('pending', 'fetch', 'verify', 'load', 'self-test',
        'benchmark', 'activate', 'done', 'failed', 'rolled-back', 'skipped')),
      -- what the driver waits for: deploy | baseline | benchmark | activate | rollback
      phase TEXT,
      command_id TEXT,
      previous_sha256 TEXT,
      previous_variant_id TEXT,
      deployed INTEGER NOT NULL DEFAULT 0,
      -- the previous variant was benchmarked on this device (or that was tried and failed)
      baseline_done INTEGER NOT NULL DEFAULT 0,
      p50_ms REAL,
      p99_ms REAL,
      previous_p50_ms REAL,
      agreement REAL,
      error TEXT,
      -- 1 once the device runs the new variant; such devices get a rollback on abort
      switched INTEGER NOT NULL DEFAULT 0,
      rollback TEXT CHECK (rollback IN ('needed', 'sent', 'done', 'failed')),
      deadline_at INTEGER,
      updated_at INTEGER NOT NULL,
      PRIMARY KEY (rollout_id, device_id)
    );
    CREATE INDEX rollout_targets_by_wave ON rollout_targets(rollout_id, wave);

    CREATE TABLE rollout_probes (
      rollout_id TEXT NOT NULL REFERENCES rollouts(id) ON DELETE CASCADE,
      previous_sha256 TEXT NOT NULL,
      sample_sha256 TEXT,
      count INTEGER NOT NULL,
      error TEXT,
      PRIMARY KEY (rollout_id, previous_sha256)
    );
  `,
};
