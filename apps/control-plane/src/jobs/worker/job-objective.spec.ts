import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobObjective } from '../job.types';
import { type JobMetrics, judgeResult, judgeStep } from './job-objective';

const latencyObjective: JobObjective = {
  metric: 'latency',
  target: 0.098,
  maxAccuracyDrop: 1,
  device: { group: 'lab' },
  latencySource: 'measured',
};
const base: JobMetrics = { accuracy: 0.9, params: 1000, flops: 5000, bytes: 4000, latencyMs: 0.11 };

describe('judgeStep (may a pipeline step replace its input?)', () => {
  it('rejects a quantized step measured slower than its input, naming both latencies', () => {
    const quantized = { ...base, accuracy: 0.895, bytes: 1500, latencyMs: 0.26 };
    const d = judgeStep(latencyObjective, base, base, quantized);
    assert.equal(d.keep, false);
    assert.match(d.why, /p50 0\.260 ms is worse than its input's p50 0\.110 ms/);
  });

  it('keeps a step that is as fast or faster within the accuracy budget', () => {
    assert.equal(judgeStep(latencyObjective, base, base, { ...base, latencyMs: 0.11 }).keep, true);
    assert.equal(judgeStep(latencyObjective, base, base, { ...base, latencyMs: 0.09 }).keep, true);
  });

  it('rejects a faster step that breaks the accuracy budget against the base model', () => {
    const pruned = { ...base, accuracy: 0.89, latencyMs: 0.1 };
    const fast = { ...base, accuracy: 0.885, latencyMs: 0.05 };
    const d = judgeStep(latencyObjective, base, pruned, fast);
    assert.equal(d.keep, false);
    assert.match(d.why, /accuracy drop 1\.50 pt exceeds the 1 pt budget/);
  });

  it('judges a size objective on bytes and a params objective on params', () => {
    const size: JobObjective = { ...latencyObjective, metric: 'size', target: 0.5 };
    const params: JobObjective = { ...latencyObjective, metric: 'params', target: 0.3 };
    const quantized = { ...base, bytes: 1200, latencyMs: 0.26 };
    assert.equal(judgeStep(size, base, base, quantized).keep, true);
    assert.equal(judgeStep(params, base, base, quantized).keep, true, 'same params: as good');
    assert.equal(judgeStep(params, base, base, { ...base, params: 1001 }).keep, false);
  });

  it('keeps a step when the objective figure is missing on either side', () => {
    const d = judgeStep(latencyObjective, base, { ...base, latencyMs: null }, base);
    assert.equal(d.keep, true);
  });
});

describe('judgeResult (does the job result meet its objective?)', () => {
  it('says the baseline-speed result misses the latency target but is feasible', () => {
    const outcome = judgeResult(latencyObjective, base, base);
    assert.deepEqual(
      { met: outcome.met, feasible: outcome.feasible },
      { met: false, feasible: true },
    );
    assert.match(outcome.note, /p50 0\.110 ms \(baseline 0\.110 ms\) misses the 0\.098 ms target/);
  });

  it('meets a latency target within the budget', () => {
    const outcome = judgeResult(latencyObjective, base, {
      ...base,
      accuracy: 0.899,
      latencyMs: 0.09,
    });
    assert.equal(outcome.met, true);
    assert.match(outcome.note, /meets the 0\.098 ms target; accuracy drop 0\.10 pt/);
  });

  it('judges reduction targets as the fraction removed from the base model', () => {
    const params: JobObjective = { ...latencyObjective, metric: 'params', target: 0.3 };
    assert.equal(judgeResult(params, base, { ...base, params: 700 }).met, true);
    const short = judgeResult(params, base, { ...base, params: 800 });
    assert.equal(short.met, false);
    assert.match(short.note, /params reduced by 20\.0%, misses the 30\.0% target/);
  });

  it('an accuracy objective is met when the budget holds, and nothing is met beyond it', () => {
    const accuracy: JobObjective = { ...latencyObjective, metric: 'accuracy' };
    delete accuracy.target;
    assert.equal(judgeResult(accuracy, base, { ...base, accuracy: 0.895 }).met, true);
    const over = judgeResult(accuracy, base, { ...base, accuracy: 0.8 });
    assert.deepEqual({ met: over.met, feasible: over.feasible }, { met: false, feasible: false });
  });
});
