/**
 * Graph IR -> ONNX ModelProto (opset 17 for float models). BatchNorm is folded into the
 * preceding conv by default; layouts are converted by ./layout; quantized exports plug in through
 * `WeightEncoder` / activation QDQ specs (see qdq-export.ts) so this file stays about graphs.
 */
import type { Graph, GraphNode, Model, WeightTensor } from '../graph/ir';
import { foldBatchNorms, consumersOf } from './batch-norm-fold';
import { AVG_POOL_COUNTS_PADDING, inferShapes, liveNodes } from './ir-shapes';
import {
  convKernelToOihw,
  denseKernelToGemm,
  denseRowsHwcToChw,
  depthwiseKernelToOihw,
  engineShapeToOnnx,
} from './layout';
import {
  META,
  PRODUCER_NAME,
  variantProps,
  type GraphInfo,
  type VariantMetadata,
} from './onnx-metadata';
import {
  FLOAT_OPSET,
  IR_VERSION_FOR_OPSET,
  OnnxDataType,
  attrFloat,
  attrInt,
  attrInts,
  encodeModel,
  floatTensor,
  onnx,
} from './onnx-schema';

/** The name of the exported model's output tensor. */
export const OUTPUT_NAME = 'logits';

/** Emits the initializers (and any dequantization nodes) for one weight; returns the tensor to feed. */
export type WeightEncoder = (
  emit: OnnxEmitter,
  name: string,
  dims: number[],
  data: Float32Array,
  /** Axis of output channels in `dims`: always 0 (Conv OIHW, Gemm B with transB=1, bias). */
  channelAxis: number,
) => string;

/** Quantize-dequantize an activation tensor: inserted after the node producing it. */
export interface ActivationQdq {
  scale: number;
  zeroPoint: number;
  /** ONNX element type of the quantized tensor (uint8/int8/uint4/int4). */
  dataType: number;
  /** Clip to [lo, hi] before quantizing: a grid of fewer levels than the storage type. */
  clip?: [number, number];
}

export interface OnnxExportOptions {
  /** Fold inference-mode BatchNorm into the preceding conv (default true). */
  foldBatchNorm?: boolean;
  metadata?: VariantMetadata;
  opset?: number;
  /** Per conv/dense node id: how to store its kernel (default: float initializer). */
  weightEncoders?: ReadonlyMap<string, WeightEncoder>;
  /** Per conv/dense node id: how to store its bias (called after its kernel's encoder). */
  biasEncoders?: ReadonlyMap<string, WeightEncoder>;
  /** Per node id (including the input node): QDQ on that node's output. */
  activationQdq?: ReadonlyMap<string, ActivationQdq>;
  /** Write fakeQuant nodes without a QDQ spec as Identity (used to calibrate a float copy). */
  fakeQuantAsIdentity?: boolean;
  /** Extra metadata_props entries. */
  extraMetadata?: Record<string, string>;
}

/** Collects nodes and initializers while the graph is written. */
export class OnnxEmitter {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private readonly names = new Set<string>();

  initializer(tensor: onnx.ITensorProto): string {
    const name = tensor.name!;
    if (this.names.has(name)) throw new Error(`duplicate ONNX tensor name "${name}"`);
    this.names.add(name);
    this.initializers.push(tensor);
    return name;
  }

  node(
    opType: string,
    name: string,
    inputs: string[],
    outputs: string[],
    attribute: onnx.IAttributeProto[] = [],
  ): void {
    this.nodes.push({ opType, name, input: inputs, output: outputs, attribute });
  }
}

const floatWeight: WeightEncoder = (emit, name, dims, data) =>
  emit.initializer(floatTensor(name, dims, data));

function requireWeight(model: Model, name: string): WeightTensor {
  const w = model.weights.get(name);
  if (!w) throw new Error(`cannot export: missing weight "${name}"`);
  return w;
}

/** Export order of pads: ONNX wants [top, left, bottom, right]; the IR keeps [top, bottom, left, right]. */
function onnxPads(p: readonly number[]): number[] {
  return [p[0]!, p[2]!, p[1]!, p[3]!];
}

export function buildOnnxModel(input: Model, options: OnnxExportOptions = {}): onnx.IModelProto {
  const model = options.foldBatchNorm === false ? input : foldBatchNorms(input);
  const { graph } = model;
  const opset = options.opset ?? FLOAT_OPSET;
  const shapes = inferShapes(graph);
  const consumers = consumersOf(graph);
  const emit = new OnnxEmitter();
  const encoders = options.weightEncoders ?? new Map<string, WeightEncoder>();
  const biasEncoders = options.biasEncoders ?? new Map<string, WeightEncoder>();
  const qdq = options.activationQdq ?? new Map<string, ActivationQdq>();
  const tensorOf = new Map<string, string>(); // IR node id -> ONNX tensor carrying its output
  /** Dense nodes fed by an NHWC flatten written as an NCHW Flatten: their rows are reordered. */
  const chwDense = new Map<string, [number, number, number]>();
  const inputs: onnx.IValueInfoProto[] = [];

  const src = (id: string): string => {
    const t = tensorOf.get(id);
    if (!t) throw new Error(`cannot export: node input "${id}" has no producer before it`);
    return t;
  };
  const weightInput = (
    node: GraphNode,
    role: string,
    dims: number[],
    data: Float32Array,
  ): string => {
    const name = `${node.id}/${role}`;
    const encoder = (role === 'kernel' ? encoders : biasEncoders).get(node.id);
    return (encoder ?? floatWeight)(emit, name, dims, data, 0);
  };
  const produce = (node: GraphNode, tensor: string): void => {
    const spec = qdq.get(node.id);
    if (!spec) {
      tensorOf.set(node.id, tensor);
      return;
    }
    const scale = emit.initializer(
      floatTensor(`${node.id}/aq.scale`, [], Float32Array.of(spec.scale)),
    );
    const zp = emit.initializer(
      zeroPointTensor(`${node.id}/aq.zero_point`, spec.dataType, [spec.zeroPoint]),
    );
    let toQuantize = tensor;
    if (spec.clip) {
      // Fewer levels than the storage type holds: clip to the grid's range first.
      const lo = emit.initializer(
        floatTensor(`${node.id}/aq.min`, [], Float32Array.of(spec.clip[0])),
      );
      const hi = emit.initializer(
        floatTensor(`${node.id}/aq.max`, [], Float32Array.of(spec.clip[1])),
      );
      emit.node('Clip', `${node.id}/aq.clip`, [tensor, lo, hi], [`${node.id}/aq.clipped`]);
      toQuantize = `${node.id}/aq.clipped`;
    }
    emit.node(
      'QuantizeLinear',
      `${node.id}/aq.quantize`,
      [toQuantize, scale, zp],
      [`${node.id}/aq.q`],
    );
    emit.node(
      'DequantizeLinear',
      `${node.id}/aq.dequantize`,
      [`${node.id}/aq.q`, scale, zp],
      [`${node.id}/aq.dq`],
    );
    tensorOf.set(node.id, `${node.id}/aq.dq`);
  };
  const out = (node: GraphNode): string =>
    node.id === graph.output && !qdq.has(node.id) ? OUTPUT_NAME : node.id;

  // Only what the logits depend on is exported (a softmax after the logits, for instance, is not).
  const live = liveNodes(graph.nodes, graph.output);
  for (const node of graph.nodes) {
    if (!live.has(node.id)) continue;
    const a = node.attrs;
    switch (node.op) {
      case 'input': {
        inputs.push(valueInfo(node.id, engineShapeToOnnx(node.attrs.shape)));
        produce(node, node.id);
        continue;
      }
      case 'conv2d':
      case 'depthwiseConv2d': {
        const kernel = requireWeight(model, `${node.id}/kernel`);
        const isDepthwise = node.op === 'depthwiseConv2d';
        const inC = shapes.get(node.inputs[0]!)![2]!;
        const [kh, kw] = node.attrs.kernelSize;
        const outC = isDepthwise ? kernel.shape[2]! * kernel.shape[3]! : kernel.shape[3]!;
        const dims = isDepthwise ? [outC, 1, kh, kw] : [outC, kernel.shape[2]!, kh, kw];
        const data = isDepthwise
          ? depthwiseKernelToOihw(kernel.data, kernel.shape)
          : convKernelToOihw(kernel.data, kernel.shape);
        const ins = [src(node.inputs[0]!), weightInput(node, 'kernel', dims, data)];
        if (node.attrs.useBias) {
          ins.push(weightInput(node, 'bias', [outC], requireWeight(model, `${node.id}/bias`).data));
        }
        emit.node(
          'Conv',
          node.id,
          ins,
          [out(node)],
          [
            attrInts('kernel_shape', [kh, kw]),
            attrInts('strides', node.attrs.strides),
            attrInts('pads', onnxPads(node.attrs.pads)),
            attrInts('dilations', node.attrs.dilations),
            attrInt('group', isDepthwise ? inC : (a as { groups: number }).groups),
          ],
        );
        break;
      }
      case 'batchNorm': {
        const ins = [src(node.inputs[0]!)];
        for (const role of ['gamma', 'beta', 'movingMean', 'movingVariance']) {
          const w = requireWeight(model, `${node.id}/${role}`);
          ins.push(emit.initializer(floatTensor(`${node.id}/${role}`, [w.data.length], w.data)));
        }
        emit.node(
          'BatchNormalization',
          node.id,
          ins,
          [out(node)],
          [attrFloat('epsilon', node.attrs.epsilon), attrFloat('momentum', node.attrs.momentum)],
        );
        break;
      }
      case 'relu':
        emit.node('Relu', node.id, [src(node.inputs[0]!)], [out(node)]);
        break;
      case 'relu6': {
        const lo = emit.initializer(floatTensor(`${node.id}/min`, [], Float32Array.of(0)));
        const hi = emit.initializer(floatTensor(`${node.id}/max`, [], Float32Array.of(6)));
        emit.node('Clip', node.id, [src(node.inputs[0]!), lo, hi], [out(node)]);
        break;
      }
      case 'maxPool':
      case 'avgPool': {
        const attrs = [
          attrInts('kernel_shape', node.attrs.poolSize),
          attrInts('strides', node.attrs.strides),
          attrInts('pads', onnxPads(node.attrs.pads)),
        ];
        if (node.op === 'avgPool')
          attrs.push(attrInt('count_include_pad', AVG_POOL_COUNTS_PADDING ? 1 : 0));
        emit.node(
          node.op === 'maxPool' ? 'MaxPool' : 'AveragePool',
          node.id,
          [src(node.inputs[0]!)],
          [out(node)],
          attrs,
        );
        break;
      }
      case 'globalAvgPool': {
        // The IR's global pool yields [N, C] (as Keras does); ONNX keeps [N, C, 1, 1].
        emit.node('GlobalAveragePool', node.id, [src(node.inputs[0]!)], [`${node.id}/pool`]);
        emit.node(
          'Flatten',
          `${node.id}/flatten`,
          [`${node.id}/pool`],
          [out(node)],
          [attrInt('axis', 1)],
        );
        break;
      }
      case 'add':
        emit.node(node.inputs.length === 2 ? 'Add' : 'Sum', node.id, node.inputs.map(src), [
          out(node),
        ]);
        break;
      case 'concat':
        emit.node('Concat', node.id, node.inputs.map(src), [out(node)], [attrInt('axis', 1)]);
        break;
      case 'flatten': {
        const inShape = shapes.get(node.inputs[0]!)!;
        const users = consumers.get(node.id) ?? [];
        const spatialMap = inShape.length === 3 && inShape[0]! * inShape[1]! > 1;
        if (
          spatialMap &&
          users.length === 1 &&
          users[0]!.op === 'dense' &&
          node.id !== graph.output
        ) {
          chwDense.set(users[0]!.id, inShape as [number, number, number]);
          emit.node('Flatten', node.id, [src(node.inputs[0]!)], [out(node)], [attrInt('axis', 1)]);
        } else if (spatialMap) {
          // Keep the engine's (h, w, c) feature order for consumers we cannot reorder.
          emit.node(
            'Transpose',
            `${node.id}/nhwc`,
            [src(node.inputs[0]!)],
            [`${node.id}/nhwc`],
            [attrInts('perm', [0, 2, 3, 1])],
          );
          emit.node('Flatten', node.id, [`${node.id}/nhwc`], [out(node)], [attrInt('axis', 1)]);
        } else {
          emit.node('Flatten', node.id, [src(node.inputs[0]!)], [out(node)], [attrInt('axis', 1)]);
        }
        break;
      }
      case 'dense': {
        const kernel = requireWeight(model, `${node.id}/kernel`);
        const [inF, units] = kernel.shape as [number, number];
        const hwc = chwDense.get(node.id);
        const rows = hwc ? denseRowsHwcToChw(kernel.data, hwc, units) : kernel.data;
        const ins = [
          src(node.inputs[0]!),
          weightInput(node, 'kernel', [units, inF], denseKernelToGemm(rows, [inF, units])),
        ];
        if (node.attrs.useBias)
          ins.push(
            weightInput(node, 'bias', [units], requireWeight(model, `${node.id}/bias`).data),
          );
        emit.node('Gemm', node.id, ins, [out(node)], [attrInt('transB', 1)]);
        break;
      }
      case 'softmax':
        emit.node('Softmax', node.id, [src(node.inputs[0]!)], [out(node)], [attrInt('axis', -1)]);
        break;
      case 'fakeQuant':
        // Activation quantization is carried by the QDQ spec of this node (see qdq-export.ts).
        if (!qdq.has(node.id) && !options.fakeQuantAsIdentity)
          throw new Error(
            `cannot export fakeQuant node "${node.id}" as float: use the quantized export`,
          );
        emit.node('Identity', node.id, [src(node.inputs[0]!)], [out(node)]);
        break;
      default: {
        const never: never = node;
        throw new Error(`cannot export op "${(never as GraphNode).op}"`);
      }
    }
    produce(node, out(node));
  }

  let outputTensor = src(graph.output);
  if (outputTensor !== OUTPUT_NAME) {
    emit.node('Identity', `${graph.output}/output`, [outputTensor], [OUTPUT_NAME]);
    outputTensor = OUTPUT_NAME;
  }

  const graphProto: onnx.IGraphProto = {
    name: graph.name,
    node: emit.nodes,
    initializer: emit.initializers,
    input: inputs,
    output: [valueInfo(OUTPUT_NAME, [graph.numClasses])],
  };
  const props = [
    ...variantProps(options.metadata),
    { key: META.architecture, value: graph.architecture },
    { key: META.graphName, value: graph.name },
    { key: META.inputLayout, value: graph.inputShape.length === 3 ? 'NCHW' : 'NF' },
    { key: META.graphInfo, value: JSON.stringify(graphInfo(graph)) },
    ...Object.entries(options.extraMetadata ?? {}).map(([key, value]) => ({ key, value })),
  ];
  return {
    irVersion: IR_VERSION_FOR_OPSET[opset] ?? 8,
    producerName: PRODUCER_NAME,
    producerVersion: PRODUCER_VERSION,
    opsetImport: [{ domain: '', version: opset }],
    graph: graphProto,
    metadataProps: props,
  };
}

/** Graph IR -> serialized ONNX bytes. */
export function exportOnnx(model: Model, options: OnnxExportOptions = {}): Uint8Array {
  return encodeModel(buildOnnxModel(model, options));
}

export const PRODUCER_VERSION = '0.1.0';

function graphInfo(graph: Graph): GraphInfo {
  const tags: GraphInfo['tags'] = {};
  for (const n of graph.nodes) if (n.tags) tags[n.id] = n.tags;
  return {
    tags,
    output: graph.output,
    ...(graph.stages ? { stages: graph.stages } : {}),
    ...(graph.features ? { features: graph.features } : {}),
  };
}

function valueInfo(name: string, dims: number[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: OnnxDataType.FLOAT,
        shape: { dim: [{ dimParam: 'batch' }, ...dims.map((d) => ({ dimValue: d }))] },
      },
    },
  };
}

export function zeroPointTensor(
  name: string,
  dataType: number,
  values: readonly number[],
  dims: number[] = [],
): onnx.ITensorProto {
  const raw = packIntegers(values, dataType);
  return { name, dims, dataType, rawData: raw };
}

/** Integers -> raw_data in ONNX's layout for the type (4-bit types: two per byte, low nibble first). */
export function packIntegers(values: ArrayLike<number>, dataType: number): Uint8Array {
  switch (dataType) {
    case OnnxDataType.UINT8:
      return Uint8Array.from(values as ArrayLike<number>);
    case OnnxDataType.INT8:
      return new Uint8Array(Int8Array.from(values as ArrayLike<number>).buffer);
    case OnnxDataType.UINT4:
    case OnnxDataType.INT4: {
      const out = new Uint8Array(Math.ceil(values.length / 2));
      for (let i = 0; i < values.length; i++) out[i >> 1]! |= (values[i]! & 0x0f) << ((i & 1) * 4);
      return out;
    }
    default:
      throw new Error(`no integer packing for ONNX data type ${dataType}`);
  }
}
