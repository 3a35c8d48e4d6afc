import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InferenceSession } from 'onnxruntime-node';
import {
  META,
  createOrtSession,
  decodeOnnxModel,
  exportOnnx,
  exportQuantizedOnnx,
  readMetadata,
  runOrt,
  type Model,
} from '@edgecompress/engine';
import { parityModels, randomInput } from './engine-models';
import { relativeL2 } from './onnx-fixtures';
import {
  fakeQuantizeKernel,
  markQuantized,
  withQuantizedKernels,
  type GridKind,
} from './quantized-models';

const work = mkdtempSync(join(tmpdir(), 'ec-qdq-'));
after(() => rmSync(work, { recursive: true, force: true }));

async function run(
  bytes: Uint8Array,
  model: Model,
  input: Float32Array,
  count: number,
  optimizedPath?: string,
): Promise<Float32Array> {
  const session = await createOrtSession(
    bytes,
    optimizedPath ? { optimizedModelFilePath: optimizedPath } : {},
  );
  try {
    return await runOrt(session, input, count, model.graph.inputShape);
  } finally {
    await session.release();
  }
}

function opCounts(path: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const n of decodeOnnxModel(readFileSync(path)).graph!.node!)
    counts[n.opType!] = (counts[n.opType!] ?? 0) + 1;
  return counts;
}

const calibration = (model: Model) => ({
  data: randomInput(64, model.graph.inputShape, 5),
  count: 64,
});

describe('post-training int8 export (static QDQ, calibrated)', () => {
  for (const { name, model } of parityModels()) {
    it(`${name}: ORT runs integer kernels and stays within 3% relative L2 of float`, async () => {
      const { bytes, report } = await exportQuantizedOnnx(model, {
        calibration: calibration(model),
      });
      const input = randomInput(8, model.graph.inputShape, 7);
      const float = await run(exportOnnx(model), model, input, 8);
      const optimized = join(work, `${name}.opt.onnx`);
      const quant = await run(bytes, model, input, 8, optimized);
      const ops = opCounts(optimized);
      const convs = model.graph.nodes.filter(
        (n) => n.op === 'conv2d' || n.op === 'depthwiseConv2d',
      ).length;
      assert.equal(ops['QLinearConv'], convs, JSON.stringify(ops));
      assert.equal(ops['Conv'] ?? 0, 0, 'no float convolution left');
      assert.ok((ops['QGemm'] ?? 0) >= 1, JSON.stringify(ops));
      assert.ok(relativeL2(quant, float) < 0.03, `relative L2 ${relativeL2(quant, float)}`);
      assert.equal(report.mode, 'post-training');
      assert.ok(bytes.length < exportOnnx(model).length * 0.7, 'int8 weights take fewer bytes');
    });
  }
});

describe('quantization-aware export (weightQuant / fakeQuant marks)', () => {
  const base = parityModels()[0]!.model; // resnet8
  const cases: { bits: number; grid: GridKind; storage: string }[] = [
    { bits: 8, grid: 'symmetric', storage: 'int8-qdq' },
    { bits: 4, grid: 'symmetric', storage: 'int4-qdq' },
    { bits: 3, grid: 'half-offset', storage: 'packed' },
    { bits: 2, grid: 'half-offset', storage: 'packed' },
  ];
  for (const { bits, grid, storage } of cases) {
    it(`${bits}-bit weights (${grid} grid) are stored as ${storage} and reproduce the quantized kernels exactly`, async () => {
      const marked = markQuantized(base, bits);
      const reference = withQuantizedKernels(marked, bits, grid);
      const { bytes, report } = await exportQuantizedOnnx(marked, {
        calibration: calibration(marked),
        quantizedKernel: (node, m) =>
          fakeQuantizeKernel(m.weights.get(`${node.id}/kernel`)!, bits, grid),
      });
      assert.ok(
        Object.values(report.weights).every((w) => w.storage === storage && w.bits === bits),
      );
      assert.equal(
        Object.keys(report.weights).length,
        marked.graph.nodes.filter((n) => n.op === 'conv2d').length - 1,
      );
      const input = randomInput(4, marked.graph.inputShape, 8);
      const expected = await run(exportOnnx(reference), reference, input, 4);
      const actual = await run(bytes, marked, input, 4);
      assert.ok(relativeL2(actual, expected) < 1e-5, `relative L2 ${relativeL2(actual, expected)}`);
      assert.equal(Number(decodeOnnxModel(bytes).opsetImport[0]!.version), bits === 4 ? 21 : 17);
    });
  }

  it('2-bit artifacts are bit-packed: the file shrinks with the bits, and ORT alone refuses it unexpanded', async () => {
    const sizes: Record<number, number> = {};
    for (const bits of [2, 3]) {
      const marked = markQuantized(base, bits);
      const { bytes } = await exportQuantizedOnnx(marked, { calibration: calibration(marked) });
      sizes[bits] = bytes.length;
      if (bits === 2) {
        assert.ok(readMetadata(decodeOnnxModel(bytes)).has(META.packedWeights));
        await assert.rejects(InferenceSession.create(bytes), /packed|not found|initializer|input/i);
      }
    }
    const floatBytes = exportOnnx(base).length;
    // resnet8 holds ~78k parameters, ~75k of them in marked convs: 2 bits each is ~19 KB.
    assert.ok(sizes[2]! < floatBytes * 0.12, `2-bit ${sizes[2]} vs float ${floatBytes}`);
    assert.ok(sizes[2]! < sizes[3]!, `2-bit ${sizes[2]} < 3-bit ${sizes[3]}`);
  });

  it('fakeQuant nodes become QDQ pairs on their grid (4-bit activations: 16 levels)', async () => {
    const marked = markQuantized(base, 8, 4);
    const { bytes, report } = await exportQuantizedOnnx(marked, {
      calibration: calibration(marked),
    });
    const aq = Object.entries(report.activations);
    assert.equal(aq.length, marked.graph.nodes.filter((n) => n.op === 'fakeQuant').length);
    assert.ok(aq.every(([, a]) => a.bits === 4 && a.zeroPoint === 0));
    const input = randomInput(4, marked.graph.inputShape, 9);
    const float = await run(exportOnnx(marked, { fakeQuantAsIdentity: true }), marked, input, 4);
    const quant = await run(bytes, marked, input, 4);
    const err = relativeL2(quant, float);
    assert.ok(err > 1e-4 && err < 0.3, `4-bit activations change the output, boundedly: ${err}`);
  });
});
