import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { buildSmallCnn, saveModel } from '@edgecompress/engine';
import { makeTempDir, type TempDir } from '@edgecompress/testing';
import type { JobSpec } from '../job.types';
import type { ChildMessage, WorkerLatencyAnswer, WorkerRound } from './job-worker.protocol';
import { JobPipeline } from './job-pipeline';

/**
 * The job pipeline in this process on synthetic data; the fleet is a stand-in that answers like
 * the demo's devices did: a float model's p50 scales with its ONNX size from 0.11 ms, and any QDQ
 * model takes 0.26 ms (int8 slower than float on a tiny CNN).
 */
describe('JobPipeline with a fleet stand-in where the quantized step is slower', () => {
  let dir: TempDir;
  const rounds: WorkerRound[] = [];
  const logs: string[] = [];
  let baseBytes = 0;

  before(async () => {
    dir = makeTempDir('edgec-pipeline-');
    const basePath = join(dir.path, 'base.ecm');
    saveModel(
      basePath,
      buildSmallCnn({ inputShape: [8, 8, 1], numClasses: 4, widths: [6, 8, 12], seed: 1 }),
    );
    const spec: JobSpec = {
      variantId: 'v',
      dataset: { name: 'synthetic', limitTrain: 200, limitTest: 100 },
      pipeline: ['aap', 'sqakd'],
      options: {
        aap: { maxRounds: 2, steps: 3, batchSize: 32, validationCount: 50, calibrationBatches: 1 },
        sqakd: { bits: 'w8a8', epochs: 1, stepsPerEpoch: 2, batchSize: 32 },
      },
      objective: {
        metric: 'latency',
        target: 0.01,
        maxAccuracyDrop: 50,
        device: { group: 'edge' },
        latencySource: 'measured',
      },
    };
    const handlers: ((a: WorkerLatencyAnswer) => void)[] = [];
    const pipeline = new JobPipeline(
      {
        type: 'start',
        jobId: 'job_spec',
        spec,
        baseModelPath: basePath,
        baseFormat: 'engine',
        workDir: join(dir.path, 'work'),
        deviceKey: 'group:edge',
      },
      {
        onAnswer: (h) => handlers.push(h),
        send: (m: ChildMessage) => {
          if (m.type === 'round') rounds.push(m);
          if (m.type === 'log') logs.push(m.message);
          if (m.type !== 'latency') return;
          const onnx = Buffer.from(m.onnxBase64, 'base64');
          if (!baseBytes) baseBytes = onnx.length;
          const p50Ms = onnx.includes('QuantizeLinear') ? 0.26 : (0.11 * onnx.length) / baseBytes;
          const answer: WorkerLatencyAnswer = {
            type: 'latency-answer',
            requestId: m.requestId,
            ok: true,
            p50Ms,
            source: 'measured',
            predictedMs: p50Ms,
          };
          setImmediate(() => handlers.forEach((h) => h(answer)));
        },
      },
    );
    await pipeline.run();
  });

  after(() => dir.cleanup());

  it('records the slower quantized model as a rejected candidate with its file', () => {
    const sqakd = rounds.find((r) => r.record.method === 'sqakd')!;
    assert.equal(sqakd.record.latencyMs, 0.26);
    assert.equal(sqakd.record.verdict, 'rolled-back');
    assert.match(sqakd.record.rejected!, /p50 0\.260 ms is worse than its input's p50 0\.\d{3} ms/);
    assert.ok(sqakd.variantPath, 'still stored as a variant');
    assert.ok(logs.some((l) => l.startsWith('sqakd not kept')));
  });

  it("makes the AAP result the job's final record, with the objective missed and why", () => {
    const finals = rounds.filter((r) => r.record.verdict === 'final');
    assert.equal(finals.length, 1);
    const final = finals[0]!;
    assert.equal(final.record.method, 'aap');
    assert.ok(final.record.latencyMs! <= 0.11, `aap result p50 ${final.record.latencyMs}`);
    const source = rounds.find(
      (r) => r.record.method === 'aap' && r.record.round === final.sameAsRound,
    );
    assert.ok(source, `the final stands for aap round ${final.sameAsRound}`);
    assert.equal(final.record.outcome?.met, false);
    assert.equal(final.record.outcome?.feasible, true);
    assert.match(final.record.outcome!.note, /misses the 0\.010 ms target/);
    // The final comes after the rejected step, so the job's result is the AAP model.
    assert.ok(rounds.indexOf(final) > rounds.findIndex((r) => r.record.method === 'sqakd'));
  });
});
