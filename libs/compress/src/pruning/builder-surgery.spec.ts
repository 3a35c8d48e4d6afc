/**
 * Surgery on the engine's real builders and on models imported from PyTorch-exported ONNX files:
 * removing channels computes exactly what zeroing them computes.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { GraphExecutor, type Model, buildModel, importOnnx } from '@edgecompress/engine';
import { analyzeDependencies } from './dependency-groups';
import { maskChannels, removeChannels } from './channel-surgery';
import { modelCost } from './model-cost';

const FIXTURES = join(__dirname, '../../../../test/fixtures/onnx');

function logits(model: Model, x: tf.Tensor): Float32Array {
  const exec = new GraphExecutor(model);
  try {
    const { logits: y } = exec.forward(x as tf.Tensor4D, { training: false });
    const out = y.dataSync() as Float32Array;
    y.dispose();
    return out;
  } finally {
    exec.dispose();
  }
}

/**
 * Fresh builders zero-init the last BN of residual blocks, so activations vanish and any change
 * hides under float noise: give every BN a nonzero, seeded-random affine first.
 */
function withLiveBatchNorm(model: Model): Model {
  let seed = 17;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const weights = new Map(model.weights);
  for (const [name, t] of model.weights) {
    if (name.endsWith('/gamma'))
      weights.set(name, { shape: t.shape, data: t.data.map(() => 0.5 + rand()) });
    if (name.endsWith('/beta'))
      weights.set(name, { shape: t.shape, data: t.data.map(() => 0.2 * rand() - 0.1) });
  }
  return { graph: model.graph, weights };
}

function pruneHalfAndCompare(input: Model): { before: number; after: number; groups: number } {
  const model = withLiveBatchNorm(input);
  const analysis = analyzeDependencies(model.graph);
  const removed = new Set<number>();
  let groups = 0;
  for (const g of analysis.groups) {
    if (!g.prunable) continue;
    groups++;
    g.channels.forEach((c, i) => {
      if (i % 2 === 1) removed.add(c.id);
    });
  }
  const masked = maskChannels(model, analysis, removed);
  const { model: pruned } = removeChannels(model, analysis, removed);
  const dims = [3, ...model.graph.inputShape];
  const x = tf.randomNormal(dims as [number, number, number, number], 0, 1, 'float32', 11);
  const a = logits(masked, x);
  const b = logits(pruned, x);
  const o = logits(model, x);
  x.dispose();
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
  const scale = Math.max(...a.map(Math.abs), 1e-6);
  assert.ok(
    worst <= 1e-4 * Math.max(1, scale),
    `max |pruned - masked| = ${worst} (scale ${scale})`,
  );
  assert.ok(
    o.some((v, i) => Math.abs(v - a[i]!) > 1e-4),
    'pruning changed the function',
  );
  return { before: modelCost(model).params, after: modelCost(pruned).params, groups };
}

describe('surgery on real architectures equals masking', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  for (const arch of ['resnet8', 'vgg8', 'mobilenetv2']) {
    it(`${arch} (builder)`, () => {
      const model = buildModel(arch, {
        inputShape: [16, 16, 1],
        numClasses: 10,
        seed: 5,
        widthMultiplier: 0.5,
      });
      const r = pruneHalfAndCompare(model);
      assert.ok(r.groups >= 3, `${arch}: ${r.groups} prunable groups`);
      assert.ok(r.after < 0.8 * r.before, `${arch}: params ${r.before} -> ${r.after}`);
    });
  }

  // The VGG fixture has a grouped conv: the channels around it stay, the stem is still pruned.
  for (const [file, minGroups] of [
    ['torch-resnet.onnx', 2],
    ['torch-vgg.onnx', 1],
  ] as const) {
    it(`${file} (imported from PyTorch)`, () => {
      const { model } = importOnnx(readFileSync(join(FIXTURES, file)));
      const r = pruneHalfAndCompare(model);
      assert.ok(r.groups >= minGroups, `${file}: ${r.groups} prunable groups`);
      assert.ok(r.after < r.before);
    });
  }
});
