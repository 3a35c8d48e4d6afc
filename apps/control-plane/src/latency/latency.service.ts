import { Inject, Injectable } from '@nestjs/common';
import { decodeOnnxModel } from '@edgecompress/engine';
import type { LayerWorkload } from '@edgecompress/profiles';
import { ArtifactsService } from '../artifacts/artifacts.service';
import { CLOCK, type Clock } from '../common/clock';
import { AuditLogRepository } from '../common/audit-log.repository';
import { DomainError, invalid } from '../common/domain-errors';
import { CommandsService } from '../commands/commands.service';
import { SqliteDatabase } from '../database/sqlite.database';
import { DeviceLifecycleEvents } from '../devices/device-lifecycle.events';
import { isEmptySelector, type DeviceSelector } from '../devices/device-selector';
import { DevicesService } from '../devices/devices.service';
import { runBenchmarkAttempt, type AttemptOutcome } from './device-benchmark.runner';
import { aggregateDeviceP50s } from './latency-aggregate';
import { LatencyMetrics } from './latency.metrics';
import { LatencyPredictorService } from './latency-predictor.service';
import { LatencyRepository } from './latency.repository';

export interface MeasureRequest {
  /** The candidate, exported float/QDQ ONNX. */
  onnx: Buffer;
  /** e.g. [1, 28, 28, 1], as the export expects (NHWC or NCHW as exported). */
  inputShape: number[];
  /** Target devices (group/tags/profile/ids). */
  selector: DeviceSelector;
  /** Devices to measure on (default 1). */
  k?: number;
  runs?: number;
  warmup?: number;
  timeBudgetMs?: number;
  /** Per device attempt (default 60 s). */
  timeoutMs?: number;
  /** Other devices tried when one fails or goes offline (default 2). */
  retries?: number;
  /** Wait this long for k online devices (default 30 s). */
  waitForDevicesMs?: number;
  fallback: 'fail' | 'predicted';
  /** For prediction/fallback when the selector names no profile. */
  profileId?: string;
  /** e.g. "job j_123 round 4", for the audit log. */
  label?: string;
}

export interface DeviceLatency {
  deviceId: string;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  cached: boolean;
  measurementId: number | null;
}

export interface LatencyAnswer {
  /** Median of the devices' p50s (or the prediction). */
  p50Ms: number;
  spreadMs: { min: number; max: number };
  perDevice: DeviceLatency[];
  source: 'measured' | 'predicted';
  /** The calibrated prediction for the same graph, for comparison. */
  predictedMs: number | null;
  artifactSha256: string;
}

/** No measurement could be had and the caller asked not to fall back to a prediction. */
export class LatencyUnavailableError extends DomainError {
  constructor(message: string) {
    super('conflict', message);
    this.name = 'LatencyUnavailableError';
  }
}

const DEFAULTS = {
  k: 1,
  retries: 2,
  timeoutMs: 60_000,
  waitForDevicesMs: 30_000,
  warmup: 5,
  runs: 50,
  timeBudgetMs: 10_000,
};

/**
 * Latency of a candidate graph as the fleet measures it. The candidate is stored and published
 * as a content-addressed artifact; k online devices of the selector benchmark it through the
 * command outbox; a device that fails, goes offline or times out is replaced by another of the
 * selector (up to `retries`); the answer is the median of the device p50s with their spread.
 * Measurements are cached by (artifact sha256, device) in the measurements table, so a
 * candidate is never measured twice on one device, also across concurrent requests.
 */
@Injectable()
export class LatencyService {
  /** Attempts in flight by `${sha}/${deviceId}`: a concurrent request joins, never repeats. */
  private readonly inflight = new Map<string, Promise<AttemptOutcome>>();

  constructor(
    private readonly artifacts: ArtifactsService,
    private readonly devices: DevicesService,
    private readonly commands: CommandsService,
    private readonly lifecycle: DeviceLifecycleEvents,
    private readonly predictor: LatencyPredictorService,
    private readonly repository: LatencyRepository,
    private readonly audit: AuditLogRepository,
    private readonly database: SqliteDatabase,
    private readonly metrics: LatencyMetrics,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async measure(req: MeasureRequest, signal?: AbortSignal): Promise<LatencyAnswer> {
    validate(req);
    signal?.throwIfAborted();
    const { sha, release } = await this.publishCandidate(req.onnx);
    try {
      return await this.measurePublished(req, sha, signal);
    } finally {
      release();
    }
  }

  /** The rest of `measure`, for a candidate already stored, published and pinned. */
  private async measurePublished(
    req: MeasureRequest,
    sha: string,
    signal: AbortSignal | undefined,
  ): Promise<LatencyAnswer> {
    const k = req.k ?? DEFAULTS.k;
    const retries = req.retries ?? DEFAULTS.retries;
    const waitMs = req.waitForDevicesMs ?? DEFAULTS.waitForDevicesMs;
    const workload = this.tryWorkload(req.onnx, sha);
    this.database.write('latency.measure', () =>
      this.audit.record('latency', 'latency.measure', sha, {
        label: req.label ?? null,
        selector: req.selector,
        k,
      }),
    );

    const perDevice: DeviceLatency[] = [];
    const tried = new Set<string>();
    for (const device of this.devices.select(req.selector)) {
      if (perDevice.length >= k) break;
      const cached = this.repository.cached(sha, device.id);
      if (!cached) continue;
      tried.add(device.id);
      this.metrics.deviceResults.inc({ outcome: 'cached' });
      perDevice.push({
        deviceId: device.id,
        p50Ms: cached.p50_ms,
        p90Ms: cached.p90_ms ?? cached.p50_ms,
        p99Ms: cached.p99_ms ?? cached.p50_ms,
        cached: true,
        measurementId: cached.id,
      });
    }

    const running = new Map<string, Promise<AttemptOutcome>>();
    const reasons: string[] = [];
    let failures = 0;
    const waitDeadline = this.clock.now() + waitMs;
    while (perDevice.length < k) {
      signal?.throwIfAborted();
      if (failures <= retries) {
        const free = this.devices
          .select({ ...req.selector, onlineOnly: true })
          .filter((d) => !tried.has(d.id));
        for (const device of free.slice(0, k - perDevice.length - running.size)) {
          tried.add(device.id);
          running.set(device.id, this.attempt(sha, device.id, req, signal));
        }
      }
      // More devices can only join while the selector still has some not tried (online or not).
      const canGrow =
        failures <= retries &&
        this.clock.now() < waitDeadline &&
        perDevice.length + running.size < k &&
        this.devices.select(req.selector).some((d) => !tried.has(d.id));
      if (running.size === 0 && !canGrow) break;
      // Wake for a finished attempt, for the caller's abort (an attempt joined from another
      // request does not watch this signal), or for a device coming online while more are needed.
      const wake =
        canGrow || signal
          ? this.wakeOn(canGrow ? waitDeadline - this.clock.now() : null, signal)
          : null;
      const outcome = await Promise.race([
        ...running.values(),
        ...(wake ? [wake.promise] : []),
      ]).finally(() => wake?.cancel());
      if (outcome === 'wake') continue;
      running.delete(outcome.deviceId);
      if (outcome.ok) {
        this.metrics.deviceResults.inc({ outcome: 'measured' });
        const row = this.repository.byCommand(outcome.commandId);
        const { p50, p90, p99 } = outcome.report.latencyMs;
        perDevice.push({
          deviceId: outcome.deviceId,
          p50Ms: p50,
          p90Ms: p90,
          p99Ms: p99,
          cached: false,
          measurementId: row?.id ?? null,
        });
      } else if (signal?.aborted) {
        continue; // the caller gave up: not the device's failure (thrown at the loop's top)
      } else {
        failures++;
        this.metrics.deviceResults.inc({ outcome: 'failed' });
        reasons.push(`${outcome.deviceId}: ${outcome.reason}`);
      }
    }
    signal?.throwIfAborted();

    const profileId = this.predictionProfile(req, perDevice);
    const predictedMs =
      workload && profileId !== undefined ? this.tryPredict(workload, profileId) : null;

    if (perDevice.length === 0) {
      const why = reasons.length
        ? `every attempt failed (${reasons.join('; ')})`
        : this.devices.select(req.selector).length === 0
          ? `the selector matches no device (${JSON.stringify(req.selector)})`
          : `no device of the selector was online within ${waitMs} ms`;
      if (req.fallback === 'predicted') {
        if (predictedMs === null)
          throw new LatencyUnavailableError(
            `cannot fall back to a prediction: ${
              profileId === undefined
                ? 'neither the selector nor the request names a profile'
                : `profile "${profileId}" is unknown or the graph cannot be priced`
            }; ${why}`,
          );
        this.metrics.answers.inc({ source: 'predicted' });
        return {
          p50Ms: predictedMs,
          spreadMs: { min: predictedMs, max: predictedMs },
          perDevice: [],
          source: 'predicted',
          predictedMs,
          artifactSha256: sha,
        };
      }
      throw new LatencyUnavailableError(`latency of ${sha.slice(0, 12)} not measured: ${why}`);
    }
    this.metrics.answers.inc({ source: 'measured' });
    return {
      ...aggregateDeviceP50s(perDevice.map((d) => d.p50Ms)),
      perDevice,
      source: 'measured',
      predictedMs,
      artifactSha256: sha,
    };
  }

  predict(onnx: Buffer, profileId: string, deviceId?: string): { ms: number; calibrated: boolean } {
    return this.predictor.predict(onnx, profileId, deviceId);
  }

  /**
   * The device class a prediction is for: named by the selector or the request, else the class
   * of the measured devices, else the most common class among the selector's devices.
   */
  private predictionProfile(req: MeasureRequest, perDevice: DeviceLatency[]): string | undefined {
    const named = req.selector.profileId ?? req.profileId;
    if (named !== undefined) return named;
    const measured = perDevice
      .map((d) => this.devices.profileOf(d.deviceId))
      .find((p) => p !== null);
    if (measured) return measured;
    const counts = new Map<string, number>();
    for (const d of this.devices.select(req.selector))
      if (d.profile) counts.set(d.profile.id, (counts.get(d.profile.id) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0];
  }

  /**
   * Stores the candidate (content-addressed) and publishes it unless already published. It is
   * pinned from the moment its file exists (no variant refers to it yet, so garbage collection
   * would otherwise take it while devices fetch it); the caller releases the pin.
   */
  private async publishCandidate(onnx: Buffer): Promise<{ sha: string; release: () => void }> {
    const stored = this.artifacts.storeBuffer(onnx);
    const release = this.artifacts.pin(stored.sha256);
    try {
      this.database.write('latency.candidate', () =>
        this.artifacts.record(stored, 'application/onnx'),
      );
      if (this.artifacts.get(stored.sha256).published_at === null)
        await this.artifacts.publish(stored.sha256);
      return { sha: stored.sha256, release };
    } catch (err) {
      release();
      throw err;
    }
  }

  /** The prediction beside a measurement; null when the profile is unknown. */
  private tryPredict(workload: readonly LayerWorkload[], profileId: string): number | null {
    try {
      return this.predictor.predictWorkload(workload, profileId).ms;
    } catch {
      return null;
    }
  }

  private tryWorkload(onnx: Buffer, sha: string): LayerWorkload[] | null {
    try {
      const workload = this.predictor.workloadOf(onnx);
      this.predictor.rememberWorkload(sha, workload);
      return workload;
    } catch {
      return null; // ORT may run graphs the engine cannot import: measured, just not predicted
    }
  }

  private attempt(
    sha: string,
    deviceId: string,
    req: MeasureRequest,
    signal?: AbortSignal,
  ): Promise<AttemptOutcome> {
    const key = `${sha}/${deviceId}`;
    const joined = this.inflight.get(key);
    if (joined) return joined;
    const budget = req.runs === undefined && req.timeBudgetMs === undefined;
    const promise = runBenchmarkAttempt(
      { commands: this.commands, devices: this.devices, clock: this.clock },
      {
        deviceId,
        artifactSha256: sha,
        inputShape: req.inputShape,
        warmup: req.warmup ?? DEFAULTS.warmup,
        ...(budget
          ? { runs: DEFAULTS.runs, timeBudgetMs: DEFAULTS.timeBudgetMs }
          : {
              ...(req.runs !== undefined ? { runs: req.runs } : {}),
              ...(req.timeBudgetMs !== undefined ? { timeBudgetMs: req.timeBudgetMs } : {}),
            }),
        timeoutMs: req.timeoutMs ?? DEFAULTS.timeoutMs,
      },
      signal,
    ).finally(() => this.inflight.delete(key));
    this.inflight.set(key, promise);
    return promise;
  }

  /**
   * Resolves 'wake' when the signal aborts or, given a time, when any device comes online or
   * the time is up.
   */
  private wakeOn(
    ms: number | null,
    signal?: AbortSignal,
  ): { promise: Promise<'wake'>; cancel(): void } {
    let cancel = () => {};
    const promise = new Promise<'wake'>((resolve) => {
      const wake = () => resolve('wake');
      const timer = ms === null ? null : this.clock.setTimeout(wake, Math.max(0, ms));
      if (ms !== null) this.lifecycle.on('online', wake);
      signal?.addEventListener('abort', wake, { once: true });
      cancel = () => {
        if (timer !== null) this.clock.clearTimeout(timer);
        this.lifecycle.off('online', wake);
        signal?.removeEventListener('abort', wake);
      };
    });
    return { promise, cancel };
  }
}

function validate(req: MeasureRequest): void {
  if (!Buffer.isBuffer(req.onnx) || req.onnx.length === 0) throw invalid('onnx must be non-empty');
  try {
    decodeOnnxModel(req.onnx);
  } catch (err) {
    throw invalid(`candidate is not a readable ONNX model: ${(err as Error).message}`);
  }
  const shape = req.inputShape;
  if (
    !Array.isArray(shape) ||
    shape.length < 1 ||
    shape.length > 8 ||
    !shape.every((d) => Number.isInteger(d) && d > 0 && d <= 1 << 16)
  )
    throw invalid(`inputShape must be 1-8 positive integer dims, got ${JSON.stringify(shape)}`);
  if (isEmptySelector(req.selector)) throw invalid('selector names no devices');
  const counts: [string, number | undefined, number, number][] = [
    ['k', req.k, 1, 1000],
    ['retries', req.retries, 0, 1000],
    ['runs', req.runs, 1, 1_000_000],
    ['warmup', req.warmup, 0, 10_000],
    ['timeBudgetMs', req.timeBudgetMs, 1, 3_600_000],
    ['timeoutMs', req.timeoutMs, 1, 24 * 3_600_000],
    ['waitForDevicesMs', req.waitForDevicesMs, 0, 24 * 3_600_000],
  ];
  for (const [name, value, min, max] of counts)
    if (value !== undefined && !(Number.isInteger(value) && value >= min && value <= max))
      throw invalid(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  if (req.fallback !== 'fail' && req.fallback !== 'predicted')
    throw invalid(`fallback must be "fail" or "predicted", got ${String(req.fallback)}`);
}
