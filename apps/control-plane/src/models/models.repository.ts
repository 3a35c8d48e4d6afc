import { Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database/sqlite.database';

export interface ModelRow {
  id: string;
  name: string;
  format: 'onnx' | 'engine';
  description: string | null;
  created_at: number;
}

export interface VariantRow {
  id: string;
  model_id: string;
  parent_variant_id: string | null;
  name: string;
  method: string;
  options_json: string;
  provenance_json: string;
  format: string;
  params: number | null;
  flops: number | null;
  bytes: number;
  accuracy: number | null;
  artifact_sha256: string;
  created_at: number;
}

export type VariantFileRow = Pick<VariantRow, 'id' | 'format' | 'bytes' | 'artifact_sha256'>;

/** Models and their variants (the original is the root variant, method "original"). */
@Injectable()
export class ModelsRepository {
  constructor(private readonly database: SqliteDatabase) {}

  private get db() {
    return this.database.db;
  }

  insertModel(row: ModelRow): void {
    this.db
      .prepare(
        'INSERT INTO models (id, name, format, description, created_at) VALUES (@id, @name, @format, @description, @created_at)',
      )
      .run(row);
  }

  insertVariant(row: VariantRow): void {
    this.db
      .prepare(
        `INSERT INTO variants (id, model_id, parent_variant_id, name, method, options_json, provenance_json, format,
           params, flops, bytes, accuracy, artifact_sha256, created_at)
         VALUES (@id, @model_id, @parent_variant_id, @name, @method, @options_json, @provenance_json, @format,
           @params, @flops, @bytes, @accuracy, @artifact_sha256, @created_at)`,
      )
      .run(row);
  }

  getModel(id: string): ModelRow | undefined {
    return this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined;
  }

  listModels(): ModelRow[] {
    return this.db.prepare('SELECT * FROM models ORDER BY created_at, id').all() as ModelRow[];
  }

  deleteModel(id: string): boolean {
    return this.db.prepare('DELETE FROM models WHERE id = ?').run(id).changes > 0;
  }

  getVariant(id: string): VariantRow | undefined {
    return this.db.prepare('SELECT * FROM variants WHERE id = ?').get(id) as VariantRow | undefined;
  }

  /** What a download needs of a variant: its file, not its options or provenance. */
  variantFile(id: string): VariantFileRow | undefined {
    return this.db
      .prepare('SELECT id, format, bytes, artifact_sha256 FROM variants WHERE id = ?')
      .get(id) as VariantFileRow | undefined;
  }

  listVariants(filter: { modelId?: string; method?: string }): VariantRow[] {
    // better-sqlite3 binds named parameters only from a plain object: the filter may be a
    // validated DTO (a class instance), so its values are copied out.
    const where: string[] = [];
    const params: Record<string, string> = {};
    if (filter.modelId) {
      where.push('model_id = @modelId');
      params.modelId = filter.modelId;
    }
    if (filter.method) {
      where.push('method = @method');
      params.method = filter.method;
    }
    return this.db
      .prepare(
        `SELECT * FROM variants ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at, id`,
      )
      .all(params) as VariantRow[];
  }

  childCount(variantId: string): number {
    return (
      this.db
        .prepare('SELECT COUNT(*) AS n FROM variants WHERE parent_variant_id = ?')
        .get(variantId) as { n: number }
    ).n;
  }

  deleteVariant(id: string): boolean {
    return this.db.prepare('DELETE FROM variants WHERE id = ?').run(id).changes > 0;
  }

  /** Rollouts still running or paused of one variant, or of any variant of a model. */
  activeRollouts(of: { modelId: string } | { variantId: string }): { id: string; state: string }[] {
    const [column, value] = 'modelId' in of ? ['v.model_id', of.modelId] : ['v.id', of.variantId];
    return this.db
      .prepare(
        `SELECT r.id, r.state FROM rollouts r JOIN variants v ON v.id = r.variant_id
           WHERE r.state IN ('running', 'paused') AND ${column} = ? ORDER BY r.created_at`,
      )
      .all(value) as { id: string; state: string }[];
  }
}
