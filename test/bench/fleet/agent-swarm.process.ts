/**
 * A child process holding many simulated devices (see simulated-agent.ts). The benchmark forks
 * several of these so the devices' MQTT work is spread over processes like a fleet's would be
 * over machines. Driven over IPC: `start` (credentials and settings), `stats`, `stop`.
 */
import { createPublicKey } from 'node:crypto';
import { defaultProfilesDir, loadDeviceProfiles } from '@edgecompress/profiles';
import { FleetModelCache } from './fleet-model.cache';
import { emptyCounters, SimulatedAgent } from './simulated-agent';
import type { SwarmReply, SwarmRequest } from './swarm-messages';

const counters = emptyCounters();
const agents: SimulatedAgent[] = [];

function reply(message: SwarmReply): void {
  process.send?.(message);
}

async function start(request: Extract<SwarmRequest, { type: 'start' }>): Promise<void> {
  const dir = defaultProfilesDir();
  if (!dir) throw new Error('device-profiles directory not found');
  const profiles = new Map(loadDeviceProfiles(dir).map((p) => [p.id, p]));
  const models = new FleetModelCache(profiles);
  const trustedKey = createPublicKey(request.publicKeyPem);
  const t0 = Date.now();
  let failed = 0;
  let firstError: string | null = null;
  let next = 0;
  // A bounded number of connects in flight: a fleet reconnecting at once is a storm, not a line.
  const worker = async () => {
    while (next < request.devices.length) {
      const device = request.devices[next++]!;
      const agent = new SimulatedAgent({
        brokerUrl: request.brokerUrl,
        deviceId: device.id,
        password: device.password,
        profileId: device.profileId,
        trustedKey,
        transfer: request.transfer,
        controlPlaneUrl: request.controlPlaneUrl,
        models,
        counters,
      });
      agents.push(agent);
      try {
        await agent.start();
      } catch (err) {
        failed++;
        firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: request.concurrency }, worker));
  reply({
    type: 'connected',
    connected: agents.filter((a) => a.connected).length,
    failed,
    firstError,
    ms: Date.now() - t0,
  });
}

process.on('message', (request: SwarmRequest) => {
  switch (request.type) {
    case 'start':
      start(request).catch((err: Error) => reply({ type: 'fatal', message: err.message }));
      break;
    case 'stats':
      reply({
        type: 'stats',
        counters,
        connected: agents.filter((a) => a.connected).length,
        rssBytes: process.memoryUsage().rss,
        cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
      });
      break;
    case 'stop':
      Promise.all(agents.map((a) => a.stop())).finally(() => process.exit(0));
      break;
  }
});
process.on('disconnect', () => process.exit(0));
reply({ type: 'ready' });
