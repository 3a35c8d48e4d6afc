/**
 * Small hand-built models for pruning specs: each reproduces one structure that ties channels
 * (residual adds with a projection shortcut, inverted residuals with depthwise convs, concat
 * branches, flatten into dense). Weights are seeded-random so every run sees the same numbers.
 */
import {
  GRAPH_FORMAT,
  GRAPH_VERSION,
  type GraphNode,
  type Model,
  type NodeTags,
  type WeightTensor,
} from '@edgecompress/engine';

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class ModelSketch {
  readonly nodes: GraphNode[] = [];
  readonly weights = new Map<string, WeightTensor>();
  private readonly channels = new Map<string, number>();
  private readonly rand: () => number;

  constructor(
    private readonly inputShape: number[],
    seed = 1,
  ) {
    this.rand = mulberry32(seed);
    this.nodes.push({ id: 'input', op: 'input', inputs: [], attrs: { shape: inputShape } });
    this.channels.set('input', inputShape[inputShape.length - 1]!);
  }

  private tensor(shape: number[], scale: number, offset = 0): WeightTensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, () => offset + (this.rand() * 2 - 1) * scale);
    return { shape, data };
  }

  private add1(node: GraphNode, channels: number): string {
    this.nodes.push(node);
    this.channels.set(node.id, channels);
    return node.id;
  }

  conv(
    id: string,
    input: string,
    filters: number,
    opts: { k?: number; stride?: number; bias?: boolean; groups?: number; tags?: NodeTags } = {},
  ): string {
    const k = opts.k ?? 3;
    const s = opts.stride ?? 1;
    const groups = opts.groups ?? 1;
    const inC = this.channels.get(input)!;
    const p = Math.floor(k / 2);
    this.weights.set(`${id}/kernel`, this.tensor([k, k, inC / groups, filters], 0.5));
    if (opts.bias) this.weights.set(`${id}/bias`, this.tensor([filters], 0.1));
    return this.add1(
      {
        id,
        op: 'conv2d',
        inputs: [input],
        attrs: {
          filters,
          kernelSize: [k, k],
          strides: [s, s],
          pads: [p, p, p, p],
          dilations: [1, 1],
          groups,
          useBias: opts.bias ?? false,
        },
        ...(opts.tags ? { tags: opts.tags } : {}),
      },
      filters,
    );
  }

  depthwise(id: string, input: string, opts: { stride?: number; bias?: boolean } = {}): string {
    const c = this.channels.get(input)!;
    const s = opts.stride ?? 1;
    this.weights.set(`${id}/kernel`, this.tensor([3, 3, c, 1], 0.5));
    if (opts.bias) this.weights.set(`${id}/bias`, this.tensor([c], 0.1));
    return this.add1(
      {
        id,
        op: 'depthwiseConv2d',
        inputs: [input],
        attrs: {
          kernelSize: [3, 3],
          strides: [s, s],
          pads: [1, 1, 1, 1],
          dilations: [1, 1],
          depthMultiplier: 1,
          useBias: opts.bias ?? false,
        },
      },
      c,
    );
  }

  bn(id: string, input: string): string {
    const c = this.channels.get(input)!;
    this.weights.set(`${id}/gamma`, this.tensor([c], 0.3, 1));
    this.weights.set(`${id}/beta`, this.tensor([c], 0.2));
    this.weights.set(`${id}/movingMean`, this.tensor([c], 0.2));
    this.weights.set(`${id}/movingVariance`, this.tensor([c], 0.3, 1));
    return this.add1(
      { id, op: 'batchNorm', inputs: [input], attrs: { epsilon: 1e-3, momentum: 0.99 } },
      c,
    );
  }

  act(id: string, input: string, op: 'relu' | 'relu6' = 'relu'): string {
    return this.add1({ id, op, inputs: [input], attrs: {} }, this.channels.get(input)!);
  }

  maxPool(id: string, input: string): string {
    return this.add1(
      {
        id,
        op: 'maxPool',
        inputs: [input],
        attrs: { poolSize: [2, 2], strides: [2, 2], pads: [0, 0, 0, 0] },
      },
      this.channels.get(input)!,
    );
  }

  add(id: string, ...inputs: string[]): string {
    return this.add1({ id, op: 'add', inputs, attrs: {} }, this.channels.get(inputs[0]!)!);
  }

  concat(id: string, ...inputs: string[]): string {
    const c = inputs.reduce((s, i) => s + this.channels.get(i)!, 0);
    return this.add1({ id, op: 'concat', inputs, attrs: { axis: -1 } }, c);
  }

  gap(id: string, input: string): string {
    return this.add1(
      { id, op: 'globalAvgPool', inputs: [input], attrs: {} },
      this.channels.get(input)!,
    );
  }

  flatten(id: string, input: string, features: number): string {
    return this.add1({ id, op: 'flatten', inputs: [input], attrs: {} }, features);
  }

  dense(id: string, input: string, units: number, tags?: NodeTags): string {
    const inF = this.channels.get(input)!;
    this.weights.set(`${id}/kernel`, this.tensor([inF, units], 0.5));
    this.weights.set(`${id}/bias`, this.tensor([units], 0.1));
    return this.add1(
      {
        id,
        op: 'dense',
        inputs: [input],
        attrs: { units, useBias: true },
        ...(tags ? { tags } : {}),
      },
      units,
    );
  }

  build(name: string, output: string, numClasses: number): Model {
    return {
      graph: {
        format: GRAPH_FORMAT,
        version: GRAPH_VERSION,
        name,
        architecture: name,
        inputShape: this.inputShape,
        numClasses,
        nodes: this.nodes,
        output,
      },
      weights: this.weights,
    };
  }
}

/** Stem + identity block + downsampling block with a 1x1 projection shortcut (ResNet basic blocks). */
export function tinyResNet(seed = 1): Model {
  const m = new ModelSketch([8, 8, 3], seed);
  let x = m.act(
    'stem/relu',
    m.bn('stem/bn', m.conv('stem/conv', 'input', 4, { tags: { role: 'stem' } })),
  );
  let y = m.act('b1/relu1', m.bn('b1/bn1', m.conv('b1/conv1', x, 4)));
  y = m.bn('b1/bn2', m.conv('b1/conv2', y, 4));
  x = m.act('b1/relu', m.add('b1/add', y, x));
  y = m.act('b2/relu1', m.bn('b2/bn1', m.conv('b2/conv1', x, 6, { stride: 2 })));
  y = m.bn('b2/bn2', m.conv('b2/conv2', y, 6));
  const sc = m.bn('b2/scbn', m.conv('b2/shortcut', x, 6, { k: 1, stride: 2 }));
  x = m.act('b2/relu', m.add('b2/add', y, sc));
  const f = m.gap('pool', x);
  m.dense('fc', f, 3, { role: 'classifier' });
  return m.build('tiny-resnet', 'fc', 3);
}

/** Stem + two inverted residual blocks (expand 1x1, depthwise 3x3, project 1x1), one with a skip add. */
export function tinyMobileNetV2(seed = 2): Model {
  const m = new ModelSketch([8, 8, 3], seed);
  const stem = m.act('stem/relu6', m.bn('stem/bn', m.conv('stem/conv', 'input', 4)), 'relu6');
  let y = m.act(
    'ir1/expand/relu6',
    m.bn('ir1/expand/bn', m.conv('ir1/expand', stem, 8, { k: 1 })),
    'relu6',
  );
  y = m.act('ir1/dw/relu6', m.bn('ir1/dw/bn', m.depthwise('ir1/dw', y)), 'relu6');
  y = m.bn('ir1/project/bn', m.conv('ir1/project', y, 4, { k: 1 }));
  const x = m.add('ir1/add', y, stem);
  y = m.act(
    'ir2/expand/relu6',
    m.bn('ir2/expand/bn', m.conv('ir2/expand', x, 8, { k: 1 })),
    'relu6',
  );
  y = m.act(
    'ir2/dw/relu6',
    m.bn('ir2/dw/bn', m.depthwise('ir2/dw', y, { stride: 2, bias: true })),
    'relu6',
  );
  y = m.bn('ir2/project/bn', m.conv('ir2/project', y, 6, { k: 1 }));
  y = m.act('head/relu6', m.bn('head/bn', m.conv('head/conv', y, 10, { k: 1 })), 'relu6');
  m.dense('fc', m.gap('pool', y), 3, { role: 'classifier' });
  return m.build('tiny-mobilenetv2', 'fc', 3);
}

/** Two conv blocks with max pooling, flatten into a hidden dense layer, then the classifier (VGG). */
export function tinyVgg(seed = 3): Model {
  const m = new ModelSketch([8, 8, 1], seed);
  let x = m.maxPool(
    'p1',
    m.act('c1/relu', m.bn('c1/bn', m.conv('c1/conv', 'input', 4, { bias: true }))),
  );
  x = m.maxPool('p2', m.act('c2/relu', m.bn('c2/bn', m.conv('c2/conv', x, 6))));
  const f = m.flatten('flatten', x, 2 * 2 * 6);
  const h = m.act('fc1/relu', m.dense('fc1', f, 10, { role: 'classifier' }));
  m.dense('fc2', h, 3, { role: 'classifier' });
  return m.build('tiny-vgg', 'fc2', 3);
}

/** Two branches concatenated, then a conv over the concatenation (Inception-style). */
export function tinyConcatNet(seed = 4): Model {
  const m = new ModelSketch([6, 6, 2], seed);
  const a = m.act('a/relu', m.conv('a/conv', 'input', 3, { bias: true }));
  const b = m.act('b/relu', m.bn('b/bn', m.conv('b/conv', 'input', 2)));
  const c = m.concat('cat', a, b);
  const d = m.act('d/relu', m.conv('d/conv', c, 4, { k: 1, bias: true }));
  m.dense('fc', m.gap('pool', d), 3, { role: 'classifier' });
  return m.build('tiny-concat', 'fc', 3);
}
