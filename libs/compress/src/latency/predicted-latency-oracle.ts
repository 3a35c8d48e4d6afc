/**
 * Latency from a device-profile predictor (libs/profiles): no device needed, per-layer times
 * included, so AAP can weight thresholds by each layer's share of predicted latency.
 */
import type { Model } from '@edgecompress/engine';
import type { LatencyMeasurement, LatencyOracle } from './latency-oracle';
import { UnknownDeviceError } from './latency-oracle';

/** The predictor's side of the contract: total and per-node milliseconds for one device. */
export interface LatencyPredictor {
  deviceIds(): readonly string[];
  predict(
    model: Model,
    device: string,
  ): { totalMs: number; perNodeMs: ReadonlyMap<string, number> };
}

export class PredictedLatencyOracle implements LatencyOracle {
  constructor(private readonly predictor: LatencyPredictor) {}

  async devices(): Promise<readonly string[]> {
    return this.predictor.deviceIds();
  }

  async measure(model: Model, device: string): Promise<LatencyMeasurement> {
    const known = this.predictor.deviceIds();
    if (!known.includes(device)) throw new UnknownDeviceError(device, known);
    const { totalMs, perNodeMs } = this.predictor.predict(model, device);
    if (!Number.isFinite(totalMs) || totalMs <= 0) {
      throw new Error(`the predictor returned ${totalMs} ms for ${device}`);
    }
    return { p50Ms: totalMs, source: 'predicted', device, perNodeMs };
  }
}
