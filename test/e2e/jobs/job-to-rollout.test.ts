/**
 * The whole loop on a small model: a job whose candidates are measured by the agents of a group
 * reaches its target, and its result is rolled out canary-first to that group until every
 * device runs it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startLatencyFleet, type LatencyFleet } from '../latency/latency-fleet.kit';
import {
  finished,
  jobRequest,
  measuredObjective,
  postJob,
  uploadBaseModel,
  waitForJob,
} from './jobs.kit';

describe('job with measured latency, then a rollout of its result', () => {
  let fleet: LatencyFleet;

  before(async () => {
    fleet = await startLatencyFleet([
      { id: 'loop-a', groups: ['edge'], run: true },
      { id: 'loop-b', groups: ['edge'], run: true },
    ]);
  });
  after(() => fleet?.close());

  it('meets a parameter target with measured latencies and rolls the winner out to the group', async () => {
    const { fx } = fleet;
    const base = await uploadBaseModel(fx, [8, 8, 1], 4, 'onnx');
    const created = await postJob(
      fx,
      jobRequest(base.variantId, {
        name: 'loop',
        options: { aap: { maxRounds: 4, steps: 4, batchSize: 32, validationCount: 60 } },
        objective: measuredObjective('edge', { target: 0.2, maxAccuracyDrop: 100, k: 2 }),
      }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const job = await waitForJob(fx, created.body.id, finished, 180_000, 'job finished');
    assert.equal(job.state, 'succeeded', job.error ?? '');
    const baseline = job.rounds[0]!;
    const final = job.rounds.at(-1)!;
    assert.equal(final.verdict, 'final');
    assert.ok(
      final.params <= 0.8 * baseline.params,
      `params ${baseline.params} -> ${final.params}`,
    );
    assert.equal(final.latencySource, 'measured');
    assert.ok(final.latencyMs! > 0);
    assert.ok(job.resultVariantId && job.resultVariantId !== base.variantId);

    const rollout = await fx
      .api()
      .post('/api/v1/rollouts')
      .set(fx.auth)
      .send({
        variantId: job.resultVariantId,
        selector: { group: 'edge' },
        strategy: { canary: { devices: 1 }, waves: [100], soakMs: 0 },
        abortRules: { maxFailureRate: 0 },
      });
    assert.equal(rollout.status, 201, JSON.stringify(rollout.body));
    const deadline = Date.now() + 120_000;
    let view = rollout.body as { state: string; targets: { deviceId: string; step: string }[] };
    while (view.state === 'running' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      view = (await fx.api().get(`/api/v1/rollouts/${rollout.body.id}`).set(fx.auth)).body;
    }
    assert.equal(view.state, 'succeeded', JSON.stringify(view));
    assert.deepEqual(view.targets.map((t) => [t.deviceId, t.step]).sort(), [
      ['loop-a', 'done'],
      ['loop-b', 'done'],
    ]);
    for (const id of ['loop-a', 'loop-b']) {
      const device = await fx.api().get(`/api/v1/devices/${id}`).set(fx.auth);
      assert.equal(device.body.activeVariant?.variantId, job.resultVariantId, id);
    }
  });
});
