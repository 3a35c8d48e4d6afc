/** Pixel normalization: bytes (or [0, 1] floats) to `(x - mean) / std` per channel. */
import type { Normalization } from './dataset.types';

/** Converts bytes to normalized floats, channel-last. */
export function normalizeBytes(
  pixels: Uint8Array,
  channels: number,
  norm: Normalization,
): Float32Array {
  return normalizeUnit(
    Float32Array.from(pixels, (p) => p / 255),
    channels,
    norm,
  );
}

/** Normalizes [0, 1] values in place, channel-last. */
export function normalizeUnit(
  values: Float32Array,
  channels: number,
  norm: Normalization,
): Float32Array {
  for (let i = 0; i < values.length; i++) {
    const c = i % channels;
    values[i] = (values[i]! - norm.mean[c]!) / norm.std[c]!;
  }
  return values;
}

/** Per-channel mean and standard deviation of bytes scaled to [0, 1]. */
export function measureNormalization(pixels: Uint8Array, channels: number): Normalization {
  const sum = new Float64Array(channels);
  const sumSq = new Float64Array(channels);
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i]! / 255;
    sum[i % channels]! += v;
    sumSq[i % channels]! += v * v;
  }
  const n = pixels.length / channels;
  const mean = Array.from(sum, (s) => s / n);
  const std = Array.from(sumSq, (s, c) => Math.sqrt(Math.max(s / n - mean[c]! ** 2, 1e-12)));
  return { mean, std };
}

/** The value a black (zero) pixel takes after normalization: what padding must fill with. */
export function normalizedZero(norm: Normalization | undefined, channels: number): number[] {
  return Array.from({ length: channels }, (_, c) =>
    norm ? (0 - norm.mean[c]!) / norm.std[c]! : 0,
  );
}
