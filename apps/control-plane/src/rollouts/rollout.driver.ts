import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { BenchmarkReportEvent } from '@edgecompress/protocol';
import { ArtifactsService } from '../artifacts/artifacts.service';
import { CLOCK, type Clock } from '../common/clock';
import { AuditLogRepository } from '../common/audit-log.repository';
import { LOGGER, type Logger } from '../common/logger';
import { CommandsService, type CommandBody } from '../commands/commands.service';
import { SqliteDatabase } from '../database/sqlite.database';
import { DevicesService, type DeviceView } from '../devices/devices.service';
import { MeasurementsService } from '../measurements/measurements.service';
import { deviceViolation, failureRateViolation, type AbortRules } from './abort-rules';
import { buildDriftProbe } from './drift-probe.runner';
import { RolloutEventsHub } from './rollout-events.hub';
import { DEFAULT_RETRIES, nextRetryAt, type RolloutStrategy } from './rollout-plan';
import { rolloutView } from './rollout.view';
import {
  RolloutsRepository,
  TERMINAL_STEPS,
  type FinishedCommandRow,
  type RolloutRow,
  type TargetRow,
  type TargetStep,
  type WaveRow,
} from './rollouts.repository';

/** How often the driver looks at active rollouts (on the injected clock). */
const TICK_MS = 200;
/**
 * Fine progress steps (fetch, verify, load ...) are copied to targets at most this often, and
 * at most once per this many times the last copy took (display only; its query reads every
 * in-flight target).
 */
const PROGRESS_REFRESH_MS = 1_000;
const PROGRESS_REFRESH_COST_FACTOR = 20;
/**
 * A pass looks only at the commands the outbox reported finished since the last pass; every
 * this often (and on a rollout's first pass in this process) it reads all of a rollout's
 * finished commands instead, so nothing depends on a notice alone.
 */
const FULL_SCAN_MS = 10_000;
/** Probe inputs run through the previous variant for the agreement check. */
const PROBE_COUNT = 64;
/** Benchmark settings of the rollout's latency checks (the same for new and previous variant). */
const BENCHMARK = { warmup: 10, runs: 100, timeBudgetMs: 20_000 } as const;
/**
 * Each step's command waits at least this long for its device (the deadline for offline
 * devices can be shorter: it decides when a device that never came is skipped, not how long
 * a device that started may take).
 */
const MIN_STEP_TTL_MS = 10 * 60_000;
/** A rollback waits this long in the outbox for a device that is offline when the rollout aborts. */
const ROLLBACK_TTL_MS = 24 * 3600_000;
const TERMINAL: ReadonlySet<TargetStep> = new Set(TERMINAL_STEPS);

/**
 * Drives rollouts forward. Every decision is a transaction on the rollout's rows, and every
 * command is queued in the same transaction that records its id on the target, so a restart
 * resumes by following the same commands (the outbox retries them by id; agents apply an id
 * once) rather than sending new ones. Per device: deploy (fetch, verify, load) → benchmark of
 * the previous variant when no measurement of it is stored → benchmark of the new variant with
 * the drift probe → rules → activate. A wave starts when the previous one finished healthy and
 * soaked; an abort rolls back every device already switched.
 */
@Injectable()
export class RolloutDriver implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: unknown;
  private running = false;
  /** How long the last pass took: the next waits at least as long (the driver's CPU share ≤ ½). */
  private lastPassMs = 0;
  private readonly progressRefreshedAt = new Map<string, number>();
  private lastProgressRefreshMs = 0;
  /** Commands that finished since the last pass began (from the outbox's completion notices). */
  private readonly finishedSinceLastPass = new Set<string>();
  private readonly fullScanAt = new Map<string, number>();
  private readonly unsubscribe: () => void;
  private again = false;
  private stopped = false;
  /** Probe samples published by this process (retained on the broker; once is enough). */
  private readonly publishedSamples = new Set<string>();

  constructor(
    private readonly rollouts: RolloutsRepository,
    private readonly commands: CommandsService,
    private readonly devices: DevicesService,
    private readonly measurements: MeasurementsService,
    private readonly artifacts: ArtifactsService,
    private readonly hub: RolloutEventsHub,
    private readonly audit: AuditLogRepository,
    private readonly database: SqliteDatabase,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    // From construction on, so a pass run by hand (tests) sees the notices too.
    this.unsubscribe = this.commands.onCompleted((c) => this.finishedSinceLastPass.add(c.id));
  }

  onApplicationBootstrap(): void {
    this.kick();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    this.unsubscribe();
    this.clock.clearTimeout(this.timer);
  }

  /** Runs a pass now (or right after the current one). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.clock.clearTimeout(this.timer);
    this.running = true;
    const started = this.clock.now();
    this.pass()
      .catch((err: Error) => this.logger.error({ err: err.message }, 'rollout pass failed'))
      .finally(() => {
        this.running = false;
        this.lastPassMs = this.clock.now() - started;
        if (this.stopped) return;
        if (this.again) {
          this.again = false;
          this.kick();
        } else
          this.timer = this.clock.setTimeout(() => this.kick(), Math.max(TICK_MS, this.lastPassMs));
      });
  }

  /** One pass over every rollout with work left. Exposed for tests. */
  async pass(): Promise<void> {
    // Notices that arrive while this pass awaits belong to the next one.
    const finishedIds = [...this.finishedSinceLastPass];
    this.finishedSinceLastPass.clear();
    const active = this.rollouts.activeIds();
    for (const id of this.fullScanAt.keys()) if (!active.includes(id)) this.fullScanAt.delete(id);
    for (const id of active) {
      if (this.stopped) return;
      try {
        await this.advance(id, finishedIds);
      } catch (err) {
        this.logger.error({ rolloutId: id, err: (err as Error).message }, 'rollout step failed');
      }
      this.offerView(id);
    }
  }

  /**
   * Stops a rollout: pending and mid-check devices are skipped, switched devices (and those
   * whose activation is in flight) are marked for rollback, which the next pass sends.
   * Returns false when the rollout was not running or paused.
   */
  abort(rolloutId: string, reason: string, actor: string): boolean {
    const now = this.clock.now();
    const done = this.database.write('rollout.abort', () => {
      if (!this.rollouts.transition(rolloutId, ['running', 'paused'], 'aborted', now)) return false;
      this.rollouts.updateRollout(rolloutId, { reason, finished_at: now }, now);
      for (const w of this.rollouts.waves(rolloutId)) {
        if (w.state === 'running' || w.state === 'soaking')
          this.rollouts.updateWave(rolloutId, w.idx, { state: 'aborted', finished_at: now });
      }
      for (const t of this.rollouts.targets(rolloutId)) {
        if (t.switched === 1 || t.phase === 'activate') {
          this.rollouts.updateTarget(rolloutId, t.device_id, { rollback: 'needed' }, now);
        } else if (!TERMINAL.has(t.step)) {
          this.rollouts.updateTarget(
            rolloutId,
            t.device_id,
            { step: 'skipped', phase: null, command_id: null, error: 'rollout aborted' },
            now,
          );
        }
      }
      this.audit.record(actor, 'rollout.abort', rolloutId, { reason });
      return true;
    });
    if (done) {
      this.logger.warn({ rolloutId, reason }, 'rollout aborted');
      this.offerView(rolloutId);
      this.kick();
    }
    return done;
  }

  private offerView(id: string): void {
    if (!this.hub.watching(id)) return;
    const row = this.rollouts.get(id);
    if (row) this.hub.offer(rolloutView(row, this.rollouts.waves(id), this.rollouts.targets(id)));
  }

  private async advance(id: string, finishedIds: readonly string[]): Promise<void> {
    const finished = this.finishedCommands(id, finishedIds);
    if (finished.length > 0) {
      // One transaction for the whole batch: a large wave's results cost one commit per pass.
      // Its fsync is deferred (off the event loop): nothing here is acknowledged to anyone, a
      // restart re-derives it from the commands, and commands it leads to leave only once it
      // is durable (the MQTT transport waits for the database's WAL barrier).
      const violations = this.database.write(
        'rollout.complete',
        () => finished.map((f) => this.complete(id, f)).filter((v): v is string => v !== null),
        'deferred',
      );
      if (violations[0]) this.abort(id, violations[0], 'rollout');
    }
    // Progress steps are for display only; at 10,000 targets reading them every pass cost more
    // than the decisions.
    const now = this.clock.now();
    const refreshEvery = Math.max(
      PROGRESS_REFRESH_MS,
      this.lastProgressRefreshMs * PROGRESS_REFRESH_COST_FACTOR,
    );
    if (now - (this.progressRefreshedAt.get(id) ?? -Infinity) >= refreshEvery) {
      this.progressRefreshedAt.set(id, now);
      this.refreshSteps(id);
      this.lastProgressRefreshMs = this.clock.now() - now;
    }
    const rollout = this.rollouts.get(id);
    if (!rollout) return;
    if (rollout.state === 'aborted') return this.sendRollbacks(rollout);
    if (rollout.state !== 'running') return;
    const waves = this.rollouts.waves(id);
    // A wave that finishes may let the next one start in the same pass.
    for (let i = 0; i < waves.length; i++) {
      const current = this.rollouts.waves(id).find((w) => w.state !== 'done');
      if (!current) return this.succeed(rollout);
      if (!(await this.advanceWave(rollout, current))) return;
      if (this.rollouts.get(id)?.state !== 'running') return;
    }
  }

  /**
   * The finished commands this rollout's targets wait for: those among `finishedIds` (the
   * outbox's notices since the last pass), or all of them on a full scan. A notice may come
   * before its command's row is committed (a device's result is applied inside the ingest
   * batch's transaction); such a row is not read as finished here, and the device's redelivery
   * or the next full scan brings it.
   */
  private finishedCommands(id: string, finishedIds: readonly string[]): FinishedCommandRow[] {
    const now = this.clock.now();
    if (now - (this.fullScanAt.get(id) ?? -Infinity) >= FULL_SCAN_MS) {
      this.fullScanAt.set(id, now);
      return this.rollouts.finishedCommands(id);
    }
    return finishedIds.length > 0 ? this.rollouts.finishedCommandsAmong(id, finishedIds) : [];
  }

  /** Moves one wave on; true when it is done and the next may start now. */
  private async advanceWave(rollout: RolloutRow, wave: WaveRow): Promise<boolean> {
    const now = this.clock.now();
    if (wave.state === 'pending') {
      this.database.write('rollout.wave-start', () => {
        this.rollouts.updateWave(rollout.id, wave.idx, { state: 'running', started_at: now });
        this.rollouts.setWaveDeadline(rollout.id, wave.idx, now + rollout.device_deadline_ms, now);
      });
      this.logger.info({ rolloutId: rollout.id, wave: wave.label }, 'rollout wave started');
      wave = { ...wave, state: 'running', started_at: now };
    }
    if (wave.state === 'running') {
      // Only the targets with a next step are read: a pass over a wave of thousands that
      // mostly wait for their devices costs an index scan, not every row.
      const ready = this.rollouts.readyTargets(rollout.id, wave.idx, now);
      const probes = new Map<string, ProbeSample | null>();
      for (const t of ready) {
        if (t.step === 'benchmark' && t.previous_sha256 && !probes.has(t.previous_sha256))
          probes.set(t.previous_sha256, await this.probeFor(rollout, t.previous_sha256));
      }
      // Paused or aborted while a probe was built: send nothing.
      if (this.rollouts.get(rollout.id)?.state !== 'running') return false;
      if (ready.length > 0) {
        // Deferred fsync as above: the commands queued here are published only after it.
        this.database.write(
          'rollout.steps',
          () => {
            for (const t of ready) this.nextStep(rollout, t, probes);
          },
          'deferred',
        );
      }
      if (this.rollouts.unfinishedInWave(rollout.id, wave.idx) > 0) return false;
      if (this.abortOnFailureRate(rollout)) return false;
      const soakUntil = this.clock.now() + strategyOf(rollout).soakMs;
      this.database.write('rollout.wave-soak', () =>
        this.rollouts.updateWave(rollout.id, wave.idx, { state: 'soaking', soak_until: soakUntil }),
      );
      wave = { ...wave, state: 'soaking', soak_until: soakUntil };
    }
    if (wave.state === 'soaking') {
      if (this.clock.now() < (wave.soak_until ?? 0)) return false;
      this.checkAfterSoak(rollout, wave);
      if (this.abortOnFailureRate(rollout)) return false;
      this.database.write('rollout.wave-done', () =>
        this.rollouts.updateWave(rollout.id, wave.idx, {
          state: 'done',
          finished_at: this.clock.now(),
        }),
      );
      this.logger.info({ rolloutId: rollout.id, wave: wave.label }, 'rollout wave done');
      return true;
    }
    return false;
  }

  /** A switched device that no longer runs the variant after the soak counts as failed. */
  private checkAfterSoak(rollout: RolloutRow, wave: WaveRow): void {
    const now = this.clock.now();
    for (const t of this.rollouts.waveTargets(rollout.id, wave.idx)) {
      if (t.step !== 'done' || t.switched !== 1) continue;
      const device = this.deviceOrNull(t.device_id);
      const active = device?.activeVariant?.artifactSha256 ?? null;
      if (device && device.status === 'online' && active !== rollout.artifact_sha256) {
        this.database.write('rollout.target', () =>
          this.rollouts.updateTarget(
            rollout.id,
            t.device_id,
            {
              step: 'failed',
              switched: active === null ? 0 : 1,
              error: `device runs ${active ?? 'nothing'} instead of the variant after the soak`,
            },
            now,
          ),
        );
      }
    }
  }

  private abortOnFailureRate(rollout: RolloutRow): boolean {
    const counts = this.rollouts.stepCounts(rollout.id);
    const reason = failureRateViolation(rulesOf(rollout), {
      failed: counts.failed ?? 0,
      succeeded: counts.done ?? 0,
    });
    if (!reason) return false;
    this.abort(rollout.id, reason, 'rollout');
    return true;
  }

  private succeed(rollout: RolloutRow): void {
    const now = this.clock.now();
    this.database.write('rollout.succeed', () => {
      if (this.rollouts.transition(rollout.id, ['running'], 'succeeded', now)) {
        this.rollouts.updateRollout(rollout.id, { finished_at: now }, now);
        this.audit.record('rollout', 'rollout.succeed', rollout.id, {});
      }
    });
    this.logger.info({ rolloutId: rollout.id }, 'rollout succeeded');
  }

  /** Sends the next command for a target that waits for nothing (inside the caller's transaction). */
  private nextStep(
    rollout: RolloutRow,
    t: TargetRow,
    probes: Map<string, ProbeSample | null>,
  ): void {
    const now = this.clock.now();
    if (t.step === 'pending') {
      const device = this.deviceOrNull(t.device_id);
      if (!device) return this.finish(rollout, t, 'skipped', 'device no longer exists');
      if (device.status !== 'online') {
        if (t.deadline_at !== null && now > t.deadline_at)
          this.finish(rollout, t, 'skipped', 'offline until its deadline');
        return;
      }
      const previous = device.activeVariant;
      if (previous?.artifactSha256 === rollout.artifact_sha256)
        return this.finish(rollout, t, 'done', null);
      this.send(
        rollout,
        t.device_id,
        {
          phase: 'deploy',
          step: 'fetch',
          previous_sha256: previous?.artifactSha256 ?? null,
          previous_variant_id: previous?.variantId ?? null,
        },
        {
          type: 'deploy',
          artifact: { sha256: rollout.artifact_sha256, variantId: rollout.variant_id },
        },
      );
      return;
    }
    if (t.step === 'benchmark') {
      if (t.previous_sha256 && t.baseline_done === 0) {
        const stored = this.storedP50(t.device_id, t.previous_sha256);
        if (stored === null) {
          this.send(
            rollout,
            t.device_id,
            { phase: 'baseline' },
            this.benchmarkBody(rollout, t.previous_sha256, t.previous_variant_id),
          );
          return;
        }
        this.writeWithin('rollout.target', () =>
          this.rollouts.updateTarget(
            rollout.id,
            t.device_id,
            { baseline_done: 1, previous_p50_ms: stored },
            now,
          ),
        );
      }
      const sample = t.previous_sha256 ? (probes.get(t.previous_sha256) ?? null) : null;
      const body = this.benchmarkBody(rollout, rollout.artifact_sha256, rollout.variant_id);
      if (body.type === 'benchmark' && sample) body.accuracySample = sample;
      this.send(rollout, t.device_id, { phase: 'benchmark' }, body);
      return;
    }
    if (t.step === 'activate') {
      this.send(
        rollout,
        t.device_id,
        { phase: 'activate', step: 'self-test' },
        {
          type: 'activate',
          artifact: { sha256: rollout.artifact_sha256, variantId: rollout.variant_id },
        },
      );
    }
  }

  private benchmarkBody(
    rollout: RolloutRow,
    sha256: string,
    variantId: string | null,
  ): CommandBody {
    return {
      type: 'benchmark',
      artifact: { sha256, ...(variantId ? { variantId } : {}) },
      input: {
        ...(rollout.input_name ? { name: rollout.input_name } : {}),
        shape: JSON.parse(rollout.input_shape_json) as number[],
        dtype: 'float32',
      },
      warmup: BENCHMARK.warmup,
      runs: BENCHMARK.runs,
      timeBudgetMs: BENCHMARK.timeBudgetMs,
      threads: { intraOp: 1 },
    };
  }

  /** Queues a command and records its id on the target in one transaction. */
  private send(
    rollout: RolloutRow,
    deviceId: string,
    patch: Partial<TargetRow>,
    body: CommandBody,
    ttlMs = Math.max(rollout.device_deadline_ms, MIN_STEP_TTL_MS),
  ): void {
    const now = this.clock.now();
    this.writeWithin('rollout.send', () => {
      const [commandId] = this.commands.enqueueIds([deviceId], body, ttlMs);
      this.rollouts.updateTarget(rollout.id, deviceId, { ...patch, command_id: commandId! }, now);
    });
  }

  private finish(rollout: RolloutRow, t: TargetRow, step: TargetStep, error: string | null): void {
    this.writeWithin('rollout.target', () =>
      this.rollouts.updateTarget(
        rollout.id,
        t.device_id,
        { step, error, phase: null, command_id: null },
        this.clock.now(),
      ),
    );
  }

  /**
   * Applies a finished command to its target (inside the caller's transaction); a command the
   * target no longer waits for is ignored. Returns why the rollout must abort, if it must.
   */
  private complete(rolloutId: string, finished: FinishedCommandRow): string | null {
    const now = this.clock.now();
    let violation: string | null = null;
    const t = this.rollouts.target(rolloutId, finished.device_id);
    if (!t || t.phase === null || t.command_id !== finished.command_id) return null;
    const ok = finished.status === 'succeeded';
    const report =
      ok && finished.result_json
        ? (JSON.parse(finished.result_json) as BenchmarkReportEvent)
        : null;
    const failure =
      finished.status === 'expired'
        ? finished.acked_at === null
          ? 'device did not take the command before its deadline'
          : 'device did not finish the command before its deadline'
        : (finished.error ?? 'failed');
    const unreachable = finished.status === 'expired' && finished.acked_at === null;
    const update = (patch: Partial<TargetRow>) =>
      this.rollouts.updateTarget(
        rolloutId,
        t.device_id,
        { phase: null, command_id: null, retry_at: null, ...patch },
        now,
      );
    // A step the device failed with an error it called retryable (BUSY, DISK_FULL, TIMEOUT ...)
    // is sent again after a backoff, up to the strategy's retries; `patch` puts the target
    // back where that step is sent from.
    const retried = (patch: Partial<TargetRow>): boolean => {
      if (finished.status !== 'failed' || !reportedRetryable(finished)) return false;
      const rollout = this.rollouts.get(rolloutId);
      if (!rollout) return false;
      const strategy = strategyOf(rollout);
      const retryAt = nextRetryAt(strategy, t.retries, now);
      if (retryAt === null) return false;
      update({
        ...patch,
        retries: t.retries + 1,
        retry_at: retryAt,
        error: `${t.phase}: ${failure} (retry ${t.retries + 1} of ${strategy.retries ?? DEFAULT_RETRIES})`,
      });
      this.logger.warn(
        { rolloutId, deviceId: t.device_id, phase: t.phase, failure, retryAt },
        'rollout step failed with a retryable error; retrying',
      );
      return true;
    };
    switch (t.phase) {
      case 'deploy':
        if (ok) update({ deployed: 1, step: 'benchmark', error: null });
        else if (!retried({ step: 'pending' }))
          update({ step: unreachable ? 'skipped' : 'failed', error: `deploy: ${failure}` });
        break;
      case 'baseline':
        // Without a baseline the regression rule cannot judge this device; the rest still can.
        update({ baseline_done: 1, previous_p50_ms: report?.latencyMs?.p50 ?? null });
        if (!ok)
          this.logger.warn(
            { rolloutId, deviceId: t.device_id, failure },
            'baseline benchmark failed',
          );
        break;
      case 'benchmark': {
        if (!ok || !report?.latencyMs) {
          if (!ok && retried({ step: 'benchmark' })) break;
          update({ step: unreachable ? 'skipped' : 'failed', error: `benchmark: ${failure}` });
          break;
        }
        const measured = {
          p50Ms: report.latencyMs.p50,
          p99Ms: report.latencyMs.p99,
          previousP50Ms: t.previous_p50_ms,
          agreement: report.accuracy ? report.accuracy.correct / report.accuracy.total : null,
        };
        const rollout = this.rollouts.get(rolloutId)!;
        violation = deviceViolation(rulesOf(rollout), measured);
        update({
          p50_ms: measured.p50Ms,
          p99_ms: measured.p99Ms,
          agreement: measured.agreement,
          step: violation ? 'failed' : 'activate',
          error: violation,
        });
        if (violation) violation = `device ${t.device_id}: ${violation}`;
        break;
      }
      case 'activate':
        if (ok) update({ switched: 1, step: 'done', error: null });
        else {
          // An activation that timed out may still have switched: the device's state says.
          const switched =
            this.deviceOrNull(t.device_id)?.activeVariant?.artifactSha256 ===
            this.rollouts.get(rolloutId)?.artifact_sha256;
          // Retried only while the device is known not to run the variant, and not after an
          // abort asked for its rollback.
          if (!switched && t.rollback === null && retried({ step: 'activate' })) break;
          update({
            step: 'failed',
            error: `activate: ${failure}`,
            switched: switched ? 1 : 0,
            ...(t.rollback === 'needed' && !switched ? { rollback: null } : {}),
          });
        }
        break;
      case 'rollback':
        if (ok) update({ step: 'rolled-back', rollback: 'done', switched: 0 });
        else if (!retried({ rollback: 'needed' }))
          update({ rollback: 'failed', error: `rollback: ${failure}` });
        break;
    }
    return violation;
  }

  /** Deploy and activate report finer steps (fetch, verify, load, self-test) as progress. */
  private refreshSteps(rolloutId: string): void {
    const stale = this.rollouts
      .progressSteps(rolloutId)
      .filter(
        (p) =>
          ['fetch', 'verify', 'load', 'self-test', 'activate'].includes(p.step) &&
          p.current !== p.step,
      );
    if (stale.length === 0) return;
    const now = this.clock.now();
    this.database.write('rollout.progress', () => {
      for (const c of stale)
        this.rollouts.updateTarget(rolloutId, c.device_id, { step: c.step as TargetStep }, now);
    });
  }

  private sendRollbacks(rollout: RolloutRow): void {
    const now = this.clock.now();
    for (const t of this.rollouts.targets(rollout.id)) {
      if (t.rollback !== 'needed' || t.phase !== null) continue;
      if (t.retry_at !== null && t.retry_at > now) continue;
      if (t.switched !== 1) {
        this.database.write('rollout.target', () =>
          this.rollouts.updateTarget(rollout.id, t.device_id, { rollback: null }, this.clock.now()),
        );
        continue;
      }
      if (!t.previous_sha256) {
        this.database.write('rollout.target', () =>
          this.rollouts.updateTarget(
            rollout.id,
            t.device_id,
            { rollback: 'failed', error: 'no previous variant to roll back to' },
            this.clock.now(),
          ),
        );
        continue;
      }
      this.send(
        rollout,
        t.device_id,
        { phase: 'rollback', rollback: 'sent' },
        {
          type: 'rollback',
          to: {
            sha256: t.previous_sha256,
            ...(t.previous_variant_id ? { variantId: t.previous_variant_id } : {}),
          },
        },
        ROLLBACK_TTL_MS,
      );
    }
  }

  /**
   * The previous variant's predictions on the probe batch, published as a labelled sample.
   * Built once per (rollout, previous artifact); null when the previous artifact is unknown
   * here or has another input shape (the agreement rule then cannot judge that device).
   */
  private async probeFor(rollout: RolloutRow, previousSha256: string): Promise<ProbeSample | null> {
    let probe = this.rollouts.probe(rollout.id, previousSha256);
    if (!probe) {
      let sampleSha: string | null = null;
      let error: string | null = null;
      try {
        const previous = this.artifacts.read(previousSha256);
        const bytes = await buildDriftProbe(
          previous,
          JSON.parse(rollout.input_shape_json) as number[],
          PROBE_COUNT,
        );
        const stored = this.artifacts.storeBuffer(bytes);
        this.database.write('rollout.probe', () =>
          this.artifacts.record(stored, 'application/vnd.edgecompress.sample'),
        );
        sampleSha = stored.sha256;
      } catch (err) {
        error = (err as Error).message;
        this.logger.warn({ rolloutId: rollout.id, previousSha256, err: error }, 'no drift probe');
      }
      this.database.write('rollout.probe', () =>
        this.rollouts.insertProbe({
          rollout_id: rollout.id,
          previous_sha256: previousSha256,
          sample_sha256: sampleSha,
          count: PROBE_COUNT,
          error,
        }),
      );
      probe = this.rollouts.probe(rollout.id, previousSha256)!;
    }
    if (!probe.sample_sha256) return null;
    if (!this.publishedSamples.has(probe.sample_sha256)) {
      await this.artifacts.publish(probe.sample_sha256);
      this.publishedSamples.add(probe.sample_sha256);
    }
    return { sha256: probe.sample_sha256, count: probe.count };
  }

  private storedP50(deviceId: string, sha256: string): number | null {
    const found = this.measurements
      .query({ deviceId, limit: 500 })
      .find(
        (m) => m.source === 'measured' && m.artifactSha256 === sha256 && m.latencyMs.p50 !== null,
      );
    return found?.latencyMs.p50 ?? null;
  }

  /**
   * A write that joins the caller's transaction when there is one (a pass sends a wave's
   * commands in one `rollout.steps` transaction; a savepoint per command bought nothing).
   */
  private writeWithin<T>(kind: string, work: () => T): T {
    return this.database.db.inTransaction ? work() : this.database.write(kind, work);
  }

  private deviceOrNull(id: string): DeviceView | null {
    return this.devices.exists(id) ? this.devices.get(id) : null;
  }
}

interface ProbeSample {
  sha256: string;
  count: number;
}

function strategyOf(rollout: RolloutRow): RolloutStrategy {
  return JSON.parse(rollout.strategy_json) as RolloutStrategy;
}

/** Whether the device marked its error retryable (the outbox keeps `{ code, retryable }`). */
function reportedRetryable(finished: FinishedCommandRow): boolean {
  if (!finished.result_json) return false;
  const result = JSON.parse(finished.result_json) as { retryable?: unknown } | null;
  return result?.retryable === true;
}

function rulesOf(rollout: RolloutRow): AbortRules {
  return JSON.parse(rollout.abort_rules_json) as AbortRules;
}
