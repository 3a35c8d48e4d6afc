import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import {
  attrInts,
  createOrtSession,
  encodeModel,
  exportOnnx,
  floatTensor,
  importOnnx,
  int64Tensor,
  onnx,
  runOrt,
} from '@edgecompress/engine';
import { randomInput, seeded } from './engine-models';
import { relativeL2 } from './onnx-fixtures';

const rand = seeded(77);
const weights = (n: number): Float32Array => Float32Array.from({ length: n }, () => rand() - 0.5);

/**
 * What TF/Keras converters (tf2onnx) write: an NHWC input transposed to NCHW, SAME padding as
 * auto_pad, a bias as a separate Add, Transpose back to NHWC before a Reshape to [-1, F],
 * MatMul + Add for the dense layer, and a final Softmax.
 */
function tfStyleModel(): Uint8Array {
  const str = (name: string, s: string): onnx.IAttributeProto => ({
    name,
    type: onnx.AttributeProto.AttributeType.STRING,
    s: new TextEncoder().encode(s),
  });
  const node = (
    opType: string,
    input: string[],
    output: string,
    attribute: onnx.IAttributeProto[] = [],
  ) => ({
    opType,
    name: `model/${output}`,
    input,
    output: [output],
    attribute,
  });
  const info = (name: string, dims: (number | string)[]): onnx.IValueInfoProto => ({
    name,
    type: {
      tensorType: {
        elemType: 1,
        shape: {
          dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })),
        },
      },
    },
  });
  const graph: onnx.IGraphProto = {
    name: 'keras-like',
    input: [info('input_1', ['N', 8, 8, 3])],
    output: [info('probs', ['N', 5])],
    initializer: [
      floatTensor('conv1/kernel', [4, 3, 3, 3], weights(108)),
      floatTensor('conv1/bias', [4], weights(4)),
      floatTensor('conv2/kernel', [6, 4, 1, 1], weights(24)),
      floatTensor('conv2/bias', [6, 1, 1], weights(6)),
      int64Tensor('flat/shape', [-1, 96]),
      floatTensor('dense/kernel', [96, 5], weights(480)),
      floatTensor('dense/bias', [5], weights(5)),
    ],
    node: [
      node('Transpose', ['input_1'], 'nchw', [attrInts('perm', [0, 3, 1, 2])]),
      node('Conv', ['nchw', 'conv1/kernel', 'conv1/bias'], 'conv1', [
        attrInts('strides', [2, 2]),
        attrInts('kernel_shape', [3, 3]),
        str('auto_pad', 'SAME_UPPER'),
      ]),
      node('Relu', ['conv1'], 'relu1'),
      node('Conv', ['relu1', 'conv2/kernel'], 'conv2_nobias', [attrInts('kernel_shape', [1, 1])]),
      node('Add', ['conv2_nobias', 'conv2/bias'], 'conv2'),
      node('Relu', ['conv2'], 'relu2'),
      node('Transpose', ['relu2'], 'nhwc', [attrInts('perm', [0, 2, 3, 1])]),
      node('Reshape', ['nhwc', 'flat/shape'], 'flat'),
      node('MatMul', ['flat', 'dense/kernel'], 'dense_mm'),
      node('Add', ['dense_mm', 'dense/bias'], 'dense'),
      node('Softmax', ['dense'], 'probs', [{ name: 'axis', type: 2, i: -1 }]),
    ],
  };
  return encodeModel({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'tf2onnx-like',
    graph,
  });
}

function softmaxRows(logits: Float32Array, classes: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let r = 0; r < logits.length / classes; r++) {
    const row = logits.subarray(r * classes, (r + 1) * classes);
    const max = Math.max(...row);
    const exps = row.map((v) => Math.exp(v - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    exps.forEach((e, i) => (out[r * classes + i] = e / sum));
  }
  return out;
}

describe('import of a TF/Keras-converter style model', () => {
  it('NHWC input, auto_pad SAME, Add biases, MatMul, trailing Softmax: same function as the original in ORT', async () => {
    const bytes = tfStyleModel();
    const { model, notes } = importOnnx(bytes);
    assert.deepEqual(model.graph.inputShape, [8, 8, 3]);
    assert.deepEqual(
      model.graph.nodes.map((n) => n.op),
      ['input', 'conv2d', 'relu', 'conv2d', 'relu', 'flatten', 'dense'],
    );
    assert.match(notes.join(), /dropped trailing Softmax/);
    const conv1 = model.graph.nodes[1]!;
    assert.deepEqual((conv1.attrs as { pads: number[] }).pads, [0, 1, 0, 1]); // SAME_UPPER, stride 2, 8 -> 4

    const input = randomInput(3, [8, 8, 3], 5);
    const original = await InferenceSession.create(bytes);
    const expected = (await original.run({ input_1: new Tensor('float32', input, [3, 8, 8, 3]) }))[
      'probs'
    ]!.data as Float32Array;
    await original.release();
    const session = await createOrtSession(exportOnnx(model));
    const logits = await runOrt(session, input, 3, model.graph.inputShape);
    await session.release();
    const probs = softmaxRows(logits, 5);
    assert.ok(relativeL2(probs, expected) < 1e-5, `relative L2 ${relativeL2(probs, expected)}`);
  });
});
