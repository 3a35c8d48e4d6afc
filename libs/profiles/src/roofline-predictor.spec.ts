import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GRAPH_FORMAT, GRAPH_VERSION, type Graph } from '@edgecompress/engine';
import {
  graphWorkload,
  predictLatency,
  ProfileLatencyPredictor,
  type DeviceProfile,
} from '@edgecompress/profiles';

/** A made-up profile with round numbers, so expected times can be worked out by hand. */
const profile: DeviceProfile = {
  id: 'test-device',
  name: 'Test device',
  generic: false,
  arch: 'arm64',
  cpu: {
    model: 'test',
    cores: 4,
    maxGHz: 1,
    simdWidthBits: 128,
    peakOpsPerSec: { fp32: 1e9, fp16: 2e9, int8: 4e9 },
    perOpOverheadUs: 10,
  },
  memory: { sizeBytes: 1e9, bandwidthBytesPerSec: 1e9 },
  accelerator: {
    name: 'test gpu',
    kind: 'gpu',
    peakOpsPerSec: { fp32: 1e11, fp16: 1e11, int8: 1e11 },
    memoryBandwidthBytesPerSec: 1e10,
    memoryBytes: 1e9,
    perOpOverheadUs: 100,
    executionProviders: ['cuda'],
  },
  runtimes: { onnxruntime: { executionProviders: ['cuda', 'cpu'] } },
  match: { arch: ['arm64'] },
  sources: {},
};

/** input 8x8x4 -> conv 3x3x16 (pad 1) -> batchNorm -> relu -> flatten -> dense 10. */
function tinyGraph(weightBits?: number): Graph {
  const weightQuant = weightBits
    ? { quantizer: 'lsq' as const, bits: weightBits, perChannel: true }
    : undefined;
  return {
    format: GRAPH_FORMAT,
    version: GRAPH_VERSION,
    name: 'tiny',
    architecture: 'test',
    inputShape: [8, 8, 4],
    numClasses: 10,
    output: 'fc',
    nodes: [
      { id: 'x', op: 'input', inputs: [], attrs: { shape: [8, 8, 4] } },
      {
        id: 'conv',
        op: 'conv2d',
        inputs: ['x'],
        attrs: {
          filters: 16,
          kernelSize: [3, 3],
          strides: [1, 1],
          pads: [1, 1, 1, 1],
          dilations: [1, 1],
          groups: 1,
          useBias: false,
          ...(weightQuant ? { weightQuant } : {}),
        },
      },
      { id: 'bn', op: 'batchNorm', inputs: ['conv'], attrs: { epsilon: 1e-5, momentum: 0.9 } },
      { id: 'act', op: 'relu', inputs: ['bn'], attrs: {} },
      { id: 'flat', op: 'flatten', inputs: ['act'], attrs: {} },
      { id: 'fc', op: 'dense', inputs: ['flat'], attrs: { units: 10, useBias: true } },
    ],
  };
}

describe('graphWorkload', () => {
  it('counts ops and bytes of conv and dense by hand', () => {
    const layers = new Map(graphWorkload(tinyGraph()).map((l) => [l.nodeId, l]));
    // conv: 8*8*16 outputs x 3*3*4 MACs x 2 = 73,728 ops; bytes: in 256*4 + out 1024*4 + w 576*4.
    assert.equal(layers.get('conv')?.ops, 73_728);
    assert.equal(layers.get('conv')?.bytes, (256 + 1024 + 576) * 4);
    // dense: 1024 x 10 MACs x 2; bytes: in 1024*4 + out 10*4 + w 10240*4.
    assert.equal(layers.get('fc')?.ops, 20_480);
    assert.equal(layers.get('fc')?.bytes, (1024 + 10 + 10_240) * 4);
  });

  it('fuses BN and ReLU into the conv, treats input and flatten as free', () => {
    const layers = new Map(graphWorkload(tinyGraph()).map((l) => [l.nodeId, l]));
    assert.equal(layers.get('bn')?.fused, true);
    assert.equal(layers.get('act')?.fused, true);
    assert.equal(layers.get('x')?.free, true);
    assert.equal(layers.get('flat')?.free, true);
    assert.equal(layers.get('conv')?.fused, false);
  });

  it('prices int8 weight quantization at one byte per weight and int8 activations', () => {
    const layers = new Map(graphWorkload(tinyGraph(8)).map((l) => [l.nodeId, l]));
    assert.equal(layers.get('conv')?.precision, 'int8');
    assert.equal(layers.get('conv')?.bytes, 256 + 1024 + 576);
    assert.equal(layers.get('act')?.precision, 'int8');
    const packed = new Map(graphWorkload(tinyGraph(4)).map((l) => [l.nodeId, l]));
    assert.equal(packed.get('conv')?.bytes, 256 + 1024 + 576 / 2);
  });

  it('scales with batch size and rejects a bad one', () => {
    const one = graphWorkload(tinyGraph())[1];
    const eight = graphWorkload(tinyGraph(), { batch: 8 })[1];
    assert.equal(eight?.ops, 8 * (one?.ops ?? 0));
    assert.throws(() => graphWorkload(tinyGraph(), { batch: 0 }), /batch/);
  });
});

describe('predictLatency', () => {
  it('takes max(compute, memory) plus per-op overhead per dispatched layer', () => {
    const p = predictLatency(tinyGraph(), profile, { target: 'cpu' });
    const conv = p.layers.find((l) => l.nodeId === 'conv');
    // compute 73,728 / 1e9 s = 73.728 us; memory 7,424 B / 1e9 = 7.424 us; + 10 us.
    assert.equal(conv?.bound, 'compute');
    assert.ok(Math.abs((conv?.ms ?? 0) - 0.083728) < 1e-12);
    const fc = p.layers.find((l) => l.nodeId === 'fc');
    // compute 20.48 us; memory 45,096 B = 45.096 us (memory-bound); + 10 us.
    assert.equal(fc?.bound, 'memory');
    assert.ok(Math.abs((fc?.ms ?? 0) - 0.055096) < 1e-12);
    assert.ok(Math.abs(p.totalMs - (0.083728 + 0.055096)) < 1e-12);
    assert.equal(p.perNodeMs.get('bn'), 0);
  });

  it('uses fewer cores when told fewer threads', () => {
    const all = predictLatency(tinyGraph(), profile, { target: 'cpu' });
    const one = predictLatency(tinyGraph(), profile, { target: 'cpu', threads: 1 });
    const convAll = all.layers.find((l) => l.nodeId === 'conv');
    const convOne = one.layers.find((l) => l.nodeId === 'conv');
    assert.ok(Math.abs((convOne?.computeS ?? 0) - 4 * (convAll?.computeS ?? 0)) < 1e-15);
  });

  it('runs on the accelerator by default when the profile has one', () => {
    const p = predictLatency(tinyGraph(), profile);
    assert.equal(p.target, 'accelerator');
    // Launch overhead dominates: two dispatched layers x 100 us.
    assert.ok(p.totalMs > 0.2 && p.totalMs < 0.21);
    const noGpu = { ...profile, accelerator: undefined };
    assert.throws(
      () => predictLatency(tinyGraph(), noGpu, { target: 'accelerator' }),
      /no accelerator/,
    );
  });

  it('applies correction factors term by term', () => {
    const base = predictLatency(tinyGraph(), profile, { target: 'cpu' });
    const scaled = predictLatency(
      tinyGraph(),
      profile,
      { target: 'cpu' },
      { compute: 2, memory: 1, overhead: 0, fixedMs: 0.5 },
    );
    const conv = scaled.layers.find((l) => l.nodeId === 'conv');
    assert.ok(Math.abs((conv?.ms ?? 0) - 2 * 0.073728) < 1e-12);
    assert.notEqual(scaled.totalMs, base.totalMs);
    // The fixed per-inference time is in the total, not in any layer.
    const layerSum = [...scaled.perNodeMs.values()].reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(scaled.totalMs - layerSum - 0.5) < 1e-12);
  });
});

describe('ProfileLatencyPredictor', () => {
  it('answers per profile id with per-node times and rejects unknown devices', () => {
    const predictor = new ProfileLatencyPredictor([profile], undefined, { target: 'cpu' });
    assert.deepEqual(predictor.deviceIds(), ['test-device']);
    const result = predictor.predict(tinyGraph(), 'test-device');
    assert.ok(result.totalMs > 0);
    assert.equal(result.perNodeMs.size, 6);
    assert.throws(
      () => predictor.predict(tinyGraph(), 'nope'),
      /unknown device or profile "nope"; known: test-device/,
    );
  });
});
