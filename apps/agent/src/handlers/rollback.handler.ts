/**
 * `rollback`: back to the previous variant (or the one named), after a self-test of it. The
 * pair to write is planned and persisted first, like activation, so a crash mid-rollback
 * cannot leave a third state.
 */
import type { RollbackCommand } from '@edgecompress/protocol';
import { AgentError } from '../agent-error';
import type { AgentServices } from '../agent-services';
import type { JobDefinition } from '../jobs/command-job';
import type { DeployedVariant } from '../store/deployment-state-store';
import { selfTestStep } from './self-test.step';

interface RollbackPlan {
  active: DeployedVariant;
  previous: DeployedVariant | null;
}

export function rollbackJob(services: AgentServices, cmd: RollbackCommand): JobDefinition {
  const planOf = (data: Record<string, unknown>) => data.plan as RollbackPlan;
  return {
    steps: [
      {
        name: 'plan',
        async run(ctx) {
          const current = services.deployment.read();
          const target: DeployedVariant | null = cmd.to
            ? {
                sha256: cmd.to.sha256,
                ...(cmd.to.variantId !== undefined ? { variantId: cmd.to.variantId } : {}),
              }
            : current.previous;
          if (!target)
            throw new AgentError(
              'NO_PREVIOUS_VARIANT',
              'there is no previous variant to roll back to',
            );
          if (!services.models.hasModel(target.sha256)) {
            throw new AgentError(
              'NOT_DEPLOYED',
              `variant ${target.sha256} is not in the model store`,
            );
          }
          ctx.data.plan = { active: target, previous: current.active } satisfies RollbackPlan;
        },
      },
      selfTestStep(services, (data) => planOf(data).active.sha256),
      {
        name: 'rollback',
        async run(ctx) {
          ctx.progress('rollback', 0);
          services.deployment.write({ ...planOf(ctx.data), updatedAt: services.clock.now() });
          services.publishState();
          ctx.progress('rollback', 1);
        },
      },
    ],
    result(ctx) {
      const plan = planOf(ctx.data);
      return {
        type: 'rolled-back',
        artifactSha256: plan.active.sha256,
        fromSha256: plan.previous?.sha256 ?? null,
      };
    },
  };
}
