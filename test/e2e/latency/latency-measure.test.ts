/**
 * The measured latency oracle on real agent processes and the embedded broker: k devices of a
 * group benchmark a candidate, a second ask is answered from the (artifact, device) cache, an
 * agent killed mid-measurement is replaced by another of its group, a device that times out or
 * reports an error is given up (its benchmark cancelled) for another, as is one the caller
 * aborts. Availability (no device online, waiting for one) is in latency-availability.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { CommandsService } from '../../../apps/control-plane/src/commands/commands.service';
import {
  type LatencyService,
  LatencyUnavailableError,
} from '../../../apps/control-plane/src/latency/latency.service';
import { waitUntil } from '../agent/agent-test-kit';
import {
  candidate,
  INPUT_SHAPE,
  PROFILE,
  startLatencyFleet,
  type LatencyFleet,
} from './latency-fleet.kit';

describe('measured latency on the fleet (real agents, embedded broker)', () => {
  let fleet: LatencyFleet;
  let latency: LatencyService;
  let commands: CommandsService;
  const benchmarks = (deviceId?: string) => fleet.benchmarks(deviceId);

  before(async () => {
    fleet = await startLatencyFleet([
      { id: 'lat-a', groups: ['lab'], run: true },
      { id: 'lat-b', groups: ['lab'], run: true },
      { id: 'lat-c', groups: ['lab'], run: true },
    ]);
    ({ latency, commands } = fleet);
  });
  after(() => fleet?.close());

  it('measures on k=2 devices of a group: median of their p50s, spread, stored measurements', async () => {
    const onnx = candidate(4);
    const answer = await latency.measure({
      onnx,
      inputShape: INPUT_SHAPE,
      selector: { group: 'lab' },
      k: 2,
      runs: 20,
      warmup: 2,
      timeoutMs: 30_000,
      fallback: 'fail',
      label: 'e2e k=2',
    });
    assert.equal(answer.source, 'measured');
    assert.deepEqual(answer.perDevice.map((d) => d.deviceId).sort(), ['lat-a', 'lat-b']);
    for (const d of answer.perDevice) {
      assert.equal(d.cached, false);
      assert.ok(d.p50Ms > 0 && d.p50Ms <= d.p90Ms && d.p90Ms <= d.p99Ms, JSON.stringify(d));
      assert.ok(Number.isInteger(d.measurementId));
    }
    const p50s = answer.perDevice.map((d) => d.p50Ms);
    assert.ok(Math.abs(answer.p50Ms - (p50s[0]! + p50s[1]!) / 2) < 1e-9);
    assert.deepEqual(answer.spreadMs, { min: Math.min(...p50s), max: Math.max(...p50s) });
    assert.ok(answer.predictedMs !== null && answer.predictedMs > 0);
    assert.equal(benchmarks().length, 2);

    // The measurements are stored against the candidate's artifact, which is published.
    const rows = await fleet.fx.api().get('/api/v1/measurements?deviceId=lat-a').set(fleet.fx.auth);
    assert.equal(rows.status, 200);
    assert.ok(
      (rows.body as { artifactSha256: string }[]).some(
        (m) => m.artifactSha256 === answer.artifactSha256,
      ),
    );
  });

  it('answers a second ask from the cache without sending any command', async () => {
    const before = commands.list({ limit: 10_000 }).length;
    const answer = await latency.measure({
      onnx: candidate(4),
      inputShape: INPUT_SHAPE,
      selector: { group: 'lab' },
      k: 2,
      runs: 20,
      fallback: 'fail',
    });
    assert.equal(answer.source, 'measured');
    assert.ok(answer.perDevice.every((d) => d.cached));
    assert.equal(answer.perDevice.length, 2);
    assert.equal(commands.list({ limit: 10_000 }).length, before);

    // k=3 reuses the two measurements and measures on the third device only.
    const wider = await latency.measure({
      onnx: candidate(4),
      inputShape: INPUT_SHAPE,
      selector: { group: 'lab' },
      k: 3,
      runs: 20,
      warmup: 2,
      fallback: 'fail',
    });
    assert.deepEqual(
      wider.perDevice.map((d) => [d.deviceId, d.cached]),
      [
        ['lat-a', true],
        ['lat-b', true],
        ['lat-c', false],
      ],
    );
    assert.equal(benchmarks().length, 3);
  });

  it('replaces an agent killed mid-measurement by another device of its group', async () => {
    const onnx = candidate(6);
    const pending = latency.measure({
      onnx,
      inputShape: INPUT_SHAPE,
      selector: { group: 'lab' },
      k: 1,
      runs: 1_000_000,
      timeBudgetMs: 3000,
      warmup: 1,
      timeoutMs: 45_000,
      fallback: 'fail',
    });
    // lat-a is first in id order; kill it once it has acknowledged the benchmark.
    await waitUntil(
      () => benchmarks('lat-a').some((c) => c.status === 'acked'),
      20_000,
      'lat-a acked the benchmark',
    );
    const started = Date.now();
    await fleet.agents.get('lat-a')!.kill9();
    const answer = await pending;
    assert.equal(answer.source, 'measured');
    assert.deepEqual(
      answer.perDevice.map((d) => d.deviceId),
      ['lat-b'],
    );
    // Replaced because it went offline, long before the 45 s per-device timeout.
    assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);
    assert.equal(fleet.devices.get('lat-a').status, 'offline');
    // The abandoned benchmark is cancelled on the device (queued until it returns).
    assert.ok(commands.list({ limit: 100, deviceId: 'lat-a' }).some((c) => c.type === 'cancel'));
  });

  it('gives up on a device that does not report within the timeout and cancels its benchmark', async () => {
    const started = Date.now();
    await assert.rejects(
      latency.measure({
        onnx: candidate(7),
        inputShape: INPUT_SHAPE,
        selector: { group: 'lab' },
        runs: 1_000_000,
        timeBudgetMs: 30_000,
        warmup: 1,
        timeoutMs: 2000,
        retries: 0,
        fallback: 'fail',
      }),
      (err: Error) =>
        err instanceof LatencyUnavailableError &&
        /lat-b: no report within 2000 ms/.test(err.message),
    );
    assert.ok(Date.now() - started < 10_000);
    // The device is told to stop, and does: the cancel succeeds and the benchmark ends failed.
    await waitUntil(
      () =>
        commands
          .list({ limit: 100, deviceId: 'lat-b' })
          .some((c) => c.type === 'cancel' && c.status === 'succeeded'),
      15_000,
      'lat-b acknowledged the cancel',
    );
  });

  it('cancels a running benchmark on the device when the caller aborts', async () => {
    const cancelsBefore = commands
      .list({ limit: 100, deviceId: 'lat-b' })
      .filter((c) => c.type === 'cancel').length;
    const controller = new AbortController();
    const pending = latency.measure(
      {
        onnx: candidate(9),
        inputShape: INPUT_SHAPE,
        selector: { group: 'lab' },
        runs: 1_000_000,
        timeBudgetMs: 30_000,
        warmup: 1,
        fallback: 'fail',
      },
      controller.signal,
    );
    const mine = () =>
      commands
        .list({ limit: 100, deviceId: 'lat-b' })
        .find((c) => c.type === 'benchmark' && c.status === 'acked');
    await waitUntil(() => mine() !== undefined, 20_000, 'lat-b acked the benchmark');
    controller.abort();
    await assert.rejects(pending, { name: 'AbortError' });
    await waitUntil(
      () =>
        commands
          .list({ limit: 100, deviceId: 'lat-b' })
          .filter((c) => c.type === 'cancel' && c.status === 'succeeded').length > cancelsBefore,
      15_000,
      'lat-b acknowledged the cancel',
    );
  });

  it('tries another device of the selector when one reports an error, up to the retries', async () => {
    // An input shape the graph cannot take: every device's runner fails with an error event.
    const err = await latency
      .measure({
        onnx: candidate(10),
        inputShape: [1, 3, 5, 5],
        selector: { group: 'lab' },
        runs: 5,
        warmup: 1,
        retries: 1,
        fallback: 'fail',
      })
      .then(
        () => null,
        (e: Error) => e,
      );
    assert.ok(err instanceof LatencyUnavailableError, String(err));
    // Both online devices of the group were tried, each failure named with the agent's error.
    assert.match(err.message, /every attempt failed \(lat-b: [A-Z_]+: .+; lat-c: [A-Z_]+: .+\)/);
  });

  it('re-fits the predictor from the measurements and reports its quality per profile', async () => {
    let view: { pairs: number; calibrated: boolean; mode: string } = {
      pairs: 0,
      calibrated: false,
      mode: 'identity',
    };
    await waitUntil(
      async () => {
        const res = await fleet.fx
          .api()
          .get(`/api/v1/profiles/${PROFILE}/predictor`)
          .set(fleet.fx.auth);
        view = res.body as typeof view;
        return view.pairs >= 4;
      },
      10_000,
      'predictor re-fitted on 4 pairs',
    );
    assert.equal(view.calibrated, true);
    assert.equal(view.mode, 'scale');

    // Every device figure behind the answers so far, by outcome, and the answers by source.
    const metrics = (await fleet.fx.api().get('/metrics')).text;
    const series = (line: string) => Number(new RegExp(`^${line} (\\S+)$`, 'm').exec(metrics)?.[1]);
    assert.equal(series('ec_latency_device_results_total\\{outcome="measured"\\}'), 4);
    assert.equal(series('ec_latency_device_results_total\\{outcome="cached"\\}'), 4);
    assert.equal(series('ec_latency_device_results_total\\{outcome="failed"\\}'), 4);
    assert.equal(series('ec_latency_answers_total\\{source="measured"\\}'), 4);
    assert.doesNotMatch(metrics, /ec_latency_answers_total\{source="predicted"\}/);
    const missing = await fleet.fx
      .api()
      .get('/api/v1/profiles/no-such-profile/predictor')
      .set(fleet.fx.auth);
    assert.equal(missing.status, 404);
  });

  it('rejects a request that is not a readable ONNX model or names no devices', async () => {
    await assert.rejects(
      latency.measure({
        onnx: Buffer.from('not an onnx file at all'),
        inputShape: INPUT_SHAPE,
        selector: { group: 'lab' },
        fallback: 'fail',
      }),
      /not a readable ONNX model/,
    );
    await assert.rejects(
      latency.measure({
        onnx: candidate(4),
        inputShape: INPUT_SHAPE,
        selector: {},
        fallback: 'fail',
      }),
      /selector names no devices/,
    );
  });
});
