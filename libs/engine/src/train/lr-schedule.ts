/**
 * Learning-rate schedules as plain data (so a checkpoint or a worker can carry them), evaluated
 * per optimizer step. An optional linear warm-up ramps from 0 to the base rate first; the main
 * schedule then runs over the remaining steps.
 */

export type LrSchedule =
  | { kind: 'constant'; lr: number; warmupSteps?: number }
  | { kind: 'cosine'; lr: number; totalSteps: number; minLr?: number; warmupSteps?: number }
  | {
      kind: 'step';
      lr: number;
      /** Steps (counted from the start, warm-up included) at which the rate is multiplied by gamma. */
      milestones: number[];
      gamma: number;
      warmupSteps?: number;
    };

/** The learning rate used by the optimizer step with index `step` (0-based). */
export function learningRateAt(schedule: LrSchedule, step: number): number {
  const warmup = schedule.warmupSteps ?? 0;
  if (step < warmup) return (schedule.lr * (step + 1)) / warmup;
  switch (schedule.kind) {
    case 'constant':
      return schedule.lr;
    case 'cosine': {
      // Cosine from lr to minLr over the steps after warm-up, as PyTorch's CosineAnnealingLR.
      const span = Math.max(1, schedule.totalSteps - warmup);
      const t = Math.min(step - warmup, span) / span;
      const min = schedule.minLr ?? 0;
      return min + 0.5 * (schedule.lr - min) * (1 + Math.cos(Math.PI * t));
    }
    case 'step': {
      const passed = schedule.milestones.filter((m) => step >= m).length;
      return schedule.lr * schedule.gamma ** passed;
    }
  }
}

/** Checks a schedule's numbers; throws a message naming the bad field. */
export function validateSchedule(schedule: LrSchedule): void {
  if (!(schedule.lr >= 0) || !Number.isFinite(schedule.lr)) {
    throw new Error(`learning rate must be a finite number >= 0, got ${schedule.lr}`);
  }
  if ((schedule.warmupSteps ?? 0) < 0) throw new Error('warmupSteps must be >= 0');
  if (schedule.kind === 'cosine' && !(schedule.totalSteps > 0)) {
    throw new Error(`cosine schedule needs totalSteps > 0, got ${schedule.totalSteps}`);
  }
  if (schedule.kind === 'step' && !(schedule.gamma > 0)) {
    throw new Error(`step schedule needs gamma > 0, got ${schedule.gamma}`);
  }
}
