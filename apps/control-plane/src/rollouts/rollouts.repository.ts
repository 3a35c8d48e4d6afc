import { Injectable } from '@nestjs/common';
import type { Statement } from 'better-sqlite3';
import { SqliteDatabase } from '../database/sqlite.database';

export type RolloutState = 'running' | 'paused' | 'succeeded' | 'aborted';
export type WaveState = 'pending' | 'running' | 'soaking' | 'done' | 'aborted';
export type TargetStep =
  | 'pending'
  | 'fetch'
  | 'verify'
  | 'load'
  | 'self-test'
  | 'benchmark'
  | 'activate'
  | 'done'
  | 'failed'
  | 'rolled-back'
  | 'skipped';
/** Steps a target never leaves. */
export const TERMINAL_STEPS: readonly TargetStep[] = ['done', 'failed', 'rolled-back', 'skipped'];
const TERMINAL_SQL = TERMINAL_STEPS.map((s) => `'${s}'`).join(', ');

/** The command a target waits for. */
export type TargetPhase = 'deploy' | 'baseline' | 'benchmark' | 'activate' | 'rollback';
export type RollbackState = 'needed' | 'sent' | 'done' | 'failed';

export interface RolloutRow {
  id: string;
  variant_id: string;
  artifact_sha256: string;
  selector_json: string;
  strategy_json: string;
  abort_rules_json: string;
  device_deadline_ms: number;
  input_name: string | null;
  input_shape_json: string;
  state: RolloutState;
  reason: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

export interface WaveRow {
  rollout_id: string;
  idx: number;
  label: string;
  percent: number;
  state: WaveState;
  started_at: number | null;
  soak_until: number | null;
  finished_at: number | null;
}

export interface TargetRow {
  rollout_id: string;
  device_id: string;
  wave: number;
  step: TargetStep;
  phase: TargetPhase | null;
  command_id: string | null;
  previous_sha256: string | null;
  previous_variant_id: string | null;
  deployed: number;
  baseline_done: number;
  p50_ms: number | null;
  p99_ms: number | null;
  previous_p50_ms: number | null;
  agreement: number | null;
  error: string | null;
  switched: number;
  rollback: RollbackState | null;
  deadline_at: number | null;
  /** Steps sent again after the device failed them with a retryable error. */
  retries: number;
  /** The next retry is not sent before this time (ms); null when none is waiting. */
  retry_at: number | null;
  updated_at: number;
}

export interface ProbeRow {
  rollout_id: string;
  previous_sha256: string;
  sample_sha256: string | null;
  count: number;
  error: string | null;
}

/** A finished command a target was waiting for, read from the outbox. */
export interface FinishedCommandRow {
  device_id: string;
  command_id: string;
  status: 'succeeded' | 'failed' | 'expired';
  acked_at: number | null;
  result_json: string | null;
  error: string | null;
}

/** The last progress step of each in-flight deploy or activate (see progressSteps). */
export const PROGRESS_STEPS_SQL = `SELECT t.device_id, t.step AS current,
    (SELECT json_extract(e.payload_json, '$.step') FROM command_events e
     WHERE e.device_id = t.device_id AND e.command_id = t.command_id AND e.type = 'progress'
     ORDER BY e.seq DESC LIMIT 1) AS step
  FROM rollout_targets t
  WHERE t.rollout_id = ? AND t.phase IN ('deploy', 'activate') AND t.command_id IS NOT NULL`;

type TargetPatch = Partial<Omit<TargetRow, 'rollout_id' | 'device_id'>>;

/** SQL for rollouts, their waves, targets and drift probes. Writes run inside the caller's transaction. */
@Injectable()
export class RolloutsRepository {
  constructor(private readonly database: SqliteDatabase) {}

  private readonly statements = new Map<string, Statement>();

  /** A prepared statement, compiled once per SQL text (a driver pass runs the same few often). */
  private statement(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.database.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  insertRollout(row: RolloutRow): void {
    this.statement(
      `INSERT INTO rollouts (id, variant_id, artifact_sha256, selector_json, strategy_json,
           abort_rules_json, device_deadline_ms, input_name, input_shape_json, state, reason,
           created_at, updated_at, finished_at)
         VALUES (@id, @variant_id, @artifact_sha256, @selector_json, @strategy_json,
           @abort_rules_json, @device_deadline_ms, @input_name, @input_shape_json, @state, @reason,
           @created_at, @updated_at, @finished_at)`,
    ).run(row);
  }

  insertWave(row: WaveRow): void {
    this.statement(
      `INSERT INTO rollout_waves (rollout_id, idx, label, percent, state, started_at, soak_until, finished_at)
         VALUES (@rollout_id, @idx, @label, @percent, @state, @started_at, @soak_until, @finished_at)`,
    ).run(row);
  }

  insertTarget(rolloutId: string, deviceId: string, wave: number, now: number): void {
    this.statement(
      `INSERT INTO rollout_targets (rollout_id, device_id, wave, step, updated_at)
         VALUES (?, ?, ?, 'pending', ?)`,
    ).run(rolloutId, deviceId, wave, now);
  }

  get(id: string): RolloutRow | undefined {
    return this.statement('SELECT * FROM rollouts WHERE id = ?').get(id) as RolloutRow | undefined;
  }

  list(limit: number): RolloutRow[] {
    return this.statement('SELECT * FROM rollouts ORDER BY created_at DESC, id DESC LIMIT ?').all(
      limit,
    ) as RolloutRow[];
  }

  /**
   * Rollouts the driver still has work for: running or paused ones, and aborted ones with
   * rollbacks outstanding (only an abort asks for rollbacks). Goes through the rollouts' state
   * index and an aborted rollout's own targets: testing `rollback` over every target of every
   * rollout scanned the whole table on each pass (4 of the control plane's CPU-seconds in a
   * 10,000-device rollout).
   */
  activeIds(): string[] {
    return (
      this.statement(
        `SELECT id FROM rollouts WHERE state IN ('running', 'paused')
           UNION
           SELECT r.id FROM rollouts r WHERE r.state = 'aborted' AND EXISTS (
             SELECT 1 FROM rollout_targets t
               WHERE t.rollout_id = r.id AND t.rollback IN ('needed', 'sent'))
           ORDER BY 1`,
      ).all() as { id: string }[]
    ).map((r) => r.id);
  }

  waves(rolloutId: string): WaveRow[] {
    return this.statement('SELECT * FROM rollout_waves WHERE rollout_id = ? ORDER BY idx').all(
      rolloutId,
    ) as WaveRow[];
  }

  targets(rolloutId: string): TargetRow[] {
    return this.statement(
      'SELECT * FROM rollout_targets WHERE rollout_id = ? ORDER BY wave, device_id',
    ).all(rolloutId) as TargetRow[];
  }

  /** Each target's wave and step only (what a summary view needs), in `targets` order. */
  targetSteps(rolloutId: string): Pick<TargetRow, 'device_id' | 'wave' | 'step'>[] {
    return this.statement(
      'SELECT device_id, wave, step FROM rollout_targets WHERE rollout_id = ? ORDER BY wave, device_id',
    ).all(rolloutId) as Pick<TargetRow, 'device_id' | 'wave' | 'step'>[];
  }

  /** The targets at one of these steps, in `targets` order. */
  targetsAt(rolloutId: string, steps: readonly TargetStep[]): TargetRow[] {
    return this.statement(
      `SELECT * FROM rollout_targets WHERE rollout_id = ? AND step IN (${steps.map(() => '?').join(', ')})
         ORDER BY wave, device_id`,
    ).all(rolloutId, ...steps) as TargetRow[];
  }

  /** One wave's targets (through the (rollout, wave) index, not the whole rollout). */
  waveTargets(rolloutId: string, wave: number): TargetRow[] {
    return this.statement(
      'SELECT * FROM rollout_targets WHERE rollout_id = ? AND wave = ? ORDER BY device_id',
    ).all(rolloutId, wave) as TargetRow[];
  }

  /** Targets of a wave that wait for nothing (no command, no retry before `now`) and are not finished. */
  readyTargets(rolloutId: string, wave: number, now: number): TargetRow[] {
    return this.statement(
      `SELECT * FROM rollout_targets
         WHERE rollout_id = ? AND wave = ? AND phase IS NULL AND step NOT IN (${TERMINAL_SQL})
           AND (retry_at IS NULL OR retry_at <= ?)
         ORDER BY device_id`,
    ).all(rolloutId, wave, now) as TargetRow[];
  }

  /** How many targets of a wave have not reached a terminal step. */
  unfinishedInWave(rolloutId: string, wave: number): number {
    return (
      this.statement(
        `SELECT COUNT(*) AS n FROM rollout_targets
           WHERE rollout_id = ? AND wave = ? AND step NOT IN (${TERMINAL_SQL})`,
      ).get(rolloutId, wave) as { n: number }
    ).n;
  }

  /** Targets per step over the whole rollout. */
  stepCounts(rolloutId: string): Partial<Record<TargetStep, number>> {
    const rows = this.statement(
      'SELECT step, COUNT(*) AS n FROM rollout_targets WHERE rollout_id = ? GROUP BY step',
    ).all(rolloutId) as { step: TargetStep; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.step, r.n]));
  }

  /** Gives every target of a wave the same deadline (the wave starts). */
  setWaveDeadline(rolloutId: string, wave: number, deadlineAt: number, now: number): void {
    this.statement(
      'UPDATE rollout_targets SET deadline_at = ?, updated_at = ? WHERE rollout_id = ? AND wave = ?',
    ).run(deadlineAt, now, rolloutId, wave);
  }

  target(rolloutId: string, deviceId: string): TargetRow | undefined {
    return this.statement(
      'SELECT * FROM rollout_targets WHERE rollout_id = ? AND device_id = ?',
    ).get(rolloutId, deviceId) as TargetRow | undefined;
  }

  updateRollout(
    id: string,
    patch: Partial<Pick<RolloutRow, 'state' | 'reason' | 'finished_at'>>,
    now: number,
  ): void {
    this.patch('rollouts', 'id = @id', { id }, { ...patch, updated_at: now });
  }

  /** Moves a rollout from one state to another; false if it was not in `from` (a concurrent change won). */
  transition(id: string, from: RolloutState[], to: RolloutState, now: number): boolean {
    const marks = from.map(() => '?').join(', ');
    return (
      this.statement(
        `UPDATE rollouts SET state = ?, updated_at = ? WHERE id = ? AND state IN (${marks})`,
      ).run(to, now, id, ...from).changes > 0
    );
  }

  updateWave(
    rolloutId: string,
    idx: number,
    patch: Partial<Omit<WaveRow, 'rollout_id' | 'idx'>>,
  ): void {
    this.patch(
      'rollout_waves',
      'rollout_id = @rolloutId AND idx = @idx',
      { rolloutId, idx },
      patch,
    );
  }

  updateTarget(rolloutId: string, deviceId: string, patch: TargetPatch, now: number): void {
    this.patch(
      'rollout_targets',
      'rollout_id = @rolloutId AND device_id = @deviceId',
      { rolloutId, deviceId },
      { ...patch, updated_at: now },
    );
  }

  /**
   * Commands this rollout's targets wait for that have finished. Reads the outbox table
   * directly: one query per tick instead of one lookup per device.
   */
  finishedCommands(rolloutId: string): FinishedCommandRow[] {
    return this.statement(
      `SELECT t.device_id, c.id AS command_id, c.status, c.acked_at, c.result_json, c.error
         FROM rollout_targets t JOIN commands c ON c.id = t.command_id
         WHERE t.rollout_id = ? AND t.phase IS NOT NULL
           AND c.status IN ('succeeded', 'failed', 'expired')`,
    ).all(rolloutId) as FinishedCommandRow[];
  }

  /**
   * Like finishedCommands, for the given commands only (those the outbox said finished since
   * the last pass): each is looked up by its id, not by scanning the rollout's targets.
   */
  finishedCommandsAmong(rolloutId: string, commandIds: readonly string[]): FinishedCommandRow[] {
    const lookup = this.statement(
      `SELECT t.device_id, c.id AS command_id, c.status, c.acked_at, c.result_json, c.error
         FROM commands c JOIN rollout_targets t
           ON t.rollout_id = ? AND t.device_id = c.device_id AND t.command_id = c.id
         WHERE c.id = ? AND t.phase IS NOT NULL
           AND c.status IN ('succeeded', 'failed', 'expired')`,
    );
    const rows: FinishedCommandRow[] = [];
    for (const id of commandIds) {
      const row = lookup.get(rolloutId, id) as FinishedCommandRow | undefined;
      if (row) rows.push(row);
    }
    return rows;
  }

  /**
   * The last progress step each in-flight deploy or activate reported (fetch, verify, load,
   * self-test ...). Events are looked up by (device, command), the key of command_events: by
   * command id alone every in-flight target scanned the whole events table, which made a pass
   * grow with targets x events (minutes per pass at 1,000 devices).
   */
  progressSteps(rolloutId: string): { device_id: string; step: string; current: TargetStep }[] {
    const rows = this.statement(PROGRESS_STEPS_SQL).all(rolloutId) as {
      device_id: string;
      step: string | null;
      current: TargetStep;
    }[];
    return rows.filter(
      (r): r is { device_id: string; step: string; current: TargetStep } => r.step !== null,
    );
  }

  probe(rolloutId: string, previousSha256: string): ProbeRow | undefined {
    return this.statement(
      'SELECT * FROM rollout_probes WHERE rollout_id = ? AND previous_sha256 = ?',
    ).get(rolloutId, previousSha256) as ProbeRow | undefined;
  }

  insertProbe(row: ProbeRow): void {
    this.statement(
      `INSERT OR IGNORE INTO rollout_probes (rollout_id, previous_sha256, sample_sha256, count, error)
         VALUES (@rollout_id, @previous_sha256, @sample_sha256, @count, @error)`,
    ).run(row);
  }

  private patch(
    table: string,
    where: string,
    key: Record<string, unknown>,
    patch: Record<string, unknown>,
  ): void {
    const columns = Object.keys(patch).filter((k) => patch[k] !== undefined);
    if (columns.length === 0) return;
    const set = columns.map((c) => `${c} = @set_${c}`).join(', ');
    const params: Record<string, unknown> = { ...key };
    for (const c of columns) params[`set_${c}`] = patch[c];
    this.statement(`UPDATE ${table} SET ${set} WHERE ${where}`).run(params);
  }
}
