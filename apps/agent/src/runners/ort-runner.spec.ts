import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  failingRunModel,
  foreverModel,
  memoryHogModel,
  mlpModel,
  notOnnxBytes,
} from '../../../../test/fixtures/agent/onnx-fixture-models';
import { AgentError } from '../agent-error';
import { OrtRunner } from './ort-runner';
import type { BenchmarkResult, ProbeResult, RunnerStep, SelfTestResult } from './runner-protocol';

const limits = { timeoutMs: 20_000, memoryLimitBytes: 512 * 1024 * 1024 };
const cpu = { intraOpThreads: 1, interOpThreads: 1, executionProviders: ['cpu'] };

function rejectsWith(code: string) {
  return (err: unknown) => {
    assert.ok(err instanceof AgentError, String(err));
    assert.equal(err.code, code, err.message);
    return true;
  };
}

describe('OrtRunner (real onnxruntime-node in child processes)', () => {
  let dir: string;
  const runner = new OrtRunner();
  const model = (name: string, bytes: Buffer) => {
    const path = join(dir, `${name}.onnx`);
    writeFileSync(path, bytes);
    return path;
  };
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ec-runner-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('probes the ORT version, the bundled execution providers and the hardware facts', async () => {
    const probe = await runner.run<ProbeResult>({ kind: 'probe' }, limits);
    assert.match(probe.ortVersion, /^1\.\d+\.\d+$/);
    assert.ok(probe.executionProviders.includes('cpu'));
    assert.equal(probe.executionProviders.at(-1), 'cpu');
    assert.ok(probe.hardware.cpu.cores >= 1 && probe.hardware.cpu.model.length > 0);
  });

  it('benchmarks a dynamic-batch model at the requested shape and reports ordered stats', async () => {
    const steps: RunnerStep[] = [];
    const result = await runner.run<BenchmarkResult>(
      {
        kind: 'benchmark',
        spec: {
          ...cpu,
          modelPath: model('dyn', mlpModel({ batch: 'N' })),
          inputShape: [4, 64],
          warmup: 3,
          runs: 50,
        },
      },
      limits,
      (step) => steps.push(step),
    );
    assert.deepEqual(result.inputShape, [4, 64]);
    assert.equal(result.runs, 50);
    const l = result.latencyMs;
    assert.ok(l.min > 0 && l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max);
    // 4 items per run: throughput is 4 x runs / total time, so above runs / (max * runs).
    assert.ok(result.throughputPerSec >= 4000 / l.max, `${result.throughputPerSec}`);
    assert.ok(result.peakRssBytes > 10 * 1024 * 1024);
    assert.ok(result.loadMs > 0);
    assert.deepEqual(result.sessionOptions.executionProviders, ['cpu']);
    assert.ok(steps.includes('load'));
  });

  it('self-tests a static model with its declared shape and refuses a shape that does not fit', async () => {
    const path = model('static', mlpModel({ batch: 1 }));
    const ok = await runner.run<SelfTestResult>(
      { kind: 'self-test', spec: { ...cpu, modelPath: path } },
      limits,
    );
    assert.deepEqual(ok.inputShape, [1, 64]);
    assert.deepEqual(ok.outputs, [{ name: 'logits', shape: [1, 10], finite: true }]);
    await assert.rejects(
      runner.run(
        { kind: 'self-test', spec: { ...cpu, modelPath: path, inputShape: [2, 64] } },
        limits,
      ),
      rejectsWith('MODEL_LOAD_FAILED'),
    );
  });

  it('reports a file that is not ONNX as MODEL_LOAD_FAILED', async () => {
    await assert.rejects(
      runner.run(
        { kind: 'self-test', spec: { ...cpu, modelPath: model('junk', notOnnxBytes()) } },
        limits,
      ),
      rejectsWith('MODEL_LOAD_FAILED'),
    );
  });

  it('reports a run-time failure as INFERENCE_FAILED', async () => {
    await assert.rejects(
      runner.run(
        { kind: 'self-test', spec: { ...cpu, modelPath: model('fail', failingRunModel()) } },
        limits,
      ),
      rejectsWith('INFERENCE_FAILED'),
    );
  });

  it('kills a run that never ends with TIMEOUT', async () => {
    const started = Date.now();
    await assert.rejects(
      runner.run(
        { kind: 'self-test', spec: { ...cpu, modelPath: model('forever', foreverModel()) } },
        { ...limits, timeoutMs: 2500 },
      ),
      rejectsWith('TIMEOUT'),
    );
    assert.ok(Date.now() - started < 6000);
    assert.deepEqual(runner.activePids(), []);
  });

  it('kills a runner over its memory limit with OUT_OF_MEMORY', async () => {
    await assert.rejects(
      runner.run(
        { kind: 'self-test', spec: { ...cpu, modelPath: model('hog', memoryHogModel()) } },
        { ...limits, memoryLimitBytes: 300 * 1024 * 1024 },
      ),
      rejectsWith('OUT_OF_MEMORY'),
    );
  });

  it('reports a runner killed by a signal (SIGSEGV sent by the test) as RUNNER_CRASHED', async () => {
    const pending = runner.run(
      { kind: 'self-test', spec: { ...cpu, modelPath: model('forever2', foreverModel()) } },
      limits,
    );
    let pids: number[] = [];
    for (let i = 0; i < 100 && pids.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      pids = runner.activePids();
    }
    process.kill(pids[0]!, 'SIGSEGV');
    await assert.rejects(pending, (err: unknown) => {
      rejectsWith('RUNNER_CRASHED')(err);
      assert.match((err as Error).message, /SIGSEGV/);
      return true;
    });
  });
});
