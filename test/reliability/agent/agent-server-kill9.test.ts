/**
 * `edgec server` (control plane with its embedded broker, a separate process) is killed with
 * SIGKILL while a real agent is executing a deploy, and started again on the same data dir and
 * ports. The agent's connection drops mid-deploy; after the restart its persisted outbox must
 * be sent (acks, results, re-acks of the redelivered command), the deploy must end in success
 * rather than in a connection error, and the rollout must finish.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, ServerProcessHarness } from '@edgecompress/testing';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import { waitUntil } from '../../e2e/agent/agent-test-kit';
import {
  commandsOf,
  createRollout,
  startServerProcessFleet,
  uploadModel,
  waitForRollout,
  type Fleet,
} from '../../e2e/rollouts/rollout-fleet.kit';

const DEVICE = 'k9-deploy-a';

describe('control plane kill -9 while an agent deploys (real server process, real agent)', () => {
  const dir = makeTempDir('edgec-k9-deploy-');
  let server: ServerProcessHarness | undefined;
  let fleet: Fleet | undefined;
  after(async () => {
    await fleet?.stopAgents();
    server?.killAll();
    dir.cleanup();
  });

  it('sends the queued events after the restart and finishes the deploy', async () => {
    ({ server, fleet } = await startServerProcessFleet(dir.path, 'k9-deploy', [DEVICE]));
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
    await server.kill9();
    await server.start();
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
