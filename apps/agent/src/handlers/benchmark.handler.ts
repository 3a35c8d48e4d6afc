/**
 * `benchmark`: fetch → verify → benchmark in the runner child (warm-up, then runs or a time
 * budget), with an optional accuracy check on a labelled sample fetched as its own artifact.
 */
import type { BenchmarkCommand } from '@edgecompress/protocol';
import type { AgentServices } from '../agent-services';
import type { JobDefinition } from '../jobs/command-job';
import type { BenchmarkResult, RunnerStep } from '../runners/runner-protocol';
import { fetchStep, verifyStep } from './artifact-steps';
import { runnerLimits } from './run-spec';

export function benchmarkJob(services: AgentServices, cmd: BenchmarkCommand): JobDefinition {
  const sha256 = cmd.artifact.sha256;
  const sample = cmd.accuracySample;
  return {
    steps: [
      fetchStep(services, sha256, 'fetch', cmd.artifact.variantId),
      ...(sample ? [fetchStep(services, sample.sha256, 'sampleFetch')] : []),
      verifyStep(services, sha256),
      {
        name: 'benchmark',
        async run(ctx) {
          const result = await services.runner.run<BenchmarkResult>(
            {
              kind: 'benchmark',
              spec: {
                modelPath: services.models.modelPath(sha256),
                ...(cmd.input.name !== undefined ? { inputName: cmd.input.name } : {}),
                inputShape: cmd.input.shape,
                intraOpThreads: cmd.threads.intraOp ?? 0,
                interOpThreads: cmd.threads.interOp ?? 0,
                executionProviders: cmd.executionProviders ?? ['cpu'],
                warmup: cmd.warmup,
                ...(cmd.runs !== undefined ? { runs: cmd.runs } : {}),
                ...(cmd.timeBudgetMs !== undefined ? { timeBudgetMs: cmd.timeBudgetMs } : {}),
                ...(sample
                  ? {
                      sample: {
                        path: services.models.modelPath(sample.sha256),
                        count: sample.count,
                      },
                    }
                  : {}),
              },
            },
            runnerLimits(services, cmd.timeBudgetMs),
            (step: RunnerStep, fraction) => ctx.progress(step === 'load' ? 'load' : step, fraction),
          );
          ctx.data.benchmark = result;
        },
      },
    ],
    result(ctx) {
      const r = ctx.data.benchmark as BenchmarkResult;
      return {
        type: 'benchmark-report',
        artifactSha256: sha256,
        latencyMs: r.latencyMs,
        runs: r.runs,
        warmup: r.warmup,
        throughputPerSec: r.throughputPerSec,
        peakRssBytes: r.peakRssBytes,
        loadMs: r.loadMs,
        sessionOptions: r.sessionOptions,
        inputShape: r.inputShape,
        ...(r.accuracy ? { accuracy: r.accuracy } : {}),
      };
    },
  };
}
