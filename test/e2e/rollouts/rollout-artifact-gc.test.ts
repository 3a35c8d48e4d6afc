/**
 * Garbage collection never takes a file that is in use: the variant a running rollout switches
 * devices to (its model cannot be deleted meanwhile), the drift-probe sample its devices fetch,
 * and a pinned file such as a latency candidate being measured. Once the rollout ends (or the
 * pin is released) the same collection takes them. The device is scripted (it holds its
 * benchmark open on cue); broker, control plane, SQLite and the artifact store are real.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ArtifactsService } from '../../../apps/control-plane/src/artifacts/artifacts.service';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import { waitUntil } from '../agent/agent-test-kit';
import { startFixture, type ControlPlaneFixture } from '../control-plane/control-plane.fixture';
import {
  createRollout,
  provisionFleet,
  renamedCopy,
  uploadModel,
  waitForRollout,
  type Fleet,
} from './rollout-fleet.kit';
import { ScriptedDevice } from './scripted-device';

interface GcResult {
  deleted: string[];
  orphanFiles: string[];
}

describe('artifact garbage collection and files in use (scripted device, real store)', () => {
  let fx: ControlPlaneFixture;
  let fleet: Fleet;
  let device: ScriptedDevice | undefined;
  const base = mlpModel({ hidden: 16, seed: 61 });
  const fileOf = (sha: string) => join(fx.dir.path, 'artifacts', 'sha256', sha.slice(0, 2), sha);
  const gc = async (): Promise<GcResult> => {
    const res = await fleet.api().post('/api/v1/artifacts/gc').set(fx.auth);
    assert.equal(res.status, 201, res.text);
    return res.body as GcResult;
  };

  before(async () => {
    fx = await startFixture();
    fleet = await provisionFleet(
      { httpUrl: fx.cp.httpUrl, mqttUrl: fx.cp.mqttUrl, auth: fx.auth, dir: fx.dir.path },
      [],
    );
  });
  after(async () => {
    await device?.stop();
    await fx?.close();
    fx?.dir.cleanup();
  });

  it("keeps a running rollout's variant and probe sample, refuses to delete its model, and lets both go after the abort", async () => {
    const previous = await uploadModel(fleet, 'gc-previous', renamedCopy(base, 'previous'));
    const next = await uploadModel(fleet, 'gc-next', renamedCopy(base, 'next'));
    const res = await fleet
      .api()
      .post('/api/v1/devices')
      .set(fx.auth)
      .send({ id: 'gc-1', name: 'gc-1' });
    assert.equal(res.status, 201, res.text);
    // Runs the previous variant; answers everything but the new variant's benchmark, which it
    // holds open so the rollout stays running with its probe published.
    device = new ScriptedDevice({
      brokerUrl: fx.cp.mqttUrl,
      deviceId: 'gc-1',
      password: res.body.mqtt.password as string,
      active: previous.sha256,
      script: ({ command }) =>
        command.type === 'benchmark' && command.artifact.sha256 === next.sha256
          ? 'no-answer'
          : undefined,
    });
    await device.start();
    await waitUntil(
      async () =>
        (await fleet.api().get('/api/v1/devices/gc-1').set(fx.auth)).body.status === 'online',
      10_000,
      'gc-1 online',
    );
    const rollout = await createRollout(fleet, {
      variantId: next.variantId,
      selector: { deviceIds: ['gc-1'] },
      strategy: { waves: [100], soakMs: 0 },
    });
    // The new variant's benchmark, with the drift probe it carries.
    const heldBenchmark = () => {
      for (const { command } of device!.commands('benchmark'))
        if (command.type === 'benchmark' && command.artifact.sha256 === next.sha256) return command;
      return undefined;
    };
    await waitUntil(() => heldBenchmark() !== undefined, 20_000, 'the new variant benchmark');
    const sample = heldBenchmark()!.accuracySample?.sha256;
    assert.ok(sample, 'the benchmark carries the drift probe');
    assert.ok(existsSync(fileOf(sample)));

    const refused = await fleet.api().delete(`/api/v1/models/${next.modelId}`).set(fx.auth);
    assert.equal(refused.status, 409, refused.text);
    assert.match(refused.text, new RegExp(`being rolled out by ${rollout.id} \\(running\\)`));
    const refusedVariant = await fleet
      .api()
      .delete(`/api/v1/variants/${next.variantId}`)
      .set(fx.auth);
    assert.equal(refusedVariant.status, 409, 'the original variant goes with its model anyway');

    const during = await gc();
    assert.ok(!during.deleted.includes(sample), 'the probe sample of a running rollout stays');
    assert.ok(!during.deleted.includes(next.sha256));
    assert.ok(existsSync(fileOf(sample)) && existsSync(fileOf(next.sha256)));

    const aborted = await fleet
      .api()
      .post(`/api/v1/rollouts/${rollout.id}/abort`)
      .set(fx.auth)
      .send({ reason: 'test' });
    assert.ok(aborted.status < 300, aborted.text);
    await waitForRollout(fleet, rollout.id, (r) => r.state === 'aborted', 10_000, 'aborted');
    const afterAbort = await gc();
    assert.deepEqual(afterAbort.deleted, [sample], 'the sample goes once its rollout ended');
    assert.ok(!existsSync(fileOf(sample)));

    const deleted = await fleet.api().delete(`/api/v1/models/${next.modelId}`).set(fx.auth);
    assert.equal(deleted.status, 200, deleted.text);
    assert.deepEqual((deleted.body as GcResult).deleted, [next.sha256]);
    assert.ok(!existsSync(fileOf(next.sha256)));
    assert.ok(existsSync(fileOf(previous.sha256)), 'a file a variant still refers to stays');
  });

  it('keeps a pinned file with no row until the pin is released', async () => {
    const artifacts = fx.cp.app.get(ArtifactsService);
    const stored = artifacts.storeBuffer(randomBytes(4096));
    const release = artifacts.pin(stored.sha256);
    const pinned = await gc();
    assert.ok(!pinned.orphanFiles.includes(stored.sha256));
    assert.ok(existsSync(fileOf(stored.sha256)));
    release();
    release(); // a second release changes nothing
    const released = await gc();
    assert.deepEqual(released.orphanFiles, [stored.sha256]);
    assert.ok(!existsSync(fileOf(stored.sha256)));
  });
});
