/**
 * `edgec demo` (`npm run demo`): the product end to end on one machine — a control plane with
 * its embedded broker and SQLite in the data dir, three agents as separate processes (one
 * pinned to one core as a slower device class), a small CNN baseline on MNIST, a compression
 * job (AAP then SQAKD) steered by latency the agents measure, and canary-first rollouts.
 * `--train-only` keeps the short training demo.
 */
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DEMO_TRAINING } from '../demo/demo-baseline';
import type { DemoOptions } from '../demo/demo-run';
import { countFlag, durationFlag, numberFlag } from '../ui/cli-values';
import { finalLine, runTraining } from './train.command';

/** The flags: the demo's options under their flag names, and the --train-only ones. */
type DemoFlags = Omit<DemoOptions, 'soakMs' | 'skipJob' | 'onlineTimeoutMs' | 'pollMs'> & {
  trainOnly?: boolean;
  soak: number;
  skipJob?: boolean;
  onlineTimeout: number;
  workers: number;
  out?: string;
  summary?: string;
};

export function register(program: Command): void {
  program
    .command('demo')
    .description(
      'run the whole product locally: control plane, 3 agents, a latency-steered AAP+SQAKD job, canary rollouts',
    )
    .option(
      '--data-dir <dir>',
      'control plane data, models and agent dirs (kept afterwards)',
      './data',
    )
    .option(
      '--train-limit <n>',
      'baseline: MNIST training images',
      countFlag('--train-limit'),
      6000,
    )
    .option('--test-limit <n>', 'baseline: MNIST test images', countFlag('--test-limit'), 1000)
    .option('-e, --epochs <n>', 'baseline: epochs', countFlag('--epochs'), 2)
    .option('--job-train-limit <n>', 'job: training images', countFlag('--job-train-limit'), 2000)
    .option('--job-test-limit <n>', 'job: test images', countFlag('--job-test-limit'), 500)
    .option('--aap-rounds <n>', 'job: AAP rounds at most', countFlag('--aap-rounds'), 4)
    .option('--aap-steps <n>', 'job: fine-tuning steps per AAP round', countFlag('--aap-steps'), 40)
    .option('--sqakd-steps <n>', 'job: SQAKD steps', countFlag('--sqakd-steps'), 40)
    .option('--sqakd-bits <wXaY>', 'job: SQAKD bit widths', 'w8a8')
    .option(
      '--target-share <x>',
      "job: latency target as a share of the baseline's fastest measured p50 in the job's group",
      numberFlag('--target-share'),
      0.8,
    )
    .option(
      '--max-drop <points>',
      'job: largest accuracy drop allowed',
      numberFlag('--max-drop'),
      3,
    )
    .option('--soak <duration>', 'rollouts: soak time per wave', durationFlag('--soak'), 2000)
    .option('--skip-job', 'only the fleet, the baseline and its rollout')
    .option(
      '--online-timeout <duration>',
      'how long agents may take to come online',
      durationFlag('--online-timeout'),
      60_000,
    )
    .option('--summary <file>', 'also write the outcome (rollouts, job, report) as JSON')
    .option('--train-only', 'only the short training demo (small CNN on MNIST)')
    .option(
      '-w, --workers <n>',
      '--train-only: data-parallel worker threads',
      countFlag('--workers'),
      2,
    )
    .option('-o, --out <file>', '--train-only: also write the trained model file')
    .action(async (o: DemoFlags) => {
      if (o.trainOnly) {
        const { result, dataset } = await runTraining({
          ...DEMO_TRAINING,
          epochs: o.epochs,
          batchSize: 64,
          workers: o.workers,
          ...(o.out ? { out: o.out } : {}),
        });
        process.stdout.write(finalLine(result, dataset.name, o.out) + '\n');
        return;
      }
      const { runDemo } = await import('../demo/demo-run');
      const result = await runDemo({
        dataDir: resolve(o.dataDir),
        trainLimit: o.trainLimit,
        testLimit: o.testLimit,
        epochs: o.epochs,
        jobTrainLimit: o.jobTrainLimit,
        jobTestLimit: o.jobTestLimit,
        aapRounds: o.aapRounds,
        aapSteps: o.aapSteps,
        sqakdSteps: o.sqakdSteps,
        sqakdBits: o.sqakdBits,
        targetShare: o.targetShare,
        maxDrop: o.maxDrop,
        soakMs: o.soak,
        skipJob: o.skipJob ?? false,
        onlineTimeoutMs: o.onlineTimeout,
        pollMs: 1000,
      });
      if (o.summary) writeFileSync(o.summary, JSON.stringify(result, null, 2));
      // A job that kept no compressed model leaves the baseline deployed: nothing to roll out.
      const keptNothing =
        result.job?.state === 'succeeded' && result.job.resultVariantId === result.job.variantId;
      const ok =
        result.baselineRollout.state === 'succeeded' &&
        (o.skipJob || keptNothing || result.winnerRollout?.state === 'succeeded');
      if (!ok) process.exitCode = 2;
    });
}
