/**
 * [ours] The EWGS Hessian-trace update of the gradient-scaling factor delta of each weight
 * quantizer (the released code defines it but never calls it): on a few batches,
 * delta = mean Hutchinson trace of the loss Hessian with respect to the quantized kernel
 * divided by 3 * std(gradient), clipped at 0. Hessian-vector products are central finite
 * differences of gradients (tfjs has no second-order gradients of every kernel): the quantized
 * kernel gets a probe offset (`wq.probe`), set to +-eps * v for Rademacher v.
 * Activation quantizers keep delta = 0 (their tensors change shape with the batch).
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  EWGS_DELTA_PARAM,
  GraphExecutor,
  HESSIAN_PROBE_PARAM,
  SeededRandom,
  computeGradients,
  quantParamName,
  type Model,
} from '@edgecompress/engine';

export interface EwgsDeltaOptions {
  /** Loss of a forward pass of `executor` on batch `index` (training mode). */
  loss: (executor: GraphExecutor, index: number) => tf.Scalar;
  batches: number;
  epsilon?: number;
  seed?: number;
}

/** New delta per weight-quantized node id (only nodes that carry a delta buffer). */
export function estimateEwgsDeltas(model: Model, options: EwgsDeltaOptions): Map<string, number> {
  const targets = model.graph.nodes.filter((n) =>
    model.weights.has(quantParamName(n.id, EWGS_DELTA_PARAM, true)),
  );
  const probed: Model = { graph: model.graph, weights: new Map(model.weights) };
  for (const n of targets) {
    const k = model.weights.get(`${n.id}/kernel`)!;
    probed.weights.set(quantParamName(n.id, HESSIAN_PROBE_PARAM, true), {
      shape: [...k.shape],
      data: new Float32Array(k.data.length),
    });
  }
  const ex = new GraphExecutor(probed);
  const eps = options.epsilon ?? 1e-3;
  const rng = new SeededRandom(options.seed ?? 0);
  const probes = new Map(
    targets.map((n) => [n.id, ex.trainable.get(quantParamName(n.id, HESSIAN_PROBE_PARAM, true))!]),
  );
  const trace = new Map(targets.map((n) => [n.id, 0]));
  const spread = new Map(targets.map((n) => [n.id, 0]));
  try {
    for (let b = 0; b < options.batches; b++) {
      const grads = (sign: number, v: Map<string, Float32Array>): Map<string, Float32Array> => {
        for (const [id, p] of probes) {
          const offset = tf.tensor(
            v.get(id)!.map((x) => sign * eps * x),
            p.shape,
          );
          p.assign(offset);
          offset.dispose();
        }
        const r = computeGradients(() => ({ loss: options.loss(ex, b) }), probes);
        const out = new Map<string, Float32Array>();
        for (const id of probes.keys()) out.set(id, Float32Array.from(r.grads.get(id)!.dataSync()));
        for (const g of r.grads.values()) g.dispose();
        for (const t of r.stateUpdates.values()) t.dispose();
        return out;
      };
      const v = new Map(
        [...probes].map(([id, p]) => [
          id,
          Float32Array.from({ length: p.size }, () => (rng.uniform() < 0.5 ? -1 : 1)),
        ]),
      );
      const zero = new Map([...v].map(([id, x]) => [id, new Float32Array(x.length)]));
      const g0 = grads(0, zero);
      const gp = grads(1, v);
      const gm = grads(-1, v);
      for (const [id, vv] of v) {
        let t = 0;
        for (let i = 0; i < vv.length; i++)
          t += (vv[i]! * (gp.get(id)![i]! - gm.get(id)![i]!)) / (2 * eps);
        trace.set(id, trace.get(id)! + t / vv.length / options.batches);
        spread.set(id, spread.get(id)! + std(g0.get(id)!) / options.batches);
      }
    }
  } finally {
    ex.dispose();
  }
  return new Map(
    targets.map((n) => {
      const s = spread.get(n.id)!;
      const d = s > 0 ? trace.get(n.id)! / (3 * s) : 0;
      return [n.id, Number.isFinite(d) ? Math.max(0, d) : 0];
    }),
  );
}

function std(x: Float32Array): number {
  let m = 0;
  for (const v of x) m += v;
  m /= x.length;
  let s = 0;
  for (const v of x) s += (v - m) ** 2;
  return Math.sqrt(s / x.length);
}
