/**
 * The flags the single executable starts with (see runtime-flags.config.json, also read by
 * scripts/build-agent.mjs): lean ones for the long-lived agent process, and for its runner
 * children the same flags set back to Node's defaults, so ORT never runs under the agent's
 * memory settings.
 */
import flags from './runtime-flags.config.json';

/** Baked into the binary as the SEA config's execArgv. */
export const AGENT_RUNTIME_FLAGS: readonly string[] = flags.agent;

/** Given to each runner child; they come after the baked flags, so each of them wins. */
export const RUNNER_RUNTIME_FLAGS: readonly string[] = flags.runner;

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
