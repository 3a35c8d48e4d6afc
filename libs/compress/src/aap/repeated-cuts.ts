/**
 * Which earlier round already made a cut, so the search can judge it again without fine-tuning.
 *
 * Two kinds of earlier round count [ours]:
 * - a rolled-back round: the same cut from the same parent fails again (a halved λ cannot change
 *   a cut that the cap or a threshold above a whole group fixes);
 * - a round kept from the same parent and later popped from the track: every step after it
 *   failed up to the reset limit, so keeping it again would only start the same failures over
 *   (after a pop the policy's λ comes back from the parent's, and the released policy cycles
 *   through the same cut and failures until its budget runs out). Such a repeat is a dead end:
 *   rolled back although its accuracy held.
 */
import type { PolicyDecision } from './adaptive-policy';
import type { GroupPlan } from './threshold-plan';

/** What a recorded round cut: its parent and the groups it shrank. */
export interface RecordedCut {
  round: number;
  startFrom: number;
  groups: readonly GroupPlan[];
  verdict: 'kept' | 'rolled-back' | 'baseline';
  repeatOf?: number;
  deadEnd?: true;
}

export interface RepeatedCut {
  /** The round that first made this cut and was fine-tuned: its metrics are reused. */
  original: number;
  /** The round found (possibly itself a repeat of `original`). */
  match: number;
  /** The cut leads nowhere: roll it back even though its accuracy held. */
  deadEnd: boolean;
}

/**
 * The cut as a key: its parent round and each shrunk group's kept count. From the same parent
 * the scores are the same, so equal counts mean the same channels went.
 */
export function cutKey(startFrom: number, groups: readonly GroupPlan[]): string {
  const shrunk = groups.filter((g) => g.kept < g.channels).map((g) => `${g.group}:${g.kept}`);
  return `${startFrom}|${shrunk.sort().join(',')}`;
}

export function findRepeatedCut(
  trajectory: readonly RecordedCut[],
  decisions: readonly PolicyDecision[],
  startFrom: number,
  groups: readonly GroupPlan[],
): RepeatedCut | undefined {
  const key = cutKey(startFrom, groups);
  const popped = new Set(decisions.flatMap((d) => (d.popped !== undefined ? [d.popped] : [])));
  const found = trajectory.find(
    (r) =>
      (r.verdict === 'rolled-back' || popped.has(r.round)) && cutKey(r.startFrom, r.groups) === key,
  );
  if (!found) return undefined;
  return {
    original: found.repeatOf ?? found.round,
    match: found.round,
    deadEnd: found.deadEnd === true || popped.has(found.round),
  };
}
