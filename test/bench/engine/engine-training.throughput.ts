/**
 * Our side of the engine benchmark: training throughput through the real engine path
 * (graph builders -> GraphExecutor -> gradient source -> Optimizer), one replica on this thread
 * or data-parallel across worker threads, on fixed random batches.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  DataParallelGradientSource,
  useConvKernels,
  type ConvKernelProvider,
  GraphExecutor,
  LocalGradientSource,
  Optimizer,
  buildResNet,
  buildSmallCnn,
  flatLayout,
  unflatten,
  type Batch,
  type GradientSource,
  type Model,
} from '@edgecompress/engine';

export const BENCH_MODELS = ['small-cnn', 'resnet20'] as const;
export type BenchModel = (typeof BENCH_MODELS)[number];

export interface TrainingBenchOptions {
  model: BenchModel;
  batch: number;
  replicas: number;
  /** onnxruntime threads per conv kernel (only with the ort conv kernels). */
  kernelThreads: number;
  /** Measure for about this long after warm-up, within [minSteps, maxSteps]. */
  seconds: number;
  minSteps: number;
  maxSteps: number;
  warmupSteps: number;
}

export interface TrainingBenchResult {
  imgsPerS: number;
  steps: number;
  msPerStep: number;
}

export function buildBenchModel(name: BenchModel): Model {
  const common = { inputShape: [28, 28, 1] as [number, number, number], numClasses: 10, seed: 0 };
  return name === 'small-cnn' ? buildSmallCnn(common) : buildResNet({ ...common, depth: 20 });
}

export function randomBatch(count: number): Batch {
  let seed = 42;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const images = Float32Array.from({ length: count * 28 * 28 }, () => next() * 2 - 1);
  const labels = Int32Array.from({ length: count }, () => Math.floor(next() * 10));
  return { images, labels, count };
}

export async function measureEngineTraining(
  options: TrainingBenchOptions,
  convKernels: ConvKernelProvider,
): Promise<TrainingBenchResult> {
  useConvKernels(convKernels, options.kernelThreads);
  const executor = new GraphExecutor(buildBenchModel(options.model));
  const optimizer = new Optimizer({ kind: 'sgd', momentum: 0.9 }, [
    { name: 'all', params: executor.trainable, schedule: { kind: 'constant', lr: 0.01 } },
  ]);
  const layout = flatLayout(executor, [...optimizer.parameters().keys()]);
  const source: GradientSource =
    options.replicas > 1
      ? await DataParallelGradientSource.start(executor, layout, {
          replicas: options.replicas,
          labelSmoothing: 0,
        })
      : new LocalGradientSource(executor, layout, 0);
  const batch = randomBatch(options.batch);
  const step = async () => {
    const result = await source.compute(batch);
    tf.tidy(() => {
      optimizer.apply(unflatten(layout.params, result.grads, executor.trainable));
      if (result.state.length > 0) {
        executor.applyStateUpdates(unflatten(layout.state, result.state, executor.state));
      }
    });
  };
  try {
    for (let i = 0; i < options.warmupSteps; i++) await step();
    const start = performance.now();
    let steps = 0;
    while (
      steps < options.minSteps ||
      (performance.now() - start < options.seconds * 1000 && steps < options.maxSteps)
    ) {
      await step();
      steps++;
    }
    const seconds = (performance.now() - start) / 1000;
    return {
      imgsPerS: (steps * options.batch) / seconds,
      steps,
      msPerStep: (seconds * 1000) / steps,
    };
  } finally {
    await source.close();
    optimizer.dispose();
    executor.dispose();
    useConvKernels(convKernels, 1);
  }
}
