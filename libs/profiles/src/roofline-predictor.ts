/**
 * Per-layer roofline latency from a device profile: a layer takes the longer of its compute
 * time (ops / peak ops/s at its precision) and its memory time (bytes / bandwidth), plus a
 * fixed per-op overhead unless it is fused into its producer. Correction factors from
 * calibration (see latency-calibration.ts) scale the three terms.
 */
import type { Graph, Model } from '@edgecompress/engine';
import type { DeviceProfile, Precision } from './device-profile.schema';
import { graphWorkload, type LayerWorkload, type WorkloadOptions } from './layer-workload';

export interface CorrectionFactors {
  compute: number;
  memory: number;
  overhead: number;
  /**
   * Fixed milliseconds per inference outside any layer (runtime entry, input/output copies);
   * zero in the datasheet model, learnt by calibration.
   */
  fixedMs: number;
}

export const IDENTITY_FACTORS: Readonly<CorrectionFactors> = Object.freeze({
  compute: 1,
  memory: 1,
  overhead: 1,
  fixedMs: 0,
});

export type ComputeTarget = 'cpu' | 'accelerator';

export interface PredictOptions extends WorkloadOptions {
  /** Where the graph runs. Default: the accelerator when the profile has one, else the CPU. */
  target?: ComputeTarget;
  /** CPU threads (intra-op); default all cores. Peak scales with min(threads, cores) / cores. */
  threads?: number;
}

/** Seconds of each roofline term for one layer, before correction factors. */
export interface LayerTerms {
  computeS: number;
  memoryS: number;
  overheadS: number;
}

export interface LayerPrediction extends LayerWorkload, LayerTerms {
  bound: 'compute' | 'memory' | 'none';
  ms: number;
}

export interface GraphPrediction {
  profileId: string;
  target: ComputeTarget;
  totalMs: number;
  layers: LayerPrediction[];
  perNodeMs: Map<string, number>;
  factors: CorrectionFactors;
}

interface Machine {
  peak: Record<Precision, number>;
  bandwidth: number;
  overheadS: number;
}

function resolveTarget(profile: DeviceProfile, options: PredictOptions): ComputeTarget {
  const target = options.target ?? (profile.accelerator ? 'accelerator' : 'cpu');
  if (target === 'accelerator' && !profile.accelerator) {
    throw new Error(`profile ${profile.id} has no accelerator`);
  }
  return target;
}

function machineOf(profile: DeviceProfile, target: ComputeTarget, threads?: number): Machine {
  if (target === 'accelerator' && profile.accelerator) {
    const acc = profile.accelerator;
    return {
      peak: acc.peakOpsPerSec,
      bandwidth: acc.memoryBandwidthBytesPerSec,
      overheadS: acc.perOpOverheadUs * 1e-6,
    };
  }
  const cores = profile.cpu.cores;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw new RangeError(`invalid thread count ${threads}`);
  }
  const share = Math.min(threads ?? cores, cores) / cores;
  const { fp32, fp16, int8 } = profile.cpu.peakOpsPerSec;
  return {
    peak: { fp32: fp32 * share, fp16: fp16 * share, int8: int8 * share },
    bandwidth: profile.memory.bandwidthBytesPerSec,
    overheadS: profile.cpu.perOpOverheadUs * 1e-6,
  };
}

/** Uncorrected roofline terms per layer; calibration fits factors over these. */
export function layerTerms(
  graph: Graph,
  profile: DeviceProfile,
  options: PredictOptions = {},
): Array<LayerWorkload & LayerTerms> {
  return workloadTerms(graphWorkload(graph, options), profile, options);
}

/**
 * Roofline terms of an already extracted workload (a stored one needs no graph): the workload
 * fixes batch and precision, `options` only the target and threads.
 */
export function workloadTerms(
  workload: readonly LayerWorkload[],
  profile: DeviceProfile,
  options: Pick<PredictOptions, 'target' | 'threads'> = {},
): Array<LayerWorkload & LayerTerms> {
  const machine = machineOf(profile, resolveTarget(profile, options), options.threads);
  // Fields spelled out rather than spread: this runs once per layer of every observation a
  // calibration prices, and a spread was most of that time.
  return workload.map((layer) => {
    const dispatched = !layer.fused && !layer.free;
    return {
      nodeId: layer.nodeId,
      op: layer.op,
      precision: layer.precision,
      ops: layer.ops,
      bytes: layer.bytes,
      fused: layer.fused,
      free: layer.free,
      computeS: dispatched ? layer.ops / machine.peak[layer.precision] : 0,
      memoryS: dispatched ? layer.bytes / machine.bandwidth : 0,
      overheadS: dispatched ? machine.overheadS : 0,
    };
  });
}

/** Corrected seconds of one layer. */
export function layerSeconds(terms: LayerTerms, factors: CorrectionFactors): number {
  return (
    Math.max(factors.compute * terms.computeS, factors.memory * terms.memoryS) +
    factors.overhead * terms.overheadS
  );
}

/** Corrected seconds of a whole inference: its layers plus the fixed per-inference term. */
export function graphSeconds(terms: readonly LayerTerms[], factors: CorrectionFactors): number {
  let sum = factors.fixedMs * 1e-3;
  for (const t of terms) sum += layerSeconds(t, factors);
  return sum;
}

export function predictLatency(
  graph: Graph,
  profile: DeviceProfile,
  options: PredictOptions = {},
  factors: CorrectionFactors = IDENTITY_FACTORS,
): GraphPrediction {
  const target = resolveTarget(profile, options);
  const layers: LayerPrediction[] = layerTerms(graph, profile, options).map((layer) => {
    const compute = factors.compute * layer.computeS;
    const memory = factors.memory * layer.memoryS;
    const bound: LayerPrediction['bound'] =
      compute === 0 && memory === 0 ? 'none' : compute >= memory ? 'compute' : 'memory';
    const prediction: LayerPrediction = Object.assign(layer, {
      bound,
      ms: layerSeconds(layer, factors) * 1e3,
    });
    return prediction;
  });
  const perNodeMs = new Map(layers.map((l) => [l.nodeId, l.ms]));
  // perNodeMs holds the layers only; the fixed per-inference term is in the total.
  const totalMs = layers.reduce((sum, l) => sum + l.ms, factors.fixedMs);
  return { profileId: profile.id, target, totalMs, layers, perNodeMs, factors: { ...factors } };
}

/** Where calibrated factors come from for a prediction. */
export interface FactorSource {
  factorsFor(profileId: string, deviceId?: string): CorrectionFactors;
}

/**
 * The predictor compression methods consume as a LatencyOracle backend: device names are
 * profile ids (a device class) or calibrated device ids (mapped to their profile).
 */
export class ProfileLatencyPredictor {
  private readonly profiles: Map<string, DeviceProfile>;

  constructor(
    profiles: readonly DeviceProfile[],
    private readonly calibration?: FactorSource & { devices(): ReadonlyMap<string, string> },
    private readonly options: PredictOptions = {},
  ) {
    this.profiles = new Map(profiles.map((p) => [p.id, p]));
  }

  deviceIds(): readonly string[] {
    const devices = this.calibration ? [...this.calibration.devices().keys()] : [];
    return [...this.profiles.keys(), ...devices.filter((d) => !this.profiles.has(d))];
  }

  predict(model: Model | Graph, device: string): GraphPrediction {
    const graph = 'graph' in model ? model.graph : model;
    const profileId = this.profiles.has(device) ? device : this.calibration?.devices().get(device);
    const profile = profileId === undefined ? undefined : this.profiles.get(profileId);
    if (!profile)
      throw new Error(
        `unknown device or profile "${device}"; known: ${this.deviceIds().join(', ')}`,
      );
    const deviceId = profile.id === device ? undefined : device;
    const factors = this.calibration?.factorsFor(profile.id, deviceId) ?? IDENTITY_FACTORS;
    return predictLatency(graph, profile, this.options, factors);
  }
}
