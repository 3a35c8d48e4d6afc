/**
 * Training-time augmentation on NHWC batches, done in plain JS (cheap at these image sizes and
 * identical on every backend): zero-pad then random crop back to size, and random horizontal
 * flips for datasets whose meaning survives a mirror (never digits).
 */
import { SeededRandom } from './seeded-random';

export interface AugmentOptions {
  /** Pixels of padding on each side before the random crop; 0 disables cropping. */
  padCrop: number;
  /** Mirror each image left-right with probability 1/2. */
  flip: boolean;
  /** Per-channel value of padding: the normalized value of a black pixel. */
  fill: readonly number[];
}

/** Returns a new augmented batch; the input is left untouched. */
export function augmentBatch(
  images: Float32Array,
  count: number,
  shape: readonly [number, number, number],
  options: AugmentOptions,
  rng: SeededRandom,
): Float32Array {
  const [h, w, c] = shape;
  const size = h * w * c;
  const out = new Float32Array(count * size);
  const pad = options.padCrop;
  for (let n = 0; n < count; n++) {
    // Draw in a fixed order per image so results do not depend on which options are on.
    const dy = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
    const dx = pad > 0 ? rng.int(2 * pad + 1) - pad : 0;
    const mirror = options.flip && rng.uniform() < 0.5;
    const base = n * size;
    for (let y = 0; y < h; y++) {
      const sy = y + dy;
      for (let x = 0; x < w; x++) {
        const sxRaw = x + dx;
        const sx = mirror ? w - 1 - sxRaw : sxRaw;
        const dst = base + (y * w + x) * c;
        if (sy < 0 || sy >= h || sxRaw < 0 || sxRaw >= w) {
          for (let ch = 0; ch < c; ch++) out[dst + ch] = options.fill[ch] ?? 0;
        } else {
          const src = base + (sy * w + sx) * c;
          for (let ch = 0; ch < c; ch++) out[dst + ch] = images[src + ch]!;
        }
      }
    }
  }
  return out;
}
