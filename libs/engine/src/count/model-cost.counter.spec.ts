import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildModel, buildResNet } from '../builders';
import { countModelCost, formatCount } from './model-cost.counter';

/** Option-B projection shortcuts of our CIFAR ResNets: 1x1 16->32 at 16x16 and 32->64 at 8x8. */
const PROJECTION_PARAMS = 16 * 32 + 2 * 32 + 32 * 64 + 2 * 64;
const PROJECTION_MACS = 16 * 16 * 16 * 32 + 8 * 8 * 32 * 64;

describe('countModelCost', () => {
  it('matches the published CIFAR ResNet-20 figures (0.27 M params, 41 M MACs) once our projection shortcuts are set aside', () => {
    const cost = countModelCost(
      buildResNet({ depth: 20, inputShape: [32, 32, 3], numClasses: 10 }).graph,
    );
    assert.equal(cost.params - PROJECTION_PARAMS, 269_722);
    assert.equal(cost.macs - PROJECTION_MACS, 40_551_040);
    assert.equal(cost.flops, 2 * cost.macs);
    assert.equal(cost.stateValues, 2 * (16 * 7 + 32 * 7 + 64 * 7));
  });

  it('matches the published ResNet-56 figures (0.85 M params, 125.49 M MACs)', () => {
    const cost = countModelCost(
      buildResNet({ depth: 56, inputShape: [32, 32, 3], numClasses: 10, shapeOnly: true }).graph,
    );
    assert.equal(cost.params - PROJECTION_PARAMS, 853_018);
    assert.equal(cost.macs - PROJECTION_MACS, 125_485_696);
  });

  it('matches MobileNetV2 1.0 at 224x224x3: 3,504,872 params (torchvision) and 300 M MACs (paper)', () => {
    const cost = countModelCost(
      buildModel('mobilenetv2', { inputShape: [224, 224, 3], numClasses: 1000, shapeOnly: true })
        .graph,
    );
    assert.equal(cost.params, 3_504_872);
    assert.equal(cost.macs, 300_774_272);
    assert.ok(Math.abs(cost.macs / 1e6 - 300) < 1);
  });

  it('matches the CIFAR-100 VGG-8 and VGG-13 sizes of the CRD benchmark (3.96 M, 9.46 M)', () => {
    const params = (arch: string) =>
      countModelCost(
        buildModel(arch, { inputShape: [32, 32, 3], numClasses: 100, shapeOnly: true }).graph,
      ).params;
    assert.equal(params('vgg8'), 3_965_028);
    assert.equal(params('vgg13'), 9_462_180);
  });

  it('reports per-layer params, MACs and FLOPs that sum to the totals', () => {
    const cost = countModelCost(
      buildResNet({ depth: 8, inputShape: [32, 32, 3], numClasses: 10 }).graph,
    );
    const stem = cost.layers.find((l) => l.nodeId === 'stem.conv')!;
    assert.deepEqual(stem, {
      nodeId: 'stem.conv',
      op: 'conv2d',
      outputShape: [32, 32, 16],
      params: 3 * 3 * 3 * 16,
      macs: 32 * 32 * 16 * 27,
      flops: 2 * 32 * 32 * 16 * 27,
      bytes: 4 * 3 * 3 * 3 * 16,
    });
    const fc = cost.layers.find((l) => l.nodeId === 'fc')!;
    assert.equal(fc.macs, 640);
    assert.equal(fc.params, 650);
    assert.equal(
      cost.layers.reduce((a, l) => a + l.params, 0),
      cost.params,
    );
    assert.equal(
      cost.layers.reduce((a, l) => a + l.macs, 0),
      cost.macs,
    );
    assert.equal(cost.layers.find((l) => l.op === 'batchNorm')!.macs, 0);
  });

  it('counts depthwise and grouped convs by their groups', () => {
    const cost = countModelCost(
      buildModel('mobilenetv2', { inputShape: [32, 32, 3], numClasses: 10 }).graph,
    );
    const dw = cost.layers.find((l) => l.nodeId === 's0.b0.dw.conv')!;
    // 32 channels, 3x3 depthwise, 32x32 map (small-input variant keeps stride 1)
    assert.equal(dw.params, 9 * 32);
    assert.equal(dw.macs, 32 * 32 * 32 * 9);
  });

  it('sizes float32 weights at 4 bytes and quantized kernels at their packed bit width', () => {
    const model = buildResNet({
      depth: 8,
      inputShape: [32, 32, 3],
      numClasses: 10,
      shapeOnly: true,
    });
    const float = countModelCost(model.graph);
    assert.equal(float.bytes, 4 * (float.params + float.stateValues));
    const conv = model.graph.nodes.find((n) => n.id === 's1.b0.1.conv')!;
    assert.equal(conv.op, 'conv2d');
    if (conv.op === 'conv2d')
      conv.attrs.weightQuant = { quantizer: 'lsq', bits: 2, perChannel: false };
    const quantized = countModelCost(model.graph);
    const kernelValues = 3 * 3 * 16 * 32;
    assert.equal(
      quantized.layers.find((l) => l.nodeId === 's1.b0.1.conv')!.bytes,
      kernelValues / 4,
    );
    assert.equal(float.bytes - quantized.bytes, kernelValues * 4 - kernelValues / 4);
    assert.equal(quantized.params, float.params);
  });

  it('formats counts compactly', () => {
    assert.equal(formatCount(272_474), '0.27 M');
    assert.equal(formatCount(300_774_272), '300.77 M');
    assert.equal(formatCount(1_200), '1.2 k');
    assert.equal(formatCount(7), '7');
  });
});
