/**
 * `activate`: fetch (if needed) → verify → self-test → atomic switch. The active/previous pair
 * the switch writes is decided before the switch and persisted with the job, so running the
 * switch again after a crash writes the same state instead of shifting `previous` twice.
 */
import type { ActivateCommand } from '@edgecompress/protocol';
import type { AgentServices } from '../agent-services';
import type { JobDefinition } from '../jobs/command-job';
import type { DeployedVariant } from '../store/deployment-state-store';
import { fetchStep, verifyStep } from './artifact-steps';
import { selfTestStep } from './self-test.step';

export function activateJob(services: AgentServices, cmd: ActivateCommand): JobDefinition {
  const target: DeployedVariant = {
    sha256: cmd.artifact.sha256,
    ...(cmd.artifact.variantId !== undefined ? { variantId: cmd.artifact.variantId } : {}),
  };
  return {
    steps: [
      fetchStep(services, target.sha256, 'fetch', target.variantId),
      verifyStep(services, target.sha256),
      selfTestStep(services, () => target.sha256),
      {
        name: 'plan',
        async run(ctx) {
          const current = services.deployment.read();
          const previous =
            current.active?.sha256 === target.sha256 ? current.previous : current.active;
          ctx.data.plan = { active: target, previous };
        },
      },
      {
        name: 'activate',
        async run(ctx) {
          ctx.progress('activate', 0);
          const plan = ctx.data.plan as {
            active: DeployedVariant;
            previous: DeployedVariant | null;
          };
          services.deployment.write({ ...plan, updatedAt: services.clock.now() });
          services.publishState();
          ctx.progress('activate', 1);
        },
      },
    ],
    result(ctx) {
      const plan = ctx.data.plan as { previous: DeployedVariant | null };
      return {
        type: 'activated',
        artifactSha256: target.sha256,
        previousSha256: plan.previous?.sha256 ?? null,
      };
    },
  };
}
