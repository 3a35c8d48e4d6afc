/**
 * A control plane stopped in the middle of a job (its job process killed with it) and started
 * again on the same data dir: the job goes back to the queue, resumes after its last finished
 * round, runs only the rounds after it, and ends with each round and each variant recorded once.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { startFixture, type ControlPlaneFixture } from '../control-plane/control-plane.fixture';
import type { JobRoundRecord } from '../../../apps/control-plane/src/jobs/job.types';
import { finished, jobRequest, postJob, uploadBaseModel, waitForJob } from './jobs.kit';

describe('job resume after a control-plane restart', () => {
  const open: ControlPlaneFixture[] = [];
  after(async () => {
    for (const fx of open) await fx.close().catch(() => undefined);
    open[0]?.dir.cleanup();
  });

  it('continues from the last finished round without redoing it', async () => {
    const first = await startFixture({ EC_JOB_CONCURRENCY: '1' });
    open.push(first);
    const base = await uploadBaseModel(first);
    const created = await postJob(
      first,
      jobRequest(base.variantId, {
        name: 'resumable',
        objective: {
          metric: 'params',
          target: 0.9,
          maxAccuracyDrop: 100,
          device: { profileId: 'generic-x86-64' },
          latencySource: 'predicted',
        },
        options: {
          aap: { maxRounds: 4, steps: 60, batchSize: 32, validationCount: 60, lambda: 0.05 },
        },
      }),
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id as string;

    // Stop once round 1 is recorded and round 2 is under way.
    const mid = await waitForJob(
      first,
      id,
      (j) => j.rounds.some((r) => r.round === 1) || finished(j),
      120_000,
      'round 1 recorded',
    );
    assert.equal(mid.state, 'running', 'the job is still running when the control plane stops');
    await first.close();
    open.pop();
    const before = new Map(mid.rounds.map((r) => [r.round, r]));
    const lastBefore = Math.max(...before.keys());

    const second = await startFixture({ EC_JOB_CONCURRENCY: '1' }, first.dir);
    open.push(second);
    const job = await waitForJob(second, id, finished, 180_000, 'resumed job finished');
    assert.equal(job.state, 'succeeded', job.error ?? '');

    const rounds = job.rounds.filter((r) => r.verdict !== 'final');
    assert.deepEqual(
      rounds.map((r) => r.round),
      rounds.map((_, i) => i),
      'rounds 0..n, each once',
    );
    for (const [round, record] of before) {
      assert.deepEqual(
        job.rounds.find((r) => r.round === round),
        record,
        `round ${round} kept as first recorded`,
      );
    }
    assert.equal(job.rounds.at(-1)!.verdict, 'final');

    const log = (await second.api().get(`/api/v1/jobs/${id}/log`).set(second.auth)).body as {
      message: string;
    }[];
    const lines = log.map((l) => l.message);
    assert.ok(
      lines.some((l) => /interrupted by a restart/.test(l)),
      lines.join('\n'),
    );
    assert.ok(lines.includes('restarted (attempt 2)'), lines.join('\n'));
    const resumed = lines.map((l) => /^resuming aap after round (\d+)$/.exec(l)).find(Boolean);
    assert.ok(resumed, lines.join('\n'));
    const resumedAfter = Number(resumed[1]);
    assert.ok(resumedAfter >= lastBefore, `resumed after ${resumedAfter} >= ${lastBefore}`);
    const runHere = lines
      .filter((l) => l.startsWith('aap rounds run by this process: '))
      .map((l) => l.slice('aap rounds run by this process: '.length));
    assert.equal(runHere.length, 1, 'only the resumed process finished the search');
    const rerun = runHere[0] === 'none' ? [] : runHere[0]!.split(', ').map(Number);
    assert.ok(
      rerun.every((r) => r > resumedAfter),
      `rounds run after the restart: ${rerun.join(', ')}`,
    );

    // One variant per kept round and one ONNX twin of it (the base is an engine file), none
    // duplicated by the restart.
    const model = await second.api().get(`/api/v1/models/${base.modelId}`).set(second.auth);
    assert.equal(model.status, 200);
    const variants = model.body.variants as {
      id: string;
      format: string;
      parentVariantId: string | null;
      provenance: { jobId?: string; round?: number; onnxOf?: string };
    }[];
    const fromJob = variants.filter((v) => v.provenance.jobId === id && !v.provenance.onnxOf);
    const twins = variants.filter((v) => v.provenance.jobId === id && v.provenance.onnxOf);
    const kept = job.rounds.filter((r: JobRoundRecord) => r.verdict === 'kept');
    assert.deepEqual(
      fromJob.map((v) => v.provenance.round).sort(),
      kept.map((r) => r.round).sort(),
    );
    assert.deepEqual(twins.map((v) => v.parentVariantId).sort(), fromJob.map((v) => v.id).sort());
    assert.ok(twins.every((v) => v.format === 'onnx'));
    assert.deepEqual(
      job.candidateVariantIds.sort(),
      [...fromJob, ...twins].map((v) => v.id).sort(),
    );
  });
});
