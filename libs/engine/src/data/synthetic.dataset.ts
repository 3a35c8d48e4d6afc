/**
 * Synthetic, learnable data for tests: each class has a fixed random prototype image and
 * examples are prototype plus Gaussian noise, so a model can reach high accuracy in a few steps.
 */
import type { Dataset, Split } from './dataset.types';
import { SeededRandom } from './seeded-random';

export interface SyntheticOptions {
  inputShape?: [number, number, number];
  numClasses?: number;
  trainCount?: number;
  testCount?: number;
  /** Standard deviation of the noise around each class prototype (default 0.5). */
  noise?: number;
  seed?: number;
  /** Produce unlabeled splits. */
  unlabeled?: boolean;
}

export function syntheticDataset(options: SyntheticOptions = {}): Dataset {
  const inputShape = options.inputShape ?? [8, 8, 1];
  const numClasses = options.numClasses ?? 4;
  const noise = options.noise ?? 0.5;
  const rng = new SeededRandom(options.seed ?? 1);
  const size = inputShape[0] * inputShape[1] * inputShape[2];
  const prototypes = Array.from({ length: numClasses }, () =>
    Float32Array.from({ length: size }, () => rng.normal()),
  );
  const makeSplit = (count: number): Split => {
    const images = new Float32Array(count * size);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const label = rng.int(numClasses);
      labels[i] = label;
      const proto = prototypes[label]!;
      for (let p = 0; p < size; p++) images[i * size + p] = proto[p]! + noise * rng.normal();
    }
    return { images, labels: options.unlabeled ? null : labels, count };
  };
  return {
    name: 'synthetic',
    inputShape,
    numClasses,
    train: makeSplit(options.trainCount ?? 256),
    test: makeSplit(options.testCount ?? 64),
    flipInvariant: false,
  };
}
