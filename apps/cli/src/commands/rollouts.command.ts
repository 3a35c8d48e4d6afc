/**
 * `edgec rollouts`: stage a variant across a device selector — canary first, then cumulative
 * waves with a soak time, stopped by abort rules — and follow, pause, resume or abort it.
 *
 *   edgec rollouts create --variant v_9 --group pi5 --canary 1 --waves 50,100 --soak 30s \
 *     --max-latency-regression 1.2 --watch
 *
 * `rollouts watch` (and `create --watch`) exits 0 when the rollout succeeds and 2 when it is
 * aborted; connection and request errors exit 1.
 */
import type { Command } from 'commander';
import { addApiOptions, apiClientFor, type ApiClient } from '../ui/api-client';
import { ROLLOUT_DONE, type RolloutView } from '../ui/api-types';
import { collectFlag, countFlag, durationFlag, numberFlag, numberListFlag } from '../ui/cli-values';
import { createProgress } from '../ui/progress';
import {
  renderRollout,
  renderRolloutList,
  renderRolloutSummary,
  settledTargets,
} from '../ui/rollout-views';
import { watchResource } from '../ui/watch';

export interface CreateRolloutFlags {
  variant: string;
  group?: string;
  tag?: string[];
  device?: string[];
  profile?: string;
  canary?: number;
  canaryPercent?: number;
  waves: number[];
  soak: number;
  retries?: number;
  retryBackoff?: number;
  maxFailureRate?: number;
  minDevices?: number;
  maxLatencyRegression?: number;
  p99CeilingMs?: number;
  minAgreement?: number;
  deviceDeadline?: number;
  watch?: boolean;
  json?: boolean;
}

/** The POST /api/v1/rollouts body; checked here so a bad plan fails before any request. */
export function rolloutRequestFromFlags(f: CreateRolloutFlags): Record<string, unknown> {
  const selector = {
    ...(f.group ? { group: f.group } : {}),
    ...(f.tag?.length ? { tags: f.tag } : {}),
    ...(f.device?.length ? { deviceIds: f.device } : {}),
    ...(f.profile ? { profileId: f.profile } : {}),
  };
  if (Object.keys(selector).length === 0)
    throw new Error('name the target devices: --group, --tag, --device or --profile');
  if (f.waves.length === 0 || f.waves[f.waves.length - 1] !== 100)
    throw new Error(`--waves are cumulative percents ending at 100, got "${f.waves.join(',')}"`);
  for (let i = 0; i < f.waves.length; i++) {
    const w = f.waves[i]!;
    if (w <= 0 || w > 100 || (i > 0 && w <= f.waves[i - 1]!))
      throw new Error(`--waves must rise strictly within (0, 100], got "${f.waves.join(',')}"`);
  }
  if (f.canary !== undefined && f.canaryPercent !== undefined)
    throw new Error('give --canary (devices) or --canary-percent, not both');
  if (f.retries !== undefined && f.retries > 10)
    throw new Error(`--retries is at most 10, got ${f.retries}`);
  if (f.canaryPercent !== undefined && (f.canaryPercent <= 0 || f.canaryPercent > 100))
    throw new Error(`--canary-percent must be in (0, 100], got ${f.canaryPercent}`);
  const share = (flag: string, v: number | undefined) => {
    if (v !== undefined && (v < 0 || v > 1))
      throw new Error(`${flag} is a share in [0, 1], got ${v}`);
  };
  share('--max-failure-rate', f.maxFailureRate);
  share('--min-agreement', f.minAgreement);
  const abortRules = {
    ...(f.maxFailureRate !== undefined ? { maxFailureRate: f.maxFailureRate } : {}),
    ...(f.minDevices !== undefined ? { minDevices: f.minDevices } : {}),
    ...(f.maxLatencyRegression !== undefined
      ? { maxLatencyRegression: f.maxLatencyRegression }
      : {}),
    ...(f.p99CeilingMs !== undefined ? { p99CeilingMs: f.p99CeilingMs } : {}),
    ...(f.minAgreement !== undefined ? { minAgreement: f.minAgreement } : {}),
  };
  const canary =
    f.canary !== undefined
      ? { devices: f.canary }
      : f.canaryPercent !== undefined
        ? { percent: f.canaryPercent }
        : undefined;
  return {
    variantId: f.variant,
    selector,
    strategy: {
      ...(canary ? { canary } : {}),
      waves: f.waves,
      soakMs: f.soak,
      ...(f.retries !== undefined ? { retries: f.retries } : {}),
      ...(f.retryBackoff !== undefined ? { retryBackoffMs: f.retryBackoff } : {}),
    },
    ...(Object.keys(abortRules).length ? { abortRules } : {}),
    ...(f.deviceDeadline !== undefined ? { deviceDeadlineMs: f.deviceDeadline } : {}),
  };
}

const rolloutPath = (id: string) => `/api/v1/rollouts/${encodeURIComponent(id)}`;

/**
 * Follows a rollout to its end: a bar over settled devices, and one log line per device step
 * and per wave change. Returns the final view; shared with `edgec demo`.
 */
export async function watchRollout(
  client: ApiClient,
  id: string,
  options: { pollMs?: number; label?: string; signal?: AbortSignal } = {},
): Promise<RolloutView> {
  const progress = createProgress(options.label ?? 'rollout', 1, ['state', 'wave'], 2000);
  const lastStep = new Map<string, string>();
  const lastWave = new Map<number, string>();
  try {
    return await watchResource<RolloutView>({
      client,
      path: rolloutPath(id),
      eventsPath: `${rolloutPath(id)}/events`,
      pollMs: options.pollMs ?? 1000,
      ...(options.signal ? { signal: options.signal } : {}),
      isDone: (r) => ROLLOUT_DONE.has(r.state),
      onConnection: (state, detail) =>
        progress.log(
          state === 'lost' ? `control plane unreachable, retrying: ${detail}` : 'reconnected',
        ),
      onView: (r) => {
        for (const w of r.waves) {
          if (lastWave.get(w.index) === w.state) continue;
          lastWave.set(w.index, w.state);
          if (w.state !== 'pending')
            progress.log(`${w.label} (${w.percent}%, ${w.deviceIds.length} devices): ${w.state}`);
        }
        for (const t of r.targets) {
          if (lastStep.get(t.deviceId) === t.step) continue;
          lastStep.set(t.deviceId, t.step);
          if (t.step === 'pending') continue;
          const latency =
            t.p50Ms !== null
              ? ` p50 ${t.p50Ms.toFixed(2)} ms${t.previousP50Ms !== null ? ` (was ${t.previousP50Ms.toFixed(2)})` : ''}`
              : '';
          progress.log(`  ${t.deviceId}: ${t.step}${latency}${t.error ? ` - ${t.error}` : ''}`);
        }
        const current = r.waves.find((w) => w.state !== 'done' && w.state !== 'pending');
        progress.setTotal(Math.max(1, r.targets.length));
        progress.update(settledTargets(r), {
          state: r.state,
          wave: current?.label ?? (r.state === 'succeeded' ? 'all done' : '-'),
        });
      },
    });
  } finally {
    progress.stop();
  }
}

function finish(rollout: RolloutView): void {
  process.stdout.write(renderRollout(rollout));
  if (rollout.state !== 'succeeded') process.exitCode = 2;
}

export function register(program: Command): void {
  const rollouts = addApiOptions(
    program
      .command('rollouts')
      .description('staged rollouts of a variant to devices, with automatic rollback (REST API)'),
  );

  rollouts
    .command('create')
    .description('roll a variant out: canary, then waves, each soaked and checked')
    .requiredOption('--variant <id>', 'variant to roll out')
    .option('--group <group>', 'target devices: a group')
    .option('--tag <tag>', 'target devices: having this tag (repeatable)', collectFlag)
    .option('--device <id>', 'target devices: this device (repeatable)', collectFlag)
    .option('--profile <id>', 'target devices: this device profile')
    .option('--canary <n>', 'canary wave of n devices', countFlag('--canary'))
    .option(
      '--canary-percent <p>',
      'canary wave of p% of the devices',
      numberFlag('--canary-percent'),
    )
    .option(
      '--waves <percents>',
      'cumulative wave percents, last 100',
      numberListFlag('--waves'),
      [100],
    )
    .option(
      '--soak <duration>',
      'healthy time before the next wave (30s, 2m)',
      durationFlag('--soak'),
      0,
    )
    .option(
      '--retries <n>',
      'resend a step a device failed with a retryable error up to n times (default 2)',
      countFlag('--retries'),
    )
    .option(
      '--retry-backoff <duration>',
      'wait before the first retry, doubled for each later one (default 5s)',
      durationFlag('--retry-backoff'),
    )
    .option(
      '--max-failure-rate <share>',
      'abort above this failed share',
      numberFlag('--max-failure-rate'),
    )
    .option(
      '--min-devices <n>',
      'devices needed before the failure rate counts',
      countFlag('--min-devices'),
    )
    .option(
      '--max-latency-regression <ratio>',
      "abort when p50 exceeds ratio x the device's previous p50",
      numberFlag('--max-latency-regression'),
    )
    .option(
      '--p99-ceiling-ms <ms>',
      'abort when a device p99 exceeds this',
      numberFlag('--p99-ceiling-ms'),
    )
    .option(
      '--min-agreement <share>',
      "abort when agreement with the previous variant's outputs drops below",
      numberFlag('--min-agreement'),
    )
    .option(
      '--device-deadline <duration>',
      'mark devices that stay offline this long as skipped',
      durationFlag('--device-deadline'),
    )
    .option('-w, --watch', 'follow the rollout until it ends')
    .option('--json', 'print the created rollout as JSON')
    .action(async (flags: CreateRolloutFlags, cmd: Command) => {
      const body = rolloutRequestFromFlags(flags);
      const client = apiClientFor(cmd);
      const rollout = await client.post<RolloutView>('/api/v1/rollouts', body);
      if (flags.json) process.stdout.write(`${JSON.stringify(rollout, null, 2)}\n`);
      else process.stdout.write(renderRolloutSummary(rollout));
      if (flags.watch) finish(await watchRollout(client, rollout.id));
    });

  rollouts
    .command('ls')
    .alias('list')
    .description('list rollouts')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      const list = await apiClientFor(cmd).get<RolloutView[]>('/api/v1/rollouts');
      process.stdout.write(
        flags.json ? `${JSON.stringify(list, null, 2)}\n` : renderRolloutList(list),
      );
    });

  rollouts
    .command('get <id>')
    .description('one rollout: waves and every device step')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: { json?: boolean }, cmd: Command) => {
      const rollout = await apiClientFor(cmd).get<RolloutView>(rolloutPath(id));
      process.stdout.write(
        flags.json ? `${JSON.stringify(rollout, null, 2)}\n` : renderRollout(rollout),
      );
    });

  rollouts
    .command('watch <id>')
    .description('follow a rollout until it ends (exit 2 if it is aborted)')
    .option(
      '--poll-ms <ms>',
      'poll interval besides the event stream',
      countFlag('--poll-ms'),
      1000,
    )
    .action(async (id: string, flags: { pollMs: number }, cmd: Command) => {
      finish(await watchRollout(apiClientFor(cmd), id, { pollMs: flags.pollMs }));
    });

  for (const action of ['pause', 'resume', 'abort'] as const) {
    rollouts
      .command(`${action} <id>`)
      .description(
        action === 'abort'
          ? 'abort: roll every switched device back to its previous variant'
          : `${action} the rollout between device steps`,
      )
      .action(async (id: string, _flags: unknown, cmd: Command) => {
        const rollout = await apiClientFor(cmd).post<RolloutView>(`${rolloutPath(id)}/${action}`);
        process.stdout.write(
          `rollout ${rollout.id}: ${rollout.state}${rollout.reason ? ` (${rollout.reason})` : ''}\n`,
        );
      });
  }
}
