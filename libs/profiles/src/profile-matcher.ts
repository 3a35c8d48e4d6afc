/**
 * Picks the device profile for a device from its hello facts: every profile whose rules all
 * hold is a candidate, the most specific wins (board > accelerator > CPU model > memory range >
 * arch alone), and the generic profile of the device's architecture is the fallback.
 */
import type { DeviceProfile, MatchRules } from './device-profile.schema';

/**
 * The hello facts matching looks at. Structurally a subset of the protocol's `HardwareFacts`,
 * so `hello.hardware` can be passed as it is.
 */
export interface DeviceFacts {
  arch: string;
  cpu: { model: string; cores?: number };
  memory: { totalBytes: number };
  board?: string;
  accelerators?: ReadonlyArray<{ vendor: string; model: string }>;
}

export interface ProfileMatch {
  profile: DeviceProfile;
  specificity: number;
  /** The rules that held, e.g. ["arch", "board"]. */
  matched: string[];
  /** True when no specific profile matched and a generic fallback was chosen. */
  fallback: boolean;
}

const WEIGHTS = { arch: 1, memoryBytes: 2, cpuModel: 4, accelerator: 8, board: 16 } as const;

function test(pattern: string | undefined, value: string | undefined): boolean {
  return pattern === undefined || (value !== undefined && new RegExp(pattern, 'i').test(value));
}

/** The rules of `rules` that hold for `facts`, or null when any rule fails. */
export function evaluateRules(rules: MatchRules, facts: DeviceFacts): string[] | null {
  const matched: string[] = [];
  if (!(rules.arch as readonly string[]).includes(facts.arch)) return null;
  matched.push('arch');
  if (rules.cpuModel !== undefined) {
    if (!test(rules.cpuModel, facts.cpu.model)) return null;
    matched.push('cpuModel');
  }
  if (rules.board !== undefined) {
    if (!test(rules.board, facts.board)) return null;
    matched.push('board');
  }
  if (rules.memoryBytes !== undefined) {
    const { min = 0, max = Number.POSITIVE_INFINITY } = rules.memoryBytes;
    if (facts.memory.totalBytes < min || facts.memory.totalBytes > max) return null;
    matched.push('memoryBytes');
  }
  if (rules.accelerator !== undefined) {
    const { vendor, model } = rules.accelerator;
    const found = (facts.accelerators ?? []).some(
      (a) => test(vendor, a.vendor) && test(model, a.model),
    );
    if (!found) return null;
    matched.push('accelerator');
  }
  return matched;
}

/** Every profile that matches, most specific first (ties by id, so the order is stable). */
export function rankProfiles(
  facts: DeviceFacts,
  profiles: readonly DeviceProfile[],
): ProfileMatch[] {
  const out: ProfileMatch[] = [];
  for (const profile of profiles) {
    const matched = evaluateRules(profile.match, facts);
    if (!matched) continue;
    const specificity = matched.reduce(
      (sum, rule) => sum + WEIGHTS[rule as keyof typeof WEIGHTS],
      0,
    );
    out.push({
      profile,
      specificity: profile.generic ? 0 : specificity,
      matched,
      fallback: profile.generic,
    });
  }
  return out.sort(
    (a, b) => b.specificity - a.specificity || a.profile.id.localeCompare(b.profile.id),
  );
}

/** The best profile for the device, or null when not even a generic one fits its architecture. */
export function matchProfile(
  facts: DeviceFacts,
  profiles: readonly DeviceProfile[],
): ProfileMatch | null {
  return rankProfiles(facts, profiles)[0] ?? null;
}
