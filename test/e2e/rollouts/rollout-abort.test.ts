/**
 * Automatic aborts over three real agents: a device whose new variant is much slower than the
 * variant it ran before (both measured by its own agent) aborts the rollout in the last wave,
 * and every device already switched goes back to its previous variant; a variant whose answers
 * drift from the previous one's on the probe batch is stopped at the canary.
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
  rotatedClasses,
  uploadModel,
  waitForRollout,
  type Fleet,
  type Variant,
} from './rollout-fleet.kit';

const DEVICES = ['ab-1', 'ab-2', 'ab-3'];

describe('rollout aborts (real agents, broker, SQLite)', () => {
  let fx: ControlPlaneFixture;
  let fleet: Fleet;
  // 64 → 16384 → 10 against 64 → 4 → 10: per run the wide one costs about ten times more
  // (measured: 0.33 ms against 0.036 ms p50; fixed per-run overhead keeps the ratio far below the FLOPs').
  const wide = mlpModel({ hidden: 16384, seed: 21 });
  const narrow = mlpModel({ hidden: 4, seed: 22 });
  let wideV: Variant;
  let narrowV: Variant;

  before(async () => {
    fx = await startFixture();
    fleet = await provisionFleet(
      { httpUrl: fx.cp.httpUrl, mqttUrl: fx.cp.mqttUrl, auth: fx.auth, dir: fx.dir.path },
      DEVICES.map((id) => ({ id })),
    );
    wideV = await uploadModel(fleet, 'wide', wide);
    narrowV = await uploadModel(fleet, 'narrow', narrow);
    // ab-1 and ab-2 run the wide model, ab-3 the narrow one; each install benchmarks it there.
    const installs = await Promise.all([
      createRollout(fleet, {
        variantId: wideV.variantId,
        selector: { deviceIds: ['ab-1', 'ab-2'] },
        strategy: { waves: [100], soakMs: 0 },
      }),
      createRollout(fleet, {
        variantId: narrowV.variantId,
        selector: { deviceIds: ['ab-3'] },
        strategy: { waves: [100], soakMs: 0 },
      }),
    ]);
    for (const r of installs) {
      const done = await waitForRollout(
        fleet,
        r.id,
        (x) => x.state !== 'running',
        60_000,
        'install',
      );
      assert.equal(done.state, 'succeeded', JSON.stringify(done));
    }
  });
  after(async () => {
    await fleet?.stopAgents();
    await fx?.close();
    fx?.dir.cleanup();
  });

  it('aborts on a p50 regression in the last wave and rolls back every switched device', async () => {
    const next = await uploadModel(fleet, 'wide-next', renamedCopy(wide, 'next'));
    const created = await createRollout(fleet, {
      variantId: next.variantId,
      selector: { deviceIds: DEVICES },
      strategy: { canary: { devices: 1 }, waves: [50, 100], soakMs: 0 },
      abortRules: { maxLatencyRegression: 3 },
    });
    assert.deepEqual(
      created.waves.map((w) => w.deviceIds),
      [['ab-1'], ['ab-2'], ['ab-3']],
    );
    const done = await waitForRollout(
      fleet,
      created.id,
      (r) =>
        r.state === 'aborted' && r.targets.filter((t) => t.step === 'rolled-back').length === 2,
      60_000,
      'abort and rollbacks',
    );
    assert.match(done.reason!, /^device ab-3: p50 .* the previous variant's .* \(limit 3x\)$/);
    const byId = new Map(done.targets.map((t) => [t.deviceId, t]));
    assert.equal(byId.get('ab-3')!.step, 'failed');
    assert.ok(byId.get('ab-3')!.p50Ms! > 3 * byId.get('ab-3')!.previousP50Ms!);
    for (const id of ['ab-1', 'ab-2']) {
      const t = byId.get(id)!;
      assert.equal(t.step, 'rolled-back');
      assert.ok(t.p50Ms! <= 3 * t.previousP50Ms!, JSON.stringify(t));
      // The agent itself runs the previous variant again.
      assert.equal(fleet.agentActive(id).active, wideV.sha256);
      const rollbacks = (await commandsOf(fleet, id)).filter((c) => c.type === 'rollback');
      assert.equal(rollbacks.length, 1);
      assert.equal(rollbacks[0]!.command.to?.sha256, wideV.sha256);
    }
    assert.equal(fleet.agentActive('ab-3').active, narrowV.sha256);
    assert.equal(
      (await commandsOf(fleet, 'ab-3')).filter(
        (c) => c.type === 'activate' && c.command.artifact?.sha256 === next.sha256,
      ).length,
      0,
    );
    assert.deepEqual(
      done.waves.map((w) => w.state),
      ['done', 'done', 'aborted'],
    );
    await waitUntil(
      async () =>
        (await fleet.api().get('/api/v1/devices/ab-2').set(fx.auth)).body.activeVariant
          ?.artifactSha256 === wideV.sha256,
      10_000,
      'control plane sees ab-2 back on the wide model',
    );
  });

  it('stops at the canary when the new variant disagrees with the previous one on the probe batch', async () => {
    const drifted = await uploadModel(fleet, 'wide-rotated', rotatedClasses(wide));
    const created = await createRollout(fleet, {
      variantId: drifted.variantId,
      selector: { deviceIds: ['ab-1', 'ab-2'] },
      strategy: { canary: { devices: 1 }, waves: [100], soakMs: 0 },
      abortRules: { minAgreement: 0.9, maxLatencyRegression: 3 },
    });
    const done = await waitForRollout(
      fleet,
      created.id,
      (r) => r.state !== 'running',
      45_000,
      'drift abort',
    );
    assert.equal(done.state, 'aborted');
    assert.match(
      done.reason!,
      /^device ab-1: agreement with the previous variant 0\.0% is below 90\.0%$/,
    );
    assert.deepEqual(
      done.targets.map((t) => [t.deviceId, t.step, t.agreement]),
      [
        ['ab-1', 'failed', 0],
        ['ab-2', 'skipped', null],
      ],
    );
    for (const id of ['ab-1', 'ab-2']) assert.equal(fleet.agentActive(id).active, wideV.sha256);
    assert.equal(
      (await commandsOf(fleet, 'ab-2')).filter((c) => c.command.artifact?.sha256 === drifted.sha256)
        .length,
      0,
    );
  });
});
