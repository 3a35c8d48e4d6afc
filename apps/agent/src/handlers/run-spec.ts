/** Runner settings derived from the agent config and a command. */
import type { AgentServices } from '../agent-services';
import type { RunnerLimits } from '../runners/ort-runner';
import type { RunSpec } from '../runners/runner-protocol';

export function defaultRunSpec(services: AgentServices, sha256: string): RunSpec {
  return {
    modelPath: services.models.modelPath(sha256),
    intraOpThreads: 0,
    interOpThreads: 0,
    executionProviders: ['cpu'],
  };
}

export function runnerLimits(services: AgentServices, timeBudgetMs?: number): RunnerLimits {
  const { runnerTimeoutMs, runnerGraceMs, runnerMemoryLimitBytes } = services.config;
  return {
    timeoutMs: timeBudgetMs !== undefined ? timeBudgetMs + runnerGraceMs : runnerTimeoutMs,
    memoryLimitBytes: runnerMemoryLimitBytes,
  };
}
