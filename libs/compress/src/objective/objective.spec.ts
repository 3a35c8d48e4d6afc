import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  type ModelMetrics,
  type Objective,
  ObjectiveError,
  assertTargetNotMet,
  describeObjective,
  judge,
  validateObjective,
} from './objective';
import { parseObjective } from './objective-parse';

const drop = { maxAccuracyDrop: 0.3 };

describe('parseObjective (CLI syntax)', () => {
  it('parses every metric with its units', () => {
    assert.deepEqual(parseObjective('accuracy', drop), {
      metric: 'accuracy',
      maxAccuracyDrop: 0.3,
      latencySource: 'predicted',
    });
    assert.equal(parseObjective('params=0.8', drop).target, 0.8);
    assert.equal(parseObjective('flops=60%', drop).target, 0.6);
    assert.equal(parseObjective('size=0.5', drop).metric, 'size');
    assert.deepEqual(parseObjective('latency=2ms@local', drop), {
      metric: 'latency',
      maxAccuracyDrop: 0.3,
      target: 2,
      device: 'local',
      latencySource: 'local',
    });
    const pi = parseObjective('latency=0.004s@raspberry-pi-5', {
      ...drop,
      latencySource: 'measured',
    });
    assert.equal(pi.target, 4);
    assert.equal(pi.device, 'raspberry-pi-5');
    assert.equal(pi.latencySource, 'measured');
    assert.equal(parseObjective('latency=1500us@jetson-nano', drop).target, 1.5);
  });

  it('rejects bad objectives with a message saying what is accepted', () => {
    const cases: [string, RegExp][] = [
      ['speed=2', /unknown objective "speed=2"/],
      ['params=-0.2', /params target is the fraction to remove and must lie in \(0, 1\), got -0.2/],
      ['params=80', /did you mean 0.8\?/],
      ['params=0', /must lie in \(0, 1\)/],
      ['flops=abc', /"abc" is not a number/],
      ['params', /needs a value/],
      ['accuracy=3', /takes no value/],
      ['latency=2ms', /latency=2ms@local/],
      ['latency=-2ms@local', /latency=2ms@local/],
      ['latency=0ms@local', /positive number of ms/],
    ];
    for (const [spec, message] of cases) {
      assert.throws(
        () => parseObjective(spec, drop),
        (e: unknown) => {
          assert.ok(e instanceof ObjectiveError, spec);
          assert.match((e as Error).message, message, spec);
          return true;
        },
      );
    }
    assert.throws(() => parseObjective('accuracy', { maxAccuracyDrop: -1 }), /maxAccuracyDrop/);
    assert.throws(
      () => parseObjective('latency=2ms@local', { ...drop, latencySource: 'predicted' }),
      /cannot use latency source "predicted"/,
    );
  });

  it('validateObjective rejects a target on accuracy and a latency without device', () => {
    assert.throws(
      () =>
        validateObjective({
          metric: 'accuracy',
          target: 0.5,
          maxAccuracyDrop: 1,
          latencySource: 'predicted',
        }),
      /takes no target/,
    );
    assert.throws(
      () =>
        validateObjective({
          metric: 'latency',
          target: 2,
          maxAccuracyDrop: 1,
          latencySource: 'predicted',
        }),
      /needs a device/,
    );
    assert.throws(
      () =>
        validateObjective({
          metric: 'params',
          target: 0.5,
          maxAccuracyDrop: 1,
          latencySource: 'gpu' as never,
        }),
      /unknown latency source "gpu"/,
    );
  });
});

describe('judge (objective semantics)', () => {
  const base: ModelMetrics = {
    accuracy: 0.9,
    params: 1000,
    flops: 5000,
    sizeBytes: 4000,
    latencyMs: 4,
  };
  const at = (m: Partial<ModelMetrics>): ModelMetrics => ({ ...base, ...m });

  it('accuracy: feasible up to exactly maxAccuracyDrop points, never "target reached"', () => {
    const o = parseObjective('accuracy', drop);
    assert.deepEqual(judge(o, base, at({ accuracy: 0.897, params: 400 })), {
      feasible: true,
      targetReached: false,
      dropPoints: 0.3,
      reduction: 0.6,
    });
    assert.equal(judge(o, base, at({ accuracy: 0.8969 })).feasible, false);
  });

  it('params/flops/size: target reached at reduction >= target', () => {
    assert.equal(
      judge(parseObjective('params=0.8', drop), base, at({ params: 200 })).targetReached,
      true,
    );
    assert.equal(
      judge(parseObjective('params=0.8', drop), base, at({ params: 201 })).targetReached,
      false,
    );
    assert.equal(
      judge(parseObjective('flops=0.5', drop), base, at({ flops: 2500 })).targetReached,
      true,
    );
    assert.equal(
      judge(parseObjective('size=0.5', drop), base, at({ sizeBytes: 2001 })).targetReached,
      false,
    );
  });

  it('latency: target reached at p50 <= target ms', () => {
    const o = parseObjective('latency=2ms@local', drop);
    assert.equal(judge(o, base, at({ latencyMs: 2 })).targetReached, true);
    assert.equal(judge(o, base, at({ latencyMs: 2.01 })).targetReached, false);
    assert.throws(() => judge(o, base, { ...base, latencyMs: undefined }), /needs a latency/);
  });

  it('a latency target the unpruned model already meets is refused', () => {
    const o: Objective = parseObjective('latency=5ms@local', drop);
    assert.throws(() => assertTargetNotMet(o, base), /target already met: .* p50 4.000 ms <= 5 ms/);
    assert.doesNotThrow(() => assertTargetNotMet(parseObjective('latency=3ms@local', drop), base));
  });

  it('describes objectives for people', () => {
    assert.equal(
      describeObjective(parseObjective('params=0.8', drop)),
      'params >= 80.0% removed, drop <= 0.3 pt',
    );
  });
});
