/**
 * A job whose latency comes from the fleet: real agent processes of a group benchmark every
 * candidate (AAP rounds, then the SQAKD-quantized model) through the control plane's latency
 * service, and the rounds carry the measured p50 beside the calibrated prediction.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startLatencyFleet, type LatencyFleet } from '../latency/latency-fleet.kit';
import { downloadArtifact } from '../control-plane/control-plane.fixture';
import {
  finished,
  jobRequest,
  measuredObjective,
  postJob,
  uploadBaseModel,
  waitForJob,
} from './jobs.kit';

describe('compression job with measured latency (real agents, embedded broker)', () => {
  let fleet: LatencyFleet;

  before(async () => {
    fleet = await startLatencyFleet([
      { id: 'job-a', groups: ['lab'], run: true },
      { id: 'job-b', groups: ['lab'], run: true },
    ]);
  });
  after(() => fleet?.close());

  it('measures every candidate on a device of the group and quantizes the AAP result with SQAKD', async () => {
    const { fx } = fleet;
    // ONNX in, ONNX variants out: the float AAP rounds and the QDQ SQAKD model can be deployed.
    const base = await uploadBaseModel(fx, [8, 8, 1], 4, 'onnx');
    const created = await postJob(
      fx,
      jobRequest(base.variantId, {
        name: 'measured',
        pipeline: ['aap', 'sqakd'],
        options: {
          aap: { maxRounds: 2, steps: 4, batchSize: 32, validationCount: 60 },
          sqakd: { bits: 'w8a8', epochs: 1, stepsPerEpoch: 3, batchSize: 32 },
        },
        objective: measuredObjective('lab', { target: 0.3, maxAccuracyDrop: 50 }),
      }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const job = await waitForJob(fx, created.body.id, finished, 180_000, 'measured job finished');
    assert.equal(job.state, 'succeeded', job.error ?? '');

    const aap = job.rounds.filter((r) => r.method === 'aap');
    assert.ok(aap.length >= 2, JSON.stringify(job.rounds));
    for (const r of aap) {
      // Rounds over the accuracy budget (rolled back) are predicted: they can never be kept.
      if (r.verdict !== 'rolled-back')
        assert.equal(r.latencySource, 'measured', `round ${r.round}`);
      assert.ok(r.latencyMs! > 0, `round ${r.round} p50 ${r.latencyMs}`);
      assert.ok(r.predictedMs! > 0, `round ${r.round} has the prediction beside it`);
    }
    const log = (await fx.api().get(`/api/v1/jobs/${job.id}/log`).set(fx.auth)).body as {
      message: string;
    }[];
    const counts = log
      .map((l) => /^fleet measurements asked for: (\d+); .* instead: (\d+)$/.exec(l.message))
      .find(Boolean);
    assert.ok(counts, JSON.stringify(log));
    const predictedRounds = aap.filter(
      (r) => r.latencySource === 'predicted' && r.verdict !== 'final',
    );
    assert.equal(Number(counts[2]), predictedRounds.length);
    assert.ok(Number(counts[1]) >= 1);
    const sqakd = job.rounds.filter((r) => r.method === 'sqakd');
    assert.equal(sqakd.length, 1);
    const quantized = sqakd[0]!;
    assert.equal(quantized.verdict, 'final');
    assert.equal(quantized.latencySource, 'measured');
    assert.ok(quantized.latencyMs! > 0);
    assert.equal(job.resultVariantId, quantized.variantId);

    // The quantized variant descends from the AAP result and records the quantization.
    const variant = await fx.api().get(`/api/v1/variants/${quantized.variantId}`).set(fx.auth);
    assert.equal(variant.body.method, 'sqakd');
    assert.equal(variant.body.format, 'onnx');
    const file = await downloadArtifact(fx, quantized.variantId!);
    assert.equal(file.status, 200);
    assert.ok((file.body as Buffer).includes('DequantizeLinear'), 'a QDQ ONNX file');
    assert.equal((file.body as Buffer).length, quantized.bytes);
    assert.equal(variant.body.options.bits, 'w8a8');
    assert.equal(variant.body.provenance.latencySource, 'measured');
    const aapVariants = aap
      .filter((r) => r.variantId && r.verdict === 'kept')
      .map((r) => r.variantId);
    assert.ok(
      [...aapVariants, base.variantId].includes(variant.body.parentVariantId),
      `parent ${variant.body.parentVariantId}`,
    );

    // Every distinct candidate was benchmarked by an agent of the group, none twice on one device.
    const benchmarks = fleet.benchmarks();
    assert.ok(benchmarks.length >= 2, `benchmarks sent: ${benchmarks.length}`);
    assert.ok(benchmarks.every((c) => ['job-a', 'job-b'].includes(c.deviceId)));
    assert.ok(
      benchmarks.every((c) => c.status === 'succeeded'),
      JSON.stringify(benchmarks.map((c) => c.status)),
    );
    const perDeviceArtifact = benchmarks.map(
      (c) =>
        `${c.deviceId}/${JSON.stringify((c.command as { artifact?: unknown }).artifact ?? c.command)}`,
    );
    assert.equal(new Set(perDeviceArtifact).size, perDeviceArtifact.length);
  });

  it('keeps measuring on another device of the group when the measuring agent is killed mid-job', async () => {
    const { fx } = fleet;
    const before = new Set(fleet.commands.list({ limit: 10_000 }).map((c) => c.id));
    const base = await uploadBaseModel(fx, [8, 8, 1], 3);
    const created = await postJob(
      fx,
      jobRequest(base.variantId, {
        name: 'agent lost',
        options: { aap: { maxRounds: 3, steps: 30, batchSize: 32, validationCount: 60 } },
        objective: measuredObjective('lab', { target: 0.9, maxAccuracyDrop: 100 }),
      }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;
    const started = await waitForJob(
      fx,
      id,
      (j) => j.rounds.length >= 1 || finished(j),
      120_000,
      'baseline measured',
    );
    assert.equal(started.rounds[0]!.latencySource, 'measured');
    const measuredBy = fleet
      .benchmarks()
      .filter((c) => !before.has(c.id))
      .map((c) => c.deviceId);
    assert.deepEqual(measuredBy, ['job-a'], 'the first device of the group measured the baseline');
    await fleet.agents.get('job-a')!.kill9();

    const job = await waitForJob(fx, id, finished, 180_000, 'job finished without job-a');
    assert.equal(job.state, 'succeeded', job.error ?? '');
    const later = job.rounds.filter((r) => r.round > 0 && r.verdict !== 'final');
    assert.ok(later.length >= 1);
    for (const r of later) assert.equal(r.latencySource, 'measured', `round ${r.round}`);
    const afterKill = fleet.benchmarks('job-b').filter((c) => !before.has(c.id));
    assert.ok(afterKill.length >= later.length, `job-b measured ${afterKill.length} candidates`);
  });
});
