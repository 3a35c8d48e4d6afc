import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import {
  LatencyCalibration,
  onnxWorkload,
  predictorReport,
  workloadTerms,
  graphSeconds,
  type CorrectionFactors,
  type CorrectionFit,
  type LatencyObservation,
  type LayerWorkload,
  type ProfilePredictorQuality,
} from '@edgecompress/profiles';
import { createHash } from 'node:crypto';
import { ArtifactsService } from '../artifacts/artifacts.service';
import { CLOCK, type Clock } from '../common/clock';
import { invalid } from '../common/domain-errors';
import { LOGGER, type Logger } from '../common/logger';
import { CommandsService } from '../commands/commands.service';
import { SqliteDatabase } from '../database/sqlite.database';
import { ProfilesService } from '../profiles/profiles.service';
import { LatencyMetrics } from './latency.metrics';
import { LatencyRepository } from './latency.repository';

/** What `GET /api/v1/profiles/:id/predictor` answers. */
export interface PredictorView {
  profileId: string;
  /** True once the class has factors fitted from measurements. */
  calibrated: boolean;
  mode: 'roofline' | 'scale' | 'identity';
  factors: CorrectionFactors;
  devices: { deviceId: string; samples: number; mode: string; factors: CorrectionFactors }[];
  /** Stored (graph, measured latency) pairs of this class. */
  pairs: number;
  quality: {
    heldOut: ProfilePredictorQuality['heldOut'];
    uncalibrated: ProfilePredictorQuality['uncalibrated'];
  };
  fittedAt: string | null;
}

/** Newest pairs a fit uses: with one row per distinct graph, a class fits in well under a second. */
const MAX_PAIRS = 2000;
/** Measured variants whose workload is extracted from their artifact per refit. */
const BACKFILL_PER_REFIT = 20;
const REFIT_DEBOUNCE_MS = 1000;
const WORKLOAD_CACHE_SIZE = 64;

/**
 * The roofline predictor with calibration from the fleet's measurements. Every successful
 * benchmark schedules a (debounced) re-fit of the correction factors per device class and per
 * device; the fit and its held-out quality are stored, so a restart predicts at once.
 */
@Injectable()
export class LatencyPredictorService implements OnModuleInit, OnApplicationShutdown {
  private calibration = new LatencyCalibration(new Map(), new Map());
  private quality = new Map<string, ProfilePredictorQuality>();
  private fittedAt: number | null = null;
  private refitTimer: unknown = null;
  private refitting: Promise<void> | null = null;
  private refitAgain = false;
  private unsubscribe: (() => void) | null = null;
  /** Workloads of recently seen graphs by content hash (import is the costly part). */
  private readonly workloads = new Map<string, LayerWorkload[]>();

  constructor(
    private readonly repository: LatencyRepository,
    private readonly profiles: ProfilesService,
    private readonly artifacts: ArtifactsService,
    private readonly commands: CommandsService,
    private readonly database: SqliteDatabase,
    private readonly metrics: LatencyMetrics,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.load();
    this.unsubscribe = this.commands.onCompleted((c) => {
      if (c.kind === 'benchmark' && c.status === 'succeeded') this.scheduleRefit();
    });
  }

  onApplicationShutdown(): void {
    this.unsubscribe?.();
    if (this.refitTimer !== null) this.clock.clearTimeout(this.refitTimer);
    this.refitTimer = null;
  }

  /**
   * Per-node workload of an ONNX graph; throws `invalid` naming the problem when the file is not
   * a graph the engine can import.
   */
  workloadOf(onnx: Buffer): LayerWorkload[] {
    const key = createHash('sha256').update(onnx).digest('hex');
    const known = this.workloads.get(key);
    if (known) return known;
    let workload: LayerWorkload[];
    try {
      workload = onnxWorkload(onnx);
    } catch (err) {
      throw invalid(`cannot predict latency of this ONNX graph: ${(err as Error).message}`);
    }
    if (this.workloads.size >= WORKLOAD_CACHE_SIZE) {
      const oldest = this.workloads.keys().next().value;
      if (oldest !== undefined) this.workloads.delete(oldest);
    }
    this.workloads.set(key, workload);
    return workload;
  }

  /** Keeps a measured artifact's workload for calibration (no-op when already stored). */
  rememberWorkload(artifactSha256: string, workload: readonly LayerWorkload[]): void {
    if (this.repository.hasWorkload(artifactSha256)) return;
    this.database.write('latency.workload', () =>
      this.repository.insertWorkload(artifactSha256, JSON.stringify(workload), this.clock.now()),
    );
  }

  predict(onnx: Buffer, profileId: string, deviceId?: string): { ms: number; calibrated: boolean } {
    return this.predictWorkload(this.workloadOf(onnx), profileId, deviceId);
  }

  /**
   * Prediction for a stored artifact (a variant or a measured candidate), for reports beside
   * its measurements: from the kept workload, else from the file (then kept). Null when the
   * artifact is not an ONNX graph the predictor can price.
   */
  predictArtifact(
    artifactSha256: string,
    profileId: string,
    deviceId?: string,
  ): { ms: number; calibrated: boolean } | null {
    const stored = this.repository.workload(artifactSha256);
    let workload = stored === undefined ? null : parseWorkload(stored);
    if (stored === undefined) {
      try {
        if (this.artifacts.get(artifactSha256).media_type !== 'application/onnx') return null;
        workload = this.workloadOf(this.artifacts.read(artifactSha256));
        this.rememberWorkload(artifactSha256, workload);
      } catch {
        return null;
      }
    }
    return workload ? this.predictWorkload(workload, profileId, deviceId) : null;
  }

  predictWorkload(
    workload: readonly LayerWorkload[],
    profileId: string,
    deviceId?: string,
  ): { ms: number; calibrated: boolean } {
    const profile = this.profiles.get(profileId);
    const device = deviceId === undefined ? undefined : this.calibration.perDevice.get(deviceId);
    const calibrated =
      (device !== undefined && device.profileId === profileId) ||
      (this.calibration.classes.get(profileId)?.mode ?? 'identity') !== 'identity';
    const factors = this.calibration.factorsFor(profileId, deviceId);
    return { ms: 1e3 * graphSeconds(workloadTerms(workload, profile), factors), calibrated };
  }

  view(profileId: string): PredictorView {
    this.profiles.get(profileId); // 404 for an unknown profile
    const fit = this.calibration.classes.get(profileId);
    const quality = this.quality.get(profileId);
    const none = { count: 0, within10Percent: 0, mapePercent: 0, maxErrorPercent: 0 };
    return {
      profileId,
      calibrated: (fit?.mode ?? 'identity') !== 'identity',
      mode: fit?.mode ?? 'identity',
      factors: this.calibration.factorsFor(profileId),
      devices: [...this.calibration.perDevice]
        .filter(([, d]) => d.profileId === profileId)
        .map(([deviceId, d]) => ({
          deviceId,
          samples: d.fit.samples,
          mode: d.fit.mode,
          factors: d.fit.factors,
        })),
      pairs: quality?.pairs ?? 0,
      quality: { heldOut: quality?.heldOut ?? none, uncalibrated: quality?.uncalibrated ?? none },
      fittedAt: this.fittedAt === null ? null : new Date(this.fittedAt).toISOString(),
    };
  }

  /** Re-fits after a quiet second, so a burst of reports costs one fit. */
  scheduleRefit(): void {
    if (this.refitTimer !== null) return;
    this.refitTimer = this.clock.setTimeout(() => {
      this.refitTimer = null;
      void this.refit().catch((err: Error) =>
        this.logger.warn({ err: err.message }, 'latency predictor re-fit failed'),
      );
    }, REFIT_DEBOUNCE_MS);
  }

  /**
   * Fits the calibration on the stored pairs and stores it with its quality. One device class
   * at a time, yielding to the event loop between them, so MQTT and HTTP keep flowing; a call
   * while a fit runs waits for it and then fits once more (it may have missed new pairs).
   */
  async refit(): Promise<void> {
    if (this.refitting) {
      this.refitAgain = true;
      return this.refitting;
    }
    this.refitting = (async () => {
      do {
        this.refitAgain = false;
        await this.fitOnce();
      } while (this.refitAgain);
    })().finally(() => {
      this.refitting = null;
    });
    return this.refitting;
  }

  private async fitOnce(): Promise<void> {
    this.backfillWorkloads();
    const profiles = this.profiles.list();
    const known = new Set(profiles.map((p) => p.id));
    // One parsed workload per artifact: observations of one graph share it, and the fit
    // merges them into one row (see libs/profiles latency-calibration).
    const workloads = new Map<string, LayerWorkload[] | null>();
    const byProfile = new Map<string, LatencyObservation[]>();
    let pairs = 0;
    for (const row of this.repository.observations(MAX_PAIRS)) {
      if (!known.has(row.profile_id)) continue; // a profile since removed
      if (!workloads.has(row.artifact_sha256))
        workloads.set(row.artifact_sha256, parseWorkload(row.workload_json));
      const workload = workloads.get(row.artifact_sha256);
      if (!workload) continue;
      const group = byProfile.get(row.profile_id) ?? [];
      group.push({
        workload,
        latencyMs: row.p50_ms,
        profileId: row.profile_id,
        deviceId: row.device_id,
      });
      byProfile.set(row.profile_id, group);
      pairs++;
    }
    const classes = new Map<string, CorrectionFit>();
    const perDevice = new Map<string, { profileId: string; fit: CorrectionFit }>();
    const quality: ProfilePredictorQuality[] = [];
    for (const group of byProfile.values()) {
      const report = predictorReport(group, profiles);
      for (const [id, fit] of report.calibration.classes) classes.set(id, fit);
      for (const [id, device] of report.calibration.perDevice) perDevice.set(id, device);
      quality.push(...report.quality);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    const calibration = new LatencyCalibration(classes, perDevice);
    const now = this.clock.now();
    this.database.write('latency.calibration', () =>
      this.repository.saveCalibration({
        calibration_json: JSON.stringify(calibration),
        quality_json: JSON.stringify(quality),
        pairs,
        fitted_at: now,
      }),
    );
    this.apply(calibration, quality, now);
  }

  private load(): void {
    const row = this.repository.calibration();
    if (!row) return;
    try {
      const calibration = LatencyCalibration.fromJSON(JSON.parse(row.calibration_json));
      this.apply(
        calibration,
        JSON.parse(row.quality_json) as ProfilePredictorQuality[],
        row.fitted_at,
      );
    } catch (err) {
      // A stored fit that no longer parses is re-derived from the measurements.
      this.logger.warn(
        { err: (err as Error).message },
        'stored calibration unreadable; re-fitting',
      );
      this.scheduleRefit();
    }
  }

  private apply(
    calibration: LatencyCalibration,
    quality: readonly ProfilePredictorQuality[],
    fittedAt: number,
  ): void {
    this.calibration = calibration;
    this.quality = new Map(quality.map((q) => [q.profileId, q]));
    this.metrics.predictorMape.reset();
    for (const q of quality)
      if (q.heldOut.count > 0)
        this.metrics.predictorMape.set({ profile: q.profileId }, q.heldOut.mapePercent);
    this.fittedAt = fittedAt;
  }

  /** Variants benchmarked by rollouts or by hand: extract their workload from the artifact. */
  private backfillWorkloads(): void {
    for (const sha of this.repository.measuredWithoutWorkload(BACKFILL_PER_REFIT)) {
      let workload: LayerWorkload[] | null = null;
      try {
        workload = this.workloadOf(this.artifacts.read(sha));
      } catch {
        workload = null; // not importable or gone: stored as empty so it is not retried
      }
      this.database.write('latency.workload', () =>
        this.repository.insertWorkload(sha, JSON.stringify(workload ?? []), this.clock.now()),
      );
    }
  }
}

function parseWorkload(json: string): LayerWorkload[] | null {
  try {
    const value = JSON.parse(json) as unknown;
    return Array.isArray(value) && value.length > 0 ? (value as LayerWorkload[]) : null;
  } catch {
    return null;
  }
}
