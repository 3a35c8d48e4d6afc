/**
 * Every layout conversion between the engine (NHWC activations, tfjs weight layouts) and ONNX
 * (NCHW activations, OIHW kernels, Gemm [out, in] weights) lives in this file, so export,
 * import and the session helpers cannot disagree.
 */

/** tfjs conv kernel [kh, kw, inPerGroup, out] -> ONNX Conv weight [out, inPerGroup, kh, kw]. */
export function convKernelToOihw(data: Float32Array, shape: readonly number[]): Float32Array {
  const [kh, kw, cin, cout] = shape as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++)
          out[((o * cin + i) * kh + y) * kw + x] = data[((y * kw + x) * cin + i) * cout + o]!;
  return out;
}

/** ONNX Conv weight [out, inPerGroup, kh, kw] -> tfjs conv kernel [kh, kw, inPerGroup, out]. */
export function oihwToConvKernel(
  data: Float32Array,
  dims: readonly number[],
): { shape: number[]; data: Float32Array } {
  const [cout, cin, kh, kw] = dims as [number, number, number, number];
  const out = new Float32Array(data.length);
  for (let o = 0; o < cout; o++)
    for (let i = 0; i < cin; i++)
      for (let y = 0; y < kh; y++)
        for (let x = 0; x < kw; x++)
          out[((y * kw + x) * cin + i) * cout + o] = data[((o * cin + i) * kh + y) * kw + x]!;
  return { shape: [kh, kw, cin, cout], data: out };
}

/**
 * tfjs depthwise kernel [kh, kw, inC, multiplier] -> ONNX grouped Conv weight
 * [inC * multiplier, 1, kh, kw] (output channel c * multiplier + m, as tfjs orders them).
 */
export function depthwiseKernelToOihw(data: Float32Array, shape: readonly number[]): Float32Array {
  const [kh, kw, cin, mult] = shape as [number, number, number, number];
  return convKernelToOihw(data, [kh, kw, 1, cin * mult]);
}

/** tfjs dense kernel [in, out] -> Gemm B with transB=1, i.e. [out, in]. */
export function denseKernelToGemm(data: Float32Array, shape: readonly number[]): Float32Array {
  const [rows, cols] = shape as [number, number];
  return transpose2d(data, rows, cols);
}

export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/**
 * Flattening an NHWC map orders features (h, w, c); flattening NCHW orders them (c, h, w). A dense
 * layer after a flatten therefore needs its input rows permuted when crossing layouts.
 * `rowsHwcToChw` reorders the rows of a [H*W*C, out] kernel from HWC order into CHW order.
 */
export function denseRowsHwcToChw(
  data: Float32Array,
  hwc: readonly [number, number, number],
  units: number,
): Float32Array {
  return permuteDenseRows(data, hwc, units, 'hwc-to-chw');
}

/** Inverse of denseRowsHwcToChw. */
export function denseRowsChwToHwc(
  data: Float32Array,
  hwc: readonly [number, number, number],
  units: number,
): Float32Array {
  return permuteDenseRows(data, hwc, units, 'chw-to-hwc');
}

/** Moves each row (`units` floats) between its HWC index and its CHW index. */
function permuteDenseRows(
  data: Float32Array,
  [h, w, c]: readonly [number, number, number],
  units: number,
  direction: 'hwc-to-chw' | 'chw-to-hwc',
): Float32Array {
  const out = new Float32Array(data.length);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++) {
        const hwcRow = ((y * w + x) * c + ch) * units;
        const chwRow = ((ch * h + y) * w + x) * units;
        const [src, dst] = direction === 'hwc-to-chw' ? [hwcRow, chwRow] : [chwRow, hwcRow];
        out.set(data.subarray(src, src + units), dst);
      }
  return out;
}

/** Engine input shape without batch ([H, W, C] or [F]) -> ONNX input dims without batch. */
export function engineShapeToOnnx(shape: readonly number[]): number[] {
  return shape.length === 3 ? [shape[2]!, shape[0]!, shape[1]!] : [...shape];
}

/** ONNX dims without batch ([C, H, W] or [F]) -> engine shape ([H, W, C] or [F]). */
export function onnxShapeToEngine(dims: readonly number[]): number[] {
  return dims.length === 3 ? [dims[1]!, dims[2]!, dims[0]!] : [...dims];
}

/** A batch of NHWC images -> NCHW, for feeding an exported model. */
export function nhwcToNchw(
  data: Float32Array,
  n: number,
  h: number,
  w: number,
  c: number,
): Float32Array {
  const out = new Float32Array(n * h * w * c);
  const plane = h * w;
  for (let b = 0; b < n; b++) {
    const base = b * plane * c;
    for (let p = 0; p < plane; p++)
      for (let ch = 0; ch < c; ch++) out[base + ch * plane + p] = data[base + p * c + ch]!;
  }
  return out;
}

/** A batch of NCHW images -> NHWC, for feeding the engine with data laid out for ONNX. */
export function nchwToNhwc(
  data: Float32Array,
  n: number,
  c: number,
  h: number,
  w: number,
): Float32Array {
  const out = new Float32Array(n * h * w * c);
  const plane = h * w;
  for (let b = 0; b < n; b++) {
    const base = b * plane * c;
    for (let p = 0; p < plane; p++)
      for (let ch = 0; ch < c; ch++) out[base + p * c + ch] = data[base + ch * plane + p]!;
  }
  return out;
}
