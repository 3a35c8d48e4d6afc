import type { SqakdProgress } from '@edgecompress/compress';

/**
 * Where a SQAKD stage stands, as a fraction of the stage and a message. SQAKD reports each
 * training step by its index (0-based) and, once an epoch ends, one more event whose `step` is
 * the step count: that event closes the epoch, it is not one more step.
 */
export function sqakdStageProgress(
  p: SqakdProgress,
  epochs: number,
): { within: number; message: string } {
  const perEpoch = Math.max(1, p.stepsPerEpoch);
  const epochEnded = p.step >= perEpoch;
  const stepsDone = epochEnded ? perEpoch : p.step + 1;
  const within = Math.min(1, (p.epoch + stepsDone / perEpoch) / Math.max(1, epochs));
  const epoch = `epoch ${p.epoch + 1}/${epochs}`;
  const message = epochEnded
    ? `${epoch} done, mean loss ${p.loss.toFixed(3)}` +
      (p.accuracy !== undefined ? `, accuracy ${(p.accuracy * 100).toFixed(1)}%` : '')
    : `${epoch} step ${stepsDone}/${perEpoch}, loss ${p.loss.toFixed(3)}`;
  return { within, message };
}
