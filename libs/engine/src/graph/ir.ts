/**
 * The graph IR: the single source of truth for training, pruning surgery, quantization,
 * FLOP counting and ONNX export.
 *
 * Conventions (fixed here so every consumer agrees):
 * - Activations are NHWC. Shapes in the IR omit the batch dimension: an image input is
 *   [H, W, C]; a flat feature vector is [F].
 * - Weight layouts follow tfjs: conv2d kernel [kh, kw, inC / groups, outC]; depthwise kernel
 *   [kh, kw, inC, multiplier]; dense kernel [in, out]. ONNX export converts layouts in one place.
 * - Padding is always explicit [top, bottom, left, right] (symmetric k//2 in the builders, as
 *   PyTorch does), so an export or a PyTorch peer computes exactly the same function.
 * - Weights are named `${nodeId}/${role}` with roles kernel, bias, gamma, beta, movingMean,
 *   movingVariance, and quantizer parameters (see FakeQuantAttrs).
 * - Nodes are listed in topological order; `inputs` name earlier nodes by id.
 */

export const GRAPH_FORMAT = 'edgecompress.graph';
export const GRAPH_VERSION = 1;

export type Pads = [top: number, bottom: number, left: number, right: number];
export type Pair = [number, number];

export interface Conv2dAttrs {
  filters: number;
  weightQuant?: WeightQuantAttrs;
  kernelSize: Pair;
  strides: Pair;
  pads: Pads;
  dilations: Pair;
  /** Grouped convolution; `groups === inC === filters` is a depthwise conv written as conv2d. */
  groups: number;
  useBias: boolean;
}

export interface DepthwiseConv2dAttrs {
  kernelSize: Pair;
  strides: Pair;
  pads: Pads;
  dilations: Pair;
  depthMultiplier: number;
  useBias: boolean;
  weightQuant?: WeightQuantAttrs;
}

export interface BatchNormAttrs {
  epsilon: number;
  /** Running-statistics momentum as in Keras: running = momentum * running + (1 - momentum) * batch. */
  momentum: number;
}

/**
 * maxPool / avgPool window. Padded cells never win a max and are not counted in an average
 * (avgPool divides by the in-bounds cells: ONNX count_include_pad = 0, PyTorch
 * count_include_pad=False).
 */
export interface PoolAttrs {
  poolSize: Pair;
  strides: Pair;
  pads: Pads;
}

export interface DenseAttrs {
  units: number;
  useBias: boolean;
  weightQuant?: WeightQuantAttrs;
}

export type QuantizerKind = 'learned-interval' | 'lsq' | 'pact' | 'dorefa';

/**
 * Weight quantization of a conv/depthwise/dense node: its kernel is fake-quantized before use.
 * Quantizer parameters are weights of that node named `${nodeId}/wq.${param}`.
 */
export interface WeightQuantAttrs {
  quantizer: QuantizerKind;
  bits: number;
  perChannel: boolean;
}

/**
 * Activation quantization: a `fakeQuant` node quantizes its single input tensor.
 * Quantizer parameters are weights of the fakeQuant node named `${nodeId}/${param}`.
 */
export interface FakeQuantAttrs {
  quantizer: QuantizerKind;
  bits: number;
  /** Unsigned activations (after ReLU) use [0, 2^b - 1]; signed ones a symmetric range. */
  signed: boolean;
}

export type GraphNode =
  | NodeBase<'input', { shape: number[] }>
  | NodeBase<'conv2d', Conv2dAttrs>
  | NodeBase<'depthwiseConv2d', DepthwiseConv2dAttrs>
  | NodeBase<'batchNorm', BatchNormAttrs>
  | NodeBase<'relu', Record<string, never>>
  | NodeBase<'relu6', Record<string, never>>
  | NodeBase<'maxPool', PoolAttrs>
  | NodeBase<'avgPool', PoolAttrs>
  /** [H, W, C] -> [C] (no trailing 1x1: the IR has no NCHW-style singleton dims). */
  | NodeBase<'globalAvgPool', Record<string, never>>
  | NodeBase<'add', Record<string, never>>
  | NodeBase<'concat', { axis: -1 }>
  /** [H, W, C] -> [H * W * C] in NHWC order (h, then w, then c); a no-op on [F]. */
  | NodeBase<'flatten', Record<string, never>>
  | NodeBase<'dense', DenseAttrs>
  | NodeBase<'softmax', Record<string, never>>
  | NodeBase<'fakeQuant', FakeQuantAttrs>;

export type OpType = GraphNode['op'];

export interface NodeBase<Op extends string, Attrs> {
  id: string;
  op: Op;
  inputs: string[];
  attrs: Attrs;
  /** Where the node sits in the architecture, for stage-wise methods (CKDF pairs, LCMR groups). */
  tags?: NodeTags;
}

export interface NodeTags {
  role?: 'stem' | 'body' | 'classifier';
  /** Stage index (0-based) for stage-structured models (ResNet stages, VGG blocks, MobileNet groups). */
  stage?: number;
  /** Block index inside its stage. */
  block?: number;
}

/** A stage boundary: the node whose output ends the stage (its feature map, for distillation). */
export interface StageInfo {
  name: string;
  output: string;
}

export interface Graph {
  format: typeof GRAPH_FORMAT;
  version: typeof GRAPH_VERSION;
  name: string;
  /** Builder or origin, e.g. "resnet20", "vgg8", "onnx-import". */
  architecture: string;
  inputShape: number[];
  numClasses: number;
  nodes: GraphNode[];
  /** The node producing logits (never a softmax: losses want logits). */
  output: string;
  /** The node producing penultimate features (input of the classifier), for distillation. */
  features?: string;
  stages?: StageInfo[];
}

export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}

/** Weights by name (`${nodeId}/${role}`). */
export type Weights = Map<string, WeightTensor>;

/** A model: its graph and its weights. */
export interface Model {
  graph: Graph;
  weights: Weights;
}
