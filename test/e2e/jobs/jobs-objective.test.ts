import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { downloadArtifact, type ControlPlaneFixture } from '../control-plane/control-plane.fixture';
import {
  finished,
  jobRequest,
  postJob,
  startJobsFixture,
  stopFixture,
  waitForJob,
  type BaseModel,
} from './jobs.kit';

/**
 * A pipeline step is kept only if it is at least as good on the objective as its input: on this
 * tiny CNN the QDQ file (scales, zero points, Q/DQ nodes) is larger than the pruned float model
 * it came from, so under a size objective the job's result is the AAP result, the quantized
 * model stays a stored (rejected) candidate, and the view says the unreachable target was missed.
 */
describe('job result against its objective (real control plane and job process)', () => {
  let fx: ControlPlaneFixture;
  let base: BaseModel;
  before(async () => ({ fx, base } = await startJobsFixture()));
  after(() => stopFixture(fx));

  it('keeps the smaller input when the later step is larger, and reports the target as missed', async () => {
    const created = await postJob(
      fx,
      jobRequest(base.variantId, {
        name: 'larger quantized step',
        pipeline: ['aap', 'sqakd'],
        options: {
          aap: { maxRounds: 2, steps: 4, batchSize: 32, validationCount: 60 },
          sqakd: { bits: 'w8a8', epochs: 1, stepsPerEpoch: 2, batchSize: 32 },
        },
        objective: {
          metric: 'size',
          target: 0.9,
          maxAccuracyDrop: 50,
          device: { profileId: 'generic-x86-64' },
          latencySource: 'predicted',
        },
      }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const job = await waitForJob(fx, created.body.id, finished, 180_000, 'job finished');
    assert.equal(job.state, 'succeeded', job.error ?? '');

    const quantized = job.rounds.find((r) => r.method === 'sqakd')!;
    const aapFinal = job.rounds.find((r) => r.method === 'aap' && r.verdict === 'final');
    const aapResult = job.rounds
      .filter((r) => r.method === 'aap' && r.verdict !== 'final' && r.variantId)
      .find((r) => r.variantId === aapFinal?.variantId);
    assert.ok(quantized && aapResult, JSON.stringify(job.rounds));
    // The premise: the quantized file is larger than the AAP result it started from.
    assert.ok(
      quantized.bytes > aapResult.bytes,
      `sqakd ${quantized.bytes} vs aap ${aapResult.bytes}`,
    );
    assert.equal(quantized.verdict, 'rolled-back');
    assert.match(quantized.rejected!, /\d+ bytes is worse than its input's \d+ bytes/);
    assert.ok(quantized.variantId, 'the rejected model is still a stored variant');
    assert.ok(job.candidateVariantIds.includes(quantized.variantId));

    assert.equal(job.resultVariantId, aapFinal!.variantId);
    assert.notEqual(job.resultVariantId, quantized.variantId);
    assert.equal(job.objectiveMet, false);
    assert.match(job.objectiveNote!, /size reduced by -?\d+\.\d%, misses the 90\.0% target/);

    // The base is an engine file: every stored candidate also has an ONNX twin devices can run,
    // and the job names the result's twin as the deployable variant.
    assert.ok(job.deployableVariantId, 'a deployable result');
    const deployable = await fx
      .api()
      .get(`/api/v1/variants/${job.deployableVariantId}`)
      .set(fx.auth);
    assert.equal(deployable.body.format, 'onnx');
    assert.equal(deployable.body.parentVariantId, job.resultVariantId);
    for (const r of job.rounds.filter((r) => r.variantId && r.verdict !== 'baseline')) {
      assert.ok(r.onnxVariantId, `${r.method} round ${r.round} has an ONNX twin`);
      assert.ok(job.candidateVariantIds.includes(r.onnxVariantId));
    }
    const qdq = await downloadArtifact(fx, quantized.onnxVariantId!);
    assert.ok((qdq.body as Buffer).includes('DequantizeLinear'), 'the twin is QDQ ONNX');

    // Every candidate, the rejected one too, is listed among the model's variants.
    const variants = await fx.api().get(`/api/v1/variants?modelId=${base.modelId}`).set(fx.auth);
    assert.equal(variants.status, 200, JSON.stringify(variants.body));
    const listed = (variants.body as { id: string }[]).map((v) => v.id);
    for (const id of job.candidateVariantIds) assert.ok(listed.includes(id), id);

    // The rejected candidate is in the Pareto set's points, the result too.
    const pareto = await fx
      .api()
      .get(`/api/v1/variants/pareto?modelId=${base.modelId}&profileId=generic-x86-64`)
      .set(fx.auth);
    assert.equal(pareto.status, 200);
    const ids = (pareto.body.points as { variantId: string }[]).map((p) => p.variantId);
    assert.ok(ids.includes(quantized.variantId) && ids.includes(job.resultVariantId!));
  });
});
