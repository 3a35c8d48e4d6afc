/**
 * The demo's fleet on one machine: the control plane (embedded MQTT broker, SQLite in the data
 * dir) in this process, and one agent process per device. A device marked `pinToOneCore` runs
 * under `taskset -c 0` when taskset exists, so it behaves as a slower device class.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient, ApiError } from '../ui/api-client';
import type { DeviceView } from '../ui/api-types';

const REPO_ROOT = join(__dirname, '../../../..');
const AGENT_ENTRY = join(REPO_ROOT, 'apps/agent/src/bin.ts');
const TASKSET = '/usr/bin/taskset';

export interface DemoDevice {
  id: string;
  group: string;
  pinToOneCore: boolean;
}

export interface FleetOptions {
  dataDir: string;
  devices: DemoDevice[];
  log: (line: string) => void;
  onlineTimeoutMs: number;
}

interface RunningAgent {
  device: DemoDevice;
  child: ChildProcess;
  exited: Promise<void>;
  pinned: boolean;
}

export interface DemoFleet {
  client: ApiClient;
  httpUrl: string;
  mqttUrl: string;
  agents: readonly { id: string; group: string; pinned: boolean; pid: number | undefined }[];
  /** Stops every agent (SIGTERM, then SIGKILL after a grace period) and the control plane. */
  stop(): Promise<void>;
}

export async function startFleet(o: FleetOptions): Promise<DemoFleet> {
  mkdirSync(o.dataDir, { recursive: true });
  // Loaded here: other commands must not pay for Nest.
  const cp = await import('../../../control-plane/src/main');
  const { token } = cp.createApiToken(o.dataDir, 'edgec-demo');
  const running = await cp.startControlPlane(
    cp.loadConfig({
      ...process.env,
      EC_DATA_DIR: o.dataDir,
      EC_HTTP_HOST: '127.0.0.1',
      EC_HTTP_PORT: '0',
      EC_MQTT_MODE: 'embedded',
      EC_MQTT_HOST: '127.0.0.1',
      EC_MQTT_PORT: '0',
      EC_MQTT_URL: '',
      EC_PROFILES_DIR: process.env.EC_PROFILES_DIR ?? join(REPO_ROOT, 'device-profiles'),
      EC_LOG_LEVEL: process.env.EC_LOG_LEVEL ?? 'warn',
    }),
  );
  const client = new ApiClient(running.httpUrl, token);
  const agents: RunningAgent[] = [];
  // Once only: a signal handler and the normal exit path may both ask.
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await Promise.all(agents.map(stopAgent));
      await running.close();
    })());
  try {
    o.log(`control plane: API ${running.httpUrl}  MQTT ${running.mqttUrl}  data ${o.dataDir}`);
    const { publicKeyPem } = await client.get<{ publicKeyPem: string }>('/api/v1/signing-key');
    const logDir = join(o.dataDir, 'demo-logs');
    mkdirSync(logDir, { recursive: true });
    for (const device of o.devices) {
      const password = await provision(client, device);
      agents.push(
        spawnAgent(device, {
          brokerUrl: running.mqttUrl,
          password,
          dataDir: join(o.dataDir, 'demo-agents', device.id),
          trustedKeyPem: publicKeyPem,
          logPath: join(logDir, `${device.id}.log`),
        }),
      );
    }
    for (const a of agents)
      o.log(
        `agent ${a.device.id} (group ${a.device.group}${a.pinned ? ', pinned to core 0' : ''}): pid ${a.child.pid}`,
      );
    await waitOnline(client, agents, o.onlineTimeoutMs);
    o.log(`all ${agents.length} agents online`);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    client,
    httpUrl: running.httpUrl,
    mqttUrl: running.mqttUrl,
    agents: agents.map((a) => ({
      id: a.device.id,
      group: a.device.group,
      pinned: a.pinned,
      pid: a.child.pid,
    })),
    stop,
  };
}

/** Provisions the device, or issues it new credentials when an earlier run left it behind. */
async function provision(client: ApiClient, device: DemoDevice): Promise<string> {
  try {
    const created = await client.post<{ mqtt: { password: string } }>('/api/v1/devices', {
      id: device.id,
      name: `demo ${device.id}`,
      groups: [device.group],
      tags: ['demo'],
    });
    return created.mqtt.password;
  } catch (err) {
    if (!(err instanceof ApiError) || err.status !== 409) throw err;
    await client.request('PATCH', `/api/v1/devices/${device.id}`, {
      groups: [device.group],
      tags: ['demo'],
    });
    const rotated = await client.post<{ mqtt: { password: string } }>(
      `/api/v1/devices/${device.id}/credentials`,
    );
    return rotated.mqtt.password;
  }
}

function spawnAgent(
  device: DemoDevice,
  o: {
    brokerUrl: string;
    password: string;
    dataDir: string;
    trustedKeyPem: string;
    logPath: string;
  },
): RunningAgent {
  mkdirSync(o.dataDir, { recursive: true });
  const configPath = join(o.dataDir, 'agent-config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      deviceId: device.id,
      password: o.password,
      brokerUrl: o.brokerUrl,
      dataDir: o.dataDir,
      trustedKeys: [o.trustedKeyPem],
      keepaliveSec: 10,
      reconnectMinMs: 200,
      reconnectMaxMs: 2000,
      telemetryIntervalMs: 10_000,
    }),
    { mode: 0o600 },
  );
  const node = [process.execPath, '-r', require.resolve('@swc-node/register'), AGENT_ENTRY];
  const pinned = device.pinToOneCore && existsSync(TASKSET);
  const [file, ...args] = pinned ? [TASKSET, '-c', '0', ...node] : node;
  const child = spawn(file!, [...args, '--config', configPath], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logFile = createWriteStream(o.logPath, { flags: 'a' });
  child.stdout?.pipe(logFile, { end: false });
  child.stderr?.pipe(logFile, { end: false });
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      logFile.end();
      resolve();
    }),
  );
  return { device, child, exited, pinned };
}

async function stopAgent(agent: RunningAgent): Promise<void> {
  const { child } = agent;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await agent.exited;
  clearTimeout(timer);
}

async function waitOnline(
  client: ApiClient,
  agents: RunningAgent[],
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const ids = new Set(agents.map((a) => a.device.id));
  for (;;) {
    const exited = agents.find((a) => a.child.exitCode !== null || a.child.signalCode !== null);
    if (exited)
      throw new Error(
        `agent ${exited.device.id} exited (${exited.child.exitCode ?? exited.child.signalCode}); see its log under demo-logs/`,
      );
    const devices = await client.get<DeviceView[]>('/api/v1/devices?tag=demo');
    const online = devices.filter((d) => ids.has(d.id) && d.status === 'online');
    if (online.length === ids.size) return;
    if (Date.now() > deadline)
      throw new Error(
        `agents not online after ${timeoutMs} ms: ${[...ids].filter((id) => !online.some((d) => d.id === id)).join(', ')}`,
      );
    await new Promise((r) => setTimeout(r, 250));
  }
}
