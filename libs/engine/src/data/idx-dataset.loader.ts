/**
 * Datasets from IDX file pairs: any MNIST-shaped dataset, and Fashion-MNIST from Debian's
 * `dataset-fashion-mnist` package.
 */
import { join } from 'node:path';
import type { Dataset, Normalization, Split } from './dataset.types';
import { DatasetFileError, readIdxFile, type IdxArray } from './idx-reader';
import { measureNormalization, normalizeBytes } from './normalize';

export interface IdxSplitFiles {
  images: string;
  /** Omit for an unlabeled split. */
  labels?: string | null;
}

export interface IdxDatasetOptions {
  name: string;
  train: IdxSplitFiles;
  test: IdxSplitFiles;
  /** Defaults to the largest label + 1 (at least 2). */
  numClasses?: number;
  /** Defaults to statistics measured on the training images. */
  normalization?: Normalization;
  flipInvariant?: boolean;
  /** Appended to "file not found" errors: how to obtain the files. */
  hint?: string;
  /** Keep only the first N examples of each split (quick experiments and tests). */
  limit?: { train?: number; test?: number };
}

function imageShape(images: IdxArray, file: string): [number, number, number] {
  const [, h, w, c] = images.shape;
  if (images.shape.length === 3) return [h!, w!, 1];
  if (images.shape.length === 4) return [h!, w!, c!];
  throw new DatasetFileError(
    file,
    `dataset file ${file} has shape ${images.shape.join('x')}; images need [N, H, W] or [N, H, W, C]`,
  );
}

function readSplit(
  files: IdxSplitFiles,
  hint: string | undefined,
  limit: number | undefined,
): { images: IdxArray; labels: Uint8Array | null; shape: [number, number, number]; count: number } {
  const images = readIdxFile(files.images, hint);
  const shape = imageShape(images, files.images);
  let count = images.shape[0]!;
  let labels: Uint8Array | null = null;
  if (files.labels) {
    const idx = readIdxFile(files.labels, hint);
    if (idx.shape.length !== 1) {
      throw new DatasetFileError(files.labels, `label file ${files.labels} is not one-dimensional`);
    }
    if (idx.shape[0] !== count) {
      throw new DatasetFileError(
        files.labels,
        `label file ${files.labels} has ${idx.shape[0]} labels for ${count} images in ${files.images}`,
      );
    }
    labels = idx.data;
  }
  if (limit !== undefined) count = Math.min(count, limit);
  return { images, labels, shape, count };
}

export function loadIdx(options: IdxDatasetOptions): Dataset {
  const train = readSplit(options.train, options.hint, options.limit?.train);
  const test = readSplit(options.test, options.hint, options.limit?.test);
  if (train.shape.join() !== test.shape.join()) {
    throw new Error(
      `${options.name}: train images are ${train.shape.join('x')} but test images are ${test.shape.join('x')}`,
    );
  }
  const shape = train.shape;
  const size = shape[0] * shape[1] * shape[2];
  let maxLabel = 1;
  for (const s of [train, test]) {
    if (s.labels) for (let i = 0; i < s.count; i++) maxLabel = Math.max(maxLabel, s.labels[i]!);
  }
  const numClasses = options.numClasses ?? maxLabel + 1;
  if (maxLabel >= numClasses) {
    throw new Error(`${options.name}: label ${maxLabel} does not fit ${numClasses} classes`);
  }
  const trainPixels = train.images.data.subarray(0, train.count * size);
  const normalization = options.normalization ?? measureNormalization(trainPixels, shape[2]);
  const toSplit = (s: typeof train): Split => ({
    images: normalizeBytes(s.images.data.subarray(0, s.count * size), shape[2], normalization),
    labels: s.labels ? Int32Array.from(s.labels.subarray(0, s.count)) : null,
    count: s.count,
  });
  return {
    name: options.name,
    inputShape: shape,
    numClasses,
    train: toSplit(train),
    test: toSplit(test),
    normalization,
    flipInvariant: options.flipInvariant ?? false,
  };
}

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** Mean and std of the Fashion-MNIST training images, the values torchvision examples use. */
export const FASHION_MNIST_NORMALIZATION: Normalization = { mean: [0.286], std: [0.353] };

export interface FashionMnistOptions {
  /** Directory holding the four `*-idx?-ubyte.gz` files. */
  dir?: string;
  limit?: { train?: number; test?: number };
}

export function loadFashionMnist(options: FashionMnistOptions = {}): Dataset {
  const dir = options.dir ?? process.env['EDGEC_FASHION_MNIST_DIR'] ?? FASHION_MNIST_DIR;
  return loadIdx({
    name: 'fashion-mnist',
    train: {
      images: join(dir, 'train-images-idx3-ubyte.gz'),
      labels: join(dir, 'train-labels-idx1-ubyte.gz'),
    },
    test: {
      images: join(dir, 't10k-images-idx3-ubyte.gz'),
      labels: join(dir, 't10k-labels-idx1-ubyte.gz'),
    },
    numClasses: 10,
    normalization: FASHION_MNIST_NORMALIZATION,
    flipInvariant: true,
    hint:
      dir === FASHION_MNIST_DIR
        ? 'install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu) or pass a directory holding the IDX files'
        : `put the Fashion-MNIST IDX files in ${dir} or install \`dataset-fashion-mnist\``,
    ...(options.limit ? { limit: options.limit } : {}),
  });
}
