/**
 * ONNX -> graph IR for the exported op subset, from our own exports, `torch.onnx.export` and
 * TF/Keras converters. NCHW becomes NHWC (weights converted by ./layout), BatchNormalization stays
 * a trainable batchNorm, Gemm/MatMul(+Add) become dense, shape-computing subgraphs feeding a
 * Reshape are evaluated statically, Constant/Identity/Dropout are resolved away.
 */
import {
  GRAPH_FORMAT,
  GRAPH_VERSION,
  type Graph,
  type GraphNode,
  type Model,
  type NodeTags,
  type Pads,
  type Weights,
} from '../graph/ir';
import { AVG_POOL_COUNTS_PADDING, inferShapes, liveNodes } from './ir-shapes';
import { denseRowsChwToHwc, oihwToConvKernel, onnxShapeToEngine, transpose2d } from './layout';
import {
  DEFAULT_ONNX_LIMITS,
  OnnxFormatError,
  decodeOnnxModel,
  tensorDims,
  tensorToFloat32,
  type OnnxLimits,
} from './onnx-guard';
import { META, readMetadata, type GraphInfo } from './onnx-metadata';
import { onnx, toNumber, type Int64 } from './onnx-schema';
import { expandPackedModel } from './packed-weights';

export class UnsupportedOnnxError extends Error {
  override readonly name = 'UnsupportedOnnxError';
  constructor(readonly blockers: { opType: string; node: string; reason?: string }[]) {
    super(
      `cannot import: unsupported ONNX operators: ` +
        blockers
          .map((b) => `${b.opType} (node "${b.node}"${b.reason ? `: ${b.reason}` : ''})`)
          .join(', '),
    );
  }
}

export interface OnnxImportResult {
  model: Model;
  /** Variant metadata found in the file (metadata_props). */
  metadata: Map<string, string>;
  /** Things the import changed on purpose (e.g. a trailing Softmax dropped). */
  notes: string[];
}

const SUPPORTED = new Set([
  'Conv',
  'BatchNormalization',
  'Relu',
  'Clip',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'Add',
  'Sum',
  'Concat',
  'Flatten',
  'Reshape',
  'Gemm',
  'MatMul',
  'Softmax',
  'Constant',
  'Identity',
  'Dropout',
  'Shape',
  'Gather',
  'Unsqueeze',
  'Squeeze',
  'Cast',
  'Pad',
  'Transpose',
]);

/** What an ONNX tensor name stands for while importing. */
type Value =
  | {
      kind: 'ir';
      id: string;
      /** Engine shape without batch ([H, W, C] or [F]). */
      shape: number[];
      /** A flat vector whose features are in ONNX (c, h, w) order while the IR holds (h, w, c). */
      chwOrder?: [number, number, number];
      /** A [C] vector that ONNX still sees as [N, C, 1, 1] (after GlobalAveragePool). */
      squeezed?: boolean;
      /** The map seen through Transpose(0, 2, 3, 1): ONNX sees NHWC. */
      nhwcView?: boolean;
      /** Zero padding [top, bottom, left, right] from a Pad node, to fold into the consumer. */
      pendingPads?: Pads;
    }
  | { kind: 'const'; dims: number[]; data: Float32Array }
  | { kind: 'shape'; values: (number | 'N')[] };

function attrMap(node: onnx.INodeProto): Map<string, onnx.IAttributeProto> {
  return new Map((node.attribute ?? []).map((a) => [a.name ?? '', a]));
}
const ints = (a: onnx.IAttributeProto | undefined, d: number[]): number[] =>
  a ? (a.ints ?? []).map((v) => toNumber(v as Int64)) : d;
const int = (a: onnx.IAttributeProto | undefined, d: number): number =>
  a ? toNumber(a.i as Int64) : d;
const float = (a: onnx.IAttributeProto | undefined, d: number): number => (a ? (a.f ?? d) : d);

/** Kahn's algorithm over tensor names; throws naming the nodes on a cycle. */
function topoSort(nodes: onnx.INodeProto[], available: Set<string>): onnx.INodeProto[] {
  const producers = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => producers.set(o, i)));
  const missing: string[] = [];
  const deps = nodes.map(
    (n, i) =>
      new Set(
        (n.input ?? [])
          .filter((t) => t !== '')
          .map((t) => {
            const p = producers.get(t);
            if (p === undefined && !available.has(t))
              missing.push(`"${t}" (input of node "${n.name || n.opType}")`);
            return p;
          })
          .filter((p): p is number => p !== undefined && p !== i),
      ),
  );
  if (missing.length)
    throw new OnnxFormatError(
      `graph references tensors that nothing defines (missing initializer?): ${missing.slice(0, 10).join(', ')}`,
    );
  const users = nodes.map(() => [] as number[]);
  deps.forEach((ds, i) => ds.forEach((d) => users[d]!.push(i)));
  const pending = deps.map((d) => d.size);
  // Kahn's algorithm taking the lowest original index first: a file already in topological
  // order keeps its order, so node order (and a re-export) is stable.
  const ready = pending.flatMap((p, i) => (p === 0 ? [i] : []));
  const order: onnx.INodeProto[] = [];
  while (ready.length) {
    let best = 0;
    for (let r = 1; r < ready.length; r++) if (ready[r]! < ready[best]!) best = r;
    const i = ready.splice(best, 1)[0]!;
    order.push(nodes[i]!);
    for (const u of users[i]!) if (--pending[u]! === 0) ready.push(u);
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.filter((_, i) => pending[i]! > 0).map((n) => n.name || n.opType);
    throw new OnnxFormatError(`graph has a cycle through nodes: ${stuck.slice(0, 10).join(', ')}`);
  }
  return order;
}

export function importOnnx(
  bytes: Uint8Array,
  limits: OnnxLimits = DEFAULT_ONNX_LIMITS,
): OnnxImportResult {
  return importOnnxModel(expandPackedModel(decodeOnnxModel(bytes, limits)), limits);
}

export function importOnnxModel(
  proto: onnx.IModelProto,
  limits: OnnxLimits = DEFAULT_ONNX_LIMITS,
): OnnxImportResult {
  const g = proto.graph!;
  for (const op of proto.opsetImport ?? []) {
    if (op.domain && op.domain !== 'ai.onnx')
      throw new UnsupportedOnnxError([{ opType: `domain ${op.domain}`, node: '(opset import)' }]);
  }
  const metadata = readMetadata(proto);
  const notes: string[] = [];
  const values = new Map<string, Value>();
  for (const t of g.initializer ?? []) {
    const { dims } = tensorDims(t, limits);
    values.set(t.name ?? '', { kind: 'const', dims, data: tensorToFloat32(t, limits) });
  }
  const realInputs = (g.input ?? []).filter((i) => !values.has(i.name ?? ''));
  if (realInputs.length !== 1)
    throw new OnnxFormatError(`expected one model input, found ${realInputs.length}`);
  const inputInfo = realInputs[0]!;
  const inDims = (inputInfo.type?.tensorType?.shape?.dim ?? []).map((d) =>
    d.dimValue != null ? toNumber(d.dimValue as Int64) : -1,
  );
  if (inDims.length !== 4 && inDims.length !== 2)
    throw new OnnxFormatError(
      `model input "${inputInfo.name}" must be [N, C, H, W] or [N, F], is [${inDims.join(', ')}]`,
    );
  const fixed = inDims.slice(1);
  if (fixed.some((d) => d <= 0 || d > 1 << 16))
    throw new OnnxFormatError(
      `model input "${inputInfo.name}" needs static, sane dims after the batch, has [${inDims.join(', ')}]`,
    );
  const nodesIn = g.node ?? [];
  // TF/Keras converters keep the NHWC input and transpose it to NCHW first: such an input is
  // already in engine layout, and its Transpose(0, 3, 1, 2) nodes vanish.
  const inputUsers = nodesIn.filter((n) => (n.input ?? []).includes(inputInfo.name ?? ''));
  const nhwcInput =
    fixed.length === 3 &&
    inputUsers.length > 0 &&
    inputUsers.every(
      (n) => n.opType === 'Transpose' && ints(attrMap(n).get('perm'), []).join() === '0,3,1,2',
    );
  const inputTransposes = new Set(nhwcInput ? inputUsers : []);
  const inputShape = nhwcInput ? [...fixed] : onnxShapeToEngine(fixed);

  const blockers = nodesIn
    .filter((n) => !SUPPORTED.has(n.opType ?? '') || (n.domain && n.domain !== 'ai.onnx'))
    .map((n) => ({
      opType: n.domain ? `${n.domain}:${n.opType}` : (n.opType ?? '?'),
      node: n.name || (n.output ?? [])[0] || '?',
    }));
  if (blockers.length) throw new UnsupportedOnnxError(blockers);
  const order = topoSort(nodesIn, new Set([...values.keys(), inputInfo.name ?? '']));

  const nodes: GraphNode[] = [];
  const weights: Weights = new Map();
  const usedIds = new Set<string>();
  const idFor = (n: onnx.INodeProto): string => {
    // PyTorch names nodes "/module/path/OpType[_k]": a layer with weights is named by its module
    // path ("layer1.conv1"), any other op keeps its op suffix ("layer1.relu_1").
    const raw =
      (n.name || (n.output ?? [])[0] || n.opType || 'node')
        .replace(/^\//, '')
        .replace(/\/(Conv|Gemm|MatMul|BatchNormalization)$/, '')
        .replace(/\/([A-Za-z]+(?:_\d+)?)$/, (_m, last: string) => `/${last.toLowerCase()}`)
        .replace(/[^A-Za-z0-9_.-]+/g, '.')
        .replace(/^\.+|\.+$/g, '') || (n.opType ?? 'node').toLowerCase();
    let id = raw;
    for (let k = 1; usedIds.has(id); k++) id = `${raw}_${k}`;
    usedIds.add(id);
    return id;
  };
  const inputId = (inputInfo.name ?? 'input').replace(/[^A-Za-z0-9_.-]+/g, '.') || 'input';
  usedIds.add(inputId);
  nodes.push({ id: inputId, op: 'input', inputs: [], attrs: { shape: inputShape } });
  values.set(inputInfo.name ?? '', { kind: 'ir', id: inputId, shape: inputShape });
  const irNodes = new Map<string, GraphNode>([[inputId, nodes[0]!]]);
  const add = (
    node: GraphNode,
    shape: number[],
    extra: Partial<Extract<Value, { kind: 'ir' }>> = {},
  ): Value => {
    nodes.push(node);
    irNodes.set(node.id, node);
    return { kind: 'ir', id: node.id, shape, ...extra };
  };

  for (const n of order) {
    const op = n.opType!;
    const a = attrMap(n);
    const name = n.name || (n.output ?? [])[0] || op;
    const fail = (reason: string): never => {
      throw new UnsupportedOnnxError([{ opType: op, node: name, reason }]);
    };
    const get = (i: number): Value => {
      const v = values.get((n.input ?? [])[i] ?? '');
      if (!v) fail(`input ${i} is missing`);
      return v!;
    };
    const ir = (i: number): Extract<Value, { kind: 'ir' }> => {
      const v = get(i);
      if (v.kind !== 'ir') return fail(`input ${i} must be a computed tensor`);
      if (v.pendingPads && !['Conv', 'AveragePool'].includes(op))
        fail('a Pad feeds it; only Conv and AveragePool can absorb padding');
      return v as Extract<Value, { kind: 'ir' }>;
    };
    const konst = (i: number): Extract<Value, { kind: 'const' }> => {
      const v = get(i);
      if (v.kind !== 'const') return fail(`input ${i} must be a constant or initializer`);
      return v as Extract<Value, { kind: 'const' }>;
    };
    const hasInput = (i: number): boolean => ((n.input ?? [])[i] ?? '') !== '';
    const spatialIn = (v: Extract<Value, { kind: 'ir' }>): [number, number, number] => {
      if (v.shape.length !== 3 || v.nhwcView || v.squeezed) fail('expects an NCHW feature map');
      return v.shape as [number, number, number];
    };
    let result: Value;

    switch (op) {
      case 'Constant': {
        const t = a.get('value')?.t;
        const vf = a.get('value_float');
        const vfs = a.get('value_floats');
        const vi = a.get('value_int');
        const vis = a.get('value_ints');
        if (t)
          result = {
            kind: 'const',
            dims: tensorDims(t, limits).dims,
            data: tensorToFloat32(t, limits),
          };
        else if (vf) result = { kind: 'const', dims: [], data: Float32Array.of(float(vf, 0)) };
        else if (vfs)
          result = {
            kind: 'const',
            dims: [vfs.floats?.length ?? 0],
            data: Float32Array.from(vfs.floats ?? []),
          };
        else if (vi) result = { kind: 'const', dims: [], data: Float32Array.of(int(vi, 0)) };
        else if (vis)
          result = {
            kind: 'const',
            dims: [vis.ints?.length ?? 0],
            data: Float32Array.from(ints(vis, [])),
          };
        else return fail('only tensor, float(s) and int(s) constants are supported');
        break;
      }
      case 'Identity':
      case 'Dropout':
      case 'Cast':
        result = get(0);
        break;
      case 'Shape': {
        const v = ir(0);
        const dims = v.squeezed
          ? [v.shape[0]!, 1, 1]
          : v.shape.length === 3 && !v.nhwcView
            ? [v.shape[2]!, v.shape[0]!, v.shape[1]!]
            : v.shape;
        result = { kind: 'shape', values: ['N', ...dims] };
        break;
      }
      case 'Gather': {
        const v = get(0);
        const idx = konst(1);
        if (v.kind !== 'shape' || idx.dims.length > 1 || int(a.get('axis'), 0) !== 0)
          return fail('only Gather on a Shape is supported');
        const picked = Array.from(idx.data).map((i) =>
          (v as { values: (number | 'N')[] }).values.at(i),
        );
        if (picked.some((p) => p === undefined)) fail('index out of range');
        result = { kind: 'shape', values: picked as (number | 'N')[] };
        break;
      }
      case 'Unsqueeze':
      case 'Squeeze': {
        const v = get(0);
        if (v.kind === 'shape') result = v;
        else if (v.kind === 'const')
          result = { kind: 'const', dims: [v.data.length], data: v.data };
        else return fail('only shape arithmetic is supported (not on feature maps)');
        break;
      }
      case 'Concat': {
        const parts = (n.input ?? []).map((_, i) => get(i));
        if (parts.every((p) => p.kind !== 'ir')) {
          const vals: (number | 'N')[] = [];
          for (const p of parts)
            vals.push(
              ...(p.kind === 'shape' ? p.values : Array.from((p as { data: Float32Array }).data)),
            );
          result = { kind: 'shape', values: vals };
          break;
        }
        const ins = parts.map((_, i) => ir(i));
        const rank = ins[0]!.shape.length;
        const axis = int(a.get('axis'), 1);
        if (
          !(
            (rank === 3 && (axis === 1 || axis === -3)) ||
            (rank === 1 && (axis === 1 || axis === -1))
          ) ||
          ins.some((v) => v.nhwcView || v.chwOrder)
        )
          fail(`only channel concatenation is supported (axis ${axis})`);
        const shape = [...ins[0]!.shape];
        shape[shape.length - 1] = ins.reduce((s, v) => s + v.shape[v.shape.length - 1]!, 0);
        result = add(
          { id: idFor(n), op: 'concat', inputs: ins.map((v) => v.id), attrs: { axis: -1 } },
          shape,
        );
        break;
      }
      case 'Pad': {
        const v = ir(0);
        const mode = a.get('mode')?.s ? Buffer.from(a.get('mode')!.s!).toString() : 'constant';
        const pads = hasInput(1) ? Array.from(konst(1).data) : ints(a.get('pads'), []);
        const fillValue = hasInput(2) ? (konst(2).data[0] ?? 0) : float(a.get('value'), 0);
        spatialIn(v);
        if (
          mode !== 'constant' ||
          fillValue !== 0 ||
          pads.length !== 8 ||
          pads[0] ||
          pads[1] ||
          pads[4] ||
          pads[5]
        )
          fail('only zero padding of H and W is supported');
        const extra: Pads = [pads[2]!, pads[6]!, pads[3]!, pads[7]!];
        result = extra.every((p) => p === 0) ? v : { ...v, pendingPads: extra };
        break;
      }
      case 'Transpose': {
        if (inputTransposes.has(n)) {
          result = get(0);
          break;
        }
        const v = ir(0);
        const perm = ints(a.get('perm'), []);
        if (v.shape.length !== 3 || v.nhwcView || perm.join() !== '0,2,3,1')
          fail(
            `only NCHW -> NHWC (perm 0,2,3,1) before a flatten is supported, got [${perm.join(', ')}]`,
          );
        result = { ...v, nhwcView: true };
        break;
      }
      case 'Conv': {
        const v = ir(0);
        const [h, w, inC] = spatialIn(v);
        const wt = konst(1);
        if (wt.dims.length !== 4) fail('only 2-D convolution is supported');
        const [outC, cinPerGroup, kh, kw] = wt.dims as [number, number, number, number];
        const group = int(a.get('group'), 1);
        if (cinPerGroup * group !== inC)
          fail(`weight expects ${cinPerGroup * group} input channels, input has ${inC}`);
        const strides = ints(a.get('strides'), [1, 1]) as [number, number];
        const dilations = ints(a.get('dilations'), [1, 1]) as [number, number];
        let pads = convPads(a, [h, w], [kh, kw], strides, dilations, fail);
        if (v.pendingPads) pads = pads.map((p, i) => p + v.pendingPads![i]!) as Pads;
        const id = idFor(n);
        const kernel = oihwToConvKernel(wt.data, wt.dims);
        const useBias = hasInput(2);
        let node: GraphNode;
        if (group > 1 && group === inC && cinPerGroup === 1) {
          const mult = outC / inC;
          weights.set(`${id}/kernel`, { shape: [kh, kw, inC, mult], data: kernel.data });
          node = {
            id,
            op: 'depthwiseConv2d',
            inputs: [v.id],
            attrs: {
              kernelSize: [kh, kw],
              strides,
              pads,
              dilations,
              depthMultiplier: mult,
              useBias,
            },
          };
        } else {
          weights.set(`${id}/kernel`, kernel);
          node = {
            id,
            op: 'conv2d',
            inputs: [v.id],
            attrs: {
              filters: outC,
              kernelSize: [kh, kw],
              strides,
              pads,
              dilations,
              groups: group,
              useBias,
            },
          };
        }
        if (useBias) weights.set(`${id}/bias`, { shape: [outC], data: konst(2).data });
        const out = (
          size: number,
          k: number,
          s: number,
          p0: number,
          p1: number,
          d: number,
        ): number => Math.floor((size + p0 + p1 - d * (k - 1) - 1) / s) + 1;
        result = add(node, [
          out(h, kh, strides[0], pads[0], pads[1], dilations[0]),
          out(w, kw, strides[1], pads[2], pads[3], dilations[1]),
          outC,
        ]);
        break;
      }
      case 'BatchNormalization': {
        const v = ir(0);
        const channels = v.shape[v.shape.length - 1]!;
        if (v.shape.length !== 3 || v.nhwcView)
          fail('only per-channel BatchNormalization on feature maps is supported');
        if (
          (n.output ?? []).filter((o) => o !== '').length > 1 ||
          int(a.get('training_mode'), 0) !== 0
        )
          fail('training-mode BatchNormalization is not supported (export in eval mode)');
        const id = idFor(n);
        ['gamma', 'beta', 'movingMean', 'movingVariance'].forEach((role, i) => {
          const c = konst(i + 1);
          if (c.data.length !== channels)
            fail(`${role} has ${c.data.length} values for ${channels} channels`);
          weights.set(`${id}/${role}`, { shape: [channels], data: c.data });
        });
        result = add(
          {
            id,
            op: 'batchNorm',
            inputs: [v.id],
            attrs: {
              epsilon: float(a.get('epsilon'), 1e-5),
              momentum: float(a.get('momentum'), 0.9),
            },
          },
          [...v.shape],
        );
        break;
      }
      case 'Relu': {
        const v = ir(0);
        result = add(
          { id: idFor(n), op: 'relu', inputs: [v.id], attrs: {} },
          [...v.shape],
          carry(v),
        );
        break;
      }
      case 'Clip': {
        const v = ir(0);
        const lo = hasInput(1) ? konst(1).data[0]! : float(a.get('min'), -Infinity);
        const hi = hasInput(2) ? konst(2).data[0]! : float(a.get('max'), Infinity);
        if (lo !== 0 || (hi !== 6 && hi !== Infinity))
          fail(`only Clip(0, 6) and Clip(0, inf) are supported, got Clip(${lo}, ${hi})`);
        result = add(
          { id: idFor(n), op: hi === 6 ? 'relu6' : 'relu', inputs: [v.id], attrs: {} },
          [...v.shape],
          carry(v),
        );
        break;
      }
      case 'MaxPool':
      case 'AveragePool': {
        const v = ir(0);
        const [h, w, c] = spatialIn(v);
        if (int(a.get('ceil_mode'), 0) !== 0) fail('ceil_mode=1 is not supported');
        if (ints(a.get('dilations'), [1, 1]).some((d) => d !== 1))
          fail('dilated pooling is not supported');
        const k = ints(a.get('kernel_shape'), []) as [number, number];
        const s = ints(a.get('strides'), [1, 1]) as [number, number];
        let pads = convPads(a, [h, w], k, s, [1, 1], fail);
        if (v.pendingPads) pads = pads.map((p, i) => p + v.pendingPads![i]!) as Pads;
        const counts = int(a.get('count_include_pad'), 0) === 1 || Boolean(v.pendingPads);
        if (op === 'AveragePool' && pads.some((p) => p > 0) && counts !== AVG_POOL_COUNTS_PADDING)
          fail('AveragePool padding semantics differ from the engine (count_include_pad)');
        const out = (size: number, kk: number, ss: number, p0: number, p1: number): number =>
          Math.floor((size + p0 + p1 - kk) / ss) + 1;
        const attrs = { poolSize: k, strides: s, pads };
        result = add(
          { id: idFor(n), op: op === 'MaxPool' ? 'maxPool' : 'avgPool', inputs: [v.id], attrs },
          [out(h, k[0], s[0], pads[0], pads[1]), out(w, k[1], s[1], pads[2], pads[3]), c],
        );
        break;
      }
      case 'GlobalAveragePool': {
        const v = ir(0);
        const [, , c] = spatialIn(v);
        result = add({ id: idFor(n), op: 'globalAvgPool', inputs: [v.id], attrs: {} }, [c], {
          squeezed: true,
        });
        break;
      }
      case 'Flatten':
      case 'Reshape': {
        const v = ir(0);
        if (op === 'Flatten' && int(a.get('axis'), 1) !== 1)
          fail('only Flatten(axis=1) is supported');
        if (op === 'Reshape') {
          const target = get(1);
          const dims =
            target.kind === 'shape'
              ? target.values
              : target.kind === 'const'
                ? Array.from(target.data)
                : fail('shape must be static');
          const total = v.shape.reduce((x, y) => x * y, 1);
          const flat =
            dims!.length === 2 &&
            (dims![0] === 'N' || dims![0] === -1 || dims![0] === 0 || dims![0] === 1) &&
            (dims![1] === -1 || dims![1] === total);
          if (!flat)
            fail(`only reshapes to [batch, features] are supported, got [${dims!.join(', ')}]`);
        }
        if (v.shape.length === 1) {
          result = {
            kind: 'ir',
            id: v.id,
            shape: v.shape,
            ...(v.chwOrder ? { chwOrder: v.chwOrder } : {}),
          };
        } else {
          const [h, w, c] = v.shape as [number, number, number];
          const chw =
            !v.nhwcView && h * w > 1 ? { chwOrder: [h, w, c] as [number, number, number] } : {};
          result = add(
            { id: idFor(n), op: 'flatten', inputs: [v.id], attrs: {} },
            [h * w * c],
            chw,
          );
        }
        break;
      }
      case 'Gemm':
      case 'MatMul': {
        const v = ir(0);
        if (v.shape.length !== 1) fail('expects a [batch, features] input');
        const b = konst(1);
        if (b.dims.length !== 2) fail('weight must be 2-D');
        const transB = op === 'Gemm' ? int(a.get('transB'), 0) : 0;
        if (op === 'Gemm' && int(a.get('transA'), 0) !== 0) fail('transA=1 is not supported');
        const alpha = op === 'Gemm' ? float(a.get('alpha'), 1) : 1;
        const beta = op === 'Gemm' ? float(a.get('beta'), 1) : 1;
        const [inF, units] = transB ? [b.dims[1]!, b.dims[0]!] : [b.dims[0]!, b.dims[1]!];
        if (inF !== v.shape[0]) fail(`weight expects ${inF} features, input has ${v.shape[0]}`);
        let kernel = transB ? transpose2d(b.data, units, inF) : Float32Array.from(b.data);
        if (alpha !== 1) kernel = kernel.map((x) => x * alpha);
        if (v.chwOrder) kernel = denseRowsChwToHwc(kernel, v.chwOrder, units);
        const id = idFor(n);
        weights.set(`${id}/kernel`, { shape: [inF, units], data: kernel });
        const useBias = op === 'Gemm' && hasInput(2);
        if (useBias) {
          const c = konst(2);
          if (c.data.length !== units) fail(`bias has ${c.data.length} values for ${units} units`);
          weights.set(`${id}/bias`, { shape: [units], data: c.data.map((x) => x * beta) });
        }
        result = add({ id, op: 'dense', inputs: [v.id], attrs: { units, useBias } }, [units]);
        break;
      }
      case 'Add':
      case 'Sum': {
        const parts = (n.input ?? []).map((_, i) => get(i));
        const constPart = parts.findIndex((p) => p.kind === 'const');
        if (constPart >= 0 && parts.length === 2) {
          // MatMul + Add (TF/Keras converters) or a bias-free conv + Add: fold into a bias.
          const v = ir(1 - constPart);
          const c = konst(constPart);
          const target = irNodes.get(v.id);
          const channels = v.shape[v.shape.length - 1]!;
          if (
            !target ||
            (target.op !== 'dense' && target.op !== 'conv2d') ||
            target.attrs.useBias ||
            c.data.length !== channels ||
            nodes[nodes.length - 1] !== target
          )
            fail('adding a constant is supported only as the bias of the MatMul/Conv just before');
          (target!.attrs as { useBias: boolean }).useBias = true;
          weights.set(`${target!.id}/bias`, { shape: [channels], data: Float32Array.from(c.data) });
          result = v;
          break;
        }
        const ins = parts.map((_, i) => ir(i));
        if (ins.some((x) => x.shape.join() !== ins[0]!.shape.join() || x.nhwcView || x.chwOrder))
          fail('inputs must have the same shape');
        result = add({ id: idFor(n), op: 'add', inputs: ins.map((x) => x.id), attrs: {} }, [
          ...ins[0]!.shape,
        ]);
        break;
      }
      case 'Softmax': {
        const v = ir(0);
        if (v.shape.length !== 1) fail('only softmax over class scores is supported');
        result = add({ id: idFor(n), op: 'softmax', inputs: [v.id], attrs: {} }, [...v.shape]);
        break;
      }
      default:
        return fail('not supported');
    }
    for (const o of (n.output ?? []).slice(0, 1)) values.set(o, result!);
  }

  const outName = (g.output ?? [])[0]?.name ?? '';
  const outValue = values.get(outName);
  if (!outValue || outValue.kind !== 'ir')
    throw new OnnxFormatError(`model output "${outName}" is not computed by the graph`);
  let outputId = outValue.id;
  const last = irNodes.get(outputId)!;
  if (last.op === 'softmax') {
    // The IR's output is logits (losses want them): a trailing softmax is dropped.
    outputId = last.inputs[0]!;
    nodes.splice(nodes.indexOf(last), 1);
    notes.push(`dropped trailing Softmax "${last.id}": the model output is now its logits`);
  }
  if (outValue.chwOrder)
    throw new OnnxFormatError(
      'the model output is a flattened NCHW map, which has no NHWC equivalent',
    );
  const live = liveNodes(nodes, outputId);
  const kept = nodes.filter((nd) => live.has(nd.id));
  const keptWeights: Weights = new Map(
    [...weights].filter(([k]) => live.has(k.slice(0, k.lastIndexOf('/')))),
  );

  const info = parseGraphInfo(metadata.get(META.graphInfo));
  const graph: Graph = {
    format: GRAPH_FORMAT,
    version: GRAPH_VERSION,
    name: metadata.get(META.graphName) ?? g.name ?? 'imported',
    architecture: metadata.get(META.architecture) ?? 'onnx-import',
    inputShape,
    numClasses: 0,
    nodes: kept,
    output: outputId,
  };
  const shapes = inferShapes(graph);
  const outShape = shapes.get(outputId)!;
  if (outShape.length !== 1)
    throw new OnnxFormatError(
      `model output must be [batch, classes], is [batch, ${outShape.join(', ')}]`,
    );
  graph.numClasses = outShape[0]!;
  applyTags(graph, info);
  return { model: { graph, weights: keptWeights }, metadata, notes };
}

function carry(v: Extract<Value, { kind: 'ir' }>): Partial<Extract<Value, { kind: 'ir' }>> {
  return {
    ...(v.chwOrder ? { chwOrder: v.chwOrder } : {}),
    ...(v.squeezed ? { squeezed: true } : {}),
  };
}

function convPads(
  a: Map<string, onnx.IAttributeProto>,
  [h, w]: [number, number],
  k: readonly number[],
  s: readonly number[],
  d: readonly number[],
  fail: (reason: string) => never,
): Pads {
  const autoPad = a.get('auto_pad')?.s ? Buffer.from(a.get('auto_pad')!.s!).toString() : 'NOTSET';
  if (autoPad === 'NOTSET') {
    const p = ints(a.get('pads'), [0, 0, 0, 0]);
    if (p.length !== 4) fail('expects 2-D pads');
    return [p[0]!, p[2]!, p[1]!, p[3]!];
  }
  if (autoPad === 'VALID') return [0, 0, 0, 0];
  const same = (size: number, i: number): [number, number] => {
    const total = Math.max(
      0,
      (Math.ceil(size / s[i]!) - 1) * s[i]! + (k[i]! - 1) * d[i]! + 1 - size,
    );
    const small = Math.floor(total / 2);
    return autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small];
  };
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER')
    fail(`auto_pad ${autoPad} is not supported`);
  const [t, b] = same(h, 0);
  const [l, r] = same(w, 1);
  return [t, b, l, r];
}

function parseGraphInfo(raw: string | undefined): GraphInfo | undefined {
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as GraphInfo;
  } catch {
    return undefined;
  }
}

/**
 * Tags for stage-wise methods: restored from our own metadata when present, else inferred from
 * PyTorch-style names (`layer<k>` is stage k-1; `layer<k>.<j>` block j), with the first conv as
 * stem and the last dense as classifier.
 */
function applyTags(graph: Graph, info: GraphInfo | undefined): void {
  const ids = new Set(graph.nodes.map((n) => n.id));
  if (info && Object.keys(info.tags).every((id) => ids.has(id))) {
    for (const n of graph.nodes) if (info.tags[n.id]) n.tags = info.tags[n.id];
    if (info.stages?.every((s) => ids.has(s.output))) graph.stages = info.stages;
    if (info.features && ids.has(info.features)) graph.features = info.features;
    return;
  }
  const stageOutputs = new Map<number, string>();
  for (const n of graph.nodes) {
    const m = /(?:^|[./])layer(\d+)(?:[._](\d+))?/.exec(n.id);
    if (!m) continue;
    const tags: NodeTags = { role: 'body', stage: Number(m[1]) - 1 };
    if (m[2] !== undefined) tags.block = Number(m[2]);
    n.tags = tags;
    stageOutputs.set(tags.stage!, n.id);
  }
  const firstConv = graph.nodes.find((n) => n.op === 'conv2d' || n.op === 'depthwiseConv2d');
  if (firstConv && !firstConv.tags) firstConv.tags = { role: 'stem' };
  const dense = graph.nodes.filter((n) => n.op === 'dense');
  const classifier = dense[dense.length - 1];
  if (classifier) {
    classifier.tags = { ...classifier.tags, role: 'classifier' };
    graph.features = classifier.inputs[0]!;
  }
  if (stageOutputs.size)
    graph.stages = [...stageOutputs]
      .sort((x, y) => x[0] - y[0])
      .map(([k, output]) => ({ name: `stage${k + 1}`, output }));
}
