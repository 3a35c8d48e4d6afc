import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeTempDir, type TempDir } from '@edgecompress/testing';
import { SqliteDatabase } from '../database/sqlite.database';
import { ListVariantsQueryDto } from './dto/model.dto';
import { ModelsRepository, type VariantRow } from './models.repository';

/** Variant listing on a real SQLite file, filtered the way the REST query arrives. */
describe('ModelsRepository.listVariants', () => {
  let dir: TempDir;
  let database: SqliteDatabase;
  let repo: ModelsRepository;

  const variant = (id: string, modelId: string, method: string, at: number): VariantRow => ({
    id,
    model_id: modelId,
    parent_variant_id: null,
    name: id,
    method,
    options_json: '{}',
    provenance_json: '{}',
    format: 'onnx',
    params: 10,
    flops: 20,
    bytes: 30,
    accuracy: 0.9,
    artifact_sha256: 'a'.repeat(64),
    created_at: at,
  });

  before(() => {
    dir = makeTempDir('edgec-models-repo-');
    database = new SqliteDatabase(join(dir.path, 'models.db'));
    repo = new ModelsRepository(database);
    database.db
      .prepare('INSERT INTO artifacts (sha256, bytes, media_type, created_at) VALUES (?, 30, ?, 0)')
      .run('a'.repeat(64), 'application/octet-stream');
    for (const [id, at] of [
      ['m1', 1],
      ['m2', 2],
    ] as const) {
      repo.insertModel({ id, name: id, format: 'onnx', description: null, created_at: at });
    }
    repo.insertVariant(variant('v1', 'm1', 'original', 1));
    repo.insertVariant(variant('v2', 'm1', 'aap', 2));
    repo.insertVariant(variant('v3', 'm2', 'original', 3));
  });

  after(() => {
    database.close();
    dir.cleanup();
  });

  it('filters by a validated query DTO (a class instance), not only a plain object', () => {
    const query = Object.assign(new ListVariantsQueryDto(), { modelId: 'm1' });
    assert.deepEqual(
      repo.listVariants(query).map((v) => v.id),
      ['v1', 'v2'],
    );
    const both = Object.assign(new ListVariantsQueryDto(), { modelId: 'm1', method: 'aap' });
    assert.deepEqual(
      repo.listVariants(both).map((v) => v.id),
      ['v2'],
    );
  });

  it('lists every variant with no filter and none for an unknown model', () => {
    assert.deepEqual(
      repo.listVariants(new ListVariantsQueryDto()).map((v) => v.id),
      ['v1', 'v2', 'v3'],
    );
    assert.deepEqual(repo.listVariants({ modelId: 'nope' }), []);
    assert.deepEqual(
      repo.listVariants({ method: 'original' }).map((v) => v.id),
      ['v1', 'v3'],
    );
  });

  it('reads a variant file (id, format, size, artifact) as the full row has it, none when unknown', () => {
    const full = repo.getVariant('v2')!;
    assert.deepEqual(repo.variantFile('v2'), {
      id: full.id,
      format: full.format,
      bytes: full.bytes,
      artifact_sha256: full.artifact_sha256,
    });
    assert.equal(repo.variantFile('nope'), undefined);
  });
});
