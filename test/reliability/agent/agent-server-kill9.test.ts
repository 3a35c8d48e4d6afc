/**
 * `edgec server` (control plane with its embedded broker, a separate process) is killed with
 * SIGKILL while a real agent is executing a deploy, and started again on the same data dir and
 * ports. The agent's connection drops mid-deploy; after the restart its persisted outbox must
 * be sent (acks, results, re-acks of the redelivered command), the deploy must end in success
 * rather than in a connection error, and the rollout must finish.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { getFreePort, makeTempDir } from '@edgecompress/testing';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import { waitUntil } from '../../e2e/agent/agent-test-kit';
import {
  commandsOf,
  createRollout,
  provisionFleet,
  uploadModel,
  waitForRollout,
  type Fleet,
} from '../../e2e/rollouts/rollout-fleet.kit';
import { createApiToken } from '../../../apps/control-plane/src/main';

const ROOT = join(__dirname, '..', '..', '..');
const DEVICE = 'k9-deploy-a';

function startServer(dataDir: string, httpPort: number, mqttPort: number): ChildProcess {
  return spawn(
    process.execPath,
    [
      join(ROOT, 'bin/edgec.js'),
      'server',
      '--data-dir',
      dataDir,
      '--port',
      String(httpPort),
      '--mqtt-port',
      String(mqttPort),
      '--log-level',
      'error',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT },
  );
}

describe('control plane kill -9 while an agent deploys (real server process, real agent)', () => {
  const dir = makeTempDir('edgec-k9-deploy-');
  const servers: ChildProcess[] = [];
  let fleet: Fleet | undefined;
  after(async () => {
    await fleet?.stopAgents();
    for (const s of servers) if (s.exitCode === null && s.signalCode === null) s.kill('SIGKILL');
    dir.cleanup();
  });

  it('sends the queued events after the restart and finishes the deploy', async () => {
    const dataDir = join(dir.path, 'cp');
    const { token } = createApiToken(dataDir, 'k9-deploy');
    const auth = { Authorization: `Bearer ${token}` };
    const [httpPort, mqttPort] = [await getFreePort(), await getFreePort()];
    const httpUrl = `http://127.0.0.1:${httpPort}`;
    const ready = () =>
      waitUntil(
        () =>
          request(httpUrl)
            .get('/readyz')
            .then(
              (r) => r.status === 200,
              () => false,
            ),
        30_000,
        'server ready',
      );
    servers.push(startServer(dataDir, httpPort, mqttPort));
    await ready();
    fleet = await provisionFleet(
      { httpUrl, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, auth, dir: dir.path },
      [{ id: DEVICE }],
    );
    // About 17 MB, so the transfer is still running when the server dies.
    const v1 = await uploadModel(fleet, 'big', mlpModel({ hidden: 64_000, seed: 5 }));
    const rollout = await createRollout(fleet, {
      variantId: v1.variantId,
      selector: { deviceIds: [DEVICE] },
      strategy: { waves: [100], soakMs: 0 },
      abortRules: { p99CeilingMs: 60_000 },
    });
    await waitUntil(
      async () => (await commandsOf(fleet!, DEVICE)).some((c) => c.type === 'deploy'),
      30_000,
      'deploy sent',
    );
    servers[0]!.kill('SIGKILL');
    await new Promise((r) => servers[0]!.once('exit', r));

    servers.push(startServer(dataDir, httpPort, mqttPort));
    await ready();
    const agent = fleet.agents.get(DEVICE)!;
    const done = await waitForRollout(
      fleet,
      rollout.id,
      (r) => r.state !== 'running',
      120_000,
      'rollout after the restart',
    ).catch(async (err: Error) => {
      const outbox = readdirSync(join(dir.path, 'agents', DEVICE, 'outbox'));
      const sent = await commandsOf(fleet!, DEVICE);
      throw new Error(
        `${err.message}\noutbox: ${outbox.length} files\ncommands: ${JSON.stringify(sent)}\n${agent.output().slice(-3000)}`,
      );
    });
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    const sent = await commandsOf(fleet, DEVICE);
    assert.deepEqual(
      sent.map((c) => [c.type, c.status]),
      [
        ['deploy', 'succeeded'],
        ['benchmark', 'succeeded'],
        ['activate', 'succeeded'],
      ],
      JSON.stringify(sent),
    );
    assert.deepEqual(fleet.agentActive(DEVICE), { active: v1.sha256, previous: null });
    await waitUntil(
      () => readdirSync(join(dir.path, 'agents', DEVICE, 'outbox')).length === 0,
      10_000,
      'outbox drained',
    );
  });
});
