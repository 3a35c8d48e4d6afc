/**
 * Calibration of the roofline predictor from measured latencies. For each device class
 * (profile) and each device with enough measurements, it fits the three correction factors
 * of `layerSeconds` and a fixed per-inference time by least squares on relative error:
 *
 *   measured ≈ Σ_layers [max(k_compute·t_compute, k_memory·t_memory) + k_overhead·t_overhead] + fixed
 *
 * The max makes the model piecewise linear. The fit alternates: classify each layer as compute-
 * or memory-bound under the current factors, solve the now-linear problem exactly with
 * non-negativity (all subsets of the four unknowns, at most 15 tiny solves), repeat until the
 * classification is stable; several starting ratios guard against a poor local optimum.
 * With fewer than `minSamplesForFull` measurements only one common scale factor is fitted.
 */
import type { Graph } from '@edgecompress/engine';
import { z } from 'zod';
import type { DeviceProfile } from './device-profile.schema';
import type { LayerWorkload } from './layer-workload';
import {
  graphSeconds,
  IDENTITY_FACTORS,
  layerTerms,
  type CorrectionFactors,
  type FactorSource,
  type LayerTerms,
  type PredictOptions,
  workloadTerms,
} from './roofline-predictor';

function observationTerms(o: LatencyObservation, profile: DeviceProfile): LayerTerms[] {
  return o.workload
    ? workloadTerms(o.workload, profile, o.options)
    : layerTerms(o.graph, profile, o.options);
}

/**
 * One measured inference latency and what ran: the graph, or its workload when only that was
 * kept (a workload already fixes batch and precision; `options` then only sets target/threads).
 */
export type LatencyObservation = ObservationFacts &
  (
    | { graph: Graph; workload?: undefined }
    | { workload: readonly LayerWorkload[]; graph?: undefined }
  );

interface ObservationFacts {
  /** Measured latency of one inference (p50), milliseconds. */
  latencyMs: number;
  profileId: string;
  /** The measuring device; per-device factors are fitted when a device has enough samples. */
  deviceId?: string;
  options?: PredictOptions;
}

export interface CorrectionFit {
  factors: CorrectionFactors;
  samples: number;
  /** `roofline`: three factors; `scale`: one common factor (too few samples for three). */
  mode: 'roofline' | 'scale' | 'identity';
  /** Mean absolute percentage error on the fitted samples. */
  trainMape: number;
}

export interface CalibrationOptions {
  /** Samples needed for the three-factor fit (else a single scale). Default 6. */
  minSamplesForFull?: number;
  /** Samples a device needs for factors of its own (else its class's). Default 3. */
  minSamplesPerDevice?: number;
}

/**
 * Observations of one graph (same workload, same options), computed once and reused by every
 * fit iteration: the compute and memory seconds of each dispatched layer (typed arrays, the
 * fit's inner loop), the summed overhead seconds, and the measured seconds. Observations of
 * one graph share one regression row, so they are merged exactly: for the relative squared
 * error Σ ((p − y_i) / y_i)², the row carries weight W = Σ 1/y_i² and target S/W with
 * S = Σ 1/y_i, and the loss is W·p² − 2·S·p + n. A fit costs per distinct graph, not per
 * measurement (a fleet measures each candidate on many devices).
 */
interface Prepared {
  c: Float64Array;
  m: Float64Array;
  o: number;
  /** Measured seconds of each observation of this graph. */
  ys: number[];
  weight: number;
  inverseSum: number;
}

/** Identity of a graph or workload object, for grouping its observations. */
const objectKeys = new WeakMap<object, number>();
let nextObjectKey = 0;
function objectKey(value: object): number {
  let key = objectKeys.get(value);
  if (key === undefined) {
    key = nextObjectKey++;
    objectKeys.set(value, key);
  }
  return key;
}

function prepare(observations: readonly LatencyObservation[], profile: DeviceProfile): Prepared[] {
  const groups = new Map<string, Prepared>();
  for (const o of observations) {
    if (!(o.latencyMs > 0) || !Number.isFinite(o.latencyMs)) {
      throw new RangeError(`measured latency must be a positive number, got ${o.latencyMs}`);
    }
    const y = o.latencyMs / 1e3;
    const key = `${objectKey(o.workload ?? o.graph)}|${JSON.stringify(o.options ?? {})}`;
    let group = groups.get(key);
    if (!group) {
      const terms = observationTerms(o, profile);
      const timed = terms.filter((t) => t.computeS > 0 || t.memoryS > 0);
      group = {
        c: Float64Array.from(timed, (t) => t.computeS),
        m: Float64Array.from(timed, (t) => t.memoryS),
        o: terms.reduce((sum, t) => sum + t.overheadS, 0),
        ys: [],
        weight: 0,
        inverseSum: 0,
      };
      groups.set(key, group);
    }
    group.ys.push(y);
    group.weight += 1 / (y * y);
    group.inverseSum += 1 / y;
  }
  return [...groups.values()];
}

const sampleCount = (data: readonly Prepared[]) => data.reduce((n, d) => n + d.ys.length, 0);

/** Same sum as `graphSeconds`, over the prepared arrays. */
function predicted(p: Prepared, k: CorrectionFactors): number {
  let sum = k.fixedMs * 1e-3 + k.overhead * p.o;
  for (let i = 0; i < p.c.length; i++)
    sum += Math.max(k.compute * (p.c[i] as number), k.memory * (p.m[i] as number));
  return sum;
}

/** Σ over observations of the squared relative error. */
function relativeLoss(data: readonly Prepared[], k: CorrectionFactors): number {
  let loss = 0;
  for (const d of data) {
    const p = predicted(d, k);
    loss += d.weight * p * p - 2 * d.inverseSum * p + d.ys.length;
  }
  return loss;
}

function mape(data: readonly Prepared[], k: CorrectionFactors): number {
  const n = sampleCount(data);
  if (n === 0) return 0;
  let sum = 0;
  for (const d of data) {
    const p = predicted(d, k);
    for (const y of d.ys) sum += Math.abs(p - y) / y;
  }
  return sum / n;
}

/** Weighted least squares over the given feature columns with all coefficients >= 0. */
function nonNegativeLeastSquares(rows: number[][], y: number[], weights: number[]): number[] {
  const width = rows[0]?.length ?? 0;
  let best: { coef: number[]; loss: number } | null = null;
  for (let mask = 1; mask < 1 << width; mask++) {
    const cols = [...Array(width).keys()].filter((c) => mask & (1 << c));
    // Normal equations A^T W A x = A^T W y on the chosen columns.
    const n = cols.length;
    const ata = Array.from({ length: n }, () => new Array<number>(n).fill(0));
    const aty = new Array<number>(n).fill(0);
    rows.forEach((row, i) => {
      const w = weights[i] as number;
      cols.forEach((ci, a) => {
        aty[a] = (aty[a] as number) + w * (row[ci] as number) * (y[i] as number);
        cols.forEach((cj, b) => {
          (ata[a] as number[])[b] =
            ((ata[a] as number[])[b] as number) + w * (row[ci] as number) * (row[cj] as number);
        });
      });
    });
    const x = solve(ata, aty);
    if (!x || x.some((v) => v < 0)) continue;
    const coef = new Array<number>(width).fill(0);
    cols.forEach((c, a) => (coef[c] = x[a] as number));
    const loss = rows.reduce((sum, row, i) => {
      const r = row.reduce((s, v, c) => s + v * (coef[c] as number), 0) - (y[i] as number);
      return sum + (weights[i] as number) * r * r;
    }, 0);
    if (!best || loss < best.loss) best = { coef, loss };
  }
  return best?.coef ?? new Array<number>(width).fill(0);
}

/** Gaussian elimination with partial pivoting; null when singular. */
function solve(a: number[][], b: number[]): number[] | null {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i] as number]);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++)
      if (Math.abs(m[r]![col]!) > Math.abs(m[pivot]![col]!)) pivot = r;
    const scale = Math.max(...m.map((row) => Math.abs(row[col]!)), 1e-300);
    if (Math.abs(m[pivot]![col]!) < 1e-12 * scale) return null;
    [m[col], m[pivot]] = [m[pivot]!, m[col]!];
    for (let r = 0; r < n; r++) {
      if (r === col) continue;
      const f = m[r]![col]! / m[col]![col]!;
      for (let c = col; c <= n; c++) m[r]![c] = m[r]![c]! - f * m[col]![c]!;
    }
  }
  return m.map((row, i) => row[n]! / row[i]!);
}

function fitScale(data: readonly Prepared[]): CorrectionFactors {
  // Minimise Σ ((s·p − y) / y)²  =>  s = Σ(p/y) / Σ(p/y)².
  let num = 0;
  let den = 0;
  for (const d of data) {
    const p = predicted(d, IDENTITY_FACTORS);
    num += p * d.inverseSum; // Σ p / y_i
    den += p * p * d.weight; // Σ (p / y_i)²
  }
  const s = den > 0 ? num / den : 1;
  return { compute: s, memory: s, overhead: s, fixedMs: 0 };
}

function fitRoofline(data: readonly Prepared[], start: CorrectionFactors): CorrectionFactors {
  let k = { ...start };
  // Each layer's class (1 compute-bound, 0 memory-bound) under the current factors.
  const bound = new Uint8Array(data.reduce((n, d) => n + d.c.length, 0));
  for (let iteration = 0; iteration < 50; iteration++) {
    let changed = iteration === 0;
    let at = 0;
    const rows = data.map((d) => {
      let xc = 0;
      let xm = 0;
      for (let i = 0; i < d.c.length; i++, at++) {
        const c = d.c[i] as number;
        const m = d.m[i] as number;
        const computeBound = k.compute * c >= k.memory * m ? 1 : 0;
        if (bound[at] !== computeBound) {
          bound[at] = computeBound;
          changed = true;
        }
        if (computeBound) xc += c;
        else xm += m;
      }
      return [xc, xm, d.o, 1];
    });
    if (!changed) break;
    // Relative error: each merged row carries W = Σ 1/y² and target S/W (see Prepared).
    const weights = data.map((d) => d.weight);
    const active = [0, 1, 2, 3].filter((c) => rows.some((row) => (row[c] as number) > 0));
    const coef = nonNegativeLeastSquares(
      rows.map((row) => active.map((c) => row[c] as number)),
      data.map((d) => d.inverseSum / d.weight),
      weights,
    );
    const next = [k.compute, k.memory, k.overhead, k.fixedMs * 1e-3];
    // A factor whose term never occurs keeps its value: the data says nothing about it.
    active.forEach((c, i) => (next[c] = coef[i] as number));
    k = {
      compute: next[0] as number,
      memory: next[1] as number,
      overhead: next[2] as number,
      fixedMs: (next[3] as number) * 1e3,
    };
  }
  return k;
}

const STARTS: CorrectionFactors[] = [
  { compute: 1, memory: 1, overhead: 1, fixedMs: 0 },
  { compute: 4, memory: 1, overhead: 1, fixedMs: 0 },
  { compute: 1, memory: 4, overhead: 1, fixedMs: 0 },
  { compute: 0.25, memory: 1, overhead: 4, fixedMs: 0 },
];

/** Fits correction factors for one profile (and optionally one device) from its observations. */
export function fitCorrection(
  observations: readonly LatencyObservation[],
  profile: DeviceProfile,
  options: CalibrationOptions = {},
): CorrectionFit {
  const data = prepare(observations, profile);
  const samples = sampleCount(data);
  if (samples === 0)
    return { factors: { ...IDENTITY_FACTORS }, samples: 0, mode: 'identity', trainMape: 0 };
  if (samples < (options.minSamplesForFull ?? 6)) {
    const factors = fitScale(data);
    return { factors, samples, mode: 'scale', trainMape: mape(data, factors) };
  }
  let best: { factors: CorrectionFactors; loss: number } | null = null;
  for (const start of STARTS) {
    const factors = fitRoofline(data, start);
    const loss = relativeLoss(data, factors);
    if (!best || loss < best.loss) best = { factors, loss };
  }
  const factors = best?.factors ?? { ...IDENTITY_FACTORS };
  return { factors, samples, mode: 'roofline', trainMape: mape(data, factors) };
}

/** Fitted factors per device class and per device, usable by `ProfileLatencyPredictor`. */
export class LatencyCalibration implements FactorSource {
  constructor(
    readonly classes: ReadonlyMap<string, CorrectionFit>,
    readonly perDevice: ReadonlyMap<string, { profileId: string; fit: CorrectionFit }>,
  ) {}

  /** Device id -> profile id of every device with factors of its own. */
  devices(): ReadonlyMap<string, string> {
    return new Map([...this.perDevice].map(([id, d]) => [id, d.profileId]));
  }

  /** The device's own factors when it has them, else its class's, else identity. */
  factorsFor(profileId: string, deviceId?: string): CorrectionFactors {
    const device = deviceId === undefined ? undefined : this.perDevice.get(deviceId);
    if (device && device.profileId === profileId) return device.fit.factors;
    return this.classes.get(profileId)?.factors ?? IDENTITY_FACTORS;
  }

  toJSON(): CalibrationJson {
    return {
      classes: Object.fromEntries(this.classes),
      devices: Object.fromEntries(this.perDevice),
    };
  }

  /** Restores a calibration saved with `JSON.stringify`; throws naming the bad field. */
  static fromJSON(value: unknown): LatencyCalibration {
    const parsed = calibrationJsonSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `invalid calibration: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? ''}`,
      );
    }
    return new LatencyCalibration(
      new Map(Object.entries(parsed.data.classes)),
      new Map(Object.entries(parsed.data.devices)),
    );
  }
}

const factorsSchema = z.strictObject({
  compute: z.number().nonnegative(),
  memory: z.number().nonnegative(),
  overhead: z.number().nonnegative(),
  fixedMs: z.number().nonnegative(),
});
const fitSchema = z.strictObject({
  factors: factorsSchema,
  samples: z.int().nonnegative(),
  mode: z.enum(['roofline', 'scale', 'identity']),
  trainMape: z.number().nonnegative(),
});
const calibrationJsonSchema = z.strictObject({
  classes: z.record(z.string(), fitSchema),
  devices: z.record(z.string(), z.strictObject({ profileId: z.string(), fit: fitSchema })),
});

export type CalibrationJson = z.infer<typeof calibrationJsonSchema>;

/** Fits class factors for every profile with observations, and device factors where enough. */
export function calibrate(
  observations: readonly LatencyObservation[],
  profiles: readonly DeviceProfile[],
  options: CalibrationOptions = {},
): LatencyCalibration {
  const byId = new Map(profiles.map((p) => [p.id, p]));
  const classes = new Map<string, CorrectionFit>();
  const perDevice = new Map<string, { profileId: string; fit: CorrectionFit }>();
  const groups = new Map<string, LatencyObservation[]>();
  for (const o of observations) {
    if (!byId.has(o.profileId))
      throw new Error(`observation names unknown profile "${o.profileId}"`);
    const group = groups.get(o.profileId);
    if (group) group.push(o);
    else groups.set(o.profileId, [o]);
  }
  for (const [profileId, group] of groups) {
    const profile = byId.get(profileId) as DeviceProfile;
    classes.set(profileId, fitCorrection(group, profile, options));
    const devices = new Map<string, LatencyObservation[]>();
    for (const o of group) {
      if (o.deviceId === undefined) continue;
      const samples = devices.get(o.deviceId);
      if (samples) samples.push(o);
      else devices.set(o.deviceId, [o]);
    }
    for (const [deviceId, samples] of devices) {
      if (samples.length < (options.minSamplesPerDevice ?? 3)) continue;
      perDevice.set(deviceId, { profileId, fit: fitCorrection(samples, profile, options) });
    }
  }
  return new LatencyCalibration(classes, perDevice);
}

export interface PredictionQuality {
  count: number;
  /** Share of predictions within ±10 % of the measurement (0..1). */
  within10Percent: number;
  /** Mean absolute percentage error, percent. */
  mapePercent: number;
  /** Worst absolute percentage error, percent. */
  maxErrorPercent: number;
}

/** Quality of predictions against measurements (typically held-out observations). */
export function predictionQuality(
  pairs: ReadonlyArray<{ predictedMs: number; measuredMs: number }>,
): PredictionQuality {
  if (pairs.length === 0)
    return { count: 0, within10Percent: 0, mapePercent: 0, maxErrorPercent: 0 };
  const errors = pairs.map((p) => Math.abs(p.predictedMs - p.measuredMs) / p.measuredMs);
  return {
    count: pairs.length,
    within10Percent: errors.filter((e) => e <= 0.1).length / pairs.length,
    mapePercent: (100 * errors.reduce((a, b) => a + b, 0)) / pairs.length,
    maxErrorPercent: 100 * Math.max(...errors),
  };
}

/** Seeded split of observations into a fitting set and a held-out set. */
export function holdOut<T>(
  items: readonly T[],
  fraction: number,
  seed = 1,
): { fit: T[]; heldOut: T[] } {
  if (!(fraction > 0 && fraction < 1))
    throw new RangeError(`held-out fraction must be in (0, 1), got ${fraction}`);
  const order = items.map((item, i) => ({ item, key: hash(seed * 7919 + i) }));
  order.sort((a, b) => a.key - b.key);
  const cut = Math.max(1, Math.round(items.length * fraction));
  return {
    heldOut: order.slice(0, cut).map((o) => o.item),
    fit: order.slice(cut).map((o) => o.item),
  };
}

function hash(n: number): number {
  let x = (n ^ 0x9e3779b9) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** Fits on one part, predicts the held-out part: the honest measure of calibration quality. */
export function evaluateCalibration(
  observations: readonly LatencyObservation[],
  profiles: readonly DeviceProfile[],
  heldOutFraction = 0.3,
  options: CalibrationOptions & { seed?: number } = {},
): {
  calibration: LatencyCalibration;
  quality: PredictionQuality;
  uncalibrated: PredictionQuality;
} {
  const { fit, heldOut } = holdOut(observations, heldOutFraction, options.seed);
  const calibration = calibrate(fit, profiles, options);
  const byId = new Map(profiles.map((p) => [p.id, p]));
  // Terms once per (graph, options, profile): held-out pairs often share a graph.
  const termsCache = new Map<string, LayerTerms[]>();
  const termsOf = (o: LatencyObservation) => {
    const key = `${objectKey(o.workload ?? o.graph)}|${JSON.stringify(o.options ?? {})}|${o.profileId}`;
    let terms = termsCache.get(key);
    if (!terms) {
      terms = observationTerms(o, byId.get(o.profileId) as DeviceProfile);
      termsCache.set(key, terms);
    }
    return terms;
  };
  const pairs = (factorsOf: (o: LatencyObservation) => CorrectionFactors) =>
    heldOut.map((o) => {
      const terms = termsOf(o);
      const k = factorsOf(o);
      return {
        predictedMs: 1e3 * graphSeconds(terms, k),
        measuredMs: o.latencyMs,
      };
    });
  return {
    calibration,
    quality: predictionQuality(pairs((o) => calibration.factorsFor(o.profileId, o.deviceId))),
    uncalibrated: predictionQuality(pairs(() => IDENTITY_FACTORS)),
  };
}

export interface ProfilePredictorQuality {
  profileId: string;
  /** Stored (graph, measured latency) pairs of this device class. */
  pairs: number;
  /** How the class factors in use were fitted (on every pair). */
  mode: CorrectionFit['mode'];
  /** Devices of the class with factors of their own. */
  calibratedDevices: number;
  /** Calibrated predictions of held-out pairs (fitted without them). */
  heldOut: PredictionQuality;
  /** The datasheet roofline on the same held-out pairs, for comparison. */
  uncalibrated: PredictionQuality;
}

export interface PredictorReport {
  /** Fitted on every observation: what predictions use. */
  calibration: LatencyCalibration;
  quality: ProfilePredictorQuality[];
}

/**
 * The calibration to predict with (fitted on all pairs) and, per device class, its quality on
 * held-out pairs: fit on the rest, predict those. A class with fewer than `minPairsForQuality`
 * pairs reports no held-out quality (count 0) rather than a figure from one or two points.
 */
export function predictorReport(
  observations: readonly LatencyObservation[],
  profiles: readonly DeviceProfile[],
  options: CalibrationOptions & {
    heldOutFraction?: number;
    seed?: number;
    minPairsForQuality?: number;
  } = {},
): PredictorReport {
  const calibration = calibrate(observations, profiles, options);
  const byProfile = new Map<string, LatencyObservation[]>();
  for (const o of observations) {
    const group = byProfile.get(o.profileId);
    if (group) group.push(o);
    else byProfile.set(o.profileId, [o]);
  }
  const none = predictionQuality([]);
  const quality = [...byProfile].map(([profileId, group]): ProfilePredictorQuality => {
    const evaluated =
      group.length >= (options.minPairsForQuality ?? 4)
        ? evaluateCalibration(group, profiles, options.heldOutFraction ?? 0.3, options)
        : null;
    return {
      profileId,
      pairs: group.length,
      mode: calibration.classes.get(profileId)?.mode ?? 'identity',
      calibratedDevices: [...calibration.perDevice.values()].filter(
        (d) => d.profileId === profileId,
      ).length,
      heldOut: evaluated?.quality ?? none,
      uncalibrated: evaluated?.uncalibrated ?? none,
    };
  });
  return { calibration, quality };
}
