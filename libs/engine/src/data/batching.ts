/** Epoch orders and batch assembly, both pure functions of (seed, epoch) for reproducibility. */
import type { Split } from './dataset.types';
import { SeededRandom, deriveSeed } from './seeded-random';

/** The order in which an epoch visits the examples: a permutation fixed by (seed, epoch). */
export function epochOrder(count: number, seed: number, epoch: number): Int32Array {
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  return new SeededRandom(deriveSeed(seed, epoch, 0x0bd)).shuffle(order);
}

/** Number of batches per epoch; a trailing partial batch is dropped when `dropLast`. */
export function batchesPerEpoch(count: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(count / batchSize) : Math.ceil(count / batchSize);
}

export interface Batch {
  images: Float32Array;
  labels: Int32Array | null;
  count: number;
}

/** Copies the examples at `indices` into one contiguous batch. */
export function gatherBatch(split: Split, imageSize: number, indices: ArrayLike<number>): Batch {
  const count = indices.length;
  const images = new Float32Array(count * imageSize);
  const labels = split.labels ? new Int32Array(count) : null;
  for (let k = 0; k < count; k++) {
    const i = indices[k]!;
    if (i < 0 || i >= split.count) throw new Error(`example index ${i} outside [0, ${split.count})`);
    images.set(split.images.subarray(i * imageSize, (i + 1) * imageSize), k * imageSize);
    if (labels) labels[k] = split.labels![i]!;
  }
  return { images, labels, count };
}
