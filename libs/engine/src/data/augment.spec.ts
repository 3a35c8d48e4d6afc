import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SeededRandom, augmentBatch, deriveSeed, epochOrder, gatherBatch } from './index';

/** A 3x3 single-channel image 1..9 makes every shift and mirror visible. */
const IMAGE = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);

/** A generator that always returns the given draws (ints via uniform()). */
function scripted(uniforms: number[]): SeededRandom {
  const rng = new SeededRandom(0);
  let i = 0;
  rng.uniform = () => uniforms[i++]!;
  rng.int = (n: number) => Math.floor(rng.uniform() * n);
  return rng;
}

describe('augmentation', () => {
  it('pads with the fill value and crops at the drawn offset', () => {
    // pad 1 -> offsets in {-1, 0, 1}; uniform 0 -> -1 (dy), uniform 0.99 -> +1 (dx)
    const out = augmentBatch(IMAGE, 1, [3, 3, 1], { padCrop: 1, flip: false, fill: [-7] }, scripted([0, 0.99]));
    // Output(y, x) = input(y - 1, x + 1)
    assert.deepEqual(Array.from(out), [-7, -7, -7, 2, 3, -7, 5, 6, -7]);
  });

  it('mirrors left-right when flipping', () => {
    // offsets 0 (uniform 0.5 -> int 1 - 1), flip draw 0.1 < 0.5
    const out = augmentBatch(IMAGE, 1, [3, 3, 1], { padCrop: 1, flip: true, fill: [0] }, scripted([0.5, 0.5, 0.1]));
    assert.deepEqual(Array.from(out), [3, 2, 1, 6, 5, 4, 9, 8, 7]);
  });

  it('never flips when flipping is off and leaves the input untouched', () => {
    const input = Float32Array.from(IMAGE);
    for (let seed = 0; seed < 20; seed++) {
      const out = augmentBatch(input, 1, [3, 3, 1], { padCrop: 0, flip: false, fill: [0] }, new SeededRandom(seed));
      assert.deepEqual(out, IMAGE);
    }
    assert.deepEqual(input, IMAGE);
  });

  it('is reproducible from the seed', () => {
    const batch = new Float32Array(4 * 9).map((_, i) => i);
    const opts = { padCrop: 1, flip: true, fill: [0] };
    const a = augmentBatch(batch, 4, [3, 3, 1], opts, new SeededRandom(42));
    const b = augmentBatch(batch, 4, [3, 3, 1], opts, new SeededRandom(42));
    assert.deepEqual(a, b);
  });
});

describe('seeded order and batches', () => {
  it('epoch orders are permutations fixed by (seed, epoch)', () => {
    const a = epochOrder(100, 7, 3);
    assert.deepEqual(a, epochOrder(100, 7, 3));
    assert.notDeepEqual(a, epochOrder(100, 7, 4));
    assert.deepEqual(Array.from(a).sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  });

  it('the generator resumes from its saved state', () => {
    const rng = new SeededRandom(deriveSeed(1, 2));
    rng.uniform();
    const copy = new SeededRandom(rng.state());
    assert.deepEqual([rng.nextUint32(), rng.nextUint32()], [copy.nextUint32(), copy.nextUint32()]);
  });

  it('gathers examples and labels by index', () => {
    const split = { images: Float32Array.from([0, 0, 1, 1, 2, 2]), labels: Int32Array.from([5, 6, 7]), count: 3 };
    const batch = gatherBatch(split, 2, [2, 0]);
    assert.deepEqual(Array.from(batch.images), [2, 2, 0, 0]);
    assert.deepEqual(Array.from(batch.labels!), [7, 5]);
    assert.throws(() => gatherBatch(split, 2, [3]), /outside \[0, 3\)/);
  });
});
