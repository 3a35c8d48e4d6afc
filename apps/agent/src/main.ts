/**
 * The agent's command line (run by bin.ts, the binary and `edgec agent`). The same executable is also the runner
 * child: started with EC_AGENT_ROLE=runner it serves one ORT request and exits.
 */
import { parseArgs } from 'node:util';
import { Agent } from './agent';
import { AgentConfigError, loadAgentConfig, type AgentConfigInput } from './config/agent-config';
import { RUNNER_ROLE_ENV } from './runners/ort-runner';
import { runRunnerChild } from './runners/runner-child';

export interface AgentCliOptions {
  config?: string;
  broker?: string;
  deviceId?: string;
  password?: string;
  dataDir?: string;
  trustedKey?: string;
}

/** Starts the agent until SIGTERM/SIGINT; exits 2 with the list of problems on a bad config. */
export function runAgent(options: AgentCliOptions): Agent | undefined {
  const overrides: Partial<Record<keyof AgentConfigInput, unknown>> = {
    brokerUrl: options.broker,
    deviceId: options.deviceId,
    password: options.password,
    dataDir: options.dataDir,
    trustedKeys: options.trustedKey ? [options.trustedKey] : undefined,
  };
  let agent: Agent;
  try {
    agent = new Agent(
      loadAgentConfig({ ...(options.config ? { file: options.config } : {}), overrides }),
    );
  } catch (err) {
    if (err instanceof AgentConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return undefined;
    }
    throw err;
  }
  agent.start();
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void agent.stop().finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return agent;
}

export function main(): void {
  if (process.env[RUNNER_ROLE_ENV] === 'runner') return runRunnerChild();
  const { values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      broker: { type: 'string' },
      'device-id': { type: 'string' },
      password: { type: 'string' },
      'data-dir': { type: 'string' },
      'trusted-key': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: edgec-agent [--config agent.json] [--broker mqtt://host:1883] [--device-id ID]\n' +
        '                   [--password P] [--data-dir DIR] [--trusted-key PEM-or-path]\n' +
        'Environment: EC_AGENT_CONFIG, EC_DEVICE_ID, EC_DEVICE_PASSWORD, EC_BROKER_URL, EC_DATA_DIR, EC_TRUSTED_KEY\n',
    );
    return;
  }
  runAgent({
    ...(values.config ? { config: values.config } : {}),
    ...(values.broker ? { broker: values.broker } : {}),
    ...(values['device-id'] ? { deviceId: values['device-id'] } : {}),
    ...(values.password ? { password: values.password } : {}),
    ...(values['data-dir'] ? { dataDir: values['data-dir'] } : {}),
    ...(values['trusted-key'] ? { trustedKey: values['trusted-key'] } : {}),
  });
}
