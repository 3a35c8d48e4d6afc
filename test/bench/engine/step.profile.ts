/**
 * Where a training step's time goes: one forward+backward+update of a bench model on this
 * thread, profiled per kernel with tfjs's profiler, summed by kernel name.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  GraphExecutor,
  Optimizer,
  classificationLoss,
  trainStep,
  useConvKernels,
  type ConvKernelProvider,
} from '@edgecompress/engine';
import { buildBenchModel, randomBatch, type BenchModel } from './engine-training.throughput';

export interface KernelShare {
  kernel: string;
  ms: number;
  calls: number;
  share: number;
}

export async function profileTrainingStep(
  model: BenchModel,
  batchSize: number,
  convKernels: ConvKernelProvider,
): Promise<{ totalMs: number; kernels: KernelShare[] }> {
  useConvKernels(convKernels, 1);
  const executor = new GraphExecutor(buildBenchModel(model));
  const optimizer = new Optimizer({ kind: 'sgd', momentum: 0.9 }, [
    { name: 'all', params: executor.trainable, schedule: { kind: 'constant', lr: 0.01 } },
  ]);
  const batch = randomBatch(batchSize);
  const x = tf.tensor4d(batch.images, [batchSize, 28, 28, 1]);
  const y = tf.tensor1d(batch.labels!, 'int32');
  const step = () =>
    trainStep({
      lossFn: classificationLoss(executor, x, y),
      optimizer,
      applyState: (u) => executor.applyStateUpdates(u),
    });
  try {
    step(); // warm-up: sessions, operator caches, optimizer slots
    const info = await tf.profile(() => {
      step();
    });
    const byName = new Map<string, { ms: number; calls: number }>();
    for (const k of info.kernels) {
      const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
      const entry = byName.get(k.name) ?? { ms: 0, calls: 0 };
      entry.ms += ms;
      entry.calls += 1;
      byName.set(k.name, entry);
    }
    const totalMs = [...byName.values()].reduce((a, e) => a + e.ms, 0);
    const kernels = [...byName]
      .map(([kernel, e]) => ({ kernel, ms: e.ms, calls: e.calls, share: e.ms / totalMs }))
      .sort((a, b) => b.ms - a.ms);
    return { totalMs, kernels };
  } finally {
    tf.dispose([x, y]);
    optimizer.dispose();
    executor.dispose();
    useConvKernels(convKernels, 1);
  }
}
