/**
 * Activation fake-quantization (the IR `fakeQuant` node). Every quantizer lands on an affine
 * grid s * (k - z), k in [0, 2^b - 1], that holds zero exactly (zero padding and ReLU zeros stay
 * exact), which is the grid a uint8/int8 QuantizeLinear/DequantizeLinear pair computes.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphError } from '../graph/graph-error';
import type { FakeQuantAttrs } from '../graph/ir';
import { assertBits, codeRange, levelCount } from './quant-grid';
import { ACTIVATION_QUANT_PARAMS, EWGS_DELTA_PARAM } from './quant-params';
import { roundSte, scaleGradient, stopGradient } from './round-ste';
import type { QuantParams } from './fake-quant-weight';

export interface ActivationRange {
  min: number;
  max: number;
}

function param(params: QuantParams, name: string, nodeId?: string): tf.Tensor {
  const p = params.get(name);
  if (!p) throw new GraphError(`activation quantizer parameter "${name}" is missing`, nodeId);
  return p;
}

/**
 * The quantized activation. Gradients: straight-through inside the range, zero outside; learned
 * bounds receive the true clipping gradient (PACT: only through the clip, as in the paper; LSQ:
 * its step gradient scaled by 1 / sqrt(features * Qp); learned-interval: through the interval).
 */
export function fakeQuantActivation(
  x: tf.Tensor,
  attrs: FakeQuantAttrs,
  params: QuantParams,
  nodeId?: string,
): tf.Tensor {
  assertBits(attrs.bits, 'activation', nodeId);
  const { bits, signed } = attrs;
  const levels = levelCount(bits);
  return tf.tidy(() => {
    switch (attrs.quantizer) {
      case 'learned-interval': {
        const lower = param(params, 'lower', nodeId);
        const upper = param(params, 'upper', nodeId);
        const step = tf.div(tf.sub(upper, lower), levels);
        // Snap the lower bound to the grid so zero is a level (as exported).
        const zero = stopGradient(tf.clipByValue(tf.round(tf.div(tf.neg(lower), step)), 0, levels));
        const low = tf.mul(tf.neg(zero), step);
        const v = tf.clipByValue(tf.div(tf.sub(x, low), step), 0, levels);
        return tf.add(tf.mul(roundSte(v, params.get(EWGS_DELTA_PARAM)), step), low);
      }
      case 'lsq': {
        const [qn, qp] = codeRange(bits, signed, false);
        const features = x.size / x.shape[0]!;
        const s = scaleGradient(param(params, 'step', nodeId), 1 / Math.sqrt(features * qp));
        return tf.mul(roundSte(tf.clipByValue(tf.div(x, s), qn, qp)), s);
      }
      case 'pact':
      case 'dorefa': {
        const bound = attrs.quantizer === 'pact' ? param(params, 'alpha', nodeId) : tf.scalar(1);
        const lo = signed ? tf.neg(bound) : tf.scalar(0);
        // clip(x, lo, bound) through relu: tfjs's Minimum/Maximum gradients do not reduce a
        // broadcast scalar bound, sub does.
        const aboveLo = tf.add(lo, tf.relu(tf.sub(x, lo)));
        const clipped = tf.sub(aboveLo, tf.relu(tf.sub(aboveLo, bound)));
        const { step, zero } = zeroHoldingGrid(lo, bound, levels, signed);
        const codes = tf.clipByValue(tf.round(tf.div(clipped, step)), -zero, levels - zero);
        const quantized = tf.mul(codes, step);
        // Straight-through: the value is quantized, the gradient is the clip's.
        return tf.add(clipped, stopGradient(tf.sub(quantized, clipped)));
      }
    }
  });
}

/** Grid over [lo, hi] holding zero: unsigned [0, a] has zero code 0, signed [-a, a] code round(L / 2). */
function zeroHoldingGrid(
  lo: tf.Tensor,
  hi: tf.Tensor,
  levels: number,
  signed: boolean,
): { step: tf.Tensor; zero: number } {
  return {
    step: stopGradient(tf.div(tf.sub(hi, lo), levels)),
    zero: signed ? Math.round(levels / 2) : 0,
  };
}

/**
 * The grid a fakeQuant node uses, as the [min, max] range the ONNX exporter turns into a
 * QDQ pair (scale = (max - min) / (2^b - 1), zero point = -min / scale).
 */
export function activationQuantRange(
  attrs: FakeQuantAttrs,
  params: ReadonlyMap<string, { data: ArrayLike<number> }>,
): ActivationRange {
  const levels = levelCount(attrs.bits);
  const get = (name: string): number => {
    const p = params.get(name);
    if (!p) throw new GraphError(`activation quantizer parameter "${name}" is missing`);
    return p.data[0]!;
  };
  const f = Math.fround;
  switch (attrs.quantizer) {
    case 'learned-interval': {
      const lower = get('lower');
      const step = f(f(get('upper') - lower) / levels);
      const zero = Math.min(levels, Math.max(0, Math.round(f(-lower / step))));
      return { min: f(-zero * step), max: f(-zero * step) + f(levels * step) };
    }
    case 'lsq': {
      const [qn, qp] = codeRange(attrs.bits, attrs.signed, false);
      const s = Math.abs(get('step'));
      return { min: qn * s, max: qp * s };
    }
    case 'pact':
    case 'dorefa': {
      const bound = attrs.quantizer === 'pact' ? get('alpha') : 1;
      const lo = attrs.signed ? -bound : 0;
      const step = (bound - lo) / levels;
      const zero = attrs.signed ? Math.round(levels / 2) : 0;
      return { min: -zero * step, max: (levels - zero) * step };
    }
  }
}

export function activationQuantParamNames(attrs: FakeQuantAttrs): readonly string[] {
  return ACTIVATION_QUANT_PARAMS[attrs.quantizer];
}
