/**
 * A control plane with its embedded broker and real agent processes provisioned in it: the fleet
 * the latency service measures on.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildSmallCnn, exportOnnx } from '@edgecompress/engine';
import { spawnAgent, waitUntil, type AgentProcess } from '../agent/agent-test-kit';
import { startFixture, type ControlPlaneFixture } from '../control-plane/control-plane.fixture';
import {
  CommandsService,
  type CommandView,
} from '../../../apps/control-plane/src/commands/commands.service';
import { DevicesService } from '../../../apps/control-plane/src/devices/devices.service';
import { LatencyService } from '../../../apps/control-plane/src/latency/latency.service';

export interface LatencyFleet {
  fx: ControlPlaneFixture;
  agents: Map<string, AgentProcess>;
  devices: DevicesService;
  latency: LatencyService;
  commands: CommandsService;
  /** The benchmark commands queued so far, of one device or of all. */
  benchmarks(deviceId?: string): CommandView[];
  /** Starts an agent for a provisioned device and waits until the control plane sees it online. */
  startAgent(deviceId: string): Promise<AgentProcess>;
  close(): Promise<void>;
}

export const PROFILE = 'generic-x86-64';

export async function startLatencyFleet(
  devices: { id: string; groups: string[]; run: boolean }[],
): Promise<LatencyFleet> {
  const fx = await startFixture();
  const registry = fx.cp.app.get(DevicesService);
  const key = await fx.api().get('/api/v1/signing-key').set(fx.auth);
  const passwords = new Map<string, string>();
  for (const d of devices) {
    const mqtt = await fx.provision(d.id, { groups: d.groups, profileId: PROFILE });
    passwords.set(d.id, mqtt.password);
  }
  const agents = new Map<string, AgentProcess>();
  const startAgent = async (deviceId: string) => {
    const dataDir = join(fx.dir.path, 'agents', deviceId);
    mkdirSync(dataDir, { recursive: true });
    const agent = spawnAgent({
      deviceId,
      brokerUrl: fx.cp.mqttUrl,
      dataDir,
      trustedKeyPem: key.body.publicKeyPem as string,
      extra: { password: passwords.get(deviceId), runnerGraceMs: 10_000 },
    });
    agents.set(deviceId, agent);
    await waitUntil(
      () => registry.get(deviceId).status === 'online',
      20_000,
      `${deviceId} online`,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${agent.output()}`);
    });
    return agent;
  };
  await Promise.all(devices.filter((d) => d.run).map((d) => startAgent(d.id)));
  const commands = fx.cp.app.get(CommandsService);
  return {
    fx,
    agents,
    devices: registry,
    latency: fx.cp.app.get(LatencyService),
    commands,
    benchmarks: (deviceId) =>
      commands
        .list({ limit: 10_000, ...(deviceId ? { deviceId } : {}) })
        .filter((c) => c.type === 'benchmark'),
    startAgent,
    close: async () => {
      await Promise.all([...agents.values()].map((a) => a.stop()));
      await fx.close();
      fx.dir.cleanup();
    },
  };
}

/** A small CNN as exported ONNX; the widths make distinct candidates (distinct sha256). */
export function candidate(width: number): Buffer {
  const model = buildSmallCnn({
    inputShape: [28, 28, 1],
    numClasses: 10,
    widths: [width, 2 * width, 4 * width],
  });
  return Buffer.from(exportOnnx(model));
}

/** The exported graphs take NCHW. */
export const INPUT_SHAPE = [1, 1, 28, 28];
