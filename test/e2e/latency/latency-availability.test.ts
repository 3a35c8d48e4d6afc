/**
 * The measured latency oracle when devices are missing, on a real control plane and agent
 * process: with no device of the selector online it falls back to the calibrated prediction or
 * fails as asked, a selector matching nothing fails at once, the wait is cancellable, and a
 * device that comes online within the wait is measured on.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type LatencyService,
  LatencyUnavailableError,
} from '../../../apps/control-plane/src/latency/latency.service';
import {
  candidate,
  INPUT_SHAPE,
  PROFILE,
  startLatencyFleet,
  type LatencyFleet,
} from './latency-fleet.kit';

describe('measured latency without devices online (real agent, embedded broker)', () => {
  let fleet: LatencyFleet;
  let latency: LatencyService;
  const benchmarks = (deviceId: string) => fleet.benchmarks(deviceId);

  before(async () => {
    fleet = await startLatencyFleet([{ id: 'lat-dark', groups: ['dark'], run: false }]);
    latency = fleet.latency;
  });
  after(() => fleet?.close());

  it('with no device online: falls back to the prediction, or fails, as asked', async () => {
    const onnx = candidate(5);
    const predicted = await latency.measure({
      onnx,
      inputShape: INPUT_SHAPE,
      selector: { group: 'dark' },
      waitForDevicesMs: 300,
      fallback: 'predicted',
    });
    const expected = latency.predict(onnx, PROFILE).ms;
    assert.equal(predicted.source, 'predicted');
    assert.deepEqual(predicted.perDevice, []);
    assert.equal(predicted.p50Ms, expected);
    assert.equal(predicted.predictedMs, expected);

    const started = Date.now();
    await assert.rejects(
      latency.measure({
        onnx,
        inputShape: INPUT_SHAPE,
        selector: { group: 'dark' },
        waitForDevicesMs: 300,
        fallback: 'fail',
      }),
      (err: Error) =>
        err instanceof LatencyUnavailableError &&
        /no device of the selector was online within 300 ms/.test(err.message),
    );
    assert.ok(Date.now() - started >= 250);
    assert.equal(benchmarks('lat-dark').length, 0);

    // A selector that matches no device fails at once, saying so.
    const none = Date.now();
    await assert.rejects(
      latency.measure({
        onnx,
        inputShape: INPUT_SHAPE,
        selector: { group: 'nobody' },
        waitForDevicesMs: 30_000,
        fallback: 'fail',
      }),
      /the selector matches no device/,
    );
    assert.ok(Date.now() - none < 2000);

    // Waiting is cancellable.
    const controller = new AbortController();
    const waiting = latency.measure(
      {
        onnx,
        inputShape: INPUT_SHAPE,
        selector: { group: 'dark' },
        waitForDevicesMs: 60_000,
        fallback: 'fail',
      },
      controller.signal,
    );
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(waiting, { name: 'AbortError' });
  });

  it('waits for a device of the selector to come online, then measures on it', async () => {
    const pending = latency.measure({
      onnx: candidate(5),
      inputShape: INPUT_SHAPE,
      selector: { group: 'dark' },
      runs: 20,
      warmup: 2,
      waitForDevicesMs: 30_000,
      fallback: 'fail',
    });
    await fleet.startAgent('lat-dark');
    const answer = await pending;
    assert.equal(answer.source, 'measured');
    assert.deepEqual(
      answer.perDevice.map((d) => [d.deviceId, d.cached]),
      [['lat-dark', false]],
    );

    // k=2 on a one-device group: answered with the one device at once, not after the wait.
    const started = Date.now();
    const fewer = await latency.measure({
      onnx: candidate(5),
      inputShape: INPUT_SHAPE,
      selector: { group: 'dark' },
      k: 2,
      waitForDevicesMs: 30_000,
      fallback: 'fail',
    });
    assert.deepEqual(
      fewer.perDevice.map((d) => [d.deviceId, d.cached]),
      [['lat-dark', true]],
    );
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
  });
});
