/** Models for the ONNX tests: every builder plus a graph using the ops the builders do not. */
import {
  GRAPH_FORMAT,
  GRAPH_VERSION,
  buildMobileNetV2,
  buildResNet,
  buildSmallCnn,
  buildVgg,
  type GraphNode,
  type Model,
  type WeightTensor,
} from '@edgecompress/engine';

/** Deterministic pseudo-random numbers (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Replaces every weight by random values (BN statistics too, so folding is really exercised). */
export function randomizeWeights(model: Model, seed = 1): Model {
  const rand = seeded(seed);
  const weights = new Map<string, WeightTensor>();
  for (const [name, w] of model.weights) {
    const data = new Float32Array(w.data.length);
    for (let i = 0; i < data.length; i++) {
      const u = rand();
      data[i] = name.endsWith('/movingVariance')
        ? 0.5 + u
        : name.endsWith('/gamma')
          ? 0.5 + u
          : (u - 0.5) * 0.6;
    }
    weights.set(name, { shape: [...w.shape], data });
  }
  return { graph: model.graph, weights };
}

/**
 * Depthwise conv, ReLU6, concat, padded max and average pooling, and a spatial flatten read by
 * two dense layers (so the exporter must keep NHWC feature order with a Transpose).
 */
export function opCoverageModel(): Model {
  const conv = (
    id: string,
    input: string,
    filters: number,
    k: number,
    pads: [number, number, number, number],
  ): GraphNode => ({
    id,
    op: 'conv2d',
    inputs: [input],
    attrs: {
      filters,
      kernelSize: [k, k],
      strides: [1, 1],
      pads,
      dilations: [1, 1],
      groups: 1,
      useBias: true,
    },
  });
  const nodes: GraphNode[] = [
    { id: 'input', op: 'input', inputs: [], attrs: { shape: [9, 9, 3] } },
    conv('c1', 'input', 8, 3, [1, 1, 1, 1]),
    { id: 'bn1', op: 'batchNorm', inputs: ['c1'], attrs: { epsilon: 1e-3, momentum: 0.99 } },
    { id: 'r1', op: 'relu6', inputs: ['bn1'], attrs: {} },
    {
      id: 'dw',
      op: 'depthwiseConv2d',
      inputs: ['r1'],
      attrs: {
        kernelSize: [3, 3],
        strides: [2, 2],
        pads: [1, 1, 1, 1],
        dilations: [1, 1],
        depthMultiplier: 2,
        useBias: false,
      },
    },
    { id: 'bn2', op: 'batchNorm', inputs: ['dw'], attrs: { epsilon: 1e-3, momentum: 0.99 } },
    { id: 'r2', op: 'relu', inputs: ['bn2'], attrs: {} },
    conv('c2', 'r2', 16, 1, [0, 0, 0, 0]),
    { id: 'sum', op: 'add', inputs: ['r2', 'c2'], attrs: {} },
    {
      id: 'mp',
      op: 'maxPool',
      inputs: ['sum'],
      attrs: { poolSize: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] },
    },
    {
      id: 'ap',
      op: 'avgPool',
      inputs: ['sum'],
      attrs: { poolSize: [2, 2], strides: [2, 2], pads: [0, 1, 0, 1] },
    },
    { id: 'cat', op: 'concat', inputs: ['mp', 'ap'], attrs: { axis: -1 } },
    { id: 'flat', op: 'flatten', inputs: ['cat'], attrs: {} },
    { id: 'fa', op: 'dense', inputs: ['flat'], attrs: { units: 6, useBias: true } },
    { id: 'fb', op: 'dense', inputs: ['flat'], attrs: { units: 6, useBias: false } },
    { id: 'logits', op: 'add', inputs: ['fa', 'fb'], attrs: {} },
    { id: 'probs', op: 'softmax', inputs: ['logits'], attrs: {} },
  ];
  const shapes: Record<string, number[]> = {
    'c1/kernel': [3, 3, 3, 8],
    'c1/bias': [8],
    'dw/kernel': [3, 3, 8, 2],
    'c2/kernel': [1, 1, 16, 16],
    'c2/bias': [16],
    'fa/kernel': [3 * 3 * 32, 6],
    'fa/bias': [6],
    'fb/kernel': [3 * 3 * 32, 6],
  };
  for (const [bn, c] of [
    ['bn1', 8],
    ['bn2', 16],
  ] as const)
    for (const role of ['gamma', 'beta', 'movingMean', 'movingVariance'])
      shapes[`${bn}/${role}`] = [c];
  const weights = new Map(
    Object.entries(shapes).map(([name, shape]) => [
      name,
      { shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) },
    ]),
  );
  return {
    graph: {
      format: GRAPH_FORMAT,
      version: GRAPH_VERSION,
      name: 'op-coverage',
      architecture: 'test',
      inputShape: [9, 9, 3],
      numClasses: 6,
      nodes,
      output: 'logits',
    },
    weights,
  };
}

export interface NamedModel {
  name: string;
  model: Model;
}

/** Every builder (small sizes) plus the op-coverage graph, with random weights. */
export function parityModels(): NamedModel[] {
  return [
    {
      name: 'resnet8',
      model: buildResNet({ depth: 8, inputShape: [16, 16, 3], numClasses: 10, seed: 3 }),
    },
    {
      name: 'small-cnn',
      model: buildSmallCnn({ inputShape: [28, 28, 1], numClasses: 10, seed: 4 }),
    },
    {
      name: 'vgg8',
      model: buildVgg({
        depth: 8,
        inputShape: [32, 32, 3],
        numClasses: 10,
        seed: 5,
        widthMultiplier: 0.125,
      }),
    },
    {
      name: 'mobilenetv2',
      model: buildMobileNetV2({
        inputShape: [32, 32, 3],
        numClasses: 10,
        seed: 6,
        widthMultiplier: 0.35,
      }),
    },
    { name: 'op-coverage', model: opCoverageModel() },
  ].map(({ name, model }, i) => ({ name, model: randomizeWeights(model, 10 + i) }));
}

export function randomInput(count: number, shape: readonly number[], seed = 99): Float32Array {
  const rand = seeded(seed);
  const data = new Float32Array(count * shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < data.length; i++) data[i] = rand() * 2 - 1;
  return data;
}
