import { Injectable } from '@nestjs/common';
import { ArtifactsService } from '../artifacts/artifacts.service';
import { LatencyService } from '../latency/latency.service';
import { ModelsService } from '../models/models.service';
import {
  buildLatencyReport,
  latencyReportCsv,
  type LatencyReport,
  type Prediction,
} from './latency-report.builder';
import { ReportsRepository, type LatencyFilter } from './reports.repository';

/** Reports over what the fleet measured, with the calibrated predictor's figure beside it. */
@Injectable()
export class ReportsService {
  constructor(
    private readonly reports: ReportsRepository,
    private readonly models: ModelsService,
    private readonly artifacts: ArtifactsService,
    private readonly latencyService: LatencyService,
  ) {}

  latency(filter: LatencyFilter): LatencyReport & { filter: LatencyFilter } {
    // 404 for a variant that does not exist, rather than an empty report.
    if (filter.variantId) this.models.getVariant(filter.variantId);
    const models = new Map<string, Buffer | null>();
    const modelOf = (variantId: string): Buffer | null => {
      if (!models.has(variantId)) {
        let bytes: Buffer | null = null;
        try {
          const variant = this.models.getVariant(variantId);
          if (variant.format === 'onnx') bytes = this.artifacts.read(variant.artifactSha256);
        } catch {
          bytes = null; // deleted since it was measured: no prediction for it
        }
        models.set(variantId, bytes);
      }
      return models.get(variantId)!;
    };
    const report = buildLatencyReport(
      this.reports.latencySamples(filter),
      (variantId, profileId, deviceId): Prediction | null => {
        const onnx = modelOf(variantId);
        if (!onnx) return null;
        try {
          return this.latencyService.predict(onnx, profileId, deviceId);
        } catch {
          return null; // a graph or profile the predictor cannot cost
        }
      },
    );
    return { filter, ...report };
  }

  latencyCsv(filter: LatencyFilter): string {
    return latencyReportCsv(this.latency(filter));
  }
}
