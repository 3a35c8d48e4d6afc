/** `deploy`: fetch → verify → load (one self-test inference). The variant is stored, not active. */
import type { DeployCommand } from '@edgecompress/protocol';
import type { AgentServices } from '../agent-services';
import type { JobDefinition } from '../jobs/command-job';
import type { SelfTestResult } from '../runners/runner-protocol';
import { fetchStep, verifyStep } from './artifact-steps';
import { defaultRunSpec, runnerLimits } from './run-spec';

export function deployJob(services: AgentServices, cmd: DeployCommand): JobDefinition {
  const sha256 = cmd.artifact.sha256;
  return {
    steps: [
      fetchStep(services, sha256, 'fetch', cmd.artifact.variantId),
      verifyStep(services, sha256),
      {
        name: 'load',
        async run(ctx) {
          ctx.progress('load', 0);
          const result = await services.runner.run<SelfTestResult>(
            { kind: 'self-test', spec: defaultRunSpec(services, sha256) },
            runnerLimits(services),
          );
          ctx.data.loadMs = result.loadMs;
          ctx.progress('load', 1);
        },
      },
    ],
    result(ctx) {
      const fetched = (ctx.data.fetch as
        { fetchedChunks: number; reusedChunks: number } | undefined) ?? {
        fetchedChunks: 0,
        reusedChunks: 0,
      };
      return {
        type: 'deployed',
        artifactSha256: sha256,
        bytes: (ctx.data.bytes as number | undefined) ?? 0,
        fetchedChunks: fetched.fetchedChunks,
        reusedChunks: fetched.reusedChunks,
      };
    },
  };
}
