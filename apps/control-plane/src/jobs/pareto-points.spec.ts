import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { VariantView } from '../models/models.service';
import { paretoPoints } from './pareto-points';

const variant = (id: string, over: Partial<VariantView> = {}): VariantView => ({
  id,
  modelId: 'm1',
  parentVariantId: null,
  name: id,
  method: 'aap',
  options: {},
  provenance: {},
  format: 'engine',
  params: 1000,
  flops: 5000,
  bytes: 4000,
  accuracy: 0.9,
  artifactSha256: 'a'.repeat(64),
  createdAt: '2026-11-28T00:00:00Z',
  ...over,
});

describe('pareto points', () => {
  it('shows an engine candidate and its ONNX twin as one point with the twin as deployable', () => {
    const engine = variant('v-eng', {
      provenance: { latencyMs: 1.5, latencySource: 'predicted', profileId: 'rpi5' },
    });
    const twin = variant('v-onnx', {
      format: 'onnx',
      parentVariantId: 'v-eng',
      bytes: 2500,
      provenance: { onnxOf: 'v-eng', latencyMs: 1.5, latencySource: 'predicted' },
    });
    const other = variant('v-base', { bytes: 9000, accuracy: 0.92 });
    const points = paretoPoints(
      [other, engine, twin],
      [
        { variant_id: 'v-onnx', profile_id: 'rpi5', n: 3, p50_ms: 1.2 },
        { variant_id: 'v-onnx', profile_id: 'rpi5', n: 1, p50_ms: 2.0 },
      ],
      'rpi5',
    );
    assert.deepEqual(
      points.map((p) => p.variantId),
      ['v-base', 'v-eng'],
    );
    const merged = points[1]!;
    assert.equal(merged.deployableVariantId, 'v-onnx');
    assert.equal(merged.bytes, 2500, 'the size of the file a device runs');
    assert.equal(merged.latencySource, 'measured');
    assert.ok(Math.abs(merged.p50Ms! - 1.4) < 1e-12, 'count-weighted mean of the twin p50s');
    assert.equal(points[0]!.deployableVariantId, undefined);
  });

  it('falls back to the recorded figure, and only for the matching device class', () => {
    const engine = variant('v-eng', {
      provenance: { latencyMs: 1.5, latencySource: 'predicted', profileId: 'rpi5' },
    });
    const twin = variant('v-onnx', { format: 'onnx', provenance: { onnxOf: 'v-eng' } });
    const [forRpi] = paretoPoints([engine, twin], [], 'rpi5');
    assert.equal(forRpi!.p50Ms, 1.5);
    assert.equal(forRpi!.latencySource, 'predicted');
    const [forJetson] = paretoPoints(
      [engine, twin],
      [{ variant_id: 'v-onnx', profile_id: 'rpi5', n: 2, p50_ms: 1.0 }],
      'jetson-orin-nano',
    );
    assert.equal(forJetson!.p50Ms, null);
    assert.equal(forJetson!.latencySource, null);
  });

  it('keeps a twin whose engine variant is not listed as a point of its own', () => {
    const orphan = variant('v-onnx', { format: 'onnx', provenance: { onnxOf: 'gone' } });
    assert.deepEqual(
      paretoPoints([orphan], []).map((p) => [p.variantId, p.deployableVariantId]),
      [['v-onnx', undefined]],
    );
  });
});
