/**
 * The control plane (a separate `edgec server` process) is killed with SIGKILL while the
 * canary soaks and started again on the same data dir and ports: the rollout resumes from its
 * rows, follows the commands it had already queued, and finishes with every device switched
 * once: one deploy, one benchmark and one activation per device, each acknowledged and
 * completed (a command sent twice would show twice; the agents apply a command id once).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, ServerProcessHarness } from '@edgecompress/testing';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import {
  commandsOf,
  createRollout,
  getRollout,
  startServerProcessFleet,
  uploadModel,
  waitForRollout,
  type Fleet,
} from '../../e2e/rollouts/rollout-fleet.kit';

const DEVICES = ['k9r-a', 'k9r-b', 'k9r-c'];

describe('control plane kill -9 mid-rollout (real server process, real agents)', () => {
  const dir = makeTempDir('edgec-k9-rollout-');
  let server: ServerProcessHarness | undefined;
  let fleet: Fleet | undefined;
  after(async () => {
    await fleet?.stopAgents();
    server?.killAll();
    dir.cleanup();
  });

  it('resumes after the restart with nothing lost and nothing applied twice', async () => {
    ({ server, fleet } = await startServerProcessFleet(dir.path, 'k9-rollout', DEVICES));
    const v1 = await uploadModel(fleet, 'v1', mlpModel({ hidden: 64, seed: 31 }));
    const rollout = await createRollout(fleet, {
      variantId: v1.variantId,
      selector: { deviceIds: DEVICES },
      strategy: { canary: { devices: 1 }, waves: [50, 100], soakMs: 4000 },
      abortRules: { p99CeilingMs: 10_000 },
    });
    // Kill while the canary soaks: its device is switched, the next waves wait on the rows.
    const soaking = await waitForRollout(
      fleet,
      rollout.id,
      (r) => r.waves[0]!.state === 'soaking',
      45_000,
      'canary soaking',
    );
    assert.equal(soaking.targets.find((t) => t.deviceId === 'k9r-a')!.step, 'done');
    await server.kill9();

    await server.start();
    const view = await getRollout(fleet, rollout.id);
    assert.ok(['running'].includes(view.state), `after restart: ${view.state}`);
    const done = await waitForRollout(
      fleet,
      rollout.id,
      (r) => r.state !== 'running',
      60_000,
      'resumed rollout',
    ).catch(async (err: Error) => {
      const sent = await Promise.all(DEVICES.map((d) => commandsOf(fleet!, d)));
      throw new Error(`${err.message}\ncommands: ${JSON.stringify(sent)}`);
    });
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    for (const id of DEVICES) {
      assert.deepEqual(fleet.agentActive(id), { active: v1.sha256, previous: null });
      const sent: Awaited<ReturnType<typeof commandsOf>> = await commandsOf(fleet!, id);
      assert.deepEqual(
        sent.map((c) => [c.type, c.status]),
        [
          ['deploy', 'succeeded'],
          ['benchmark', 'succeeded'],
          ['activate', 'succeeded'],
        ],
        `${id}: ${JSON.stringify(sent)}`,
      );
      const t = done.targets.find((x) => x.deviceId === id)!;
      assert.equal(t.step, 'done');
      assert.ok(t.p50Ms! > 0);
    }
  });
});
