/**
 * Replacement rate p(t) of LCMR: the probability that a group runs its successor at step t.
 * log: p0 + (1 - p0) ln(1 + kappa t / Tr) / ln(1 + kappa), fast early and flat late;
 * linear: p0 + (1 - p0) t / Tr (BERT-of-Theseus); constant: p0 until Tr. All reach 1 at t >= Tr.
 */
export type CurriculumKind = 'log' | 'linear' | 'constant';

export interface Curriculum {
  kind: CurriculumKind;
  /** Rate at t = 0 (default 0.3). */
  p0: number;
  /** Curvature of the log curriculum (default 10); kappa -> 0 approaches linear. */
  kappa: number;
  /** Replacing horizon Tr in steps. */
  horizon: number;
}

export function validateCurriculum(c: Curriculum): void {
  if (!['log', 'linear', 'constant'].includes(c.kind))
    throw new Error(`unknown curriculum "${c.kind}" (log, linear or constant)`);
  if (!(c.p0 >= 0 && c.p0 <= 1)) throw new RangeError(`p0 must be in [0, 1], got ${c.p0}`);
  if (!(c.kappa > 0)) throw new RangeError(`kappa must be > 0, got ${c.kappa}`);
  if (!(Number.isInteger(c.horizon) && c.horizon >= 1))
    throw new RangeError(`the replacing horizon must be an integer >= 1, got ${c.horizon}`);
}

export function replacementRate(c: Curriculum, step: number): number {
  if (step >= c.horizon) return 1;
  const t = Math.max(0, step) / c.horizon;
  switch (c.kind) {
    case 'constant':
      return c.p0;
    case 'linear':
      return Math.min(1, c.p0 + (1 - c.p0) * t);
    case 'log':
      return Math.min(1, c.p0 + ((1 - c.p0) * Math.log1p(c.kappa * t)) / Math.log1p(c.kappa));
  }
}
