import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createOrtSession, exportOnnx, importOnnx, runOrt } from '@edgecompress/engine';
import { TORCH_FIXTURES, loadTorchFixture, relativeL2 } from './onnx-fixtures';

describe('import of PyTorch-exported models', () => {
  for (const name of TORCH_FIXTURES) {
    it(`${name}: imported, re-exported and run in ORT, matches PyTorch within 1e-4 relative L2`, async () => {
      const fx = loadTorchFixture(name);
      const { model } = importOnnx(fx.bytes);
      const session = await createOrtSession(exportOnnx(model));
      const logits = await runOrt(session, fx.input, fx.count, model.graph.inputShape);
      await session.release();
      assert.equal(logits.length, fx.expected.length);
      assert.ok(
        relativeL2(logits, fx.expected) < 1e-4,
        `relative L2 ${relativeL2(logits, fx.expected)}`,
      );
    });
  }

  it('keeps BatchNormalization as trainable batchNorm nodes with their statistics', () => {
    const { model } = importOnnx(loadTorchFixture('torch-resnet').bytes);
    const bns = model.graph.nodes.filter((n) => n.op === 'batchNorm');
    assert.equal(bns.length, 6); // stem, 2 per block, 1 in the projection shortcut
    for (const bn of bns) {
      for (const role of ['gamma', 'beta', 'movingMean', 'movingVariance']) {
        assert.ok(model.weights.get(`${bn.id}/${role}`), `${bn.id}/${role}`);
      }
    }
    const variance = model.weights.get('bn1/movingVariance')!.data;
    assert.ok(
      variance.every((v) => v >= 0.5 && v <= 1.5),
      'running variance comes from the fixture',
    );
  });

  it('converts layouts: conv kernels become [kh, kw, in, out], Gemm weights [in, out]', () => {
    const { model } = importOnnx(loadTorchFixture('torch-vgg').bytes);
    assert.deepEqual(model.weights.get('features.features.0/kernel')!.shape, [3, 3, 3, 8]);
    assert.deepEqual(model.weights.get('features.features.7/kernel')!.shape, [3, 3, 4, 16]);
    assert.deepEqual(model.weights.get('classifier.classifier.1/kernel')!.shape, [256, 32]);
    const grouped = model.graph.nodes.find((n) => n.id === 'features.features.7')!;
    assert.equal(grouped.op, 'conv2d');
    assert.equal((grouped.attrs as { groups: number }).groups, 4);
    assert.deepEqual(model.graph.inputShape, [16, 16, 3]);
    assert.equal(model.graph.numClasses, 10);
  });

  it('resolves the Shape/Gather/Concat/Reshape flatten pattern and tags ResNet stages from names', () => {
    const { model } = importOnnx(loadTorchFixture('torch-resnet').bytes);
    const ops = new Set(model.graph.nodes.map((n) => n.op));
    assert.deepEqual([...ops].sort(), [
      'add',
      'batchNorm',
      'conv2d',
      'dense',
      'globalAvgPool',
      'input',
      'relu',
    ]);
    assert.deepEqual(
      model.graph.stages?.map((s) => s.output),
      ['layer1.relu_1', 'layer2.relu_1'],
    );
    assert.equal(model.graph.nodes.find((n) => n.id === 'layer2.conv1')!.tags?.stage, 1);
    assert.equal(model.graph.nodes.find((n) => n.id === 'conv1')!.tags?.role, 'stem');
    assert.equal(model.graph.nodes.find((n) => n.id === 'linear')!.tags?.role, 'classifier');
    assert.equal(model.graph.features, 'GlobalAveragePool');
  });
});
