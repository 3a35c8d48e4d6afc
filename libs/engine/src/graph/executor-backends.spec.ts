import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ensureTfjsGradients, initEngineBackend } from '../backend';
import { buildResNet, GraphBuilder } from '../builders';
import { GraphExecutor } from './executor';
import { GRAPH_FORMAT, GRAPH_VERSION, type Model } from './ir';

/** Pooling with explicit asymmetric pads and a grouped conv: the ops whose padding paths differ per backend. */
function paddedOpsModel(): Model {
  const kernel = Float32Array.from({ length: 3 * 3 * 2 * 4 }, (_, i) => Math.sin(i));
  return {
    graph: {
      format: GRAPH_FORMAT,
      version: GRAPH_VERSION,
      name: 'padded',
      architecture: 'test',
      inputShape: [7, 7, 4],
      numClasses: 4,
      nodes: [
        { id: 'x', op: 'input', inputs: [], attrs: { shape: [7, 7, 4] } },
        {
          id: 'max',
          op: 'maxPool',
          inputs: ['x'],
          attrs: { poolSize: [3, 3], strides: [2, 2], pads: [1, 0, 0, 1] },
        },
        {
          id: 'avg',
          op: 'avgPool',
          inputs: ['max'],
          attrs: { poolSize: [2, 2], strides: [1, 1], pads: [0, 1, 1, 0] },
        },
        {
          id: 'conv',
          op: 'conv2d',
          inputs: ['avg'],
          attrs: {
            filters: 4,
            kernelSize: [3, 3],
            strides: [1, 1],
            pads: [1, 1, 1, 1],
            dilations: [1, 1],
            groups: 2,
            useBias: false,
          },
        },
        { id: 'gap', op: 'globalAvgPool', inputs: ['conv'], attrs: {} },
      ],
      output: 'gap',
    },
    weights: new Map([['conv/kernel', { shape: [3, 3, 2, 4], data: kernel }]]),
  };
}

/** Two MobileNetV2 inverted residual blocks (stride 2, then stride 1 with the identity add). */
function invertedResidualModel(): Model {
  const b = new GraphBuilder([8, 8, 3], 6, {
    conv: 'kaiming-normal-fan-out',
    convBias: 'zeros',
    dense: 'normal-0.01',
  });
  let x = b.convBnAct('stem', b.input(), { filters: 8, kernel: 3 }, 'relu6');
  for (const [block, stride] of [
    [0, 2],
    [1, 1],
  ]) {
    let y = b.convBnAct(`b${block}.expand`, x, { filters: 24, kernel: 1 }, 'relu6');
    y = b.depthwise(`b${block}.dw`, y, 3, stride);
    y = b.relu6(`b${block}.dw.relu6`, b.batchNorm(`b${block}.dw.bn`, y));
    y = b.convBnAct(`b${block}.project`, y, { filters: 8, kernel: 1 }, 'none');
    x = stride === 1 ? b.addNode(`b${block}.add`, [x, y]) : y;
  }
  const pool = b.globalAvgPool('pool', x);
  return b.build({
    name: 'ir',
    architecture: 'test',
    numClasses: 3,
    output: b.dense('fc', pool, 3),
  });
}

type Shape4 = [number, number, number, number];

interface Run {
  logits: number[];
  captured: number[];
  grads: Map<string, number[]>;
}

function run(model: Model, x: Float32Array, shape: Shape4, capture: string): Run {
  const ex = new GraphExecutor(model);
  const input = tf.tensor4d(x, shape);
  const evalOut = ex.forward(input, { training: false, capture: [capture] });
  const vars = [...ex.trainable.values()];
  const { grads } = tf.variableGrads(
    () => {
      const { logits } = ex.forward(input, { training: true });
      // Squared logits: a linear loss would cancel across the batch after train-mode BN.
      return tf.sum(tf.square(logits)) as tf.Scalar;
    },
    vars.length ? vars : undefined,
  );
  const result: Run = {
    logits: Array.from(evalOut.logits.dataSync()),
    captured: Array.from(evalOut.captured.get(capture)!.dataSync()),
    grads: new Map(
      [...ex.trainable].map(([name, v]) => [name, Array.from(grads[v.name].dataSync())]),
    ),
  };
  ex.dispose();
  return result;
}

const assertClose = (actual: number[], expected: number[], what: string) => {
  assert.equal(actual.length, expected.length, what);
  const scale = Math.max(1e-3, ...expected.map(Math.abs));
  for (let i = 0; i < expected.length; i++) {
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= 2e-4 * scale,
      `${what}[${i}]: wasm ${actual[i]} vs cpu ${expected[i]}`,
    );
  }
};

describe('GraphExecutor on the engine backend (wasm) agrees with the reference cpu backend', () => {
  const cases: [string, () => Model, Shape4, string][] = [
    [
      'resnet8 (narrow)',
      () =>
        buildResNet({ depth: 8, inputShape: [8, 8, 3], numClasses: 5, seed: 1, widths: [4, 8, 8] }),
      [2, 8, 8, 3],
      's2.b0.relu',
    ],
    ['inverted residual blocks', invertedResidualModel, [4, 8, 8, 3], 'b1.dw'],
    ['padded pools + grouped conv', paddedOpsModel, [2, 7, 7, 4], 'avg'],
  ];

  for (const [name, build, shape, capture] of cases) {
    it(`${name}: eval logits, a captured map and train-mode gradients match`, async () => {
      ensureTfjsGradients();
      const model = build();
      const x = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) =>
        Math.cos(i * 0.37),
      );
      const info = await initEngineBackend({ prefer: 'wasm' });
      await tf.setBackend('cpu');
      const reference = run(model, x, shape, capture);
      assert.ok(await tf.setBackend(info.name));
      const engine = run(model, x, shape, capture);
      assertClose(engine.logits, reference.logits, 'logits');
      assertClose(engine.captured, reference.captured, capture);
      for (const [weight, grad] of reference.grads)
        assertClose(engine.grads.get(weight)!, grad, `d/d ${weight}`);
    });
  }
});
