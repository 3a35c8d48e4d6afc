/**
 * Builds the small ONNX graphs that run a single convolution kernel (or its gradient) on
 * onnxruntime. Inputs and outputs stay in the engine's layouts (NHWC activations, HWIO filters);
 * the graphs transpose to ONNX's NCHW/OIHW around the op.
 */
import { onnx } from 'onnx-proto';
import type { ConvGeometry } from '../kernels/spatial-ops';

const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

type Node = onnx.INodeProto;

function valueInfo(name: string, dims: readonly number[]): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  };
}

function ints(name: string, values: readonly number[]): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...values] };
}

function int(name: string, value: number): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
}

function int64Constant(name: string, values: readonly number[]): onnx.ITensorProto {
  return { name, dataType: INT64, dims: [values.length], int64Data: [...values] };
}

function transpose(input: string, output: string, perm: number[]): Node {
  return { opType: 'Transpose', input: [input], output: [output], attribute: [ints('perm', perm)] };
}

function encode(
  nodes: Node[],
  inputs: onnx.IValueInfoProto[],
  output: onnx.IValueInfoProto,
  initializer: onnx.ITensorProto[] = [],
): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { name: 'kernel', node: nodes, input: inputs, output: [output], initializer },
  });
  return onnx.ModelProto.encode(model).finish();
}

export interface ConvShapes {
  geometry: ConvGeometry;
  inChannels: number;
  outChannels: number;
  /** Explicit pads as tfjs computed them for the forward op. */
  padBottom: number;
  padRight: number;
}

const HWIO_TO_OIHW = [3, 2, 0, 1];
const NHWC_TO_NCHW = [0, 3, 1, 2];
const NCHW_TO_NHWC = [0, 2, 3, 1];

/** y = conv(x, w): x [N,H,W,Ci], w [kh,kw,Ci,Co] -> y [N,Ho,Wo,Co]. */
export function convForwardGraph(s: ConvShapes): Uint8Array {
  const g = s.geometry;
  return encode(
    [
      transpose('x', 'x_nchw', NHWC_TO_NCHW),
      transpose('w', 'w_oihw', HWIO_TO_OIHW),
      {
        opType: 'Conv',
        input: ['x_nchw', 'w_oihw'],
        output: ['y_nchw'],
        attribute: [
          ints('pads', [g.padTop, g.padLeft, s.padBottom, s.padRight]),
          ints('strides', [g.strideHeight, g.strideWidth]),
          ints('dilations', [g.dilationHeight, g.dilationWidth]),
        ],
      },
      transpose('y_nchw', 'y', NCHW_TO_NHWC),
    ],
    [
      valueInfo('x', [g.batch, g.inHeight, g.inWidth, s.inChannels]),
      valueInfo('w', [g.filterHeight, g.filterWidth, s.inChannels, s.outChannels]),
    ],
    valueInfo('y', [g.batch, g.outHeight, g.outWidth, s.outChannels]),
  );
}

/** Padding at the far end of a transposed conv and the output padding that complete [in]. */
function transposedEnd(
  inSize: number,
  outSize: number,
  stride: number,
  reach: number,
  begin: number,
) {
  const end = stride * (outSize - 1) + reach + 1 - begin - inSize;
  return end >= 0 ? { end, outputPadding: 0 } : { end: 0, outputPadding: -end };
}

/** dx = conv2dBackpropInput(dy, w): dy [N,Ho,Wo,Co], w [kh,kw,Ci,Co] -> dx [N,H,W,Ci]. */
export function convBackpropInputGraph(s: ConvShapes): Uint8Array {
  const g = s.geometry;
  const rows = transposedEnd(
    g.inHeight,
    g.outHeight,
    g.strideHeight,
    (g.filterHeight - 1) * g.dilationHeight,
    g.padTop,
  );
  const cols = transposedEnd(
    g.inWidth,
    g.outWidth,
    g.strideWidth,
    (g.filterWidth - 1) * g.dilationWidth,
    g.padLeft,
  );
  return encode(
    [
      transpose('dy', 'dy_nchw', NHWC_TO_NCHW),
      transpose('w', 'w_oihw', HWIO_TO_OIHW),
      {
        opType: 'ConvTranspose',
        input: ['dy_nchw', 'w_oihw'],
        output: ['dx_nchw'],
        attribute: [
          ints('pads', [g.padTop, g.padLeft, rows.end, cols.end]),
          ints('output_padding', [rows.outputPadding, cols.outputPadding]),
          ints('strides', [g.strideHeight, g.strideWidth]),
          ints('dilations', [g.dilationHeight, g.dilationWidth]),
        ],
      },
      transpose('dx_nchw', 'dx', NCHW_TO_NHWC),
    ],
    [
      valueInfo('dy', [g.batch, g.outHeight, g.outWidth, s.outChannels]),
      valueInfo('w', [g.filterHeight, g.filterWidth, s.inChannels, s.outChannels]),
    ],
    valueInfo('dx', [g.batch, g.inHeight, g.inWidth, s.inChannels]),
  );
}

/**
 * dw = conv2dBackpropFilter(x, dy): x [N,H,W,Ci], dy [N,Ho,Wo,Co] -> dw [kh,kw,Ci,Co].
 * im2col by strided slices of the padded input, then one GEMM with A transposed:
 * [N*Ho*Wo, kh*kw*Ci]^T x [N*Ho*Wo, Co].
 */
export function convBackpropFilterGraph(s: ConvShapes): Uint8Array {
  const g = s.geometry;
  const needH = (g.outHeight - 1) * g.strideHeight + (g.filterHeight - 1) * g.dilationHeight + 1;
  const needW = (g.outWidth - 1) * g.strideWidth + (g.filterWidth - 1) * g.dilationWidth + 1;
  const padBottom = Math.max(0, needH - g.inHeight - g.padTop);
  const padRight = Math.max(0, needW - g.inWidth - g.padLeft);
  const rows = g.batch * g.outHeight * g.outWidth;
  const taps = g.filterHeight * g.filterWidth;
  const nodes: Node[] = [{ opType: 'Pad', input: ['x', 'pads'], output: ['xp'] }];
  const initializer = [
    int64Constant('pads', [0, g.padTop, g.padLeft, 0, 0, padBottom, padRight, 0]),
    int64Constant('axes', [1, 2]),
    int64Constant('steps', [g.strideHeight, g.strideWidth]),
    int64Constant('cols_shape', [rows, taps * s.inChannels]),
    int64Constant('dy_shape', [rows, s.outChannels]),
    int64Constant('dw_shape', [g.filterHeight, g.filterWidth, s.inChannels, s.outChannels]),
  ];
  const tapNames: string[] = [];
  for (let i = 0; i < g.filterHeight; i++) {
    for (let j = 0; j < g.filterWidth; j++) {
      const top = i * g.dilationHeight;
      const left = j * g.dilationWidth;
      const name = `tap_${i}_${j}`;
      initializer.push(
        int64Constant(`${name}_starts`, [top, left]),
        int64Constant(`${name}_ends`, [
          top + (g.outHeight - 1) * g.strideHeight + 1,
          left + (g.outWidth - 1) * g.strideWidth + 1,
        ]),
      );
      nodes.push({
        opType: 'Slice',
        input: ['xp', `${name}_starts`, `${name}_ends`, 'axes', 'steps'],
        output: [name],
      });
      tapNames.push(name);
    }
  }
  nodes.push(
    taps === 1
      ? { opType: 'Identity', input: tapNames, output: ['cols4'] }
      : { opType: 'Concat', input: tapNames, output: ['cols4'], attribute: [int('axis', 3)] },
    { opType: 'Reshape', input: ['cols4', 'cols_shape'], output: ['cols'] },
    { opType: 'Reshape', input: ['dy', 'dy_shape'], output: ['dy2'] },
    { opType: 'Gemm', input: ['cols', 'dy2'], output: ['dw2'], attribute: [int('transA', 1)] },
    { opType: 'Reshape', input: ['dw2', 'dw_shape'], output: ['dw'] },
  );
  return encode(
    nodes,
    [
      valueInfo('x', [g.batch, g.inHeight, g.inWidth, s.inChannels]),
      valueInfo('dy', [g.batch, g.outHeight, g.outWidth, s.outChannels]),
    ],
    valueInfo('dw', [g.filterHeight, g.filterWidth, s.inChannels, s.outChannels]),
    initializer,
  );
}
