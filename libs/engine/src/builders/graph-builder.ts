import {
  GRAPH_FORMAT,
  GRAPH_VERSION,
  inferNodeShape,
  validateModel,
  weightSpecs,
  type GraphNode,
  type Model,
  type NodeTags,
  type Pads,
  type StageInfo,
  type Weights,
} from '../graph';
import {
  filledTensor,
  InitRandom,
  normalTensor,
  tensorSeed,
  uniformTensor,
  type InitScheme,
} from './weight-init';

export interface ConvSpec {
  filters: number;
  kernel: number;
  stride?: number;
  /** Explicit pads; default symmetric kernel // 2 (PyTorch's padding=k//2). */
  pads?: Pads;
  groups?: number;
  bias?: boolean;
}

/** BN defaults of PyTorch: eps 1e-5, momentum 0.1 (0.9 in the Keras convention the IR uses). */
const BN_EPSILON = 1e-5;
const BN_MOMENTUM = 0.9;

/**
 * Appends nodes in topological order, tracks shapes as it goes and initialises each node's
 * weights with a seeded scheme. Every method returns the new node's id.
 */
export class GraphBuilder {
  private readonly nodes: GraphNode[] = [];
  private readonly shapes = new Map<string, number[]>();
  private readonly weights: Weights = new Map();

  constructor(
    readonly inputShape: number[],
    private readonly seed: number,
    private readonly init: InitScheme,
    /** Zero kernels and biases instead of drawing them (BN still starts at identity). */
    private readonly shapeOnly = false,
  ) {}

  shapeOf(id: string): number[] {
    const shape = this.shapes.get(id);
    if (!shape) throw new Error(`builder: no node "${id}"`);
    return shape;
  }

  input(id = 'input'): string {
    return this.add({ id, op: 'input', inputs: [], attrs: { shape: [...this.inputShape] } });
  }

  conv(id: string, input: string, spec: ConvSpec, tags?: NodeTags): string {
    const k = spec.kernel;
    const half = Math.floor(k / 2);
    return this.add({
      id,
      op: 'conv2d',
      inputs: [input],
      attrs: {
        filters: spec.filters,
        kernelSize: [k, k],
        strides: [spec.stride ?? 1, spec.stride ?? 1],
        pads: spec.pads ?? [half, half, half, half],
        dilations: [1, 1],
        groups: spec.groups ?? 1,
        useBias: spec.bias ?? false,
      },
      tags,
    });
  }

  depthwise(id: string, input: string, kernel: number, stride: number, tags?: NodeTags): string {
    const half = Math.floor(kernel / 2);
    return this.add({
      id,
      op: 'depthwiseConv2d',
      inputs: [input],
      attrs: {
        kernelSize: [kernel, kernel],
        strides: [stride, stride],
        pads: [half, half, half, half],
        dilations: [1, 1],
        depthMultiplier: 1,
        useBias: false,
      },
      tags,
    });
  }

  batchNorm(id: string, input: string, tags?: NodeTags): string {
    return this.add({
      id,
      op: 'batchNorm',
      inputs: [input],
      attrs: { epsilon: BN_EPSILON, momentum: BN_MOMENTUM },
      tags,
    });
  }

  relu(id: string, input: string, tags?: NodeTags): string {
    return this.add({ id, op: 'relu', inputs: [input], attrs: {}, tags });
  }

  relu6(id: string, input: string, tags?: NodeTags): string {
    return this.add({ id, op: 'relu6', inputs: [input], attrs: {}, tags });
  }

  maxPool(id: string, input: string, size: number, stride: number, tags?: NodeTags): string {
    return this.add({
      id,
      op: 'maxPool',
      inputs: [input],
      attrs: { poolSize: [size, size], strides: [stride, stride], pads: [0, 0, 0, 0] },
      tags,
    });
  }

  globalAvgPool(id: string, input: string, tags?: NodeTags): string {
    return this.add({ id, op: 'globalAvgPool', inputs: [input], attrs: {}, tags });
  }

  addNode(id: string, inputs: string[], tags?: NodeTags): string {
    return this.add({ id, op: 'add', inputs, attrs: {}, tags });
  }

  flatten(id: string, input: string, tags?: NodeTags): string {
    return this.add({ id, op: 'flatten', inputs: [input], attrs: {}, tags });
  }

  dense(id: string, input: string, units: number, tags?: NodeTags): string {
    return this.add({ id, op: 'dense', inputs: [input], attrs: { units, useBias: true }, tags });
  }

  /** conv -> BN -> activation, the unit every builder repeats. Returns the activation's id. */
  convBnAct(
    prefix: string,
    input: string,
    spec: ConvSpec,
    act: 'relu' | 'relu6' | 'none',
    tags?: NodeTags,
  ): string {
    const conv = this.conv(`${prefix}.conv`, input, spec, tags);
    const bn = this.batchNorm(`${prefix}.bn`, conv, tags);
    if (act === 'none') return bn;
    return act === 'relu'
      ? this.relu(`${prefix}.relu`, bn, tags)
      : this.relu6(`${prefix}.relu6`, bn, tags);
  }

  build(meta: {
    name: string;
    architecture: string;
    numClasses: number;
    output: string;
    features?: string;
    stages?: StageInfo[];
  }): Model {
    const model: Model = {
      graph: {
        format: GRAPH_FORMAT,
        version: GRAPH_VERSION,
        name: meta.name,
        architecture: meta.architecture,
        inputShape: [...this.inputShape],
        numClasses: meta.numClasses,
        nodes: this.nodes,
        output: meta.output,
        ...(meta.features !== undefined && { features: meta.features }),
        ...(meta.stages !== undefined && { stages: meta.stages }),
      },
      weights: this.weights,
    };
    validateModel(model);
    return model;
  }

  private add(node: GraphNode): string {
    if (this.shapes.has(node.id)) throw new Error(`builder: duplicate node id "${node.id}"`);
    if (!node.tags) delete node.tags;
    const inputShapes = node.inputs.map((id) => this.shapeOf(id));
    this.shapes.set(node.id, inferNodeShape(node, inputShapes));
    this.nodes.push(node);
    for (const spec of weightSpecs(node, inputShapes)) {
      this.weights.set(spec.name, {
        shape: spec.shape!,
        data: this.initialValue(node, spec.role, spec.shape!, spec.name),
      });
    }
    return node.id;
  }

  private initialValue(node: GraphNode, role: string, shape: number[], name: string): Float32Array {
    const size = shape.reduce((a, b) => a * b, 1);
    const random = new InitRandom(tensorSeed(this.seed, name));
    switch (role) {
      case 'gamma':
      case 'movingVariance':
        return filledTensor(size, 1);
      case 'beta':
      case 'movingMean':
        return filledTensor(size, 0);
    }
    if (this.shapeOnly) return filledTensor(size, 0);
    if (node.op === 'dense') {
      const fanIn = role === 'kernel' ? shape[0] : this.kernelShape(node)[0];
      const pytorchBound = 1 / Math.sqrt(fanIn);
      if (role === 'bias') {
        return this.init.dense === 'normal-0.01'
          ? filledTensor(size, 0)
          : uniformTensor(size, pytorchBound, random);
      }
      if (this.init.dense === 'normal-0.01') return normalTensor(size, 0.01, random);
      if (this.init.dense === 'kaiming-normal-fan-in')
        return normalTensor(size, Math.sqrt(2 / fanIn), random);
      return uniformTensor(size, pytorchBound, random);
    }
    // conv2d [kh, kw, in/groups, out]; depthwise [kh, kw, C, m] is PyTorch's [C*m, 1, kh, kw].
    const [kh, kw, a, b] = role === 'kernel' ? shape : this.kernelShape(node);
    const receptive = kh * kw;
    const fanIn = node.op === 'depthwiseConv2d' ? receptive : receptive * a;
    const fanOut = node.op === 'depthwiseConv2d' ? receptive * a * b : receptive * b;
    if (role === 'bias') {
      return this.init.convBias === 'zeros'
        ? filledTensor(size, 0)
        : uniformTensor(size, 1 / Math.sqrt(fanIn), random);
    }
    const fan = this.init.conv === 'kaiming-normal-fan-out' ? fanOut : fanIn;
    return normalTensor(size, Math.sqrt(2 / fan), random);
  }

  /** The node's kernel shape; kernels are created before biases (weightSpecs order). */
  private kernelShape(node: GraphNode): number[] {
    return this.weights.get(`${node.id}/kernel`)!.shape;
  }
}
