/** What command handlers may use; built once by the agent. */
import type { AgentConfig } from './config/agent-config';
import type { ArtifactFetcher } from './jobs/artifact-fetcher';
import type { OrtRunner } from './runners/ort-runner';
import type { DeploymentStateStore } from './store/deployment-state-store';
import type { ModelStore } from './store/model-store';
import type { Clock } from './clock';

export interface AgentServices {
  config: AgentConfig;
  clock: Clock;
  models: ModelStore;
  deployment: DeploymentStateStore;
  fetcher: ArtifactFetcher;
  runner: OrtRunner;
  /** Re-publishes the retained online state (after the active variant changed). */
  publishState(): void;
  startedAt: number;
}
