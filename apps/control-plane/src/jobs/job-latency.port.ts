/**
 * What a job needs from the fleet's latency service: measure a candidate on devices of a
 * selector, or predict it for a device class. The shapes are the latency service's own (the
 * contract shared with it); the service is bound to this token in the jobs module.
 */
import type { DeviceSelector } from '../devices/device-selector';

export const JOB_LATENCY = Symbol('JobLatency');

export interface JobMeasureRequest {
  onnx: Buffer;
  inputShape: number[];
  selector: DeviceSelector;
  k?: number;
  waitForDevicesMs?: number;
  fallback: 'fail' | 'predicted';
  profileId?: string;
  label?: string;
}

export interface JobLatencyAnswer {
  p50Ms: number;
  spreadMs: { min: number; max: number };
  perDevice: { deviceId: string; p50Ms: number; p90Ms: number; p99Ms: number }[];
  source: 'measured' | 'predicted';
  predictedMs: number | null;
  artifactSha256: string;
}

export interface JobLatencyPort {
  measure(req: JobMeasureRequest, signal?: AbortSignal): Promise<JobLatencyAnswer>;
  predict(onnx: Buffer, profileId: string, deviceId?: string): { ms: number; calibrated: boolean };
}
