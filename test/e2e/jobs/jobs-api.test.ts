/**
 * Compression jobs through the REST API on a real control plane (SQLite file, embedded broker,
 * job child processes): validation, a predicted-latency job from queue to variants and the
 * Pareto view, the event stream, and cancellation.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ControlPlaneFixture } from '../control-plane/control-plane.fixture';
import type { JobRoundRecord } from '../../../apps/control-plane/src/jobs/job.types';
import {
  finished,
  getJob,
  postJob,
  jobRequest,
  startJobsFixture,
  stopFixture,
  waitForJob,
  type BaseModel,
} from './jobs.kit';

describe('compression jobs over REST', () => {
  let fx: ControlPlaneFixture;
  let base: BaseModel;
  before(async () => ({ fx, base } = await startJobsFixture()));
  after(() => stopFixture(fx));

  const post = (body: object) => postJob(fx, body);

  it('refuses bad requests with 400/404 and queues nothing', async () => {
    const unknown = await post(jobRequest('var_does_not_exist'));
    assert.equal(unknown.status, 404);
    assert.match(unknown.body.message, /variant "var_does_not_exist" not found/);

    const empty = await post(jobRequest(base.variantId, { pipeline: [] }));
    assert.equal(empty.status, 400);
    assert.match(JSON.stringify(empty.body.message), /at least one method/);

    const method = await post(jobRequest(base.variantId, { pipeline: ['prune-everything'] }));
    assert.equal(method.status, 400);
    const order = await post(jobRequest(base.variantId, { pipeline: ['sqakd', 'aap'] }));
    assert.equal(order.status, 400);
    assert.match(order.body.message, /aap before sqakd/);
    const twice = await post(jobRequest(base.variantId, { pipeline: ['aap', 'aap'] }));
    assert.equal(twice.status, 400);

    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { metric: 'params', target: 80, maxAccuracyDrop: 1, latencySource: 'predicted' },
        /fraction to remove/,
      ],
      [
        { metric: 'latency', target: 2, maxAccuracyDrop: 1, latencySource: 'measured' },
        /needs objective.device/,
      ],
      [
        { metric: 'accuracy', target: 0.5, maxAccuracyDrop: 1, latencySource: 'predicted' },
        /takes no target/,
      ],
      [
        {
          metric: 'latency',
          target: 2,
          maxAccuracyDrop: 1,
          latencySource: 'predicted',
          device: { profileId: 'no-such-board' },
        },
        /profile "no-such-board" not found/,
      ],
      [{ metric: 'speed', maxAccuracyDrop: 1, latencySource: 'predicted' }, /metric/],
      [
        { metric: 'params', target: 0.5, maxAccuracyDrop: -1, latencySource: 'predicted' },
        /maxAccuracyDrop/,
      ],
    ];
    for (const [objective, message] of cases) {
      const res = await post(jobRequest(base.variantId, { objective }));
      assert.ok(
        res.status === 400 || res.status === 404,
        `${JSON.stringify(objective)} -> ${res.status}`,
      );
      assert.match(String(res.body.message), message);
    }
    const extra = await post({ ...jobRequest(base.variantId), shell: 'rm -rf /' });
    assert.equal(extra.status, 400);

    const list = await fx.api().get('/api/v1/jobs').set(fx.auth);
    assert.deepEqual(list.body, []);
    assert.equal((await fx.api().get('/api/v1/jobs/job_nope').set(fx.auth)).status, 404);
    assert.equal((await fx.api().post('/api/v1/jobs/job_nope/cancel').set(fx.auth)).status, 404);
    assert.equal((await fx.api().get('/api/v1/jobs').set({})).status, 401);
  });

  it('runs an AAP job with predicted latency to succeeded: rounds, variants, Pareto set', async () => {
    const created = await post(
      jobRequest(base.variantId, {
        name: 'predicted',
        objective: {
          metric: 'params',
          target: 0.4,
          maxAccuracyDrop: 50,
          device: { profileId: 'generic-x86-64' },
          latencySource: 'predicted',
        },
      }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.state, 'queued');
    const job = await waitForJob(fx, created.body.id, finished, 180_000, 'job finished');
    assert.equal(job.state, 'succeeded', job.error ?? '');
    assert.equal(job.progress.fraction, 1);

    const [baseline, ...rest] = job.rounds;
    assert.equal(baseline!.verdict, 'baseline');
    assert.equal(baseline!.variantId, base.variantId);
    assert.equal(baseline!.latencySource, 'predicted');
    assert.ok(baseline!.latencyMs! > 0 && baseline!.latencyMs === baseline!.predictedMs);
    const final = job.rounds.at(-1)!;
    assert.equal(final.verdict, 'final');
    assert.equal(job.resultVariantId, final.variantId);
    const kept = rest.filter((r) => r.verdict === 'kept');
    assert.ok(kept.length >= 1, JSON.stringify(job.rounds));
    for (const r of kept) {
      assert.ok(r.variantId, `round ${r.round} has a variant`);
      assert.ok(r.params < baseline!.params, 'pruned rounds have fewer parameters');
      assert.ok(r.latencyMs! > 0 && r.latencyMs! <= baseline!.latencyMs!, 'and predict no slower');
    }
    // The base is an engine file: each kept round is stored as such and as its ONNX twin.
    assert.deepEqual(
      job.candidateVariantIds,
      kept.flatMap((r) => [r.variantId, r.onnxVariantId]),
    );
    assert.equal(job.deployableVariantId, final.onnxVariantId);
    assert.deepEqual(
      job.rounds.map((r) => r.round),
      [...new Set(job.rounds.map((r) => r.round))],
      'each round once',
    );

    // Every kept round is a stored variant of the base model, with the job in its provenance.
    const variant = await fx.api().get(`/api/v1/variants/${kept[0]!.variantId}`).set(fx.auth);
    assert.equal(variant.status, 200);
    assert.equal(variant.body.modelId, base.modelId);
    assert.equal(variant.body.method, 'aap');
    assert.equal(variant.body.provenance.jobId, job.id);
    assert.equal(variant.body.provenance.round, kept[0]!.round);
    assert.equal(variant.body.params, kept[0]!.params);

    const pareto = await fx
      .api()
      .get(`/api/v1/variants/pareto?modelId=${base.modelId}&profileId=generic-x86-64`)
      .set(fx.auth);
    assert.equal(pareto.status, 200, JSON.stringify(pareto.body));
    const ids = (pareto.body.points as { variantId: string }[]).map((p) => p.variantId);
    // One point per candidate: the engine round, naming its ONNX twin as what devices run.
    for (const id of [base.variantId, ...kept.map((r) => r.variantId!)])
      assert.ok(ids.includes(id), id);
    for (const r of kept)
      assert.ok(!ids.includes(r.onnxVariantId!), 'the twin is no point of its own');
    const deployable = new Map(
      (pareto.body.points as { variantId: string; deployableVariantId?: string }[]).map((p) => [
        p.variantId,
        p.deployableVariantId,
      ]),
    );
    for (const r of kept) assert.equal(deployable.get(r.variantId!), r.onnxVariantId);
    const pruned = (
      pareto.body.points as { variantId: string; p50Ms: number; latencySource: string }[]
    ).find((p) => p.variantId === kept[0]!.variantId)!;
    assert.equal(pruned.p50Ms, kept[0]!.latencyMs);
    assert.equal(pruned.latencySource, 'predicted');
    assert.ok((pareto.body.pareto as string[]).length >= 1);
    assert.ok((pareto.body.pareto as string[]).every((id) => ids.includes(id)));
    assert.equal(
      (await fx.api().get('/api/v1/variants/pareto').set(fx.auth)).status,
      400,
      'modelId is required',
    );

    // The job's files are gone; its variants stay.
    assert.equal(existsSync(join(fx.dir.path, 'jobs', job.id)), false);
  });

  it('streams state, progress and rounds over SSE until the job ends', async () => {
    const created = await post(
      jobRequest(base.variantId, {
        name: 'streamed',
        pipeline: ['aap', 'sqakd'],
        options: {
          aap: { maxRounds: 2, steps: 4, batchSize: 32, validationCount: 60 },
          sqakd: { bits: 'w4a8', epochs: 1, stepsPerEpoch: 2, batchSize: 32 },
        },
      }),
    );
    assert.equal(created.status, 201);
    const res = await fetch(`${fx.cp.httpUrl}/api/v1/jobs/${created.body.id}/events`, {
      headers: fx.auth,
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const text = await res.text(); // ends when the job finishes
    const events = text
      .split('\n\n')
      .filter((block) => block.includes('data:'))
      .map((block) => ({
        type: /event: (\w+)/.exec(block)?.[1],
        data: JSON.parse(/data: (.*)/.exec(block)![1]!) as Record<string, unknown>,
      }));
    const kinds = new Set(events.map((e) => e.type));
    for (const k of ['state', 'progress', 'round']) assert.ok(kinds.has(k), `has ${k} events`);
    assert.equal(events[0]!.type, 'state');
    const last = events.at(-1)!;
    assert.equal(last.type, 'state');
    assert.equal(last.data.state, 'succeeded', String(last.data.error));
    const rounds = events
      .filter((e) => e.type === 'round')
      .map((e) => `${String(e.data.method)}:${String(e.data.round)}`);
    const recorded = last.data.rounds as JobRoundRecord[];
    assert.deepEqual(
      rounds,
      recorded.map((r) => `${r.method}:${r.round}`),
    );
    // SQAKD on the AAP result closes the job, with a predicted latency like every round.
    const quantized = recorded.at(-1)!;
    assert.equal(quantized.method, 'sqakd');
    assert.equal(quantized.verdict, 'final');
    assert.equal(quantized.latencySource, 'predicted');
    assert.ok(quantized.latencyMs! > 0);
    assert.equal(last.data.resultVariantId, quantized.variantId);
  });

  it('cancels a running job: the child is stopped and the job is cancelled', async () => {
    const created = await post(
      jobRequest(base.variantId, {
        name: 'long',
        options: { aap: { maxRounds: 100, steps: 400, batchSize: 32, validationCount: 60 } },
      }),
    );
    assert.equal(created.status, 201);
    const id = created.body.id as string;
    await waitForJob(
      fx,
      id,
      (j) => j.state === 'running' && j.rounds.length >= 1,
      90_000,
      'baseline',
    );
    const cancel = await fx.api().post(`/api/v1/jobs/${id}/cancel`).set(fx.auth);
    assert.equal(cancel.status, 202);
    const job = await waitForJob(fx, id, finished, 30_000, 'cancelled');
    assert.equal(job.state, 'cancelled');
    assert.ok(job.finishedAt);
    assert.equal(existsSync(join(fx.dir.path, 'jobs', id)), false);
    const again = await fx.api().post(`/api/v1/jobs/${id}/cancel`).set(fx.auth);
    assert.equal(again.status, 409);

    // A queued job is cancelled at once, and never starts.
    const blocker = await post(jobRequest(base.variantId, { name: 'blocker' }));
    const queued = await post(jobRequest(base.variantId, { name: 'queued' }));
    assert.equal(
      (await getJob(fx, queued.body.id)).state,
      'queued',
      JSON.stringify(await getJob(fx, blocker.body.id)),
    );
    const c2 = await fx.api().post(`/api/v1/jobs/${queued.body.id}/cancel`).set(fx.auth);
    assert.equal(c2.body.state, 'cancelled');
    await waitForJob(fx, blocker.body.id, finished, 180_000, 'blocker finished');
    const q = await getJob(fx, queued.body.id);
    assert.equal(q.state, 'cancelled');
    assert.equal(q.startedAt, null);
    assert.deepEqual(q.rounds, []);
  });

  it('fails a job whose process dies, with the reason, and goes on with the queue', async () => {
    const created = await post(
      jobRequest(base.variantId, {
        name: 'doomed',
        options: { aap: { maxRounds: 100, steps: 400, batchSize: 32, validationCount: 60 } },
      }),
    );
    const next = await post(jobRequest(base.variantId, { name: 'next in line' }));
    const id = created.body.id as string;
    await waitForJob(fx, id, (j) => j.rounds.length >= 1, 90_000, 'baseline');
    const workers = jobWorkerPids();
    assert.equal(workers.length, 1, 'one job process at a time (EC_JOB_CONCURRENCY=1)');
    process.kill(workers[0]!, 'SIGKILL');
    const job = await waitForJob(fx, id, finished, 30_000, 'failed');
    assert.equal(job.state, 'failed');
    assert.match(job.error ?? '', /job process ended unexpectedly \(SIGKILL\)/);
    assert.ok(existsSync(join(fx.dir.path, 'jobs', id)), 'a failed job keeps its files');
    const after = await waitForJob(fx, next.body.id, finished, 180_000, 'next job finished');
    assert.equal(after.state, 'succeeded', after.error ?? '');
  });
});

/** Job processes of this test process (the control plane runs in it). */
function jobWorkerPids(): number[] {
  const children = readdirSync('/proc/self/task').flatMap((tid) =>
    readFileSync(`/proc/self/task/${tid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean),
  );
  return children.map(Number).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('job-worker.main');
    } catch {
      return false;
    }
  });
}
