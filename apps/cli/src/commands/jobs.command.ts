/**
 * `edgec jobs`: compression jobs on the control plane (REST): create one from flags or a JSON
 * file, list, show the trajectory, follow it live with a progress bar, cancel.
 *
 *   edgec jobs create --variant v_1 --pipeline aap,sqakd --metric latency --target 4 \
 *     --max-drop 1 --group pi5 --latency-source measured --watch
 *
 * `jobs watch` (and `create --watch`) exits 0 when the job succeeds and 2 when it fails or is
 * cancelled; connection and request errors exit 1.
 */
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { addApiOptions, apiClientFor, type ApiClient } from '../ui/api-client';
import { JOB_DONE, type JobView, type RoundRecord } from '../ui/api-types';
import { renderJobList, renderJobSummary, renderRounds, roundLine } from '../ui/job-views';
import { collectFlag as collect, countFlag as int, numberFlag as num } from '../ui/cli-values';
import { createProgress } from '../ui/progress';
import { watchResource } from '../ui/watch';

const PIPELINE_METHODS = new Set(['aap', 'sqakd', 'ckdf', 'lcmr']);
const METRICS = ['accuracy', 'params', 'flops', 'size', 'latency'];
const DATASETS = ['mnist', 'fashion-mnist', 'synthetic'];

export interface CreateJobFlags {
  file?: string;
  variant?: string;
  name?: string;
  dataset: string;
  limitTrain?: number;
  limitTest?: number;
  pipeline: string;
  options?: string;
  metric: string;
  target?: number;
  maxDrop: number;
  group?: string;
  tag?: string[];
  device?: string[];
  profile?: string;
  latencySource: string;
  fallback?: string;
  k?: number;
  waitForDevicesMs?: number;
  watch?: boolean;
  json?: boolean;
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${what} must be a JSON object`);
  return value as Record<string, unknown>;
}

/** `@file.json` reads a file; anything else is inline JSON. */
function jsonArgument(value: string, what: string): Record<string, unknown> {
  if (value.startsWith('@')) {
    const path = value.slice(1);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(`cannot read ${what} file ${path}: ${(err as Error).message}`);
    }
    return parseJsonObject(text, `${what} (${path})`);
  }
  return parseJsonObject(value, what);
}

/** The POST /api/v1/jobs body from the flags; checked here so a typo fails before any request. */
export function jobRequestFromFlags(f: CreateJobFlags): Record<string, unknown> {
  if (f.file) {
    const body = jsonArgument(`@${f.file}`, 'job file');
    if (f.variant) body.variantId = f.variant;
    if (f.name) body.name = f.name;
    return body;
  }
  if (!f.variant) throw new Error('--variant <id> is required (or give the whole job with --file)');
  const pipeline = f.pipeline
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (pipeline.length === 0) throw new Error('--pipeline needs at least one method (aap, sqakd)');
  for (const m of pipeline)
    if (!PIPELINE_METHODS.has(m))
      throw new Error(`--pipeline: unknown method "${m}" (aap, sqakd, ckdf, lcmr)`);
  if (!METRICS.includes(f.metric))
    throw new Error(`--metric must be one of ${METRICS.join(', ')}, got "${f.metric}"`);
  if (!DATASETS.includes(f.dataset))
    throw new Error(`--dataset must be one of ${DATASETS.join(', ')}, got "${f.dataset}"`);
  if (f.latencySource !== 'measured' && f.latencySource !== 'predicted')
    throw new Error(`--latency-source must be measured or predicted, got "${f.latencySource}"`);
  if (f.fallback !== undefined && f.fallback !== 'fail' && f.fallback !== 'predicted')
    throw new Error(`--fallback must be fail or predicted, got "${f.fallback}"`);
  const device = {
    ...(f.profile ? { profileId: f.profile } : {}),
    ...(f.group ? { group: f.group } : {}),
    ...(f.tag?.length ? { tags: f.tag } : {}),
    ...(f.device?.length ? { deviceIds: f.device } : {}),
  };
  if (f.metric === 'latency' && Object.keys(device).length === 0)
    throw new Error(
      'a latency objective needs target devices: --group, --tag, --device or --profile',
    );
  return {
    variantId: f.variant,
    ...(f.name ? { name: f.name } : {}),
    dataset: {
      name: f.dataset,
      ...(f.limitTrain !== undefined ? { limitTrain: f.limitTrain } : {}),
      ...(f.limitTest !== undefined ? { limitTest: f.limitTest } : {}),
    },
    pipeline,
    ...(f.options ? { options: jsonArgument(f.options, '--options') } : {}),
    objective: {
      metric: f.metric,
      ...(f.target !== undefined ? { target: f.target } : {}),
      maxAccuracyDrop: f.maxDrop,
      ...(Object.keys(device).length ? { device } : {}),
      latencySource: f.latencySource,
      ...(f.fallback ? { fallback: f.fallback } : {}),
      ...(f.k !== undefined ? { k: f.k } : {}),
      ...(f.waitForDevicesMs !== undefined ? { waitForDevicesMs: f.waitForDevicesMs } : {}),
    },
  };
}

const jobPath = (id: string) => `/api/v1/jobs/${encodeURIComponent(id)}`;

/**
 * Follows a job to its end with a progress bar (step and fraction of the current method) and
 * one log line per finished round. Returns the final view; shared with `edgec demo`.
 */
export async function watchJob(
  client: ApiClient,
  id: string,
  options: { pollMs?: number; label?: string; signal?: AbortSignal } = {},
): Promise<JobView> {
  const progress = createProgress(options.label ?? 'job', 100, ['state', 'step', 'round'], 2000);
  const seen = new Set<string>();
  const key = (r: RoundRecord) => `${r.method}/${r.round}/${r.verdict}`;
  try {
    return await watchResource<JobView>({
      client,
      path: jobPath(id),
      eventsPath: `${jobPath(id)}/events`,
      pollMs: options.pollMs ?? 1000,
      ...(options.signal ? { signal: options.signal } : {}),
      isDone: (job) => JOB_DONE.has(job.state),
      onConnection: (state, detail) =>
        progress.log(
          state === 'lost' ? `control plane unreachable, retrying: ${detail}` : 'reconnected',
        ),
      onView: (job) => {
        for (const r of job.rounds) {
          if (seen.has(key(r))) continue;
          seen.add(key(r));
          progress.log(roundLine(r));
        }
        const last = job.rounds[job.rounds.length - 1];
        progress.update(Math.round(100 * Math.min(1, Math.max(0, job.progress.fraction))), {
          state: job.state,
          step: job.progress.message
            ? `${job.progress.step}: ${job.progress.message}`
            : job.progress.step,
          round: last ? `${last.method} ${last.round}` : '-',
        });
      },
    });
  } finally {
    progress.stop();
  }
}

function finish(job: JobView): void {
  process.stdout.write(renderJobSummary(job));
  process.stdout.write(renderRounds(job.rounds));
  if (job.state !== 'succeeded') process.exitCode = 2;
}

export function register(program: Command): void {
  const jobs = addApiOptions(
    program.command('jobs').description('compression jobs on the control plane (REST API)'),
  );

  jobs
    .command('create')
    .description('start a compression job towards an objective')
    .option('-f, --file <job.json>', 'the whole request body as JSON (flags below override)')
    .option('--variant <id>', 'starting variant (the model to compress)')
    .option('--name <name>', 'a name for the job')
    .option('-d, --dataset <name>', DATASETS.join(' | '), 'mnist')
    .option('--limit-train <n>', 'use only the first n training examples', int('--limit-train'))
    .option('--limit-test <n>', 'use only the first n test examples', int('--limit-test'))
    .option('-p, --pipeline <methods>', 'comma-separated methods in order', 'aap')
    .option('--options <json|@file>', 'method options, e.g. {"aap":{"maxRounds":4}}')
    .option('--metric <metric>', METRICS.join(' | '), 'accuracy')
    .option('--target <value>', 'objective target (ms for latency)', num('--target'))
    .option('--max-drop <points>', 'largest accuracy drop allowed', num('--max-drop'), 1)
    .option('--group <group>', 'target devices: a group')
    .option('--tag <tag>', 'target devices: having this tag (repeatable)', collect)
    .option('--device <id>', 'target devices: this device (repeatable)', collect)
    .option('--profile <id>', 'target device profile')
    .option('--latency-source <source>', 'measured (on devices) | predicted', 'measured')
    .option('--fallback <mode>', 'no device online: fail | predicted')
    .option('-k, --k <n>', 'devices to measure each candidate on', int('--k'))
    .option(
      '--wait-for-devices-ms <ms>',
      'wait this long for online devices',
      int('--wait-for-devices-ms'),
    )
    .option('-w, --watch', 'follow the job until it ends')
    .option('--json', 'print the created job as JSON')
    .action(async (flags: CreateJobFlags, cmd: Command) => {
      const body = jobRequestFromFlags(flags);
      const client = apiClientFor(cmd);
      const job = await client.post<JobView>('/api/v1/jobs', body);
      if (flags.json) process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
      else process.stdout.write(renderJobSummary(job));
      if (flags.watch) finish(await watchJob(client, job.id));
    });

  jobs
    .command('ls')
    .alias('list')
    .description('list jobs')
    .option('--json', 'print JSON')
    .action(async (flags: { json?: boolean }, cmd: Command) => {
      const list = await apiClientFor(cmd).get<JobView[]>('/api/v1/jobs');
      process.stdout.write(flags.json ? `${JSON.stringify(list, null, 2)}\n` : renderJobList(list));
    });

  jobs
    .command('get <id>')
    .description('one job: state, progress and the round-by-round trajectory')
    .option('--json', 'print JSON')
    .action(async (id: string, flags: { json?: boolean }, cmd: Command) => {
      const job = await apiClientFor(cmd).get<JobView>(jobPath(id));
      if (flags.json) process.stdout.write(`${JSON.stringify(job, null, 2)}\n`);
      else process.stdout.write(renderJobSummary(job) + renderRounds(job.rounds));
    });

  jobs
    .command('watch <id>')
    .description('follow a job with a progress bar until it ends (exit 2 if it fails)')
    .option('--poll-ms <ms>', 'poll interval besides the event stream', int('--poll-ms'), 1000)
    .action(async (id: string, flags: { pollMs: number }, cmd: Command) => {
      finish(await watchJob(apiClientFor(cmd), id, { pollMs: flags.pollMs }));
    });

  jobs
    .command('cancel <id>')
    .description('cancel a queued or running job')
    .action(async (id: string, _flags: unknown, cmd: Command) => {
      const job = await apiClientFor(cmd).post<JobView>(`${jobPath(id)}/cancel`);
      process.stdout.write(`job ${job.id}: ${job.state}\n`);
    });
}
