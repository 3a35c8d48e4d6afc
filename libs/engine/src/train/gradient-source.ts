/**
 * Where a training step's gradients come from: this thread alone, or several threads each
 * taking a shard of the batch (data-parallel). Both hand back one flat, averaged result laid out
 * in a fixed parameter order, so the optimizer step is the same code either way.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { GraphExecutor } from '../graph';
import type { Batch } from '../data';
import { batchTensor, classificationLoss, labelTensor } from './classification-loss';
import { computeGradients } from './train-step';

export interface ShardResult {
  /** Gradients of the shard's mean loss, concatenated in parameter order. */
  grads: Float32Array;
  /** Proposed BN running statistics, concatenated in state order (empty in eval-only graphs). */
  state: Float32Array;
  loss: number;
  correct: number;
  count: number;
}

export interface GradientSource {
  /** Gradients of the mean loss over the whole batch. */
  compute(batch: Batch): Promise<ShardResult>;
  close(): Promise<void>;
}

export interface FlatLayout {
  params: Array<{ name: string; size: number }>;
  state: Array<{ name: string; size: number }>;
}

export function flatLayout(executor: GraphExecutor, paramNames: readonly string[]): FlatLayout {
  const sizeOf = (v: tf.Variable) => v.shape.reduce((a, b) => a * b, 1);
  return {
    params: paramNames.map((name) => {
      const v = executor.trainable.get(name);
      if (!v) throw new Error(`parameter "${name}" is not a trainable weight of the model`);
      return { name, size: sizeOf(v) };
    }),
    state: [...executor.state].map(([name, v]) => ({ name, size: sizeOf(v) })),
  };
}

function concatInto(
  entries: FlatLayout['params'],
  tensors: ReadonlyMap<string, tf.Tensor>,
): Float32Array {
  const out = new Float32Array(entries.reduce((a, e) => a + e.size, 0));
  let offset = 0;
  for (const e of entries) {
    const t = tensors.get(e.name);
    // A parameter the loss does not reach has a zero gradient; a state without an update keeps 0
    // and is never applied (see `unflatten`'s `only`).
    if (t) out.set(t.dataSync() as Float32Array, offset);
    offset += e.size;
  }
  return out;
}

/** Gradients of one shard on one executor (the work each data-parallel replica does). */
export function shardGradients(
  executor: GraphExecutor,
  layout: FlatLayout,
  batch: Batch,
  labelSmoothing: number,
): ShardResult {
  const x = batchTensor(batch, executor.graph.inputShape);
  const y = labelTensor(batch);
  try {
    const params = new Map(layout.params.map((p) => [p.name, executor.trainable.get(p.name)!]));
    const result = computeGradients(classificationLoss(executor, x, y, labelSmoothing), params);
    const grads = concatInto(layout.params, result.grads);
    const state =
      result.stateUpdates.size > 0
        ? concatInto(layout.state, result.stateUpdates)
        : new Float32Array(0);
    for (const g of result.grads.values()) g.dispose();
    for (const t of result.stateUpdates.values()) t.dispose();
    return {
      grads,
      state,
      loss: result.loss,
      correct: result.metrics['correct'] ?? 0,
      count: batch.count,
    };
  } finally {
    x.dispose();
    y.dispose();
  }
}

/** Splits a flat array back into tensors by name. */
export function unflatten(
  entries: FlatLayout['params'],
  flat: Float32Array,
  shapes: ReadonlyMap<string, tf.Variable>,
): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  let offset = 0;
  for (const e of entries) {
    out.set(e.name, tf.tensor(flat.subarray(offset, offset + e.size), shapes.get(e.name)!.shape));
    offset += e.size;
  }
  return out;
}

/** Averages shard results weighted by shard size: the mean over the whole batch. */
export function averageShards(shards: readonly ShardResult[]): ShardResult {
  const total = shards.reduce((a, s) => a + s.count, 0);
  const grads = new Float32Array(shards[0]!.grads.length);
  const state = new Float32Array(shards[0]!.state.length);
  let loss = 0;
  let correct = 0;
  for (const s of shards) {
    const w = s.count / total;
    for (let i = 0; i < grads.length; i++) grads[i]! += w * s.grads[i]!;
    // BN statistics: each replica saw only its shard (no cross-replica sync, as PyTorch DDP
    // without SyncBatchNorm); averaging keeps every replica on the same running statistics.
    for (let i = 0; i < state.length; i++) state[i]! += w * s.state[i]!;
    loss += w * s.loss;
    correct += s.correct;
  }
  return { grads, state, loss, correct, count: total };
}

/** Everything on this thread. */
export class LocalGradientSource implements GradientSource {
  constructor(
    private readonly executor: GraphExecutor,
    private readonly layout: FlatLayout,
    private readonly labelSmoothing: number,
  ) {}

  compute(batch: Batch): Promise<ShardResult> {
    return Promise.resolve(shardGradients(this.executor, this.layout, batch, this.labelSmoothing));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
