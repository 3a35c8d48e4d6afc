/**
 * The flags the single executable starts with (see runtime-flags.config.json, also read by
 * scripts/build-agent.mjs): lean ones for the long-lived agent process, and for its runner
 * children the same flags set back to Node's defaults, so ORT never runs under the agent's
 * memory settings. The same goes for the environment the systemd unit gives the agent.
 */
import flags from './runtime-flags.config.json';

/** Baked into the binary as the SEA config's execArgv. */
export const AGENT_RUNTIME_FLAGS: readonly string[] = flags.agent;

/** Given to each runner child; they come after the baked flags, so each of them wins. */
export const RUNNER_RUNTIME_FLAGS: readonly string[] = flags.runner;

/** Set for the agent by the systemd unit; never passed on to a runner. */
export const AGENT_ENVIRONMENT: Readonly<Record<string, string>> = flags.agentEnvironment;

/** `env` without the agent's own settings (a variable an operator set to another value stays). */
export function withoutAgentEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const [key, value] of Object.entries(AGENT_ENVIRONMENT)) {
    if (out[key] === value) delete out[key];
  }
  return out;
}

/** `--max-semi-space-size=1` -> `max-semi-space-size`; `--no-jitless` -> `jitless`. */
export function flagName(flag: string): string {
  return flag
    .replace(/^--(no-)?/, '')
    .split('=')[0]!
    .replace(/_/g, '-');
}

/**
 * The argument that appends flags to a single executable's baked ones: the binary is built
 * with `execArgvExtension: 'cli'`, which takes `--node-options=` from its command line.
 */
export function nodeOptionsArgument(runtimeFlags: readonly string[]): string {
  return `--node-options=${runtimeFlags.join(' ')}`;
}
