/** One inference on synthetic input: the model loads, runs, and produces finite outputs. */
import { AgentError } from '../agent-error';
import type { AgentServices } from '../agent-services';
import type { JobStep } from '../jobs/command-job';
import type { SelfTestResult } from '../runners/runner-protocol';
import { defaultRunSpec, runnerLimits } from './run-spec';

export function selfTestStep(
  services: AgentServices,
  sha256: (data: Record<string, unknown>) => string,
): JobStep {
  return {
    name: 'self-test',
    async run(ctx) {
      ctx.progress('self-test', 0);
      const result = await services.runner.run<SelfTestResult>(
        { kind: 'self-test', spec: defaultRunSpec(services, sha256(ctx.data)) },
        runnerLimits(services),
      );
      const bad = result.outputs.filter((o) => !o.finite).map((o) => o.name);
      if (bad.length > 0) {
        throw new AgentError(
          'INFERENCE_FAILED',
          `self-test produced non-finite values in ${bad.join(', ')}`,
        );
      }
      ctx.progress('self-test', 1);
    },
  };
}
