/**
 * In-memory datasets shared by training, evaluation, calibration and the compression methods.
 * Images are NHWC float32, already normalized; a split without labels (`labels === null`) is a
 * first-class value: label-free methods (SQAKD) train on it.
 */

export interface Split {
  /** `count * H * W * C` values, NHWC, normalized. */
  images: Float32Array;
  /** One class index per image, or null for an unlabeled split. */
  labels: Int32Array | null;
  count: number;
}

/** Per-channel normalization applied when loading: `x = (pixel / 255 - mean) / std`. */
export interface Normalization {
  mean: number[];
  std: number[];
}

export interface Dataset {
  name: string;
  /** [H, W, C] */
  inputShape: [number, number, number];
  numClasses: number;
  train: Split;
  test: Split;
  normalization?: Normalization;
  /** Whether a horizontal flip keeps the meaning of an image (true for clothes, never for digits). */
  flipInvariant?: boolean;
}

export function imageSize(shape: readonly [number, number, number]): number {
  return shape[0] * shape[1] * shape[2];
}

/** The same images without labels, for label-free training. */
export function withoutLabels(split: Split): Split {
  return { images: split.images, labels: null, count: split.count };
}

/** A view of the first `count` examples (no copy). */
export function headOfSplit(split: Split, count: number, shape: [number, number, number]): Split {
  const n = Math.min(count, split.count);
  const size = imageSize(shape);
  return {
    images: split.images.subarray(0, n * size),
    labels: split.labels ? split.labels.subarray(0, n) : null,
    count: n,
  };
}

/** Checks that a split's arrays agree with its count and shape; throws a message naming the split. */
export function assertSplitConsistent(
  split: Split,
  shape: [number, number, number],
  numClasses: number,
  what: string,
): void {
  const size = imageSize(shape);
  if (split.images.length !== split.count * size) {
    throw new Error(
      `${what}: ${split.images.length} pixel values do not match ${split.count} images of ${shape.join('x')}`,
    );
  }
  if (split.labels) {
    if (split.labels.length !== split.count) {
      throw new Error(`${what}: ${split.labels.length} labels for ${split.count} images`);
    }
    for (let i = 0; i < split.labels.length; i++) {
      const label = split.labels[i]!;
      if (label < 0 || label >= numClasses) {
        throw new Error(`${what}: label ${label} at index ${i} is outside [0, ${numClasses})`);
      }
    }
  }
}
