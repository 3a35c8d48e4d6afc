/**
 * Loads and validates `device-profiles/*.json`. A bad file is an error that names the file and
 * the field, never a profile silently dropped: profiles drive predictions and device matching.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { deviceProfileSchema, type DeviceProfile } from './device-profile.schema';

export class ProfileLoadError extends Error {
  override readonly name = 'ProfileLoadError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid device profiles:\n  ${problems.join('\n  ')}`);
  }
}

export type ParseProfileResult =
  { ok: true; profile: DeviceProfile } | { ok: false; problems: string[] };

/** Validates one profile (already parsed JSON); `origin` names it in messages. */
export function parseDeviceProfile(value: unknown, origin = 'profile'): ParseProfileResult {
  const parsed = deviceProfileSchema.safeParse(value);
  if (parsed.success) return { ok: true, profile: parsed.data };
  return {
    ok: false,
    problems: parsed.error.issues.map((issue) => {
      const path = issue.path.map(String).join('.');
      return `${origin}: ${path ? `${path}: ` : ''}${issue.message}`;
    }),
  };
}

/** Profiles from every `*.json` in `dir`, sorted by id; throws ProfileLoadError listing every problem. */
export function loadDeviceProfiles(dir: string): DeviceProfile[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ProfileLoadError([`${dir}: not a directory`]);
  }
  const problems: string[] = [];
  const byId = new Map<string, { profile: DeviceProfile; file: string }>();
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()) {
    const path = join(dir, file);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      problems.push(`${file}: ${(err as Error).message}`);
      continue;
    }
    const result = parseDeviceProfile(json, file);
    if (!result.ok) {
      problems.push(...result.problems);
      continue;
    }
    const expected = `${result.profile.id}.json`;
    if (file !== expected) problems.push(`${file}: file name must be ${expected}`);
    const clash = byId.get(result.profile.id);
    if (clash) problems.push(`${file}: id ${result.profile.id} already defined in ${clash.file}`);
    else byId.set(result.profile.id, { profile: result.profile, file });
  }
  if (problems.length > 0) throw new ProfileLoadError(problems);
  return [...byId.values()].map((entry) => entry.profile).sort((a, b) => a.id.localeCompare(b.id));
}

/**
 * The repository's `device-profiles/` directory, found by walking up from this file (works from
 * source and from a build under dist/). Null when it cannot be found (e.g. a bundled binary).
 */
export function defaultProfilesDir(start: string = __dirname): string | null {
  let dir = start;
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'device-profiles');
    if (existsSync(candidate) && statSync(candidate).isDirectory()) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return null;
}
