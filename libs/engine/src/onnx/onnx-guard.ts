/**
 * Untrusted ONNX bytes -> a decoded ModelProto, and initializer -> Float32Array, with every
 * declared size checked before anything is allocated from it. Errors say what is wrong.
 */
import { OnnxDataType, onnx, toNumber, type Int64 } from './onnx-schema';

export class OnnxFormatError extends Error {
  override readonly name = 'OnnxFormatError';
}

export interface OnnxLimits {
  /** Largest file accepted (default 1 GiB). */
  maxFileBytes: number;
  /** Largest single tensor accepted, in elements (default 2^28, i.e. 1 GiB of float32). */
  maxTensorElements: number;
}

export const DEFAULT_ONNX_LIMITS: OnnxLimits = {
  maxFileBytes: 1 << 30,
  maxTensorElements: 1 << 28,
};

// ModelProto fields are numbered 1..20; a file's first byte is the tag of one of them.
function plausibleLeadingTag(byte: number): boolean {
  const wire = byte & 7;
  const field = byte >> 3;
  return field >= 1 && field <= 20 && (wire === 0 || wire === 2);
}

export function decodeOnnxModel(
  bytes: Uint8Array,
  limits: OnnxLimits = DEFAULT_ONNX_LIMITS,
): onnx.ModelProto {
  if (bytes.length < 8) throw new OnnxFormatError(`not an ONNX model: only ${bytes.length} bytes`);
  if (bytes.length > limits.maxFileBytes)
    throw new OnnxFormatError(
      `ONNX model of ${bytes.length} bytes exceeds the ${limits.maxFileBytes}-byte limit`,
    );
  if (!plausibleLeadingTag(bytes[0]!)) {
    const head = Buffer.from(bytes.subarray(0, 4)).toString('hex');
    throw new OnnxFormatError(
      `not an ONNX model: leading bytes 0x${head} are not a ModelProto field`,
    );
  }
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new OnnxFormatError(`not an ONNX model or truncated file: ${(err as Error).message}`);
  }
  if (!model.graph) throw new OnnxFormatError('not an ONNX model: it has no graph');
  if (toNumber(model.irVersion as Int64) <= 0)
    throw new OnnxFormatError('not an ONNX model: missing ir_version');
  return model;
}

const ELEMENT_BYTES: Readonly<Record<number, number>> = {
  [OnnxDataType.FLOAT]: 4,
  [OnnxDataType.DOUBLE]: 8,
  [OnnxDataType.INT64]: 8,
  [OnnxDataType.INT32]: 4,
  [OnnxDataType.INT8]: 1,
  [OnnxDataType.UINT8]: 1,
};

/** Dims of a tensor, checked: non-negative integers whose product is within the limit. */
export function tensorDims(
  t: onnx.ITensorProto,
  limits: OnnxLimits = DEFAULT_ONNX_LIMITS,
): { dims: number[]; count: number } {
  const dims = (t.dims ?? []).map((d) => toNumber(d as Int64));
  let count = 1;
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new OnnxFormatError(`tensor "${t.name}" declares invalid dimension ${d}`);
    count *= d;
    if (count > limits.maxTensorElements) {
      throw new OnnxFormatError(
        `tensor "${t.name}" declares [${dims.join(', ')}]: more than ${limits.maxTensorElements} elements`,
      );
    }
  }
  return { dims, count };
}

function checkInline(t: onnx.ITensorProto): void {
  if (
    t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL ||
    (t.externalData ?? []).length > 0
  ) {
    throw new OnnxFormatError(
      `tensor "${t.name}" uses external data, which is not supported (embed the weights)`,
    );
  }
}

/** Float values of a FLOAT/DOUBLE/INT tensor as float32, after checking declared vs stored size. */
export function tensorToFloat32(
  t: onnx.ITensorProto,
  limits: OnnxLimits = DEFAULT_ONNX_LIMITS,
): Float32Array {
  checkInline(t);
  const { count } = tensorDims(t, limits);
  const type = t.dataType ?? 0;
  const raw = t.rawData && t.rawData.length > 0 ? t.rawData : null;
  const width = ELEMENT_BYTES[type];
  if (width === undefined)
    throw new OnnxFormatError(`tensor "${t.name}" has unsupported element type ${type}`);
  if (raw) {
    if (raw.length !== count * width) {
      throw new OnnxFormatError(
        `tensor "${t.name}" declares ${count} elements (${count * width} bytes) but holds ${raw.length} bytes`,
      );
    }
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      switch (type) {
        case OnnxDataType.FLOAT:
          out[i] = view.getFloat32(i * 4, true);
          break;
        case OnnxDataType.DOUBLE:
          out[i] = view.getFloat64(i * 8, true);
          break;
        case OnnxDataType.INT64:
          out[i] = Number(view.getBigInt64(i * 8, true));
          break;
        case OnnxDataType.INT32:
          out[i] = view.getInt32(i * 4, true);
          break;
        case OnnxDataType.INT8:
          out[i] = view.getInt8(i);
          break;
        default:
          out[i] = view.getUint8(i);
      }
    }
    return out;
  }
  const typed: ArrayLike<number | Int64> =
    type === OnnxDataType.FLOAT
      ? (t.floatData ?? [])
      : type === OnnxDataType.DOUBLE
        ? (t.doubleData ?? [])
        : type === OnnxDataType.INT64
          ? ((t.int64Data ?? []) as Int64[])
          : (t.int32Data ?? []);
  if (typed.length !== count)
    throw new OnnxFormatError(
      `tensor "${t.name}" declares ${count} elements but holds ${typed.length}`,
    );
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = toNumber(typed[i] as Int64);
  return out;
}

/** Integer values (shapes, axes, indices) of a small INT64/INT32 tensor. */
export function tensorToInts(t: onnx.ITensorProto): number[] {
  return Array.from(tensorToFloat32(t, { ...DEFAULT_ONNX_LIMITS, maxTensorElements: 1 << 16 }));
}
