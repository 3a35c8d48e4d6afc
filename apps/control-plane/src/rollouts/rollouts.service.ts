import { Inject, Injectable } from '@nestjs/common';
import { ArtifactsService } from '../artifacts/artifacts.service';
import { CLOCK, type Clock } from '../common/clock';
import { AuditLogRepository } from '../common/audit-log.repository';
import { conflict, invalid, notFound } from '../common/domain-errors';
import { newId } from '../common/ids';
import { SqliteDatabase } from '../database/sqlite.database';
import { isEmptySelector, type DeviceSelector } from '../devices/device-selector';
import { DevicesService } from '../devices/devices.service';
import { ModelsService } from '../models/models.service';
import type { AbortRules } from './abort-rules';
import { readModelInput } from './drift-probe.runner';
import { RolloutDriver } from './rollout.driver';
import { RolloutEventsHub, type RolloutEvent } from './rollout-events.hub';
import { planWaves, type RolloutStrategy } from './rollout-plan';
import {
  FAILED_STEPS,
  rolloutView,
  rolloutViewOf,
  type RolloutView,
  type TargetsDetail,
} from './rollout.view';
import { RolloutsRepository } from './rollouts.repository';

export interface CreateRolloutInput {
  variantId: string;
  selector: DeviceSelector;
  strategy: RolloutStrategy;
  abortRules?: AbortRules;
  deviceDeadlineMs?: number;
}

const DEFAULT_DEVICE_DEADLINE_MS = 10 * 60_000;

/** Creating, reading and steering rollouts; the driver moves them. */
@Injectable()
export class RolloutsService {
  constructor(
    private readonly rollouts: RolloutsRepository,
    private readonly driver: RolloutDriver,
    private readonly hub: RolloutEventsHub,
    private readonly devices: DevicesService,
    private readonly models: ModelsService,
    private readonly artifacts: ArtifactsService,
    private readonly audit: AuditLogRepository,
    private readonly database: SqliteDatabase,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Plans the waves (online devices first, so the canary can answer now), reads the variant's
   * input for the benchmarks, publishes the artifact, then stores everything in one
   * transaction. Nothing is sent before the rows exist.
   */
  async create(input: CreateRolloutInput, actor = 'api'): Promise<RolloutView> {
    const variant = this.models.getVariant(input.variantId);
    if (variant.format !== 'onnx')
      throw invalid(
        `variant "${variant.id}" is a ${variant.format} model; devices run ONNX variants`,
      );
    if (isEmptySelector(input.selector))
      throw invalid('selector must name devices, a group, tags or a profile');
    const devices = this.devices.select({
      ...input.selector,
      onlineOnly: input.selector.onlineOnly ?? false,
    });
    if (devices.length === 0) throw invalid('the selector matches no devices');
    const ordered = [
      ...devices.filter((d) => d.status === 'online'),
      ...devices.filter((d) => d.status !== 'online'),
    ].map((d) => d.id);
    const waves = planWaves(ordered, input.strategy);
    let modelInput;
    try {
      modelInput = await readModelInput(this.artifacts.read(variant.artifactSha256));
    } catch (err) {
      throw invalid(`variant "${variant.id}" cannot be loaded: ${(err as Error).message}`);
    }
    await this.artifacts.publish(variant.artifactSha256);
    const id = newId('rol');
    const now = this.clock.now();
    this.database.write('rollout.create', () => {
      this.rollouts.insertRollout({
        id,
        variant_id: variant.id,
        artifact_sha256: variant.artifactSha256,
        selector_json: JSON.stringify(input.selector),
        strategy_json: JSON.stringify(input.strategy),
        abort_rules_json: JSON.stringify(input.abortRules ?? {}),
        device_deadline_ms: input.deviceDeadlineMs ?? DEFAULT_DEVICE_DEADLINE_MS,
        input_name: modelInput.name,
        input_shape_json: JSON.stringify(modelInput.shape),
        state: 'running',
        reason: null,
        created_at: now,
        updated_at: now,
        finished_at: null,
      });
      for (const w of waves) {
        this.rollouts.insertWave({
          rollout_id: id,
          idx: w.index,
          label: w.label,
          percent: w.percent,
          state: 'pending',
          started_at: null,
          soak_until: null,
          finished_at: null,
        });
        for (const deviceId of w.deviceIds) this.rollouts.insertTarget(id, deviceId, w.index, now);
      }
      this.audit.record(actor, 'rollout.create', id, {
        variantId: variant.id,
        devices: ordered.length,
        waves: waves.map((w) => w.deviceIds.length),
      });
    });
    this.driver.kick();
    return this.get(id);
  }

  get(id: string, targets: TargetsDetail = 'all'): RolloutView {
    const row = this.rollouts.get(id);
    if (!row) throw notFound('rollout', id);
    const waves = this.rollouts.waves(id);
    if (targets === 'all') return rolloutView(row, waves, this.rollouts.targets(id));
    const listed = targets === 'failed' ? this.rollouts.targetsAt(id, FAILED_STEPS) : [];
    return rolloutViewOf(row, waves, this.rollouts.targetSteps(id), listed);
  }

  list(limit: number): RolloutView[] {
    return this.rollouts
      .list(limit)
      .map((row) => rolloutView(row, this.rollouts.waves(row.id), this.rollouts.targets(row.id)));
  }

  /** No new device steps or waves start while paused; commands already sent still finish. */
  pause(id: string, actor = 'api'): RolloutView {
    this.transition(id, 'running', 'paused', 'rollout.pause', actor);
    return this.get(id);
  }

  resume(id: string, actor = 'api'): RolloutView {
    this.transition(id, 'paused', 'running', 'rollout.resume', actor);
    this.driver.kick();
    return this.get(id);
  }

  abort(id: string, reason: string | undefined, actor = 'api'): RolloutView {
    const current = this.get(id);
    if (!this.driver.abort(id, reason?.trim() || `aborted by ${actor}`, actor))
      throw conflict(
        `rollout "${id}" is ${current.state}; only a running or paused rollout can be aborted`,
      );
    return this.get(id);
  }

  /** Live events of one rollout; the first is its current state. */
  watch(id: string, listener: (event: RolloutEvent) => void): () => void {
    const view = this.get(id);
    listener({ type: 'state', data: { id, state: view.state, reason: view.reason } });
    return this.hub.subscribe(id, view, listener);
  }

  private transition(
    id: string,
    from: 'running' | 'paused',
    to: 'running' | 'paused',
    action: string,
    actor: string,
  ): void {
    const now = this.clock.now();
    const moved = this.database.write(action, () => {
      if (!this.rollouts.get(id)) throw notFound('rollout', id);
      if (!this.rollouts.transition(id, [from], to, now)) return false;
      this.audit.record(actor, action, id, {});
      return true;
    });
    if (!moved) {
      const state = this.rollouts.get(id)!.state;
      throw conflict(
        `rollout "${id}" is ${state}; only a ${from} rollout can be ${to === 'paused' ? 'paused' : 'resumed'}`,
      );
    }
    if (this.hub.watching(id)) this.hub.offer(this.get(id));
  }
}
