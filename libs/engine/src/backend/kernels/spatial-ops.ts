/**
 * Spatial reshaping helpers shared by the gradient kernels. Every gradient of a strided,
 * padded convolution is itself a convolution or a sum of products over shifted views of the
 * input; these helpers build those views from ops the wasm backend runs natively.
 */
import * as tf from '@tensorflow/tfjs-core';

/** The geometry both directions of a convolution agree on (NHWC, one image dimension each). */
export interface ConvGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  outHeight: number;
  outWidth: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  dilationHeight: number;
  dilationWidth: number;
  padTop: number;
  padLeft: number;
}

export function geometryOf(info: tf.backend_util.Conv2DInfo): ConvGeometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    dilationHeight: info.dilationHeight,
    dilationWidth: info.dilationWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/**
 * Pads (positive amounts) or crops (negative amounts) one axis, so callers can state the
 * extent they need without caring whether the convolution's padding over- or under-shoots it.
 */
export function padOrCrop<T extends tf.Tensor>(
  t: T,
  axis: number,
  before: number,
  after: number,
): T {
  if (before === 0 && after === 0) return t;
  let out: tf.Tensor = t;
  const cropBefore = Math.max(0, -before);
  const cropAfter = Math.max(0, -after);
  if (cropBefore > 0 || cropAfter > 0) {
    const begin = out.shape.map((_, i) => (i === axis ? cropBefore : 0));
    const size = out.shape.map((d, i) => (i === axis ? d - cropBefore - cropAfter : -1));
    out = tf.slice(out, begin, size);
  }
  const padBefore = Math.max(0, before);
  const padAfter = Math.max(0, after);
  if (padBefore > 0 || padAfter > 0) {
    const paddings = out.shape.map((_, i): [number, number] =>
      i === axis ? [padBefore, padAfter] : [0, 0],
    );
    out = tf.pad(out, paddings);
  }
  return out as T;
}

/**
 * The input window every output pixel reads, padded or cropped to exactly
 * `(out - 1) * stride + (filter - 1) * dilation + 1` rows and columns.
 * `hAxis`/`wAxis` name the spatial axes of `t`.
 */
export function receptiveInput<T extends tf.Tensor>(
  t: T,
  g: ConvGeometry,
  hAxis: number,
  wAxis: number,
): T {
  const needH = (g.outHeight - 1) * g.strideHeight + (g.filterHeight - 1) * g.dilationHeight + 1;
  const needW = (g.outWidth - 1) * g.strideWidth + (g.filterWidth - 1) * g.dilationWidth + 1;
  const rows = padOrCrop(t, hAxis, g.padTop, needH - g.inHeight - g.padTop);
  return padOrCrop(rows, wAxis, g.padLeft, needW - g.inWidth - g.padLeft);
}

/**
 * The view of a receptive input seen by filter tap (i, j): the element at output (h, w) is the
 * input at (h * stride + i * dilation, w * stride + j * dilation). Shape: `t` with its spatial
 * axes replaced by [outHeight, outWidth].
 */
export function tapView(
  t: tf.Tensor,
  g: ConvGeometry,
  hAxis: number,
  wAxis: number,
  i: number,
  j: number,
): tf.Tensor {
  const begin = t.shape.map(() => 0);
  begin[hAxis] = i * g.dilationHeight;
  begin[wAxis] = j * g.dilationWidth;
  if (g.strideHeight === 1 && g.strideWidth === 1) {
    const size = t.shape.map((d) => d);
    size[hAxis] = g.outHeight;
    size[wAxis] = g.outWidth;
    return tf.slice(t, begin, size);
  }
  const end = t.shape.map((d) => d);
  end[hAxis] = begin[hAxis] + (g.outHeight - 1) * g.strideHeight + 1;
  end[wAxis] = begin[wAxis] + (g.outWidth - 1) * g.strideWidth + 1;
  const strides = t.shape.map(() => 1);
  strides[hAxis] = g.strideHeight;
  strides[wAxis] = g.strideWidth;
  return tf.stridedSlice(t, begin, end, strides);
}

/** Inserts `stride - 1` zeros between neighbouring pixels of an NHWC tensor (the "fractional stride"). */
export function dilatePixels(
  t: tf.Tensor4D,
  strideHeight: number,
  strideWidth: number,
): tf.Tensor4D {
  let out = t;
  const [n, h, w, c] = t.shape;
  if (strideHeight > 1) {
    const spread = tf.pad(tf.reshape(out, [n, h, 1, w, c]), [
      [0, 0],
      [0, 0],
      [0, strideHeight - 1],
      [0, 0],
      [0, 0],
    ]);
    const rows = tf.reshape(spread, [n, h * strideHeight, w, c]);
    out = tf.slice(rows, [0, 0, 0, 0], [n, (h - 1) * strideHeight + 1, w, c]) as tf.Tensor4D;
  }
  if (strideWidth > 1) {
    const hh = out.shape[1];
    const spread = tf.pad(tf.reshape(out, [n, hh, w, 1, c]), [
      [0, 0],
      [0, 0],
      [0, 0],
      [0, strideWidth - 1],
      [0, 0],
    ]);
    const cols = tf.reshape(spread, [n, hh, w * strideWidth, c]);
    out = tf.slice(cols, [0, 0, 0, 0], [n, hh, (w - 1) * strideWidth + 1, c]) as tf.Tensor4D;
  }
  return out;
}

/**
 * The gradient with respect to a convolution's input, written as a stride-1 correlation: the
 * output gradient is dilated by the stride and padded/cropped so that correlating it with the
 * spatially reversed filter yields exactly [inHeight, inWidth].
 */
export function transposedConvInput(dy: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const dilated = dilatePixels(dy, g.strideHeight, g.strideWidth);
  const reachH = (g.filterHeight - 1) * g.dilationHeight;
  const reachW = (g.filterWidth - 1) * g.dilationWidth;
  const topH = reachH - g.padTop;
  const leftW = reachW - g.padLeft;
  const rows = padOrCrop(dilated, 1, topH, g.inHeight + reachH - topH - dilated.shape[1]);
  return padOrCrop(rows, 2, leftW, g.inWidth + reachW - leftW - dilated.shape[2]);
}
