/**
 * Sub-byte weights (2 and 3 bits) that no ONNX runtime executes natively are stored bit-packed in
 * the artifact and expanded into a standard float model just before a session is created.
 *
 * Artifact layout, for each packed weight W with dims D and output-channel axis 0:
 * - initializer `W::codes`  UINT8 [ceil(numel * bits / 8)]: the integer codes k in [0, 2^bits),
 *   little-endian bit stream (code i occupies bits i*bits .. i*bits+bits-1, LSB first);
 * - initializer `W::scale`  FLOAT [D[0]] and `W::offset` FLOAT [D[0]]: per output channel,
 *   W[c, ...] = scale[c] * k + offset[c] (an affine grid also represents grids without zero);
 * - metadata_props `edgecompress.packed_weights`: JSON [{ name, dims, bits }].
 * W itself is absent, so ORT refuses the artifact unless it was expanded: never a silent misload.
 * The artifact's byte size therefore reflects the packing; expansion restores float32 tensors.
 */
import { META } from './onnx-metadata';
import { OnnxDataType, encodeModel, floatTensor, onnx } from './onnx-schema';
import type { OnnxEmitter, WeightEncoder } from './onnx-export';
import { decodeOnnxModel, tensorToFloat32 } from './onnx-guard';

export interface PackedWeightEntry {
  name: string;
  dims: number[];
  bits: number;
}

export function packCodes(codes: ArrayLike<number>, bits: number): Uint8Array {
  const out = new Uint8Array(Math.ceil((codes.length * bits) / 8));
  let bit = 0;
  for (let i = 0; i < codes.length; i++) {
    const k = codes[i]!;
    for (let b = 0; b < bits; b++, bit++) if ((k >> b) & 1) out[bit >> 3]! |= 1 << (bit & 7);
  }
  return out;
}

export function unpackCodes(bytes: Uint8Array, bits: number, count: number): Uint8Array {
  if (bytes.length * 8 < count * bits)
    throw new Error(
      `packed weights hold ${bytes.length} bytes, ${count} codes of ${bits} bits need more`,
    );
  const out = new Uint8Array(count);
  let bit = 0;
  for (let i = 0; i < count; i++) {
    let k = 0;
    for (let b = 0; b < bits; b++, bit++) k |= ((bytes[bit >> 3]! >> (bit & 7)) & 1) << b;
    out[i] = k;
  }
  return out;
}

/** A per-channel affine integer grid fitted to a weight tensor laid out channel-first. */
export interface ChannelGrid {
  codes: Uint8Array;
  scale: Float32Array;
  offset: Float32Array;
  /** Largest |W - dequantized| over the tensor: 0 when W already lay on a grid of these bits. */
  maxError: number;
}

/**
 * Fits, per output channel, `scale * k + offset` with k in [0, 2^bits). A channel that already lies
 * on such a grid (a fake-quantized kernel, possibly using only some of the levels) is reproduced
 * exactly: the grid step is recovered from the gaps between its distinct values. Otherwise the
 * grid spans [min, max] (plain min/max quantization).
 */
export function fitChannelGrid(data: Float32Array, channels: number, bits: number): ChannelGrid {
  const per = data.length / channels;
  const levels = (1 << bits) - 1;
  const codes = new Uint8Array(data.length);
  const scale = new Float32Array(channels);
  const offset = new Float32Array(channels);
  let maxError = 0;
  for (let c = 0; c < channels; c++) {
    const values = data.subarray(c * per, (c + 1) * per);
    const [s, lo] = recoverGrid(values, levels);
    scale[c] = s;
    offset[c] = lo;
    for (let i = 0; i < per; i++) {
      const k = Math.min(levels, Math.max(0, Math.round((values[i]! - lo) / s)));
      codes[c * per + i] = k;
      maxError = Math.max(maxError, Math.abs(Math.fround(s * k + lo) - values[i]!));
    }
  }
  return { codes, scale, offset, maxError };
}

/** [step, offset] of the uniform grid of at most levels+1 values holding `values`, else min/max. */
function recoverGrid(values: Float32Array, levels: number): [number, number] {
  const distinct = [...new Set(values)].sort((a, b) => a - b);
  const lo = distinct[0]!;
  const hi = distinct[distinct.length - 1]!;
  if (hi <= lo) return [1, lo];
  const span = hi - lo;
  if (distinct.length <= levels + 1) {
    let step = Infinity;
    for (let i = 1; i < distinct.length; i++)
      step = Math.min(step, distinct[i]! - distinct[i - 1]!);
    const onGrid =
      span / step <= levels + 1e-3 &&
      distinct.every((v) => Math.abs((v - lo) / step - Math.round((v - lo) / step)) < 1e-3);
    // Refine the step from the whole span, which averages out float32 rounding of the gaps.
    if (onGrid) return [span / Math.round(span / step), lo];
  }
  return [span / levels, lo];
}

/** A WeightEncoder storing the kernel bit-packed; `entries` collects what the metadata must list. */
export function packedWeightEncoder(bits: number, entries: PackedWeightEntry[]): WeightEncoder {
  return (emit: OnnxEmitter, name: string, dims: number[], data: Float32Array) => {
    const grid = fitChannelGrid(data, dims[0]!, bits);
    emit.initializer({
      name: `${name}::codes`,
      dims: [Math.ceil((data.length * bits) / 8)],
      dataType: OnnxDataType.UINT8,
      rawData: packCodes(grid.codes, bits),
    });
    emit.initializer(floatTensor(`${name}::scale`, [dims[0]!], grid.scale));
    emit.initializer(floatTensor(`${name}::offset`, [dims[0]!], grid.offset));
    entries.push({ name, dims, bits });
    return name;
  };
}

export function isPackedArtifact(model: onnx.IModelProto): boolean {
  return (model.metadataProps ?? []).some((p) => p.key === META.packedWeights);
}

/** Decoded model with packed weights expanded to float initializers (returns it unchanged otherwise). */
export function expandPackedModel(model: onnx.IModelProto): onnx.IModelProto {
  const meta = (model.metadataProps ?? []).find((p) => p.key === META.packedWeights);
  if (!meta) return model;
  let entries: PackedWeightEntry[];
  try {
    entries = JSON.parse(meta.value ?? '') as PackedWeightEntry[];
    if (!Array.isArray(entries)) throw new Error('not a list');
  } catch (err) {
    throw new Error(`invalid ${META.packedWeights} metadata: ${(err as Error).message}`);
  }
  const graph = model.graph!;
  const byName = new Map((graph.initializer ?? []).map((t) => [t.name ?? '', t]));
  const drop = new Set<string>();
  const added: onnx.ITensorProto[] = [];
  for (const e of entries) {
    if (!Array.isArray(e.dims) || !Number.isInteger(e.bits) || e.bits < 1 || e.bits > 8)
      throw new Error(`invalid packed weight entry ${JSON.stringify(e)}`);
    const count = e.dims.reduce((a, b) => a * b, 1);
    const codesT = byName.get(`${e.name}::codes`);
    const scaleT = byName.get(`${e.name}::scale`);
    const offsetT = byName.get(`${e.name}::offset`);
    if (!codesT || !scaleT || !offsetT)
      throw new Error(`packed weight "${e.name}" is missing its codes, scale or offset`);
    const codes = unpackCodes(codesT.rawData ?? new Uint8Array(0), e.bits, count);
    const scale = tensorToFloat32(scaleT);
    const offset = tensorToFloat32(offsetT);
    const channels = e.dims[0]!;
    if (scale.length !== channels || offset.length !== channels || count % channels !== 0)
      throw new Error(`packed weight "${e.name}" has inconsistent channel parameters`);
    const per = count / channels;
    const values = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const c = Math.floor(i / per);
      values[i] = scale[c]! * codes[i]! + offset[c]!;
    }
    added.push(floatTensor(e.name, e.dims, values));
    for (const suffix of ['::codes', '::scale', '::offset']) drop.add(e.name + suffix);
  }
  return {
    ...model,
    graph: {
      ...graph,
      initializer: [...(graph.initializer ?? []).filter((t) => !drop.has(t.name ?? '')), ...added],
    },
    metadataProps: (model.metadataProps ?? []).filter((p) => p.key !== META.packedWeights),
  };
}

/** Bytes of an artifact -> bytes ORT can load (the same bytes when nothing is packed). */
export function expandPackedWeights(bytes: Uint8Array): Uint8Array {
  const model = decodeOnnxModel(bytes);
  if (!isPackedArtifact(model)) return bytes;
  return encodeModel(expandPackedModel(model));
}
