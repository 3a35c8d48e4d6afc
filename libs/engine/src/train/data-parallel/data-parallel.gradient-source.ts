/**
 * Data-parallel gradients: the batch is cut into one shard per replica; this thread computes
 * shard 0 while worker threads (each with its own tfjs/wasm instance) compute the others; the
 * shard gradients are averaged weighted by shard size, which equals the full-batch gradient of
 * the mean loss. Workers receive the current weights with every step, so this thread's model
 * stays the single source of truth (checkpoints, evaluation and resume need nothing else).
 */
import { Worker } from 'node:worker_threads';
import { extname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { GraphExecutor } from '../../graph';
import type { Batch } from '../../data';
import {
  averageShards,
  shardGradients,
  type FlatLayout,
  type GradientSource,
  type ShardResult,
} from '../gradient-source';
import type { FromWorker, ToWorker, WorkerInit } from './gradient-worker.protocol';

export interface DataParallelOptions {
  /** Total replicas including this thread (>= 2). */
  replicas: number;
  labelSmoothing: number;
}

interface Pending {
  resolve: (r: ShardResult) => void;
  reject: (e: Error) => void;
}

/** Starts a worker running the .ts entry through swc when we run from sources. */
function spawnGradientWorker(): Worker {
  const ext = extname(__filename);
  const entry = join(__dirname, `gradient.worker${ext}`);
  if (ext === '.ts') {
    const register = require.resolve('@swc-node/register');
    return new Worker(`require(${JSON.stringify(register)}); require(${JSON.stringify(entry)});`, {
      eval: true,
    });
  }
  return new Worker(entry);
}

/** Contiguous shard bounds, sizes differing by at most one. */
export function shardBounds(count: number, shards: number): Array<[number, number]> {
  const bounds: Array<[number, number]> = [];
  const base = Math.floor(count / shards);
  const extra = count % shards;
  let start = 0;
  for (let i = 0; i < shards; i++) {
    const n = base + (i < extra ? 1 : 0);
    bounds.push([start, start + n]);
    start += n;
  }
  return bounds;
}

export class DataParallelGradientSource implements GradientSource {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;

  private constructor(
    private readonly executor: GraphExecutor,
    private readonly layout: FlatLayout,
    private readonly labelSmoothing: number,
    private readonly workers: Worker[],
  ) {
    for (const worker of workers) {
      worker.on('message', (m: FromWorker) => this.onMessage(m));
      worker.on('error', (err) => this.failAll(err));
      worker.on('exit', (code) => {
        if (!this.closed) this.failAll(new Error(`gradient worker exited with code ${code}`));
      });
    }
  }

  static async start(
    executor: GraphExecutor,
    layout: FlatLayout,
    options: DataParallelOptions,
  ): Promise<DataParallelGradientSource> {
    if (!(options.replicas >= 2)) throw new Error('data-parallel training needs >= 2 replicas');
    const model = executor.toModel();
    const init: WorkerInit = {
      graph: model.graph,
      weights: [...model.weights].map(([n, w]) => [n, w.shape, w.data]),
      layout,
      backend: tf.getBackend(),
      labelSmoothing: options.labelSmoothing,
    };
    const workers: Worker[] = [];
    try {
      for (let i = 1; i < options.replicas; i++) workers.push(spawnGradientWorker());
      await Promise.all(
        workers.map(
          (w) =>
            new Promise<void>((resolve, reject) => {
              const onMessage = (m: FromWorker) => {
                w.off('error', reject);
                if (m.type === 'ready') resolve();
                else reject(new Error(m.type === 'error' ? m.message : `unexpected ${m.type}`));
              };
              w.once('message', onMessage);
              w.once('error', reject);
              w.postMessage({ type: 'init', init } satisfies ToWorker);
            }),
        ),
      );
    } catch (err) {
      await Promise.all(workers.map((w) => w.terminate()));
      throw new Error(`cannot start gradient workers: ${(err as Error).message}`);
    }
    return new DataParallelGradientSource(executor, layout, options.labelSmoothing, workers);
  }

  async compute(batch: Batch): Promise<ShardResult> {
    if (this.closed) throw new Error('data-parallel gradient source is closed');
    if (!batch.labels) throw new Error('this loss needs labels, but the split is unlabeled');
    const bounds = shardBounds(batch.count, this.workers.length + 1);
    const weights = this.currentWeights();
    const size = batch.images.length / batch.count;
    const shardOf = ([a, b]: [number, number]): Batch => ({
      images: batch.images.slice(a * size, b * size),
      labels: batch.labels!.slice(a, b),
      count: b - a,
    });
    const remote = this.workers.map((worker, i) => {
      const shard = shardOf(bounds[i + 1]!);
      const id = this.nextId++;
      return new Promise<ShardResult>((resolve, reject) => {
        this.pending.set(id, { resolve, reject });
        const message: ToWorker = {
          type: 'step',
          id,
          weights,
          images: shard.images,
          labels: shard.labels!,
          count: shard.count,
        };
        worker.postMessage(message, [
          shard.images.buffer as ArrayBuffer,
          shard.labels!.buffer as ArrayBuffer,
        ]);
      });
    });
    const local = shardGradients(
      this.executor,
      this.layout,
      shardOf(bounds[0]!),
      this.labelSmoothing,
    );
    const results = await Promise.all(remote);
    return averageShards([local, ...results]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void w.terminate().then(() => resolve()), 2000);
            w.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            w.postMessage({ type: 'close' } satisfies ToWorker);
          }),
      ),
    );
    this.failAll(new Error('data-parallel gradient source closed'));
  }

  private currentWeights(): Float32Array {
    const entries = [
      ...this.layout.params.map((p) => [this.executor.trainable.get(p.name)!, p.size] as const),
      ...this.layout.state.map((s) => [this.executor.state.get(s.name)!, s.size] as const),
    ];
    const out = new Float32Array(entries.reduce((a, [, n]) => a + n, 0));
    let offset = 0;
    for (const [v, n] of entries) {
      out.set(v.dataSync() as Float32Array, offset);
      offset += n;
    }
    return out;
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'ready') return;
    const id = m.id;
    if (id === undefined)
      return this.failAll(new Error(m.type === 'error' ? m.message : 'bad reply'));
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    if (m.type === 'error') p.reject(new Error(`gradient worker: ${m.message}`));
    else
      p.resolve({
        grads: m.grads,
        state: m.state,
        loss: m.loss,
        correct: m.correct,
        count: m.count,
      });
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }
}
