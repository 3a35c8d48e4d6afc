import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  buildSmallCnn,
  decodeOnnxModel,
  exportOnnx,
  exportQuantizedOnnx,
  type Model,
} from '@edgecompress/engine';
import { graphWorkload, onnxWorkload } from '@edgecompress/profiles';

const model: Model = buildSmallCnn({
  inputShape: [28, 28, 1],
  numClasses: 10,
  widths: [8, 16, 32],
});
const weighted = (w: ReturnType<typeof graphWorkload>) =>
  w.filter((l) => l.op === 'conv2d' || l.op === 'dense');

function calibration(count: number) {
  const data = new Float32Array(count * 28 * 28);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 1000) / 1000;
  return { data, count };
}

describe('onnxWorkload', () => {
  it('prices a float export like the engine graph it came from', () => {
    const fromOnnx = weighted(onnxWorkload(exportOnnx(model)));
    const fromGraph = weighted(graphWorkload(model.graph));
    assert.equal(fromOnnx.length, fromGraph.length);
    assert.deepEqual(
      fromOnnx.map((l) => [l.op, l.ops, l.precision]),
      fromGraph.map((l) => [l.op, l.ops, l.precision]),
    );
  });

  it('takes a QDQ int8 export the importer refuses, with its layers at int8 and the same ops', async () => {
    const { bytes } = await exportQuantizedOnnx(model, { calibration: calibration(8) });
    const ops = new Set(decodeOnnxModel(bytes).graph!.node!.map((n) => n.opType));
    assert.ok(ops.has('QuantizeLinear') && ops.has('DequantizeLinear'));
    const layers = weighted(onnxWorkload(bytes));
    const float = weighted(graphWorkload(model.graph));
    assert.deepEqual(
      layers.map((l) => l.ops),
      float.map((l) => l.ops),
    );
    assert.ok(
      layers.every((l) => l.precision === 'int8'),
      JSON.stringify(layers),
    );
    // int8 weights move a quarter of the float bytes.
    const bytesOf = (ls: typeof layers) => ls.reduce((s, l) => s + l.bytes, 0);
    assert.ok(bytesOf(layers) < bytesOf(float) / 2);
  });

  it('names the problem for a file that is not ONNX', () => {
    assert.throws(() => onnxWorkload(Buffer.from('definitely not a model')), /ONNX|onnx/);
  });
});
