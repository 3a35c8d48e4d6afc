/** Median of the values (mean of the middle two for an even count); NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/**
 * The fleet's answer from per-device p50s: their median (one slow or fast device does not move
 * it), and the range, so a caller sees how much the devices disagree.
 */
export function aggregateDeviceP50s(p50s: readonly number[]): {
  p50Ms: number;
  spreadMs: { min: number; max: number };
} {
  if (p50s.length === 0) throw new RangeError('no device latencies to aggregate');
  return { p50Ms: median(p50s), spreadMs: { min: Math.min(...p50s), max: Math.max(...p50s) } };
}
