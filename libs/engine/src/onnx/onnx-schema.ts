/**
 * The ONNX protobuf schema (the official onnx.proto compiled by protobufjs, from `onnx-proto`)
 * and the few helpers every ONNX module needs: element types, attribute builders, Long handling.
 */
import { onnx } from 'onnx-proto';

export { onnx };

/** TensorProto.DataType values we read or write (int4/uint4 are newer than the bundled enum). */
export const OnnxDataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  INT32: 6,
  INT64: 7,
  DOUBLE: 11,
  UINT4: 21,
  INT4: 22,
} as const;

export const ONNX_DOMAIN = '';
/** Opset of float exports. */
export const FLOAT_OPSET = 17;
/** Opset of exports with int4 QDQ (QuantizeLinear/DequantizeLinear on int4 since opset 21). */
export const INT4_OPSET = 21;
/** IR versions that go with those opsets (onnx/docs/Versioning.md). */
export const IR_VERSION_FOR_OPSET: Readonly<Record<number, number>> = { 17: 8, 21: 10 };

/** A protobuf int64 as it comes out of the decoder: a number or a Long-like object. */
export type Int64 = number | { toNumber(): number } | null | undefined;

export function toNumber(v: Int64): number {
  if (v == null) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

export function attrInt(name: string, i: number): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INT, i };
}

export function attrInts(name: string, ints: readonly number[]): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: [...ints] };
}

export function attrFloat(name: string, f: number): onnx.IAttributeProto {
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f };
}

export function floatTensor(
  name: string,
  dims: readonly number[],
  data: Float32Array,
): onnx.ITensorProto {
  return {
    name,
    dims: [...dims],
    dataType: OnnxDataType.FLOAT,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
  };
}

export function int64Tensor(name: string, values: readonly number[]): onnx.ITensorProto {
  const raw = new BigInt64Array(values.map((v) => BigInt(v)));
  return {
    name,
    dims: [values.length],
    dataType: OnnxDataType.INT64,
    rawData: new Uint8Array(raw.buffer),
  };
}

export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}
