/**
 * The rules that stop a rollout, as pure functions: per device (latency regression against the
 * device's previous variant, a p99 ceiling, agreement with the previous variant's outputs) and
 * per fleet (failure rate once enough devices have finished).
 */
export interface AbortRules {
  /** Share of finished devices that may fail (0..1). Default 0: the first failure aborts. */
  maxFailureRate?: number;
  /** Finished devices needed before the failure rate is judged. Default 1. */
  minDevices?: number;
  /** Highest allowed new p50 / previous p50 on the same device (e.g. 1.2). */
  maxLatencyRegression?: number;
  p99CeilingMs?: number;
  /** Lowest allowed share of probe inputs on which new and previous variant agree (0..1). */
  minAgreement?: number;
}

export interface DeviceMeasurement {
  p50Ms: number;
  p99Ms: number;
  previousP50Ms: number | null;
  agreement: number | null;
}

/** Why this device's measurement breaks a rule, or null when it passes. */
export function deviceViolation(rules: AbortRules, m: DeviceMeasurement): string | null {
  if (rules.maxLatencyRegression !== undefined && m.previousP50Ms !== null && m.previousP50Ms > 0) {
    const ratio = m.p50Ms / m.previousP50Ms;
    if (ratio > rules.maxLatencyRegression) {
      return (
        `p50 ${fmt(m.p50Ms)} ms is ${ratio.toFixed(2)}x the previous variant's ${fmt(m.previousP50Ms)} ms ` +
        `(limit ${rules.maxLatencyRegression}x)`
      );
    }
  }
  if (rules.p99CeilingMs !== undefined && m.p99Ms > rules.p99CeilingMs) {
    return `p99 ${fmt(m.p99Ms)} ms is above the ceiling of ${rules.p99CeilingMs} ms`;
  }
  if (
    rules.minAgreement !== undefined &&
    m.agreement !== null &&
    m.agreement < rules.minAgreement
  ) {
    return (
      `agreement with the previous variant ${(m.agreement * 100).toFixed(1)}% ` +
      `is below ${(rules.minAgreement * 100).toFixed(1)}%`
    );
  }
  return null;
}

/** Why the fleet's failures abort the rollout, or null. Skipped devices are not counted. */
export function failureRateViolation(
  rules: AbortRules,
  counts: { failed: number; succeeded: number },
): string | null {
  const finished = counts.failed + counts.succeeded;
  const minDevices = rules.minDevices ?? 1;
  const maxRate = rules.maxFailureRate ?? 0;
  if (finished < minDevices || counts.failed === 0) return null;
  const rate = counts.failed / finished;
  if (rate <= maxRate) return null;
  return (
    `${counts.failed} of ${finished} devices failed (${(rate * 100).toFixed(1)}%, ` +
    `limit ${(maxRate * 100).toFixed(1)}% over at least ${minDevices})`
  );
}

function fmt(ms: number): string {
  return ms < 1 ? ms.toFixed(4) : ms.toFixed(2);
}
