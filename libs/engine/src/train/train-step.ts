/**
 * The step primitive every training method reuses: the caller supplies the loss as a closure
 * (plain cross-entropy, distillation against a frozen teacher, contrastive terms...) and the
 * variables it may change; this computes the gradients, and `trainStep` also applies them with
 * an Optimizer and moves the BN running statistics the closure proposed.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ensureTfjsGradients } from '../backend';
import type { Optimizer } from './optimizer';

export interface LossOutput {
  loss: tf.Scalar;
  /** New BN running statistics (from `forward(..., { training: true })`), applied after the step. */
  stateUpdates?: Map<string, tf.Tensor>;
  /** Extra scalars to report (e.g. the number of correct predictions, partial losses). */
  metrics?: Record<string, tf.Scalar>;
}

export type LossClosure = () => LossOutput;

export interface GradientResult {
  loss: number;
  /** Gradients by parameter name; the caller owns and disposes them. */
  grads: Map<string, tf.Tensor>;
  /** Kept state updates; the caller owns them. */
  stateUpdates: Map<string, tf.Tensor>;
  metrics: Record<string, number>;
}

/** Gradients of the closure's loss with respect to `variables` (keyed by parameter name). */
export function computeGradients(
  lossFn: LossClosure,
  variables: ReadonlyMap<string, tf.Variable>,
): GradientResult {
  ensureTfjsGradients();
  let stateUpdates = new Map<string, tf.Tensor>();
  let metricTensors: Record<string, tf.Scalar> = {};
  const byTfName = new Map<string, string>();
  for (const [name, v] of variables) byTfName.set(v.name, name);
  const { value, grads } = tf.variableGrads(() => {
    const out = lossFn();
    // Tensors created inside the closure are released when it returns; keep what we report.
    stateUpdates = new Map([...(out.stateUpdates ?? [])].map(([k, t]) => [k, tf.keep(t)]));
    metricTensors = Object.fromEntries(
      Object.entries(out.metrics ?? {}).map(([k, t]) => [k, tf.keep(t)]),
    );
    return out.loss;
  }, [...variables.values()]);
  const named = new Map<string, tf.Tensor>();
  for (const [tfName, grad] of Object.entries(grads)) {
    const name = byTfName.get(tfName);
    if (name === undefined) grad.dispose();
    else named.set(name, grad);
  }
  const loss = value.dataSync()[0]!;
  value.dispose();
  const metrics: Record<string, number> = {};
  for (const [k, t] of Object.entries(metricTensors)) {
    metrics[k] = t.dataSync()[0]!;
    t.dispose();
  }
  if (!Number.isFinite(loss)) {
    for (const g of named.values()) g.dispose();
    for (const t of stateUpdates.values()) t.dispose();
    throw new Error(`loss is ${loss}; lower the learning rate or check the inputs`);
  }
  return { loss, grads: named, stateUpdates, metrics };
}

export interface TrainStepOptions {
  lossFn: LossClosure;
  optimizer: Optimizer;
  /** Defaults to every parameter of the optimizer's groups. */
  variables?: ReadonlyMap<string, tf.Variable>;
  /** Receives the closure's proposed BN statistics (e.g. `executor.applyStateUpdates`). */
  applyState?: (updates: Map<string, tf.Tensor>) => void;
}

export interface StepResult {
  loss: number;
  metrics: Record<string, number>;
}

/** One optimization step: gradients, optimizer update, then the BN statistics. */
export function trainStep(options: TrainStepOptions): StepResult {
  const variables = options.variables ?? options.optimizer.parameters();
  const result = computeGradients(options.lossFn, variables);
  try {
    options.optimizer.apply(result.grads);
    if (result.stateUpdates.size > 0) options.applyState?.(result.stateUpdates);
  } finally {
    for (const g of result.grads.values()) g.dispose();
    for (const t of result.stateUpdates.values()) t.dispose();
  }
  return { loss: result.loss, metrics: result.metrics };
}
