/** Datasets by name, for the CLI and the control plane. */
import type { Dataset } from './dataset.types';
import { loadFashionMnist, loadIdx } from './idx-dataset.loader';
import { loadMnist } from './mnist.loader';
import { syntheticDataset } from './synthetic.dataset';

export const DATASET_NAMES = ['mnist', 'fashion-mnist', 'synthetic', 'idx'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export interface LoadDatasetOptions {
  /** fashion-mnist: directory of the IDX files; idx: directory holding train-/t10k- files. */
  dir?: string;
  limit?: { train?: number; test?: number };
  seed?: number;
}

export function loadDataset(name: string, options: LoadDatasetOptions = {}): Dataset {
  const limit = options.limit ? { limit: options.limit } : {};
  switch (name) {
    case 'mnist':
      return loadMnist(limit);
    case 'fashion-mnist':
      return loadFashionMnist({ ...(options.dir ? { dir: options.dir } : {}), ...limit });
    case 'synthetic':
      return syntheticDataset({
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        ...(options.limit?.train ? { trainCount: options.limit.train } : {}),
        ...(options.limit?.test ? { testCount: options.limit.test } : {}),
      });
    case 'idx': {
      if (!options.dir) throw new Error('dataset "idx" needs a directory (--data-dir)');
      const dir = options.dir;
      return loadIdx({
        name: `idx:${dir}`,
        train: {
          images: `${dir}/train-images-idx3-ubyte.gz`,
          labels: `${dir}/train-labels-idx1-ubyte.gz`,
        },
        test: {
          images: `${dir}/t10k-images-idx3-ubyte.gz`,
          labels: `${dir}/t10k-labels-idx1-ubyte.gz`,
        },
        ...limit,
      });
    }
    default:
      throw new Error(`unknown dataset "${name}"; known: ${DATASET_NAMES.join(', ')}`);
  }
}
