/**
 * Devices that are offline when their wave starts: one that stays away past the rollout's
 * device deadline is skipped (and does not count as a failure), one that comes back before it
 * catches up and is switched like the others.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import { waitUntil } from '../agent/agent-test-kit';
import { startFixture, type ControlPlaneFixture } from '../control-plane/control-plane.fixture';
import {
  commandsOf,
  createRollout,
  provisionFleet,
  renamedCopy,
  uploadModel,
  waitForRollout,
  type Fleet,
} from './rollout-fleet.kit';

const DEVICES = ['of-1', 'of-2'];

describe('rollouts and offline devices (real agents, broker, SQLite)', () => {
  let fx: ControlPlaneFixture;
  let fleet: Fleet;
  const base = mlpModel({ hidden: 32, seed: 41 });

  before(async () => {
    fx = await startFixture();
    fleet = await provisionFleet(
      { httpUrl: fx.cp.httpUrl, mqttUrl: fx.cp.mqttUrl, auth: fx.auth, dir: fx.dir.path },
      DEVICES.map((id) => ({ id })),
    );
    await fleet.agents.get('of-2')!.stop();
    await waitUntil(
      async () =>
        (await fleet.api().get('/api/v1/devices/of-2').set(fx.auth)).body.status === 'offline',
      10_000,
      'of-2 offline',
    );
  });
  after(async () => {
    await fleet?.stopAgents();
    await fx?.close();
    fx?.dir.cleanup();
  });

  it('skips a device still offline at its deadline and finishes with the others', async () => {
    const v1 = await uploadModel(fleet, 'v1', base);
    const created = await createRollout(fleet, {
      variantId: v1.variantId,
      selector: { deviceIds: DEVICES },
      strategy: { waves: [100], soakMs: 0 },
      deviceDeadlineMs: 3000,
    });
    const done = await waitForRollout(
      fleet,
      created.id,
      (r) => r.state !== 'running',
      45_000,
      'rollout',
    );
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    assert.deepEqual(
      done.targets.map((t) => [t.deviceId, t.step, t.error]),
      [
        ['of-1', 'done', null],
        ['of-2', 'skipped', 'offline until its deadline'],
      ],
    );
    assert.equal(fleet.agentActive('of-1').active, v1.sha256);
    assert.equal((await commandsOf(fleet, 'of-2')).length, 0);
  });

  it('lets a device that reconnects before its deadline catch up', async () => {
    const v2 = await uploadModel(fleet, 'v2', renamedCopy(base, 'v2'));
    const created = await createRollout(fleet, {
      variantId: v2.variantId,
      selector: { deviceIds: DEVICES },
      strategy: { waves: [100], soakMs: 0 },
      deviceDeadlineMs: 120_000,
    });
    await waitForRollout(
      fleet,
      created.id,
      (r) => r.targets.find((t) => t.deviceId === 'of-1')!.step === 'done',
      45_000,
      'of-1 done',
    );
    const waiting = await waitForRollout(fleet, created.id, () => true, 1000, 'view');
    assert.equal(waiting.state, 'running');
    assert.equal(waiting.targets.find((t) => t.deviceId === 'of-2')!.step, 'pending');
    await fleet.startAgent('of-2');
    const done = await waitForRollout(
      fleet,
      created.id,
      (r) => r.state !== 'running',
      45_000,
      'catch-up',
    );
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    assert.deepEqual(
      done.targets.map((t) => [t.deviceId, t.step]),
      [
        ['of-1', 'done'],
        ['of-2', 'done'],
      ],
    );
    assert.deepEqual(fleet.agentActive('of-2'), { active: v2.sha256, previous: null });
  });
});
