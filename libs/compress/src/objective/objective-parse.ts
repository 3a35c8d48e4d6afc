/**
 * The CLI's objective syntax: `accuracy`, `params=0.8`, `flops=60%`, `size=0.5`,
 * `latency=2ms@local`, `latency=4ms@raspberry-pi-5`.
 */
import {
  type LatencySource,
  type Objective,
  type ObjectiveMetric,
  OBJECTIVE_METRICS,
  ObjectiveError,
  validateObjective,
} from './objective';

export interface ParseObjectiveOptions {
  maxAccuracyDrop: number;
  /** Where latencies come from; `local` is implied by `@local`. Default: predicted. */
  latencySource?: LatencySource;
}

export function parseObjective(spec: string, options: ParseObjectiveOptions): Objective {
  const text = spec.trim();
  const eq = text.indexOf('=');
  const name = (eq < 0 ? text : text.slice(0, eq)).trim().toLowerCase();
  const value = eq < 0 ? undefined : text.slice(eq + 1).trim();
  if (!OBJECTIVE_METRICS.includes(name as ObjectiveMetric)) {
    throw new ObjectiveError(
      `unknown objective "${spec}"; expected accuracy, params=<fraction>, flops=<fraction>, ` +
        'size=<fraction> or latency=<ms>ms@<device>',
    );
  }
  const metric = name as ObjectiveMetric;
  const base = { maxAccuracyDrop: options.maxAccuracyDrop };
  if (metric === 'accuracy') {
    if (value !== undefined) {
      throw new ObjectiveError(
        `"accuracy" takes no value; set the allowed drop with --max-drop (got "${spec}")`,
      );
    }
    return validateObjective({
      ...base,
      metric,
      latencySource: options.latencySource ?? 'predicted',
    });
  }
  if (value === undefined || value === '') {
    throw new ObjectiveError(`objective "${metric}" needs a value, e.g. ${metric}=0.8`);
  }
  if (metric === 'latency') {
    const match = /^([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)\s*(ms|s|us)?\s*@\s*([A-Za-z0-9._-]+)$/.exec(
      value,
    );
    if (!match) {
      throw new ObjectiveError(
        `latency objective "${spec}" must look like latency=2ms@local or latency=4ms@<device profile>`,
      );
    }
    const unit = match[2] ?? 'ms';
    const scale = unit === 's' ? 1000 : unit === 'us' ? 0.001 : 1;
    const device = match[3]!;
    const latencySource: LatencySource =
      device === 'local' ? 'local' : (options.latencySource ?? 'predicted');
    if (device === 'local' && options.latencySource && options.latencySource !== 'local') {
      throw new ObjectiveError(
        `device "local" is measured on this machine; it cannot use latency source "${options.latencySource}"`,
      );
    }
    return validateObjective({
      ...base,
      metric,
      target: Number(match[1]) * scale,
      device,
      latencySource,
    });
  }
  const percent = value.endsWith('%');
  const number = Number(percent ? value.slice(0, -1) : value);
  if (!Number.isFinite(number)) {
    throw new ObjectiveError(`objective "${spec}": "${value}" is not a number`);
  }
  return validateObjective({
    ...base,
    metric,
    target: percent ? number / 100 : number,
    latencySource: options.latencySource ?? 'predicted',
  });
}
