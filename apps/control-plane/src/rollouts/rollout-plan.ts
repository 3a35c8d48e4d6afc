/**
 * Splitting a rollout's devices into waves: the canary first (n devices or a share of the
 * fleet), then cumulative percentages (e.g. 10 → 50 → 100). Pure, so the arithmetic is tested
 * without a database.
 */
import { invalid } from '../common/domain-errors';

export interface RolloutStrategy {
  canary?: { devices?: number; percent?: number };
  /** Cumulative percentages of the fleet, increasing, the last one 100. */
  waves: number[];
  /** How long a healthy wave soaks before the next one starts. */
  soakMs: number;
  /**
   * How many times a device's step is sent again after the device failed it with an error it
   * marked retryable (BUSY, DISK_FULL, TIMEOUT ...); default DEFAULT_RETRIES.
   */
  retries?: number;
  /** Wait before the first retry, doubled for each later one; default DEFAULT_RETRY_BACKOFF_MS. */
  retryBackoffMs?: number;
}

export const DEFAULT_RETRIES = 2;
export const DEFAULT_RETRY_BACKOFF_MS = 5_000;
export const MAX_RETRIES = 10;
export const MAX_RETRY_BACKOFF_MS = 3600_000;

/**
 * When the retry after `retriesSoFar` earlier ones may be sent (exponential backoff), or null
 * when the strategy allows no more.
 */
export function nextRetryAt(
  strategy: RolloutStrategy,
  retriesSoFar: number,
  now: number,
): number | null {
  if (retriesSoFar >= (strategy.retries ?? DEFAULT_RETRIES)) return null;
  return now + (strategy.retryBackoffMs ?? DEFAULT_RETRY_BACKOFF_MS) * 2 ** retriesSoFar;
}

export interface PlannedWave {
  index: number;
  label: string;
  /** Share of the fleet switched once this wave is done (cumulative). */
  percent: number;
  deviceIds: string[];
}

/** Throws a domain `invalid` error naming the first problem with the strategy. */
export function checkStrategy(strategy: RolloutStrategy): void {
  const { waves, canary } = strategy;
  if (waves.length === 0) throw invalid('strategy.waves must list at least one percentage');
  waves.forEach((p, i) => {
    if (!(p > 0 && p <= 100)) throw invalid(`strategy.waves[${i}] must be in (0, 100], got ${p}`);
    if (i > 0 && p <= waves[i - 1]!)
      throw invalid('strategy.waves must be cumulative and strictly increasing (e.g. 10, 50, 100)');
  });
  if (waves[waves.length - 1] !== 100) throw invalid('the last of strategy.waves must be 100');
  if (canary && canary.devices !== undefined && canary.percent !== undefined)
    throw invalid('strategy.canary takes devices or percent, not both');
  if (canary && canary.devices === undefined && canary.percent === undefined)
    throw invalid('strategy.canary needs devices or percent');
  const { retries, retryBackoffMs } = strategy;
  if (
    retries !== undefined &&
    !(Number.isInteger(retries) && retries >= 0 && retries <= MAX_RETRIES)
  )
    throw invalid(`strategy.retries must be an integer in [0, ${MAX_RETRIES}], got ${retries}`);
  if (
    retryBackoffMs !== undefined &&
    !(
      Number.isInteger(retryBackoffMs) &&
      retryBackoffMs >= 0 &&
      retryBackoffMs <= MAX_RETRY_BACKOFF_MS
    )
  )
    throw invalid(
      `strategy.retryBackoffMs must be an integer in [0, ${MAX_RETRY_BACKOFF_MS}], got ${retryBackoffMs}`,
    );
}

/**
 * Devices in the order they should receive the variant (the caller puts online devices first,
 * so the canary is a device that can answer now). Every device lands in exactly one wave;
 * a wave can be empty when rounding gave the previous one everything it would have had.
 */
export function planWaves(deviceIds: readonly string[], strategy: RolloutStrategy): PlannedWave[] {
  checkStrategy(strategy);
  const total = deviceIds.length;
  const planned: PlannedWave[] = [];
  let assigned = 0;
  if (strategy.canary) {
    const wanted =
      strategy.canary.devices ?? Math.ceil((total * (strategy.canary.percent ?? 0)) / 100);
    const size = Math.min(total, Math.max(1, wanted));
    planned.push({
      index: 0,
      label: 'canary',
      percent: total === 0 ? 0 : round2((size / total) * 100),
      deviceIds: deviceIds.slice(0, size),
    });
    assigned = size;
  }
  strategy.waves.forEach((percent, i) => {
    const upTo = Math.max(assigned, Math.ceil((total * percent) / 100));
    planned.push({
      index: planned.length,
      label: `wave ${i + 1}`,
      percent,
      deviceIds: deviceIds.slice(assigned, upTo),
    });
    assigned = upTo;
  });
  return planned;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
