import { Inject, Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import { AuditLogRepository } from '../common/audit-log.repository';
import { ArtifactsService } from '../artifacts/artifacts.service';
import { CLOCK, type Clock } from '../common/clock';
import { invalid, notFound, conflict } from '../common/domain-errors';
import { newId } from '../common/ids';
import { SqliteDatabase } from '../database/sqlite.database';
import { MeasurementsService } from '../measurements/measurements.service';
import { checkEngineFile, checkOnnxFile } from './model-file.validator';
import {
  ModelsRepository,
  type ModelRow,
  type VariantFileRow,
  type VariantRow,
} from './models.repository';

export interface VariantMeta {
  name: string;
  parentVariantId?: string | null;
  method: string;
  options?: Record<string, unknown>;
  provenance?: Record<string, unknown>;
  params?: number | null;
  flops?: number | null;
  accuracy?: number | null;
}

export interface VariantView {
  id: string;
  modelId: string;
  parentVariantId: string | null;
  name: string;
  method: string;
  options: unknown;
  provenance: unknown;
  format: string;
  params: number | null;
  flops: number | null;
  bytes: number;
  accuracy: number | null;
  artifactSha256: string;
  createdAt: string;
}

export interface ModelView {
  id: string;
  name: string;
  format: 'onnx' | 'engine';
  description: string | null;
  createdAt: string;
  variants: VariantView[];
}

const MEDIA_TYPE = { onnx: 'application/onnx', engine: 'application/octet-stream' } as const;

/** Models, their variants and the rules tying them to artifacts. */
@Injectable()
export class ModelsService {
  constructor(
    private readonly models: ModelsRepository,
    private readonly artifacts: ArtifactsService,
    private readonly measurements: MeasurementsService,
    private readonly database: SqliteDatabase,
    private readonly audit: AuditLogRepository,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Stores an uploaded model file and its root variant ("original"). */
  async createModel(
    input: { name: string; format: 'onnx' | 'engine'; description?: string },
    body: Readable,
  ): Promise<ModelView> {
    const stored = await this.artifacts.storeStream(body);
    const check = this.checkFile(input.format, stored.sha256);
    const modelId = newId('mdl');
    const now = this.clock.now();
    this.database.write('model.create', () => {
      this.artifacts.record(stored, MEDIA_TYPE[input.format]);
      this.models.insertModel({
        id: modelId,
        name: input.name,
        format: input.format,
        description: input.description ?? null,
        created_at: now,
      });
      this.models.insertVariant(
        this.variantRow(modelId, input.format, stored.sha256, stored.bytes, {
          name: input.name,
          method: 'original',
          params: check.params,
          flops: check.flops,
          provenance: { source: 'upload', importable: check.importable, notes: check.notes },
        }),
      );
      this.audit.record('api', 'model.create', modelId, { sha256: stored.sha256 });
    });
    return this.getModel(modelId);
  }

  /** Adds a variant of a model from a file (REST upload now; compression jobs later). */
  async addVariant(
    modelId: string,
    meta: VariantMeta,
    body: Readable | Buffer,
  ): Promise<VariantView> {
    const model = this.requireModel(modelId);
    if (meta.parentVariantId) {
      const parent = this.models.getVariant(meta.parentVariantId);
      if (!parent || parent.model_id !== modelId)
        throw invalid(
          `parent variant "${meta.parentVariantId}" is not a variant of model "${modelId}"`,
        );
    }
    const stored = Buffer.isBuffer(body)
      ? this.artifacts.storeBuffer(body)
      : await this.artifacts.storeStream(body);
    const check = this.checkFile(model.format, stored.sha256);
    const row = this.variantRow(modelId, model.format, stored.sha256, stored.bytes, {
      ...meta,
      params: meta.params ?? check.params,
      flops: meta.flops ?? check.flops,
      provenance: { ...(meta.provenance ?? {}), importable: check.importable },
    });
    this.database.write('variant.create', () => {
      if (!this.models.getModel(modelId)) throw notFound('model', modelId);
      this.artifacts.record(stored, MEDIA_TYPE[model.format]);
      this.models.insertVariant(row);
      this.audit.record('api', 'variant.create', row.id, { modelId, sha256: stored.sha256 });
    });
    return this.getVariant(row.id);
  }

  listModels(): ModelView[] {
    return this.models.listModels().map((m) => this.modelView(m));
  }

  getModel(id: string): ModelView {
    return this.modelView(this.requireModel(id));
  }

  /** Deletes a model and its variants; their artifacts go at the next garbage collection. */
  async deleteModel(id: string) {
    this.database.write('model.delete', () => {
      if (!this.models.getModel(id)) throw notFound('model', id);
      refuseWhileRolledOut(this.models.activeRollouts({ modelId: id }), `model "${id}"`);
      this.models.deleteModel(id);
      this.audit.record('api', 'model.delete', id);
    });
    return this.artifacts.collectGarbage();
  }

  listVariants(filter: { modelId?: string; method?: string }): VariantView[] {
    return this.models.listVariants(filter).map(toVariantView);
  }

  getVariant(id: string): VariantView {
    const row = this.models.getVariant(id);
    if (!row) throw notFound('variant', id);
    return toVariantView(row);
  }

  /** A variant's file (id, format, size, artifact hash) without building its whole view. */
  variantFile(id: string): VariantFileRow {
    const row = this.models.variantFile(id);
    if (!row) throw notFound('variant', id);
    return row;
  }

  async deleteVariant(id: string) {
    this.database.write('variant.delete', () => {
      const row = this.models.getVariant(id);
      if (!row) throw notFound('variant', id);
      if (row.method === 'original')
        throw conflict('the original variant goes with its model: delete the model instead');
      if (this.models.childCount(id) > 0)
        throw conflict(`variant "${id}" has derived variants; delete them first`);
      refuseWhileRolledOut(this.models.activeRollouts({ variantId: id }), `variant "${id}"`);
      this.models.deleteVariant(id);
      this.audit.record('api', 'variant.delete', id);
    });
    return this.artifacts.collectGarbage();
  }

  /** Side-by-side figures of several variants, with their measured latency per profile. */
  compare(ids: string[]) {
    const variants = ids.map((id) => this.getVariant(id));
    const latency = this.measurements.summaryByVariant(ids);
    const base = variants[0];
    return {
      baseline: base.id,
      variants: variants.map((v) => ({
        ...v,
        ratios: {
          params: base.params && v.params !== null ? v.params / base.params : null,
          flops: base.flops && v.flops !== null ? v.flops / base.flops : null,
          bytes: v.bytes / base.bytes,
        },
        accuracyDelta:
          base.accuracy !== null && v.accuracy !== null ? v.accuracy - base.accuracy : null,
        latencyByProfile: latency
          .filter((l) => l.variant_id === v.id)
          .map((l) => ({
            profileId: l.profile_id,
            measurements: l.n,
            p50Ms: l.p50_ms,
            p99Ms: l.p99_ms,
          })),
      })),
    };
  }

  private checkFile(format: 'onnx' | 'engine', sha256: string) {
    const bytes = this.artifacts.readStored(sha256);
    try {
      return format === 'onnx' ? checkOnnxFile(bytes) : checkEngineFile(bytes);
    } catch (err) {
      this.artifacts.discardIfUnrecorded(sha256);
      throw err;
    }
  }

  private requireModel(id: string): ModelRow {
    const model = this.models.getModel(id);
    if (!model) throw notFound('model', id);
    return model;
  }

  private variantRow(
    modelId: string,
    format: string,
    sha256: string,
    bytes: number,
    meta: VariantMeta,
  ): VariantRow {
    return {
      id: newId('var'),
      model_id: modelId,
      parent_variant_id: meta.parentVariantId ?? null,
      name: meta.name,
      method: meta.method,
      options_json: JSON.stringify(meta.options ?? {}),
      provenance_json: JSON.stringify(meta.provenance ?? {}),
      format,
      params: meta.params ?? null,
      flops: meta.flops ?? null,
      bytes,
      accuracy: meta.accuracy ?? null,
      artifact_sha256: sha256,
      created_at: this.clock.now(),
    };
  }

  private modelView(m: ModelRow): ModelView {
    return {
      id: m.id,
      name: m.name,
      format: m.format,
      description: m.description,
      createdAt: new Date(m.created_at).toISOString(),
      variants: this.models.listVariants({ modelId: m.id }).map(toVariantView),
    };
  }
}

function toVariantView(r: VariantRow): VariantView {
  return {
    id: r.id,
    modelId: r.model_id,
    parentVariantId: r.parent_variant_id,
    name: r.name,
    method: r.method,
    options: JSON.parse(r.options_json) as unknown,
    provenance: JSON.parse(r.provenance_json) as unknown,
    format: r.format,
    params: r.params,
    flops: r.flops,
    bytes: r.bytes,
    accuracy: r.accuracy,
    artifactSha256: r.artifact_sha256,
    createdAt: new Date(r.created_at).toISOString(),
  };
}

/** A model or variant that devices are being switched to stays until its rollouts end. */
function refuseWhileRolledOut(rollouts: { id: string; state: string }[], what: string): void {
  if (rollouts.length === 0) return;
  const list = rollouts.map((r) => `${r.id} (${r.state})`).join(', ');
  throw conflict(`${what} is being rolled out by ${list}; wait for it to end or abort it first`);
}
