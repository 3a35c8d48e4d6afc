import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { GraphExecutor, type Model } from '@edgecompress/engine';
import { analyzeDependencies, type DependencyAnalysis } from './dependency-groups';
import { maskChannels, removeChannels, sliceAxis } from './channel-surgery';
import { modelCost } from './model-cost';
import { tinyConcatNet, tinyMobileNetV2, tinyResNet, tinyVgg } from './test-models.fixture';

function logits(model: Model, x: tf.Tensor4D): Float32Array {
  const exec = new GraphExecutor(model);
  try {
    const { logits: y } = exec.forward(x, { training: false });
    const data = y.dataSync() as Float32Array;
    y.dispose();
    return data;
  } finally {
    exec.dispose();
  }
}

/** Removes, from every prunable group, the channels picked by `pick(indexInGroup)` (never all). */
function pickClasses(a: DependencyAnalysis, pick: (i: number) => boolean): Set<number> {
  const removed = new Set<number>();
  for (const g of a.groups) {
    if (!g.prunable) continue;
    const chosen = g.channels.filter((_, i) => pick(i)).map((c) => c.id);
    for (const id of chosen.slice(0, g.channels.length - 1)) removed.add(id);
  }
  return removed;
}

function assertClose(actual: Float32Array, expected: Float32Array, tol = 1e-4): void {
  assert.equal(actual.length, expected.length);
  let worst = 0;
  for (let i = 0; i < actual.length; i++)
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  assert.ok(worst <= tol, `max |pruned - masked| = ${worst}`);
}

function checkSurgeryMatchesMask(model: Model, pick: (i: number) => boolean, opts = {}): Model {
  const analysis = analyzeDependencies(model.graph, opts);
  const removed = pickClasses(analysis, pick);
  assert.ok(removed.size > 0, 'the fixture has prunable channels');
  const masked = maskChannels(model, analysis, removed);
  const { model: pruned } = removeChannels(model, analysis, removed);
  const shape = [5, ...model.graph.inputShape] as [number, number, number, number];
  const x = tf.randomNormal(shape, 0, 1, 'float32', 7) as tf.Tensor4D;
  const fromMasked = logits(masked, x);
  const fromPruned = logits(pruned, x);
  const fromOriginal = logits(model, x);
  x.dispose();
  assertClose(fromPruned, fromMasked);
  // and the removal really changed the function (the test could fail)
  assert.ok(fromOriginal.some((v, i) => Math.abs(v - fromMasked[i]!) > 1e-3));
  assert.ok(modelCost(pruned).params < modelCost(model).params);
  return pruned;
}

describe('dependency groups', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('ties a ResNet residual stream (stem + block output) and a projection shortcut into groups', () => {
    const a = analyzeDependencies(tinyResNet().graph);
    const byId = new Map(a.groups.map((g) => [g.id, g]));
    assert.deepEqual(byId.get('stem/conv')!.producers, ['stem/conv', 'b1/conv2']);
    assert.deepEqual(byId.get('b2/conv2')!.producers, ['b2/conv2', 'b2/shortcut']);
    assert.deepEqual(byId.get('stem/conv')!.scoredBy, ['stem/relu', 'b1/relu']);
    assert.equal(byId.get('stem/conv')!.channels.length, 4);
    assert.ok(byId.get('b1/conv1')!.prunable);
    assert.equal(byId.get('fc')!.prunable, false);
    assert.match(byId.get('fc')!.reason!, /logits/);
    assert.equal(byId.get('input')!.prunable, false);
  });

  it('keeps the stem when pruneStem is off, and the hidden classifier dense unless asked', () => {
    const r = analyzeDependencies(tinyResNet().graph, { pruneStem: false });
    assert.match(r.groups.find((g) => g.id === 'stem/conv')!.reason!, /stem/);
    const v = analyzeDependencies(tinyVgg().graph);
    assert.match(v.groups.find((g) => g.id === 'fc1')!.reason!, /classifier/);
    const v2 = analyzeDependencies(tinyVgg().graph, { pruneClassifier: true });
    assert.ok(v2.groups.find((g) => g.id === 'fc1')!.prunable);
    assert.equal(v2.groups.find((g) => g.id === 'fc2')!.prunable, false);
  });

  it('MobileNetV2: depthwise channels follow the expansion; the unscored projection stream is kept', () => {
    const a = analyzeDependencies(tinyMobileNetV2().graph);
    const expand = a.groups.find((g) => g.id === 'ir1/expand')!;
    assert.deepEqual(expand.producers, ['ir1/expand']);
    assert.deepEqual(expand.scoredBy, ['ir1/expand/relu6', 'ir1/dw/relu6']);
    // stem and ir1/project are tied by the skip add; the stem's ReLU6 scores the group
    assert.deepEqual(a.groups.find((g) => g.id === 'stem/conv')!.producers, [
      'stem/conv',
      'ir1/project',
    ]);
    const project2 = a.groups.find((g) => g.id === 'ir2/project')!;
    assert.equal(project2.prunable, false);
    assert.match(project2.reason!, /no ReLU/);
  });

  it('rejects removing a whole group or an unprunable channel', () => {
    const model = tinyResNet();
    const a = analyzeDependencies(model.graph);
    const g = a.groups.find((x) => x.id === 'b1/conv1')!;
    assert.throws(
      () => removeChannels(model, a, new Set(g.channels.map((c) => c.id))),
      /every channel of group b1\/conv1/,
    );
    const fc = a.groups.find((x) => x.id === 'fc')!;
    assert.throws(() => removeChannels(model, a, new Set([fc.channels[0]!.id])), /not prunable/);
    assert.throws(() => removeChannels(model, a, new Set([123456])), /unknown channel class/);
  });
});

describe('channel surgery equals masking (removed channels contribute nothing)', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('ResNet with residual adds and a projection shortcut', () => {
    const pruned = checkSurgeryMatchesMask(tinyResNet(), (i) => i % 2 === 0);
    const nodes = new Map(pruned.graph.nodes.map((n) => [n.id, n]));
    const filters = (id: string): number => {
      const n = nodes.get(id)!;
      return n.op === 'conv2d' ? n.attrs.filters : -1;
    };
    assert.equal(filters('stem/conv'), 2);
    assert.equal(filters('b1/conv2'), 2); // tied to the stem through the add
    assert.equal(filters('b2/shortcut'), filters('b2/conv2'));
    assert.deepEqual(pruned.weights.get('b1/conv1/kernel')!.shape, [3, 3, 2, 2]);
    assert.deepEqual(pruned.weights.get('fc/kernel')!.shape, [3, 3]);
  });

  it('MobileNetV2 with depthwise convs (with and without bias) and a skip add', () => {
    const pruned = checkSurgeryMatchesMask(tinyMobileNetV2(), (i) => i % 3 !== 1);
    assert.deepEqual(pruned.weights.get('ir2/dw/kernel')!.shape.slice(2), [
      pruned.weights.get('ir2/expand/kernel')!.shape[3],
      1,
    ]);
    assert.equal(
      pruned.weights.get('ir2/dw/bias')!.shape[0],
      pruned.weights.get('ir2/expand/kernel')!.shape[3],
    );
  });

  it('VGG with flatten into dense (spatial-major feature rows) and a pruned hidden dense', () => {
    const pruned = checkSurgeryMatchesMask(tinyVgg(), (i) => i === 1 || i === 3, {
      pruneClassifier: true,
    });
    // c2 keeps 4 of 6 channels over 2x2 positions: fc1 reads 16 features
    assert.deepEqual(pruned.weights.get('fc1/kernel')!.shape, [16, 8]);
    assert.deepEqual(pruned.weights.get('fc2/kernel')!.shape, [8, 3]);
  });

  it('concat of two branches feeding one conv', () => {
    const pruned = checkSurgeryMatchesMask(tinyConcatNet(), (i) => i === 0);
    assert.deepEqual(pruned.weights.get('d/conv/kernel')!.shape, [1, 1, 3, 3]);
  });

  it('an empty removal returns an equivalent model of the same cost', () => {
    const model = tinyResNet();
    const a = analyzeDependencies(model.graph);
    const { model: same, summary } = removeChannels(model, a, new Set());
    assert.equal(summary.channels.size, 0);
    assert.deepEqual(modelCost(same), modelCost(model));
  });
});

describe('sliceAxis', () => {
  it('keeps the given indices along an inner axis', () => {
    const t = { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) };
    assert.deepEqual([...sliceAxis(t, 1, [0, 2]).data], [1, 3, 4, 6]);
    assert.deepEqual([...sliceAxis(t, 0, [1]).data], [4, 5, 6]);
  });
});
