/**
 * Compression jobs: accepted requests are checked (variant, dataset, objective, devices) and
 * queued in SQLite; the runner moves them through running to a finished state. Rounds reported
 * by a job are recorded once each (a resumed job may report a round again), and every round
 * that produced a model becomes a variant of the base model with the job in its provenance.
 */
import { Inject, Injectable } from '@nestjs/common';
import { type Objective, ObjectiveError, validateObjective } from '@edgecompress/compress';
import { readFileSync } from 'node:fs';
import { AuditLogRepository } from '../common/audit-log.repository';
import { CLOCK, type Clock } from '../common/clock';
import { conflict, invalid, notFound } from '../common/domain-errors';
import { newId } from '../common/ids';
import { SqliteDatabase } from '../database/sqlite.database';
import { isEmptySelector } from '../devices/device-selector';
import { DevicesService } from '../devices/devices.service';
import { ModelsService, type VariantView } from '../models/models.service';
import { ProfilesService } from '../profiles/profiles.service';
import type { CreateJobDto } from './dto/create-job.dto';
import { JobDeployableStore } from './job-deployable.store';
import { JobEventsBus } from './job-events.bus';
import {
  FINISHED_STATES,
  type JobProgress,
  type JobRoundRecord,
  type JobSpec,
  type JobState,
  type JobView,
} from './job.types';
import { type JobRow, JobsRepository } from './jobs.repository';
import type { WorkerRound } from './worker/job-worker.protocol';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Progress is streamed at every step but written to the database at most this often. */
const PROGRESS_WRITE_INTERVAL_MS = 1000;

@Injectable()
export class JobsService {
  private readonly progressWrittenAt = new Map<string, number>();
  private readonly queuedListeners = new Set<() => void>();
  private readonly cancelListeners = new Set<(id: string) => void>();

  constructor(
    private readonly jobs: JobsRepository,
    private readonly models: ModelsService,
    private readonly devices: DevicesService,
    private readonly profiles: ProfilesService,
    private readonly events: JobEventsBus,
    private readonly deployable: JobDeployableStore,
    private readonly database: SqliteDatabase,
    private readonly audit: AuditLogRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** The runner listens here to start queued work. */
  onQueued(listener: () => void): void {
    this.queuedListeners.add(listener);
  }

  create(dto: CreateJobDto): JobView {
    const variant = this.models.getVariant(dto.variantId);
    const provenance = (variant.provenance ?? {}) as { importable?: boolean };
    if (provenance.importable === false) {
      throw invalid(
        `variant "${variant.id}" cannot be compressed: the engine cannot import its ONNX operators`,
      );
    }
    const spec: JobSpec = JSON.parse(JSON.stringify(dto)) as JobSpec;
    if (
      spec.pipeline.indexOf('sqakd') >= 0 &&
      spec.pipeline.indexOf('sqakd') < spec.pipeline.indexOf('aap')
    ) {
      throw invalid('AAP prunes float models: put aap before sqakd in the pipeline');
    }
    this.checkObjective(spec);
    const id = newId('job');
    const now = this.clock.now();
    const name = spec.name ?? `${spec.pipeline.join('+')} of ${variant.name}`;
    this.database.write('job.create', () => {
      this.jobs.insert({
        id,
        name,
        state: 'queued',
        model_id: variant.modelId,
        variant_id: variant.id,
        spec_json: JSON.stringify(spec),
        progress: { step: 'queued', fraction: 0, message: 'waiting for a free worker' },
        result_variant_id: null,
        error: null,
        created_at: now,
        started_at: null,
        finished_at: null,
      });
      this.audit.record('api', 'job.create', id, {
        variantId: variant.id,
        pipeline: spec.pipeline,
      });
    });
    const view = this.get(id);
    this.events.emit(id, { kind: 'state', data: view });
    for (const listener of this.queuedListeners) listener();
    return view;
  }

  list(limit = 100): JobView[] {
    return this.jobs.list(limit).map((row) => this.view(row));
  }

  get(id: string): JobView {
    return this.view(this.require(id));
  }

  log(id: string): { at: string; message: string }[] {
    this.require(id);
    return this.jobs.logLines(id).map((l) => ({ at: iso(l.at)!, message: l.message }));
  }

  spec(id: string): JobSpec {
    return JSON.parse(this.require(id).spec_json) as JobSpec;
  }

  row(id: string): JobRow {
    return this.require(id);
  }

  /**
   * Cancels a queued job at once; a running one is marked and its process is stopped by the
   * runner, which then records it as cancelled.
   */
  cancel(id: string): JobView {
    let wasRunning = false;
    this.database.write('job.cancel', () => {
      const row = this.require(id);
      if (FINISHED_STATES.includes(row.state)) {
        throw conflict(`job "${id}" already ${row.state}`);
      }
      this.audit.record('api', 'job.cancel', id);
      if (row.state === 'queued') {
        this.jobs.setState(id, 'cancelled', { finishedAt: this.clock.now() });
        this.jobs.log(id, 'cancelled before it started', this.clock.now());
      } else {
        wasRunning = true;
        this.jobs.requestCancel(id);
      }
    });
    if (!wasRunning) this.emitState(id);
    for (const listener of this.cancelListeners) listener(id);
    return this.get(id);
  }

  /** The runner listens here to stop a running job's process. */
  onCancelRequested(listener: (id: string) => void): void {
    this.cancelListeners.add(listener);
  }

  // ---- called by the runner -------------------------------------------------------------

  claimNext(): JobRow | undefined {
    const row = this.database.write('job.claim', () => {
      const claimed = this.jobs.claimNext(this.clock.now());
      if (claimed) {
        this.jobs.log(
          claimed.id,
          claimed.attempts > 1 ? `restarted (attempt ${claimed.attempts})` : 'started',
          this.clock.now(),
        );
      }
      return claimed;
    });
    if (row) this.emitState(row.id);
    return row;
  }

  /**
   * Jobs a previous process left running go back to the queue, to resume from their last round
   * (or end cancelled, when a cancel was asked for). Returns how many were requeued.
   */
  requeueInterrupted(): number {
    const rows = this.jobs.inState('running');
    this.database.write('job.requeue', () => {
      for (const row of rows) {
        if (row.cancel_requested) {
          // Cancelled before the restart could stop it: it stays cancelled.
          this.jobs.setState(row.id, 'cancelled', { finishedAt: this.clock.now() });
          this.jobs.log(row.id, 'cancelled (the restart stopped it)', this.clock.now());
          continue;
        }
        this.jobs.setState(row.id, 'queued', {});
        this.jobs.log(
          row.id,
          'interrupted by a restart; will resume from its last round',
          this.clock.now(),
        );
      }
    });
    return rows.filter((r) => !r.cancel_requested).length;
  }

  finish(id: string, state: Exclude<JobState, 'queued' | 'running'>, error?: string): void {
    this.database.write('job.finish', () => {
      const row = this.require(id);
      if (FINISHED_STATES.includes(row.state)) return;
      const rounds = this.jobs.rounds(id);
      const final = [...rounds]
        .reverse()
        .find((r) => JSON.parse(r.record_json).verdict === 'final');
      if (state === 'succeeded' && !final?.variant_id) {
        state = 'failed';
        error = 'the job ended without a final model';
      }
      this.jobs.setState(id, state, {
        error: error ?? null,
        resultVariantId: state === 'succeeded' ? final!.variant_id : null,
        finishedAt: this.clock.now(),
      });
      this.jobs.log(id, error ? `${state}: ${error}` : state, this.clock.now());
    });
    this.progressWrittenAt.delete(id);
    this.emitState(id);
  }

  addLog(id: string, message: string): void {
    this.database.write('job.log', () => this.jobs.log(id, message, this.clock.now()));
  }

  setProgress(id: string, progress: JobProgress): void {
    const now = this.clock.now();
    const last = this.progressWrittenAt.get(id) ?? 0;
    if (now - last >= PROGRESS_WRITE_INTERVAL_MS || progress.fraction >= 1) {
      this.progressWrittenAt.set(id, now);
      this.database.write('job.progress', () => this.jobs.setProgress(id, progress));
    }
    this.events.emit(id, { kind: 'progress', data: progress });
  }

  /**
   * Records one reported round, once: a round already recorded is ignored, and a variant the job
   * already stored for it (a restart between storing and recording) is reused, not duplicated.
   */
  async recordRound(id: string, message: WorkerRound): Promise<void> {
    const row = this.require(id);
    const { record } = message;
    if (this.jobs.round(id, record.method, record.round)) return;
    let variantId: string | null = null;
    let onnxVariantId: string | null = null;
    if (record.verdict === 'baseline') {
      variantId = row.variant_id;
    } else if (message.sameAsRound !== null) {
      const same = this.jobs.round(id, record.method, message.sameAsRound);
      variantId =
        message.sameAsRound === 0
          ? (same?.variant_id ?? row.variant_id)
          : (same?.variant_id ?? null);
      onnxVariantId = same
        ? ((JSON.parse(same.record_json) as JobRoundRecord).onnxVariantId ?? null)
        : null;
    } else if (message.variantPath) {
      const variant = await this.storeVariant(row, message);
      variantId = variant.id;
      if (message.onnxPath) {
        onnxVariantId = this.deployable.store(
          {
            modelId: row.model_id,
            ofVariantId: variant.id,
            name: `${variant.name} (onnx)`,
            method: variant.method,
            options: variant.options as Record<string, unknown>,
            provenance: variant.provenance as Record<string, unknown>,
            accuracy: variant.accuracy,
            params: variant.params,
            flops: variant.flops,
          },
          readFileSync(message.onnxPath),
        );
      }
    }
    const full: JobRoundRecord = {
      ...record,
      variantId,
      ...(onnxVariantId ? { onnxVariantId } : {}),
    };
    const stored = this.database.write('job.round', () => {
      if (this.jobs.round(id, record.method, record.round)) return false;
      this.jobs.insertRound(id, full, this.clock.now());
      return true;
    });
    if (stored) this.events.emit(id, { kind: 'round', data: full });
  }

  private async storeVariant(row: JobRow, message: WorkerRound): Promise<VariantView> {
    const { record } = message;
    const existing = this.models.listVariants({ modelId: row.model_id }).find((v) => {
      const p = v.provenance as { jobId?: string; method?: string; round?: number };
      return p.jobId === row.id && p.method === record.method && p.round === record.round;
    });
    if (existing) return existing;
    const spec = JSON.parse(row.spec_json) as JobSpec;
    const startFrom = message.options.startFrom;
    const parent =
      typeof startFrom === 'number' && startFrom > 0
        ? (this.jobs.round(row.id, record.method, startFrom)?.variant_id ?? row.variant_id)
        : record.method === 'sqakd'
          ? (this.lastVariant(row.id) ?? row.variant_id)
          : row.variant_id;
    return this.models.addVariant(
      row.model_id,
      {
        name: `${row.name} ${record.method} round ${record.round}`,
        parentVariantId: parent,
        method: record.method,
        options: { ...(spec.options?.[record.method] ?? {}), ...message.options },
        provenance: {
          jobId: row.id,
          method: record.method,
          round: record.round,
          objective: spec.objective,
          dataset: spec.dataset,
          validationAccuracy: record.accuracy,
          latencyMs: record.latencyMs,
          latencySource: record.latencySource,
          predictedMs: record.predictedMs,
          profileId: spec.objective.device?.profileId ?? null,
        },
        params: record.params,
        flops: record.flops,
        accuracy: record.testAccuracy ?? record.accuracy,
      },
      readFileSync(message.variantPath!),
    );
  }

  private lastVariant(jobId: string): string | null {
    const rows = this.jobs.rounds(jobId).filter((r) => r.variant_id !== null);
    return rows.at(-1)?.variant_id ?? null;
  }

  /** The objective as the compression library will judge it, checked before anything is queued. */
  private checkObjective(spec: JobSpec): void {
    const o = spec.objective;
    const selector = o.device;
    const wantsLatency =
      o.metric === 'latency' || (selector !== undefined && !isEmptySelector(selector));
    if (wantsLatency && (!selector || isEmptySelector(selector))) {
      throw invalid(
        'the latency objective needs objective.device: a profileId or a device selector',
      );
    }
    if (selector?.profileId && !this.profiles.exists(selector.profileId)) {
      throw notFound('profile', selector.profileId);
    }
    if (wantsLatency && o.latencySource === 'predicted' && !this.profileFor(spec)) {
      throw invalid(
        'predicted latency needs a device profile: give objective.device.profileId, or select devices that have one',
      );
    }
    const objective: Objective = {
      metric: o.metric,
      ...(o.target !== undefined ? { target: o.target } : {}),
      maxAccuracyDrop: o.maxAccuracyDrop,
      ...(wantsLatency ? { device: deviceKey(spec) ?? undefined } : {}),
      latencySource: o.latencySource,
    };
    try {
      validateObjective(objective);
    } catch (err) {
      if (err instanceof ObjectiveError) throw invalid(err.message);
      throw err;
    }
  }

  /** The profile predictions use: the selector's, or that of the first selected device with one. */
  profileFor(spec: JobSpec): string | null {
    const selector = spec.objective.device;
    if (!selector) return null;
    if (selector.profileId) return selector.profileId;
    return this.devices.select(selector).find((d) => d.profile)?.profile?.id ?? null;
  }

  private emitState(id: string): void {
    this.events.emit(id, { kind: 'state', data: this.get(id) });
  }

  private require(id: string): JobRow {
    const row = this.jobs.get(id);
    if (!row) throw notFound('job', id);
    return row;
  }

  private view(row: JobRow): JobView {
    const spec = JSON.parse(row.spec_json) as JobSpec;
    const rounds = this.jobs.rounds(row.id).map((r) => ({
      ...(JSON.parse(r.record_json) as JobRoundRecord),
      variantId: r.variant_id,
    }));
    const candidates = [
      ...new Set(
        rounds.flatMap((r) =>
          [r.variantId !== row.variant_id ? r.variantId : null, r.onnxVariantId].filter(
            (v): v is string => typeof v === 'string',
          ),
        ),
      ),
    ];
    const final = row.result_variant_id
      ? rounds.findLast((r) => r.verdict === 'final' && r.variantId === row.result_variant_id)
      : undefined;
    return {
      id: row.id,
      name: row.name,
      state: row.state,
      variantId: row.variant_id,
      modelId: row.model_id,
      pipeline: spec.pipeline,
      objective: spec.objective,
      progress: JSON.parse(row.progress_json) as JobProgress,
      rounds,
      resultVariantId: row.result_variant_id,
      objectiveMet: final?.outcome?.met ?? null,
      objectiveNote: final?.outcome?.note ?? null,
      deployableVariantId: row.result_variant_id
        ? (final?.onnxVariantId ??
          (this.models.getVariant(row.result_variant_id).format === 'onnx'
            ? row.result_variant_id
            : null))
        : null,
      candidateVariantIds: candidates,
      error: row.error,
      createdAt: iso(row.created_at)!,
      startedAt: iso(row.started_at),
      finishedAt: iso(row.finished_at),
    };
  }
}

/** How a job's objective names its target devices (shown in summaries; the oracle's device id). */
export function deviceKey(spec: JobSpec): string | null {
  const s = spec.objective.device;
  if (!s || isEmptySelector(s)) return null;
  if (s.profileId) return s.profileId;
  if (s.group) return `group:${s.group}`;
  if (s.tags?.length) return `tags:${s.tags.join('+')}`;
  return `devices:${s.deviceIds!.join('+')}`;
}
