/**
 * Weight fake-quantization of a conv / depthwise / dense kernel (tfjs layout; out channels on
 * the last axis, or the last two for depthwise). The result is what the layer computes with, in
 * the kernel's own units, so BatchNorm folding and the ONNX export see real weights.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphError } from '../graph/graph-error';
import type { WeightQuantAttrs } from '../graph/ir';
import {
  assertBits,
  codeRange,
  levelCount,
  symmetricMax,
  weightGridIsSymmetric,
} from './quant-grid';
import { EWGS_DELTA_PARAM, HESSIAN_PROBE_PARAM, WEIGHT_QUANT_PARAMS } from './quant-params';
import { roundSte, scaleGradient, stopGradient } from './round-ste';

export type QuantParams = ReadonlyMap<string, tf.Tensor>;

/** Kernel as [rows, outC] so per-channel parameters broadcast over the last axis. */
export function channelMatrix(kernel: tf.Tensor): tf.Tensor2D {
  const s = kernel.shape;
  const outC = kernel.rank === 4 ? s[3]! : s[s.length - 1]!;
  return tf.reshape(kernel, [-1, outC]) as tf.Tensor2D;
}

/** Out channels of a kernel in ONNX order (depthwise: C * multiplier). */
export function outChannels(kernel: { shape: readonly number[] }, depthwise: boolean): number {
  const s = kernel.shape;
  return depthwise ? s[2]! * s[3]! : s[s.length - 1]!;
}

function param(params: QuantParams, name: string, nodeId?: string): tf.Tensor {
  const p = params.get(name);
  if (!p) throw new GraphError(`weight quantizer parameter "wq.${name}" is missing`, nodeId);
  return p;
}

/**
 * Maps n in [-1, 1] onto the weight grid: 2-3 bits the 2^b-level half-offset grid
 * 2 * round((n + 1) / 2 * (L - 1)) / (L - 1) - 1; from 4 bits round(n * qmax) / qmax.
 */
function normalizedGrid(n: tf.Tensor, bits: number, delta?: tf.Tensor): tf.Tensor {
  if (weightGridIsSymmetric(bits)) {
    const qmax = symmetricMax(bits);
    return tf.div(roundSte(tf.mul(n, qmax), delta), qmax);
  }
  const levels = levelCount(bits);
  const codes = roundSte(tf.mul(tf.add(n, 1), levels / 2), delta);
  return tf.sub(tf.div(codes, levels / 2), 1);
}

/**
 * The fake-quantized kernel. `params` holds the quantizer's parameters by short name (lower,
 * upper, scale, step, delta); shapes [] or [outC]. Gradients: straight-through rounding, zero
 * outside the clipping range, real gradients into the learned parameters.
 */
export function fakeQuantWeight(
  kernel: tf.Tensor,
  attrs: WeightQuantAttrs,
  params: QuantParams,
  nodeId?: string,
): tf.Tensor {
  assertBits(attrs.bits, 'weight', nodeId);
  const { bits, quantizer } = attrs;
  return tf.tidy(() => {
    const w = channelMatrix(kernel);
    const delta = params.get(EWGS_DELTA_PARAM);
    let q: tf.Tensor;
    switch (quantizer) {
      case 'learned-interval': {
        const lower = param(params, 'lower', nodeId);
        const upper = param(params, 'upper', nodeId);
        const scale = param(params, 'scale', nodeId);
        const unit = tf.clipByValue(tf.div(tf.sub(w, lower), tf.sub(upper, lower)), 0, 1);
        q = tf.mul(normalizedGrid(tf.sub(tf.mul(unit, 2), 1), bits, delta), tf.abs(scale));
        break;
      }
      case 'lsq': {
        const step = param(params, 'step', nodeId);
        const [qn, qp] = codeRange(bits, true, true);
        const perStep = attrs.perChannel ? w.shape[0] : w.size;
        const s = scaleGradient(step, 1 / Math.sqrt(perStep * qp));
        q = tf.mul(roundSte(tf.clipByValue(tf.div(w, s), qn, qp)), s);
        break;
      }
      case 'pact':
      case 'dorefa': {
        // DoReFa: tanh-normalised to [-1, 1] by its largest magnitude. [ours] The result is
        // rescaled by the (constant) largest |W| so the teacher's BN statistics stay valid.
        const t = tf.tanh(w);
        const axis = attrs.perChannel ? 0 : undefined;
        const maxT = tf.add(tf.max(tf.abs(t), axis, true), 1e-12);
        const maxW = stopGradient(tf.max(tf.abs(w), axis, true));
        q = tf.mul(normalizedGrid(tf.div(t, maxT), bits), maxW);
        break;
      }
    }
    // A probe added to the quantized kernel (only present while the EWGS Hessian-trace rule
    // measures curvature with respect to the quantized values).
    const probe = params.get(HESSIAN_PROBE_PARAM);
    const out = tf.reshape(q, kernel.shape);
    return probe ? tf.add(out, probe) : out;
  });
}

/** Names of the trainable parameters a weight quantizer needs (without the `wq.` prefix). */
export function weightQuantParamNames(attrs: WeightQuantAttrs): readonly string[] {
  return WEIGHT_QUANT_PARAMS[attrs.quantizer];
}
