import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { inferShapes, type Model } from '../graph';
import { buildResNet } from './resnet.builder';
import { buildSmallCnn } from './small-cnn.builder';
import { buildVgg } from './vgg.builder';
import { buildMobileNetV2, makeDivisible } from './mobilenet-v2.builder';
import { ARCHITECTURES, buildModel } from './model-zoo';

/** Trainable parameters: every weight except BN running statistics. */
const params = (m: Model) =>
  [...m.weights]
    .filter(([n]) => !/moving(Mean|Variance)$/.test(n))
    .reduce((a, [, w]) => a + w.data.length, 0);

const std = (data: Float32Array) => {
  const mean = data.reduce((a, b) => a + b, 0) / data.length;
  return Math.sqrt(data.reduce((a, b) => a + (b - mean) ** 2, 0) / data.length);
};

describe('buildResNet', () => {
  it('builds CIFAR ResNet-20: 272,474 parameters (269,722 of option A + 2,752 for two projection shortcuts)', () => {
    const m = buildResNet({ depth: 20, inputShape: [32, 32, 3], numClasses: 10 });
    assert.equal(params(m), 269_722 + 2_752);
    const shapes = inferShapes(m.graph);
    assert.deepEqual(shapes.get('stem.relu'), [32, 32, 16]);
    assert.deepEqual(shapes.get('s0.b2.relu'), [32, 32, 16]);
    assert.deepEqual(shapes.get('s1.b0.relu'), [16, 16, 32]);
    assert.deepEqual(shapes.get('s2.b2.relu'), [8, 8, 64]);
    assert.deepEqual(shapes.get('fc'), [10]);
    assert.deepEqual(m.graph.stages, [
      { name: 'stage0', output: 's0.b2.relu' },
      { name: 'stage1', output: 's1.b2.relu' },
      { name: 'stage2', output: 's2.b2.relu' },
    ]);
    assert.equal(m.graph.features, 'pool');
    assert.equal(m.graph.output, 'fc');
    // projection shortcuts only where the shape changes
    const shortcuts = m.graph.nodes.filter((n) => n.id.endsWith('.shortcut.conv')).map((n) => n.id);
    assert.deepEqual(shortcuts, ['s1.b0.shortcut.conv', 's2.b0.shortcut.conv']);
  });

  it('tags every node with role, and body nodes with stage and block', () => {
    const m = buildResNet({ depth: 8, inputShape: [16, 16, 3], numClasses: 7 });
    const byId = new Map(m.graph.nodes.map((n) => [n.id, n]));
    assert.deepEqual(byId.get('stem.conv')!.tags, { role: 'stem' });
    assert.deepEqual(byId.get('s2.b0.2.bn')!.tags, { role: 'body', stage: 2, block: 0 });
    assert.deepEqual(byId.get('fc')!.tags, { role: 'classifier' });
    assert.equal(byId.get('input')!.tags, undefined);
  });

  it('takes any input shape and class count', () => {
    const m = buildResNet({ depth: 8, inputShape: [28, 28, 1], numClasses: 3 });
    const shapes = inferShapes(m.graph);
    assert.deepEqual(shapes.get('s2.b0.relu'), [7, 7, 64]);
    assert.deepEqual(shapes.get('fc'), [3]);
  });

  it('has ResNet-56 at 0.85 M parameters', () => {
    const m = buildResNet({ depth: 56, inputShape: [32, 32, 3], numClasses: 10, shapeOnly: true });
    // 853,018 with option-A shortcuts (published 0.85 M) plus 2,752 for the two projections
    assert.equal(params(m), 853_018 + 2_752);
  });

  it('rejects depths that are not 6n + 2', () => {
    assert.throws(
      () => buildResNet({ depth: 18, inputShape: [32, 32, 3], numClasses: 10 }),
      /6n \+ 2/,
    );
  });

  it('initialises deterministically from the seed, with He-normal conv kernels', () => {
    const a = buildResNet({ depth: 20, inputShape: [32, 32, 3], numClasses: 10, seed: 7 });
    const b = buildResNet({ depth: 20, inputShape: [32, 32, 3], numClasses: 10, seed: 7 });
    const c = buildResNet({ depth: 20, inputShape: [32, 32, 3], numClasses: 10, seed: 8 });
    const kernel = (m: Model) => m.weights.get('s2.b1.1.conv/kernel')!.data;
    assert.deepEqual(kernel(a), kernel(b));
    assert.notDeepEqual(kernel(a), kernel(c));
    // fan_in = 3 * 3 * 64 -> std sqrt(2 / 576) = 0.0589 over 36,864 draws
    assert.ok(Math.abs(std(kernel(a)) - Math.sqrt(2 / 576)) < 0.002, `std ${std(kernel(a))}`);
    assert.deepEqual(Array.from(a.weights.get('s0.b0.1.bn/gamma')!.data), new Array(16).fill(1));
    assert.deepEqual(
      Array.from(a.weights.get('s0.b0.1.bn/movingVariance')!.data),
      new Array(16).fill(1),
    );
  });
});

describe('buildSmallCnn', () => {
  it('builds 16-32-64 conv stages with pooling, then a dense classifier', () => {
    const m = buildSmallCnn({ inputShape: [28, 28, 1], numClasses: 10 });
    const shapes = inferShapes(m.graph);
    assert.deepEqual(shapes.get('s0.relu'), [28, 28, 16]);
    assert.deepEqual(shapes.get('s1.relu'), [14, 14, 32]);
    assert.deepEqual(shapes.get('s2.relu'), [7, 7, 64]);
    // convs 144 + 4608 + 18432, BN 2 * (16 + 32 + 64), dense 64 * 10 + 10
    assert.equal(params(m), 144 + 4608 + 18432 + 224 + 650);
    assert.deepEqual(
      m.graph.stages!.map((s) => s.output),
      ['s0.relu', 's1.relu', 's2.relu'],
    );
  });

  it('skips pooling on a 1-pixel map instead of failing', () => {
    const m = buildSmallCnn({ inputShape: [1, 1, 5], numClasses: 2 });
    assert.ok(!m.graph.nodes.some((n) => n.op === 'maxPool'));
    assert.deepEqual(inferShapes(m.graph).get('fc'), [2]);
  });
});

describe('buildVgg', () => {
  it('builds CIFAR vgg8 with one conv per stage, BN after each conv, and 4 pools', () => {
    const m = buildVgg({ depth: 8, inputShape: [32, 32, 3], numClasses: 100, shapeOnly: true });
    const ops = m.graph.nodes.map((n) => n.op);
    assert.equal(ops.filter((op) => op === 'conv2d').length, 5);
    assert.equal(ops.filter((op) => op === 'batchNorm').length, 5);
    assert.equal(ops.filter((op) => op === 'maxPool').length, 4);
    const shapes = inferShapes(m.graph);
    assert.deepEqual(shapes.get('s4.b0.relu'), [2, 2, 512]);
    assert.deepEqual(
      m.graph.stages!.map((s) => s.output),
      ['s0.b0.relu', 's1.b0.relu', 's2.b0.relu', 's3.b0.relu', 's4.b0.relu'],
    );
    assert.equal(m.graph.features, 'pool');
  });

  it('builds vgg11/13/16 with 8/10/13 convs', () => {
    for (const [depth, convs] of [
      [11, 8],
      [13, 10],
      [16, 13],
    ] as const) {
      const m = buildVgg({
        depth,
        inputShape: [32, 32, 3],
        numClasses: 10,
        widthMultiplier: 0.125,
      });
      assert.equal(m.graph.nodes.filter((n) => n.op === 'conv2d').length, convs, `vgg${depth}`);
    }
  });

  it('fits MNIST-sized inputs by skipping pools once the map is 1 pixel', () => {
    const m = buildVgg({
      depth: 8,
      inputShape: [28, 28, 1],
      numClasses: 10,
      widthMultiplier: 0.25,
    });
    const shapes = inferShapes(m.graph);
    assert.deepEqual(shapes.get('s3.b0.relu'), [3, 3, 128]);
    assert.deepEqual(shapes.get('s4.b0.relu'), [1, 1, 128]);
    assert.deepEqual(shapes.get('fc'), [10]);
  });
});

describe('buildMobileNetV2', () => {
  it('uses stride 2 stem at 224 and ends at 7x7x1280', () => {
    const m = buildMobileNetV2({ inputShape: [224, 224, 3], numClasses: 1000, shapeOnly: true });
    const shapes = inferShapes(m.graph);
    assert.deepEqual(shapes.get('stem.relu6'), [112, 112, 32]);
    assert.deepEqual(shapes.get('head.relu6'), [7, 7, 1280]);
    assert.equal(m.graph.stages!.length, 7);
    assert.equal(m.graph.stages![6].output, 'head.relu6');
    // inverted residuals: identity add only when stride 1 and channels match
    const adds = m.graph.nodes.filter((n) => n.op === 'add').length;
    assert.equal(adds, 0 + 1 + 2 + 3 + 2 + 2 + 0);
    assert.ok(m.graph.nodes.some((n) => n.op === 'depthwiseConv2d'));
  });

  it('keeps CIFAR inputs at 4x4 in the small-input variant and scales width', () => {
    const m = buildMobileNetV2({ inputShape: [32, 32, 3], numClasses: 10, widthMultiplier: 0.5 });
    const shapes = inferShapes(m.graph);
    assert.deepEqual(shapes.get('stem.relu6'), [32, 32, 16]);
    assert.deepEqual(shapes.get('head.relu6'), [4, 4, 1280]);
    assert.deepEqual(shapes.get('s6.b0.project.bn'), [4, 4, 160]);
  });

  it('rounds channels as the reference code does', () => {
    assert.equal(makeDivisible(32 * 0.35), 16);
    assert.equal(makeDivisible(24 * 0.75), 24);
    assert.equal(makeDivisible(320 * 1.4), 448);
  });
});

describe('buildModel', () => {
  it('builds the same graph without drawing weights when shapeOnly', () => {
    const seeded = buildModel('resnet8', { inputShape: [8, 8, 3], numClasses: 4, seed: 3 });
    const bare = buildModel('resnet8', { inputShape: [8, 8, 3], numClasses: 4, shapeOnly: true });
    assert.deepEqual(bare.graph, seeded.graph);
    assert.deepEqual([...bare.weights.keys()], [...seeded.weights.keys()]);
    assert.ok(bare.weights.get('fc/kernel')!.data.every((v) => v === 0));
    assert.ok(bare.weights.get('stem.bn/gamma')!.data.every((v) => v === 1));
  });

  it('builds every architecture for odd, tiny and non-square inputs', () => {
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [5, 7, 2],
      [28, 28, 1],
      [64, 48, 3],
    ];
    for (const arch of ARCHITECTURES) {
      for (const inputShape of shapes) {
        const m = buildModel(arch, {
          inputShape,
          numClasses: 7,
          widthMultiplier: 0.25,
          shapeOnly: true,
        });
        const out = inferShapes(m.graph);
        assert.deepEqual(out.get(m.graph.output), [7], `${arch} at ${inputShape.join('x')}`);
        assert.equal(out.get(m.graph.features!)!.length, 1, `${arch} features are a vector`);
      }
    }
  });

  it('builds every listed architecture by name and rejects unknown ones', () => {
    for (const arch of ARCHITECTURES.filter((a) => a !== 'resnet110' && a !== 'vgg16')) {
      const m = buildModel(arch, { inputShape: [16, 16, 3], numClasses: 4, widthMultiplier: 0.25 });
      assert.equal(m.graph.architecture, arch);
      assert.deepEqual(inferShapes(m.graph).get(m.graph.output), [4]);
    }
    assert.throws(
      () => buildModel('resnet18', { inputShape: [32, 32, 3], numClasses: 10 }),
      /6n \+ 2/,
    );
    assert.throws(
      () => buildModel('vgg19', { inputShape: [32, 32, 3], numClasses: 10 }),
      /unknown architecture "vgg19"/,
    );
  });
});
