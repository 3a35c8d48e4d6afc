/**
 * The deployable twin of a job candidate whose base model is an engine file: the same weights
 * exported to ONNX (float, or QDQ when quantized), stored as an ONNX variant of the same model
 * with the engine variant as its parent, so devices can run what the job found. The engine
 * variant stays the job's working form.
 */
import { Inject, Injectable } from '@nestjs/common';
import { ArtifactsService } from '../artifacts/artifacts.service';
import { AuditLogRepository } from '../common/audit-log.repository';
import { CLOCK, type Clock } from '../common/clock';
import { newId } from '../common/ids';
import { SqliteDatabase } from '../database/sqlite.database';
import { checkOnnxFile } from '../models/model-file.validator';
import { ModelsRepository } from '../models/models.repository';

export interface DeployableTwin {
  modelId: string;
  /** The engine variant the ONNX file was exported from. */
  ofVariantId: string;
  name: string;
  method: string;
  options: Record<string, unknown>;
  provenance: Record<string, unknown>;
  accuracy: number | null;
  params: number | null;
  flops: number | null;
}

@Injectable()
export class JobDeployableStore {
  constructor(
    private readonly models: ModelsRepository,
    private readonly artifacts: ArtifactsService,
    private readonly database: SqliteDatabase,
    private readonly audit: AuditLogRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Stores the ONNX file once per engine variant (a repeated report returns the first twin). */
  store(twin: DeployableTwin, onnx: Buffer): string {
    const existing = this.find(twin.modelId, twin.ofVariantId);
    if (existing) return existing;
    const stored = this.artifacts.storeBuffer(onnx);
    // Devices run what the engine cannot read back (e.g. packed 4-bit QDQ): not an error here.
    let importable = false;
    try {
      importable = checkOnnxFile(onnx).importable;
    } catch {
      importable = false;
    }
    const id = newId('var');
    this.database.write('variant.create', () => {
      const again = this.find(twin.modelId, twin.ofVariantId);
      if (again) return;
      this.artifacts.record(stored, 'application/onnx');
      this.models.insertVariant({
        id,
        model_id: twin.modelId,
        parent_variant_id: twin.ofVariantId,
        name: twin.name,
        method: twin.method,
        options_json: JSON.stringify(twin.options),
        provenance_json: JSON.stringify({
          ...twin.provenance,
          onnxOf: twin.ofVariantId,
          importable,
        }),
        format: 'onnx',
        params: twin.params,
        flops: twin.flops,
        bytes: stored.bytes,
        accuracy: twin.accuracy,
        artifact_sha256: stored.sha256,
        created_at: this.clock.now(),
      });
      this.audit.record('job', 'variant.create', id, {
        modelId: twin.modelId,
        sha256: stored.sha256,
        onnxOf: twin.ofVariantId,
      });
    });
    return this.find(twin.modelId, twin.ofVariantId) ?? id;
  }

  private find(modelId: string, ofVariantId: string): string | null {
    const twin = this.models
      .listVariants({ modelId })
      .find(
        (v) =>
          v.parent_variant_id === ofVariantId &&
          v.format === 'onnx' &&
          (JSON.parse(v.provenance_json) as { onnxOf?: string }).onnxOf === ofVariantId,
      );
    return twin?.id ?? null;
  }
}
