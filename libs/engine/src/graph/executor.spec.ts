import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildResNet, buildSmallCnn } from '../builders';
import { GraphExecutor } from './executor';
import { ensureTfjsGradients } from '../backend';
import { fakeQuantWeight } from '../quant';
import { GRAPH_FORMAT, GRAPH_VERSION, type GraphNode, type Model } from './ir';

/** input [2, 2, 2] -> batchNorm -> globalAvgPool -> dense (identity kernel): logits = pooled BN output. */
function bnModel(gamma = [2, 0.5], beta = [1, -1], mean = [0.5, -1], variance = [4, 0.25]): Model {
  const nodes: GraphNode[] = [
    { id: 'x', op: 'input', inputs: [], attrs: { shape: [2, 2, 2] } },
    { id: 'bn', op: 'batchNorm', inputs: ['x'], attrs: { epsilon: 0, momentum: 0.9 } },
    { id: 'gap', op: 'globalAvgPool', inputs: ['bn'], attrs: {} },
    { id: 'fc', op: 'dense', inputs: ['gap'], attrs: { units: 2, useBias: false } },
  ];
  const w = (shape: number[], data: number[]) => ({ shape, data: Float32Array.from(data) });
  return {
    graph: {
      format: GRAPH_FORMAT,
      version: GRAPH_VERSION,
      name: 'bn',
      architecture: 'test',
      inputShape: [2, 2, 2],
      numClasses: 2,
      nodes,
      output: 'fc',
    },
    weights: new Map([
      ['bn/gamma', w([2], gamma)],
      ['bn/beta', w([2], beta)],
      ['bn/movingMean', w([2], mean)],
      ['bn/movingVariance', w([2], variance)],
      ['fc/kernel', w([2, 2], [1, 0, 0, 1])],
    ]),
  };
}

/** Batch of 2 images; channel 0 holds 1..8, channel 1 holds 10, 20, ..., 80. */
const bnBatch = () =>
  tf.tensor4d(Array.from({ length: 8 }, (_, i) => [i + 1, (i + 1) * 10]).flat(), [2, 2, 2, 2]);

const close = (actual: ArrayLike<number>, expected: number[], tol = 1e-4) => {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol,
      `index ${i}: ${actual[i]} vs ${expected[i]}`,
    );
  }
};

describe('GraphExecutor', () => {
  before(async () => {
    ensureTfjsGradients();
    await tf.setBackend('cpu');
  });

  it('eval mode normalises with the running statistics', () => {
    const ex = new GraphExecutor(bnModel());
    const x = bnBatch();
    const { logits, stateUpdates } = ex.forward(x, { training: false });
    // image 0, channel 0: mean(1..4) = 2.5 -> 2 * (2.5 - 0.5) / 2 + 1 = 3
    // image 0, channel 1: mean(10..40) = 25 -> 0.5 * (25 + 1) / 0.5 - 1 = 25
    // image 1: channel 0 mean 6.5 -> 7; channel 1 mean 65 -> 65
    close(logits.dataSync(), [3, 25, 7, 65]);
    assert.equal(stateUpdates.size, 0);
    ex.dispose();
  });

  it('training mode uses batch statistics and proposes PyTorch-style running stats without assigning them', () => {
    const ex = new GraphExecutor(bnModel());
    const x = bnBatch();
    const { logits, stateUpdates } = ex.forward(x, { training: true });
    // channel 0 over the batch: values 1..8, mean 4.5, biased var 5.25, unbiased 6.
    const std0 = Math.sqrt(5.25);
    const expected0 = [2.5, 6.5].map((m) => (2 * (m - 4.5)) / std0 + 1);
    const std1 = Math.sqrt(525);
    const expected1 = [25, 65].map((m) => (0.5 * (m - 45)) / std1 - 1);
    close(logits.dataSync(), [expected0[0], expected1[0], expected0[1], expected1[1]]);
    close(stateUpdates.get('bn/movingMean')!.dataSync(), [
      0.9 * 0.5 + 0.1 * 4.5,
      0.9 * -1 + 0.1 * 45,
    ]);
    close(
      stateUpdates.get('bn/movingVariance')!.dataSync(),
      [0.9 * 4 + 0.1 * 6, 0.9 * 0.25 + 0.1 * 600],
      1e-3,
    );
    // forward is pure: nothing moved yet
    close(ex.state.get('bn/movingMean')!.dataSync(), [0.5, -1]);
    ex.applyStateUpdates(stateUpdates);
    close(ex.state.get('bn/movingMean')!.dataSync(), [0.9, 3.6]);
    close(ex.toModel().weights.get('bn/movingVariance')!.data, [4.2, 60.225], 1e-3);
    ex.dispose();
  });

  it('applyStateUpdates rejects an unknown name or a wrong shape and changes nothing', () => {
    const ex = new GraphExecutor(bnModel());
    const good = tf.tensor1d([7, 7]);
    assert.throws(
      () =>
        ex.applyStateUpdates(
          new Map([
            ['bn/movingMean', good],
            ['bn/nope', good],
          ]),
        ),
      /unknown state weight "bn\/nope"/,
    );
    assert.throws(
      () =>
        ex.applyStateUpdates(
          new Map([
            ['bn/movingMean', good],
            ['bn/movingVariance', tf.tensor1d([1])],
          ]),
        ),
      /shape \[1\], expected \[2\]/,
    );
    close(ex.state.get('bn/movingMean')!.dataSync(), [0.5, -1]);
    ex.dispose();
  });

  it('splits trainable weights from BN state in graph order', () => {
    const ex = new GraphExecutor(bnModel());
    assert.deepEqual([...ex.trainable.keys()], ['bn/gamma', 'bn/beta', 'fc/kernel']);
    assert.deepEqual([...ex.state.keys()], ['bn/movingMean', 'bn/movingVariance']);
    assert.ok([...ex.trainable.values()].every((v) => v.trainable));
    assert.ok([...ex.state.values()].every((v) => !v.trainable));
    ex.dispose();
  });

  it('captures the outputs of the requested nodes and rejects unknown ones', () => {
    const model = buildSmallCnn({ inputShape: [8, 8, 3], numClasses: 4, seed: 1 });
    const ex = new GraphExecutor(model);
    const x = tf.randomNormal([3, 8, 8, 3]) as tf.Tensor4D;
    const { logits, captured } = ex.forward(x, {
      training: false,
      capture: ['s1.relu', 'pool', 'fc'],
    });
    assert.deepEqual(captured.get('s1.relu')!.shape, [3, 4, 4, 32]);
    assert.deepEqual(captured.get('pool')!.shape, [3, 64]);
    close(captured.get('fc')!.dataSync(), Array.from(logits.dataSync()), 0);
    assert.throws(
      () => ex.forward(x, { training: false, capture: ['nope'] }),
      /cannot capture "nope"/,
    );
    ex.dispose();
  });

  it('rejects an input batch of the wrong shape with a clear error', () => {
    const ex = new GraphExecutor(buildSmallCnn({ inputShape: [8, 8, 3], numClasses: 4 }));
    assert.throws(
      () => ex.forward(tf.zeros([2, 8, 8, 1]) as tf.Tensor4D, { training: false }),
      /input batch has shape \[2, 8, 8, 1\], expected \[N, 8, 8, 3\]/,
    );
    ex.dispose();
  });

  it('releases every intermediate tensor and, on dispose, every variable', () => {
    const before = tf.memory().numTensors;
    const ex = new GraphExecutor(buildResNet({ depth: 8, inputShape: [8, 8, 3], numClasses: 5 }));
    const variables = ex.trainable.size + ex.state.size;
    assert.equal(tf.memory().numTensors, before + variables);
    const x = tf.randomNormal([2, 8, 8, 3]) as tf.Tensor4D;
    const r = ex.forward(x, { training: true, capture: ['pool'] });
    // x + logits + one capture + the updates: nothing else survives the forward pass
    assert.equal(tf.memory().numTensors, before + variables + 1 + 1 + 1 + r.stateUpdates.size);
    tf.dispose([x, r.logits, ...r.captured.values(), ...r.stateUpdates.values()]);
    ex.dispose();
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => ex.toModel(), /disposed/);
  });

  it('gives a gradient to every trainable variable of a ResNet through train-mode BN', () => {
    const ex = new GraphExecutor(
      buildResNet({ depth: 8, inputShape: [6, 6, 3], numClasses: 5, seed: 3, widths: [4, 8, 8] }),
    );
    const x = tf.randomNormal([4, 6, 6, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 5);
    const { value, grads } = tf.variableGrads(() => {
      const { logits } = ex.forward(x, { training: true });
      return tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;
    }, [...ex.trainable.values()]);
    assert.ok(Number.isFinite(value.dataSync()[0]));
    for (const [name, variable] of ex.trainable) {
      const grad = grads[variable.name];
      assert.ok(grad, `no gradient for ${name}`);
      assert.ok(tf.max(tf.abs(grad)).dataSync()[0] > 0, `zero gradient for ${name}`);
    }
    ex.dispose();
  });

  it('two executors of one model coexist, and toModel snapshots reproduce the same logits', () => {
    const model = buildSmallCnn({ inputShape: [6, 6, 2], numClasses: 3, seed: 9 });
    const a = new GraphExecutor(model);
    a.trainable.get('fc/bias')!.assign(tf.tensor1d([1, 2, 3]));
    const b = new GraphExecutor(a.toModel());
    const x = tf.randomNormal([2, 6, 6, 2]) as tf.Tensor4D;
    close(
      b.forward(x, { training: false }).logits.dataSync(),
      Array.from(a.forward(x, { training: false }).logits.dataSync()),
      1e-6,
    );
    assert.deepEqual(Array.from(model.weights.get('fc/bias')!.data).length, 3);
    assert.notDeepEqual(Array.from(model.weights.get('fc/bias')!.data), [1, 2, 3]);
    a.dispose();
    b.dispose();
  });
});

describe('GraphExecutor convolutions', () => {
  before(async () => {
    ensureTfjsGradients();
    await tf.setBackend('cpu');
  });

  const convModel = (
    node: GraphNode,
    inputShape: number[],
    outChannels: number,
    weights: Model['weights'],
  ): Model => ({
    graph: {
      format: GRAPH_FORMAT,
      version: GRAPH_VERSION,
      name: 'conv',
      architecture: 'test',
      inputShape,
      numClasses: outChannels,
      nodes: [
        { id: 'x', op: 'input', inputs: [], attrs: { shape: inputShape } },
        node,
        { id: 'gap', op: 'globalAvgPool', inputs: [node.id], attrs: {} },
      ],
      output: 'gap',
    },
    weights,
  });

  it('applies explicit asymmetric pads exactly', () => {
    // 1x1 input of value 1, 2x2 kernel of ones, pads top 1 left 1: output 1x1... (2x2 window sees 1 pixel)
    const model = convModel(
      {
        id: 'c',
        op: 'conv2d',
        inputs: ['x'],
        attrs: {
          filters: 1,
          kernelSize: [2, 2],
          strides: [1, 1],
          pads: [1, 0, 0, 1],
          dilations: [1, 1],
          groups: 1,
          useBias: false,
        },
      },
      [2, 2, 1],
      1,
      new Map([['c/kernel', { shape: [2, 2, 1, 1], data: Float32Array.from([1, 10, 100, 1000]) }]]),
    );
    const ex = new GraphExecutor(model);
    assert.deepEqual(ex.shapes.get('c'), [2, 2, 1]);
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const { captured } = ex.forward(x, { training: false, capture: ['c'] });
    // padded input rows: [0 0 0], [1 2 0], [3 4 0] (top row and right column are padding)
    // out(0,0) = 0*1 + 0*10 + 1*100 + 2*1000 = 2100; out(0,1) = 200; out(1,0) = 1*1+2*10+3*100+4*1000 = 4321; out(1,1) = 2 + 400 = 402
    close(captured.get('c')!.dataSync(), [2100, 200, 4321, 402]);
    ex.dispose();
  });

  it('runs grouped and per-channel (depthwise) conv2d as independent groups', () => {
    const x = tf.randomNormal([2, 5, 5, 4], 0, 1, 'float32', 11) as tf.Tensor4D;
    for (const groups of [2, 4]) {
      const filters = 8;
      const kernel = tf.randomNormal([3, 3, 4 / groups, filters], 0, 1, 'float32', groups);
      const ex = new GraphExecutor(
        convModel(
          {
            id: 'c',
            op: 'conv2d',
            inputs: ['x'],
            attrs: {
              filters,
              kernelSize: [3, 3],
              strides: [2, 2],
              pads: [1, 1, 1, 1],
              dilations: [1, 1],
              groups,
              useBias: false,
            },
          },
          [5, 5, 4],
          filters,
          new Map([['c/kernel', { shape: kernel.shape, data: kernel.dataSync() as Float32Array }]]),
        ),
      );
      const actual = ex.forward(x, { training: false, capture: ['c'] }).captured.get('c')!;
      // reference: group g sees input channels [g*cin, (g+1)*cin) and produces filters [g*cout, (g+1)*cout)
      const cin = 4 / groups;
      const cout = filters / groups;
      const parts = Array.from({ length: groups }, (_, g) =>
        tf.conv2d(
          tf.slice(x, [0, 0, 0, g * cin], [-1, -1, -1, cin]),
          tf.slice(kernel, [0, 0, 0, g * cout], [-1, -1, -1, cout]) as tf.Tensor4D,
          2,
          [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ],
        ),
      );
      close(actual.dataSync(), Array.from(tf.concat(parts, 3).dataSync()), 1e-4);
      ex.dispose();
    }
  });

  it('runs every remaining op as its tfjs definition: depthwise with multiplier and bias, concat, avgPool, flatten, relu6, softmax', () => {
    const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
    const dwKernel = rand([3, 3, 2, 2], 1);
    const dwBias = rand([4], 2);
    const fcKernel = rand([2 * 2 * 6, 3], 3);
    const model: Model = {
      graph: {
        format: GRAPH_FORMAT,
        version: GRAPH_VERSION,
        name: 'ops',
        architecture: 'test',
        inputShape: [4, 4, 2],
        numClasses: 3,
        nodes: [
          { id: 'x', op: 'input', inputs: [], attrs: { shape: [4, 4, 2] } },
          {
            id: 'dw',
            op: 'depthwiseConv2d',
            inputs: ['x'],
            attrs: {
              kernelSize: [3, 3],
              strides: [1, 1],
              pads: [1, 1, 1, 1],
              dilations: [1, 1],
              depthMultiplier: 2,
              useBias: true,
            },
          },
          { id: 'r6', op: 'relu6', inputs: ['dw'], attrs: {} },
          { id: 'cat', op: 'concat', inputs: ['r6', 'x'], attrs: { axis: -1 } },
          {
            id: 'avg',
            op: 'avgPool',
            inputs: ['cat'],
            attrs: { poolSize: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] },
          },
          { id: 'flat', op: 'flatten', inputs: ['avg'], attrs: {} },
          { id: 'fc', op: 'dense', inputs: ['flat'], attrs: { units: 3, useBias: false } },
          { id: 'prob', op: 'softmax', inputs: ['fc'], attrs: {} },
        ],
        output: 'fc',
      },
      weights: new Map([
        ['dw/kernel', { shape: [3, 3, 2, 2], data: dwKernel.dataSync() as Float32Array }],
        ['dw/bias', { shape: [4], data: dwBias.dataSync() as Float32Array }],
        ['fc/kernel', { shape: [24, 3], data: fcKernel.dataSync() as Float32Array }],
      ]),
    };
    const ex = new GraphExecutor(model);
    const x = rand([2, 4, 4, 2], 4) as tf.Tensor4D;
    const { logits, captured } = ex.forward(x, { training: false, capture: ['prob', 'flat'] });
    const dw = tf.relu6(tf.add(tf.depthwiseConv2d(x, dwKernel as tf.Tensor4D, 1, 'same'), dwBias));
    const pooled = tf.avgPool(tf.concat([dw, x], 3) as tf.Tensor4D, 2, 2, 'valid');
    const flat = tf.reshape(pooled, [2, 24]);
    const expected = tf.matMul(flat as tf.Tensor2D, fcKernel as tf.Tensor2D);
    close(captured.get('flat')!.dataSync(), Array.from(flat.dataSync()), 1e-5);
    close(logits.dataSync(), Array.from(expected.dataSync()), 1e-4);
    close(captured.get('prob')!.dataSync(), Array.from(tf.softmax(expected).dataSync()), 1e-5);
    ex.dispose();
  });

  it('runs a flat-input graph on a 2-D batch, with BatchNorm over the batch axis', () => {
    const model: Model = {
      graph: {
        format: GRAPH_FORMAT,
        version: GRAPH_VERSION,
        name: 'mlp',
        architecture: 'test',
        inputShape: [3],
        numClasses: 3,
        nodes: [
          { id: 'x', op: 'input', inputs: [], attrs: { shape: [3] } },
          { id: 'bn', op: 'batchNorm', inputs: ['x'], attrs: { epsilon: 1e-5, momentum: 0.5 } },
          { id: 'relu', op: 'relu', inputs: ['bn'], attrs: {} },
          { id: 'fc', op: 'dense', inputs: ['relu'], attrs: { units: 3, useBias: true } },
        ],
        output: 'fc',
      },
      weights: new Map([
        ['bn/gamma', { shape: [3], data: Float32Array.from([1, 1, 1]) }],
        ['bn/beta', { shape: [3], data: Float32Array.from([0, 0, 0]) }],
        ['bn/movingMean', { shape: [3], data: Float32Array.from([0, 0, 0]) }],
        ['bn/movingVariance', { shape: [3], data: Float32Array.from([1, 1, 1]) }],
        ['fc/kernel', { shape: [3, 3], data: Float32Array.from([1, 0, 0, 0, 1, 0, 0, 0, 1]) }],
        ['fc/bias', { shape: [3], data: Float32Array.from([10, 20, 30]) }],
      ]),
    };
    const ex = new GraphExecutor(model);
    const x = tf.tensor2d([
      [1, 2, 3],
      [3, 6, 9],
    ]);
    const { logits, stateUpdates } = ex.forward(x, { training: true });
    // per feature: batch mean m, biased var v = (d/2)^2 -> normalised values are -1 and +1
    close(logits.dataSync(), [10, 20, 30, 11, 21, 31], 1e-3);
    // running mean = 0.5 * 0 + 0.5 * [2, 4, 6]; unbiased var of two values = d^2 / 2
    close(stateUpdates.get('bn/movingMean')!.dataSync(), [1, 2, 3]);
    close(stateUpdates.get('bn/movingVariance')!.dataSync(), [
      0.5 + 0.5 * 2,
      0.5 + 0.5 * 8,
      0.5 + 0.5 * 18,
    ]);
    ex.dispose();
  });

  it('runs fakeQuant nodes and weight-quantized layers through the quantizers, with their parameters trainable', () => {
    const rand = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);
    const kernel = rand([3, 3, 2, 4], 7);
    const weightQuant = { quantizer: 'lsq' as const, bits: 4, perChannel: false };
    const actQuant = { quantizer: 'pact' as const, bits: 2, signed: false };
    const model: Model = {
      graph: {
        format: GRAPH_FORMAT,
        version: GRAPH_VERSION,
        name: 'q',
        architecture: 'test',
        inputShape: [5, 5, 2],
        numClasses: 4,
        nodes: [
          { id: 'x', op: 'input', inputs: [], attrs: { shape: [5, 5, 2] } },
          {
            id: 'conv',
            op: 'conv2d',
            inputs: ['x'],
            attrs: {
              filters: 4,
              kernelSize: [3, 3],
              strides: [1, 1],
              pads: [1, 1, 1, 1],
              dilations: [1, 1],
              groups: 1,
              useBias: false,
              weightQuant,
            },
          },
          { id: 'relu', op: 'relu', inputs: ['conv'], attrs: {} },
          { id: 'fq', op: 'fakeQuant', inputs: ['relu'], attrs: actQuant },
          { id: 'gap', op: 'globalAvgPool', inputs: ['fq'], attrs: {} },
        ],
        output: 'gap',
      },
      weights: new Map([
        ['conv/kernel', { shape: [3, 3, 2, 4], data: kernel.dataSync() as Float32Array }],
        ['conv/wq.step', { shape: [], data: Float32Array.from([0.2]) }],
        ['fq/alpha', { shape: [], data: Float32Array.from([1.5]) }],
      ]),
    };
    const ex = new GraphExecutor(model);
    assert.deepEqual([...ex.trainable.keys()], ['conv/kernel', 'conv/wq.step', 'fq/alpha']);
    const x = rand([2, 5, 5, 2], 8) as tf.Tensor4D;
    const { captured } = ex.forward(x, { training: false, capture: ['conv', 'fq'] });
    // the conv used the fake-quantized kernel, exactly as the quantizer defines it
    const step = new Map([['step', tf.scalar(0.2)]]);
    const quantizedKernel = fakeQuantWeight(kernel, weightQuant, step) as tf.Tensor4D;
    const expected = tf.conv2d(x, quantizedKernel, 1, 'same');
    close(captured.get('conv')!.dataSync(), Array.from(expected.dataSync()), 1e-5);
    assert.notDeepEqual(Array.from(quantizedKernel.dataSync()), Array.from(kernel.dataSync()));
    // 2-bit unsigned PACT with alpha 1.5: every activation is one of 0, 0.5, 1, 1.5
    const levels = new Set(
      Array.from(captured.get('fq')!.dataSync()).map((v) => Math.round(v * 1e4) / 1e4),
    );
    assert.ok(
      [...levels].every((v) => [0, 0.5, 1, 1.5].includes(v)),
      `levels ${[...levels].join(', ')}`,
    );
    assert.ok(levels.size >= 3);
    const { grads } = tf.variableGrads(() => {
      const { logits } = ex.forward(x, { training: true });
      return tf.sum(tf.square(logits)) as tf.Scalar;
    }, [...ex.trainable.values()]);
    for (const name of ['conv/wq.step', 'fq/alpha']) {
      const g = grads[ex.trainable.get(name)!.name];
      assert.ok(g && Math.abs(g.dataSync()[0]) > 0, `no gradient for ${name}`);
    }
    ex.dispose();
  });

  it('refuses a fakeQuant node it cannot run (no quantizer parameters), naming the node', () => {
    const model = bnModel();
    model.graph.nodes.splice(2, 0, {
      id: 'fq',
      op: 'fakeQuant',
      inputs: ['bn'],
      attrs: { quantizer: 'pact', bits: 4, signed: false },
    });
    model.graph.nodes[3].inputs = ['fq'];
    const ex = new GraphExecutor(model);
    assert.throws(
      () => ex.forward(bnBatch(), { training: false }),
      /node "fq": activation quantiz/,
    );
    ex.dispose();
  });
});
