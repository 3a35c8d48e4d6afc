/**
 * The agent's command line (run by bin.ts, the binary and `edgec agent`). The same executable is also the runner
 * child: started with EC_AGENT_ROLE=runner it serves one ORT request and exits.
 */
import { parseArgs } from 'node:util';
import { Agent } from './agent';
import { systemClock } from './clock';
import { AgentConfigError, loadAgentSettings, type AgentConfigInput } from './config/agent-config';
import { EnrollmentRefusedError, resolveIdentity } from './config/device-identity';
import { RUNNER_ROLE_ENV } from './runners/ort-runner';

export interface AgentCliOptions {
  config?: string;
  broker?: string;
  deviceId?: string;
  password?: string;
  dataDir?: string;
  trustedKey?: string;
  enrollmentToken?: string;
  controlPlaneUrl?: string;
  deviceName?: string;
}

const consoleLog = {
  info: (msg: string, fields?: Record<string, unknown>) =>
    process.stdout.write(JSON.stringify({ level: 'info', msg, ...fields }) + '\n'),
  warn: (msg: string, fields?: Record<string, unknown>) =>
    process.stdout.write(JSON.stringify({ level: 'warn', msg, ...fields }) + '\n'),
};

/**
 * Starts the agent until SIGTERM/SIGINT; exits 2 with the list of problems on a bad config or a
 * refused enrollment. A device with an enrollment token and no credentials enrolls first.
 */
export async function runAgent(options: AgentCliOptions): Promise<Agent | undefined> {
  const overrides: Partial<Record<keyof AgentConfigInput, unknown>> = {
    brokerUrl: options.broker,
    deviceId: options.deviceId,
    password: options.password,
    dataDir: options.dataDir,
    trustedKeys: options.trustedKey ? [options.trustedKey] : undefined,
    enrollmentToken: options.enrollmentToken,
    controlPlaneUrl: options.controlPlaneUrl,
    deviceName: options.deviceName,
  };
  const stopEnrolling = new AbortController();
  const stopWhileEnrolling = () => {
    stopEnrolling.abort();
    process.exit(0);
  };
  process.once('SIGTERM', stopWhileEnrolling);
  process.once('SIGINT', stopWhileEnrolling);
  let agent: Agent;
  try {
    const settings = loadAgentSettings({
      ...(options.config ? { file: options.config } : {}),
      overrides,
    });
    const config = await resolveIdentity(settings, {
      clock: systemClock,
      log: consoleLog,
      signal: stopEnrolling.signal,
    });
    agent = new Agent(config);
  } catch (err) {
    if (err instanceof AgentConfigError || err instanceof EnrollmentRefusedError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = 2;
      return undefined;
    }
    throw err;
  } finally {
    process.off('SIGTERM', stopWhileEnrolling);
    process.off('SIGINT', stopWhileEnrolling);
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
  if (process.env[RUNNER_ROLE_ENV] === 'runner') {
    // Loaded only in the runner: the agent process never holds the runner's code.
    void import('./runners/runner-child').then(({ runRunnerChild }) => runRunnerChild());
    return;
  }
  const { values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      broker: { type: 'string' },
      'device-id': { type: 'string' },
      password: { type: 'string' },
      'data-dir': { type: 'string' },
      'trusted-key': { type: 'string' },
      'enrollment-token': { type: 'string' },
      'control-plane-url': { type: 'string' },
      'device-name': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(
      'usage: edgec-agent [--config agent.json] [--broker mqtt://host:1883] [--device-id ID]\n' +
        '                   [--password P] [--data-dir DIR] [--trusted-key PEM-or-path]\n' +
        '                   [--enrollment-token T] [--control-plane-url URL] [--device-name NAME]\n' +
        'Environment: EC_AGENT_CONFIG, EC_DEVICE_ID, EC_DEVICE_PASSWORD, EC_BROKER_URL, EC_DATA_DIR,\n' +
        '             EC_TRUSTED_KEY, EC_ENROLLMENT_TOKEN, EC_CONTROL_PLANE_URL, EC_DEVICE_NAME,\n' +
        '             EC_CONTROL_PLANE_TOKEN\n',
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
    ...(values['enrollment-token'] ? { enrollmentToken: values['enrollment-token'] } : {}),
    ...(values['control-plane-url'] ? { controlPlaneUrl: values['control-plane-url'] } : {}),
    ...(values['device-name'] ? { deviceName: values['device-name'] } : {}),
  }).catch((err: Error) => {
    process.stderr.write(`agent failed to start: ${err.message}\n`);
    process.exit(1);
  });
}
