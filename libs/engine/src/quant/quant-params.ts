/**
 * Parameters of each quantizer, stored as model weights: `${nodeId}/wq.<param>` for a layer's
 * weight quantizer, `${nodeId}/<param>` for a fakeQuant (activation) node. A per-channel weight
 * parameter has shape [outC] (out channels in ONNX order: depthwise C * multiplier); a
 * per-tensor one has shape [].
 */
import type { QuantizerKind } from '../graph/ir';

/** Learned by gradient descent (the quantizer optimiser group). */
export const WEIGHT_QUANT_PARAMS: Record<QuantizerKind, readonly string[]> = {
  'learned-interval': ['lower', 'upper', 'scale'],
  lsq: ['step'],
  // PACT quantizes weights as DoReFa does (as in the published PACT/MQBench setups).
  pact: [],
  dorefa: [],
};

export const ACTIVATION_QUANT_PARAMS: Record<QuantizerKind, readonly string[]> = {
  'learned-interval': ['lower', 'upper'],
  lsq: ['step'],
  pact: ['alpha'],
  dorefa: [],
};

/** The EWGS gradient-scaling factor: a buffer updated by the Hessian-trace rule, never by SGD. */
export const EWGS_DELTA_PARAM = 'delta';

/** A kernel-shaped offset added to the quantized kernel, used only to measure curvature. */
export const HESSIAN_PROBE_PARAM = 'probe';

export const WEIGHT_QUANT_PREFIX = 'wq.';

/** Full weight name of a quantizer parameter. */
export function quantParamName(nodeId: string, param: string, forWeights: boolean): string {
  return `${nodeId}/${forWeights ? WEIGHT_QUANT_PREFIX : ''}${param}`;
}

/** Whether a weight name is an EWGS delta buffer (excluded from the optimiser). */
export function isEwgsDeltaName(name: string): boolean {
  return (
    name.endsWith(`/${EWGS_DELTA_PARAM}`) ||
    name.endsWith(`/${WEIGHT_QUANT_PREFIX}${EWGS_DELTA_PARAM}`)
  );
}
