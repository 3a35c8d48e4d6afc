/**
 * Progress display for long work. On a terminal: a live bar with named fields; elsewhere
 * (CI, pipes): one plain line per update at most every `plainIntervalMs`, so logs stay readable.
 */
import type { EpochProgress } from '@edgecompress/compress';
import { SingleBar, Presets } from 'cli-progress';

export type ProgressFields = Record<string, string | number>;

export interface ProgressDisplay {
  update(value: number, fields?: ProgressFields): void;
  setTotal(total: number): void;
  log(line: string): void;
  stop(): void;
}

export function createProgress(
  label: string,
  total: number,
  fieldNames: string[] = [],
  plainIntervalMs = 2000,
): ProgressDisplay {
  const fieldFormat = fieldNames.map((f) => `${f} {${f}}`).join(' | ');
  if (process.stderr.isTTY) {
    const bar = new SingleBar(
      {
        format: `${label} [{bar}] {percentage}% {value}/{total} | ETA {eta_formatted}${fieldFormat ? ' | ' + fieldFormat : ''}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      },
      Presets.shades_classic,
    );
    bar.start(total, 0, Object.fromEntries(fieldNames.map((f) => [f, '-'])));
    return {
      update: (value, fields) => bar.update(value, fields),
      setTotal: (t) => bar.setTotal(t),
      log: (line) => {
        process.stderr.write('\r\x1b[K' + line + '\n');
        bar.render();
      },
      stop: () => bar.stop(),
    };
  }
  let last = 0;
  let currentTotal = total;
  const started = Date.now();
  return {
    update(value, fields = {}) {
      const now = Date.now();
      if (now - last < plainIntervalMs && value < currentTotal) return;
      last = now;
      const pct = currentTotal > 0 ? ((100 * value) / currentTotal).toFixed(0) : '?';
      const rest = Object.entries(fields)
        .map(([k, v]) => `${k} ${v}`)
        .join(' | ');
      const elapsed = ((now - started) / 1000).toFixed(0);
      process.stderr.write(
        `${label} ${value}/${currentTotal} (${pct}%) ${elapsed}s${rest ? ' | ' + rest : ''}\n`,
      );
    },
    setTotal: (t) => {
      currentTotal = t;
    },
    log: (line) => process.stderr.write(line + '\n'),
    stop: () => undefined,
  };
}

/**
 * Shows an epoch-based trainer's step on a display made with the fields epoch, loss and acc,
 * and logs a line for each evaluated epoch so the history stays in the terminal.
 */
export function showEpochStep(
  progress: ProgressDisplay,
  fields: ProgressFields,
  p: EpochProgress,
): void {
  fields.epoch = `${p.epoch + 1}/${p.epochs}`;
  fields.loss = p.loss.toFixed(4);
  if (p.accuracy !== undefined) {
    const acc = `${(100 * p.accuracy).toFixed(2)}%`;
    fields.acc = acc;
    progress.log(`epoch ${p.epoch + 1}: loss ${p.loss.toFixed(4)}, test acc ${acc}`);
  }
  progress.update(p.epoch * p.stepsPerEpoch + Math.min(p.step + 1, p.stepsPerEpoch), fields);
}
