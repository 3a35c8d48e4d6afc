import { Injectable } from '@nestjs/common';
import type { BenchmarkReportEvent } from '@edgecompress/protocol';
import {
  MeasurementsRepository,
  type MeasurementFilter,
  type MeasurementRow,
} from './measurements.repository';

export interface MeasurementView {
  id: number;
  deviceId: string;
  variantId: string | null;
  artifactSha256: string | null;
  profileId: string | null;
  commandId: string | null;
  source: 'measured' | 'predicted';
  latencyMs: { p50: number | null; p90: number | null; p99: number | null; mean: number | null };
  throughputPerSec: number | null;
  peakRssBytes: number | null;
  loadMs: number | null;
  runs: number | null;
  executionProvider: string | null;
  detail: unknown;
  measuredAt: string;
}

@Injectable()
export class MeasurementsService {
  constructor(private readonly measurements: MeasurementsRepository) {}

  /** Stores a device's benchmark report (caller holds the write transaction). */
  recordReport(deviceId: string, report: BenchmarkReportEvent, receivedAt: number): number {
    return this.measurements.insert({
      device_id: deviceId,
      artifact_sha256: report.artifactSha256,
      command_id: report.commandId,
      source: 'measured',
      p50_ms: report.latencyMs.p50,
      p90_ms: report.latencyMs.p90,
      p99_ms: report.latencyMs.p99,
      mean_ms: report.latencyMs.mean,
      throughput: report.throughputPerSec,
      peak_rss_bytes: report.peakRssBytes,
      load_ms: report.loadMs,
      runs: report.runs,
      execution_provider: report.sessionOptions.executionProviders[0] ?? null,
      detail_json: JSON.stringify({
        latencyMs: report.latencyMs,
        warmup: report.warmup,
        sessionOptions: report.sessionOptions,
        inputShape: report.inputShape,
        accuracy: report.accuracy ?? null,
      }),
      measured_at: receivedAt,
    });
  }

  query(filter: MeasurementFilter): MeasurementView[] {
    return this.measurements.query(filter).map(toView);
  }

  summaryByVariant(variantIds: string[]) {
    return this.measurements.summaryByVariant(variantIds);
  }
}

function toView(r: MeasurementRow): MeasurementView {
  return {
    id: r.id,
    deviceId: r.device_id,
    variantId: r.variant_id,
    artifactSha256: r.artifact_sha256,
    profileId: r.profile_id,
    commandId: r.command_id,
    source: r.source,
    latencyMs: { p50: r.p50_ms, p90: r.p90_ms, p99: r.p99_ms, mean: r.mean_ms },
    throughputPerSec: r.throughput,
    peakRssBytes: r.peak_rss_bytes,
    loadMs: r.load_ms,
    runs: r.runs,
    executionProvider: r.execution_provider,
    detail: JSON.parse(r.detail_json) as unknown,
    measuredAt: new Date(r.measured_at).toISOString(),
  };
}
