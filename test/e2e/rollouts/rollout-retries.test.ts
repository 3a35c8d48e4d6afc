/**
 * Retries of rollout steps: a step a device fails with an error it marks retryable is sent
 * again after a backoff that doubles, up to the strategy's `retries`; a non-retryable error
 * fails the device at once. The devices are scripted protocol clients (no agent: a real agent
 * cannot be made to fail only its first deploy on cue); the broker, control plane and SQLite
 * are real.
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
  type RolloutBody,
} from './rollout-fleet.kit';
import { ScriptedDevice, type Script } from './scripted-device';

type RetriedTarget = RolloutBody['targets'][number] & { retries: number; retryAt: string | null };

describe('rollout retries after retryable device errors (scripted devices, real broker and SQLite)', () => {
  let fx: ControlPlaneFixture;
  let fleet: Fleet;
  const devices: ScriptedDevice[] = [];
  const base = mlpModel({ hidden: 16, seed: 51 });

  before(async () => {
    fx = await startFixture();
    fleet = await provisionFleet(
      { httpUrl: fx.cp.httpUrl, mqttUrl: fx.cp.mqttUrl, auth: fx.auth, dir: fx.dir.path },
      [],
    );
  });
  after(async () => {
    await Promise.all(devices.map((d) => d.stop()));
    await fx?.close();
    fx?.dir.cleanup();
  });

  async function scripted(id: string, script: Script): Promise<ScriptedDevice> {
    const res = await fleet.api().post('/api/v1/devices').set(fx.auth).send({ id, name: id });
    assert.equal(res.status, 201, res.text);
    const device = new ScriptedDevice({
      brokerUrl: fx.cp.mqttUrl,
      deviceId: id,
      password: res.body.mqtt.password as string,
      script,
    });
    devices.push(device);
    await device.start();
    const deadline = Date.now() + 10_000;
    while ((await fleet.api().get(`/api/v1/devices/${id}`).set(fx.auth)).body.status !== 'online') {
      if (Date.now() > deadline) throw new Error(`${id} never came online`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return device;
  }

  async function rollOut(id: string, tag: string, strategy: Record<string, unknown>) {
    const variant = await uploadModel(fleet, tag, renamedCopy(base, tag));
    const created = await createRollout(fleet, {
      variantId: variant.variantId,
      selector: { deviceIds: [id] },
      strategy: { waves: [100], soakMs: 0, ...strategy },
    });
    const done = await waitForRollout(fleet, created.id, (r) => r.state !== 'running', 30_000, tag);
    return { variant, done, target: done.targets[0] as RetriedTarget };
  }

  it('sends a deploy the device was BUSY for again after the backoff, and the rollout completes', async () => {
    const device = await scripted('rt-busy', ({ command, nth }) =>
      command.type === 'deploy' && nth === 1
        ? { type: 'error', code: 'BUSY', message: 'another deploy is running', retryable: true }
        : undefined,
    );
    const { variant, done, target } = await rollOut('rt-busy', 'busy', { retryBackoffMs: 400 });
    assert.equal(done.state, 'succeeded', JSON.stringify(done));
    assert.equal(target.step, 'done');
    assert.equal(target.retries, 1);
    assert.equal(target.retryAt, null);
    assert.equal(target.error, null, 'the retry that succeeded clears the error');
    const deploys = device.commands('deploy');
    assert.equal(deploys.length, 2);
    assert.notEqual(
      deploys[0]!.command.id,
      deploys[1]!.command.id,
      'a new command, not a redelivery',
    );
    const gap = deploys[1]!.receivedAt - deploys[0]!.receivedAt;
    assert.ok(gap >= 400, `the retry came ${gap} ms after the failure, before the 400 ms backoff`);
    assert.deepEqual(
      device.received.map((r) => r.command.type),
      ['deploy', 'deploy', 'benchmark', 'activate'],
    );
    const stored = await commandsOf(fleet, 'rt-busy');
    assert.deepEqual(
      stored.map((c) => [c.type, c.status]),
      [
        ['deploy', 'failed'],
        ['deploy', 'succeeded'],
        ['benchmark', 'succeeded'],
        ['activate', 'succeeded'],
      ],
    );
    assert.ok(stored.every((c) => c.command.artifact?.sha256 === variant.sha256));
  });

  it('gives up after the allowed retries, the backoff doubling, and fails the device', async () => {
    const device = await scripted('rt-timeout', ({ command }) =>
      command.type === 'benchmark'
        ? { type: 'error', code: 'TIMEOUT', message: 'benchmark over its budget', retryable: true }
        : undefined,
    );
    const { done, target } = await rollOut('rt-timeout', 'timeout', {
      retries: 2,
      retryBackoffMs: 250,
    });
    assert.equal(done.state, 'aborted', JSON.stringify(done));
    assert.equal(target.step, 'failed');
    assert.equal(target.retries, 2);
    assert.match(target.error ?? '', /^benchmark: TIMEOUT: benchmark over its budget$/);
    const benchmarks = device.commands('benchmark');
    assert.equal(benchmarks.length, 3, 'the first attempt and two retries');
    const gaps = [1, 2].map((i) => benchmarks[i]!.receivedAt - benchmarks[i - 1]!.receivedAt);
    assert.ok(gaps[0]! >= 250, `first retry after ${gaps[0]} ms`);
    assert.ok(gaps[1]! >= 500, `second retry after ${gaps[1]} ms: the backoff doubles`);
    assert.equal(device.commands('activate').length, 0, 'a device that failed is never activated');
  });

  it('fails at once on an error the device did not mark retryable', async () => {
    const device = await scripted('rt-bad', ({ command }) =>
      command.type === 'deploy'
        ? { type: 'error', code: 'SIGNATURE_INVALID', message: 'untrusted key', retryable: false }
        : undefined,
    );
    const { done, target } = await rollOut('rt-bad', 'bad', { retries: 3, retryBackoffMs: 100 });
    assert.equal(done.state, 'aborted');
    assert.equal(target.step, 'failed');
    assert.equal(target.retries, 0);
    assert.equal(target.error, 'deploy: SIGNATURE_INVALID: untrusted key');
    assert.equal(device.commands('deploy').length, 1);
  });

  it('refuses a strategy with more retries than allowed, creating nothing', async () => {
    const variant = await uploadModel(fleet, 'too-many', renamedCopy(base, 'too-many'));
    const res = await fleet
      .api()
      .post('/api/v1/rollouts')
      .set(fx.auth)
      .send({
        variantId: variant.variantId,
        selector: { deviceIds: ['rt-bad'] },
        strategy: { waves: [100], soakMs: 0, retries: 11 },
      });
    assert.equal(res.status, 400, res.text);
    assert.match(res.text, /retries/);
    const list = await fleet.api().get('/api/v1/rollouts').set(fx.auth);
    assert.ok(
      (list.body as { variantId: string }[]).every((r) => r.variantId !== variant.variantId),
    );
  });
});
