/**
 * Delay before reconnect attempt `attempt` (0-based): exponential from `minMs`, capped at
 * `maxMs`, with "full jitter" (uniform in [0, cap]) so a fleet that lost its broker together
 * does not come back in lockstep. Never below `minMs / 2`, so a flapping link is not hammered.
 */
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
}

export function reconnectDelayMs(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const cap = Math.min(options.maxMs, options.minMs * 2 ** Math.min(attempt, 30));
  return Math.max(options.minMs / 2, Math.round(random() * cap));
}
