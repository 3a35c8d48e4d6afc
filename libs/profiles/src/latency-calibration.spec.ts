import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildResNet, buildSmallCnn, type Graph } from '@edgecompress/engine';
import {
  calibrate,
  defaultProfilesDir,
  evaluateCalibration,
  fitCorrection,
  holdOut,
  LatencyCalibration,
  loadDeviceProfiles,
  predictLatency,
  predictionQuality,
  ProfileLatencyPredictor,
  type CorrectionFactors,
  type DeviceProfile,
  type LatencyObservation,
  type PredictOptions,
} from '@edgecompress/profiles';

const profiles = loadDeviceProfiles(defaultProfilesDir() as string);
const pi5 = profiles.find((p) => p.id === 'raspberry-pi-5') as DeviceProfile;

/** A spread of graphs: compute-heavy and memory-heavy layers in varying proportions. */
const graphs: Graph[] = [];
for (const widths of [
  [8, 16, 32],
  [16, 32, 64],
  [24, 48, 96],
] as Array<[number, number, number]>) {
  graphs.push(buildResNet({ depth: 8, inputShape: [32, 32, 3], numClasses: 10, widths }).graph);
  graphs.push(buildSmallCnn({ inputShape: [28, 28, 1], numClasses: 10, widths }).graph);
}
graphs.push(buildResNet({ depth: 20, inputShape: [32, 32, 3], numClasses: 100 }).graph);
const settings: PredictOptions[] = [
  { batch: 1 },
  { batch: 8 },
  { batch: 32, precision: 'fp16' },
  { batch: 1, threads: 1 },
  { batch: 4, precision: 'int8' },
];

/** Deterministic noise in [-amplitude, +amplitude]. */
function noise(i: number, amplitude: number): number {
  const x = Math.sin(i * 12.9898 + 78.233) * 43758.5453;
  return (2 * (x - Math.floor(x)) - 1) * amplitude;
}

/** "Measurements" made by the roofline model itself with known factors. */
function synthesize(
  profile: DeviceProfile,
  factors: CorrectionFactors,
  amplitude: number,
  deviceId?: string,
): LatencyObservation[] {
  const out: LatencyObservation[] = [];
  graphs.forEach((graph) =>
    settings.forEach((options) => {
      const ms = predictLatency(graph, profile, options, factors).totalMs;
      out.push({
        graph,
        options,
        profileId: profile.id,
        deviceId,
        latencyMs: ms * (1 + noise(out.length, amplitude)),
      });
    }),
  );
  return out;
}

const truth = { compute: 6.5, memory: 2.2, overhead: 4, fixedMs: 0.05 };
const close = (a: number, b: number, rel: number) => Math.abs(a - b) <= rel * Math.abs(b);

describe('fitCorrection', () => {
  it('recovers known factors exactly from noise-free measurements', () => {
    const fit = fitCorrection(synthesize(pi5, truth, 0), pi5);
    assert.equal(fit.mode, 'roofline');
    assert.equal(fit.samples, 35);
    for (const key of ['compute', 'memory', 'overhead', 'fixedMs'] as const) {
      assert.ok(
        close(fit.factors[key], truth[key], 1e-6),
        `${key}: ${fit.factors[key]} vs ${truth[key]}`,
      );
    }
    assert.ok(fit.trainMape < 1e-9);
  });

  it('recovers them within 5% under ±3% measurement noise (fixed time within 0.02 ms)', () => {
    const fit = fitCorrection(synthesize(pi5, truth, 0.03), pi5);
    for (const key of ['compute', 'memory', 'overhead'] as const) {
      assert.ok(
        close(fit.factors[key], truth[key], 0.05),
        `${key}: ${fit.factors[key]} vs ${truth[key]}`,
      );
    }
    // A small constant beside millisecond latencies is only known to within the noise.
    assert.ok(
      Math.abs(fit.factors.fixedMs - truth.fixedMs) < 0.02,
      `fixedMs ${fit.factors.fixedMs}`,
    );
  });

  it('falls back to one common scale with few samples', () => {
    const few = synthesize(pi5, { compute: 3, memory: 3, overhead: 3, fixedMs: 0 }, 0).slice(0, 4);
    const fit = fitCorrection(few, pi5);
    assert.equal(fit.mode, 'scale');
    assert.ok(close(fit.factors.compute, 3, 1e-9) && fit.factors.compute === fit.factors.memory);
  });

  it('rejects non-positive or non-finite measurements', () => {
    const [first] = synthesize(pi5, truth, 0);
    assert.throws(
      () => fitCorrection([{ ...(first as LatencyObservation), latencyMs: 0 }], pi5),
      /positive/,
    );
    assert.throws(
      () => fitCorrection([{ ...(first as LatencyObservation), latencyMs: Number.NaN }], pi5),
      /positive/,
    );
  });
});

describe('calibrate and evaluate on held-out pairs', () => {
  it('predicts held-out measurements within ±10% and far better than uncalibrated', () => {
    const observations = synthesize(pi5, truth, 0.03);
    const { quality, uncalibrated, calibration } = evaluateCalibration(
      observations,
      profiles,
      0.3,
      { seed: 3 },
    );
    assert.equal(quality.count, 11);
    assert.equal(quality.within10Percent, 1);
    assert.ok(quality.mapePercent < 5, `MAPE ${quality.mapePercent}`);
    assert.ok(uncalibrated.mapePercent > 50, `uncalibrated MAPE ${uncalibrated.mapePercent}`);
    assert.equal(calibration.classes.get('raspberry-pi-5')?.mode, 'roofline');
  });

  it('fits per-device factors beside the class factors', () => {
    const fast = { compute: 4, memory: 1.5, overhead: 2, fixedMs: 0.02 };
    const slow = { compute: 9, memory: 3, overhead: 6, fixedMs: 0.1 };
    const observations = [...synthesize(pi5, fast, 0, 'pi-a'), ...synthesize(pi5, slow, 0, 'pi-b')];
    const calibration = calibrate(observations, profiles);
    assert.ok(close(calibration.factorsFor('raspberry-pi-5', 'pi-a').compute, 4, 1e-6));
    assert.ok(close(calibration.factorsFor('raspberry-pi-5', 'pi-b').compute, 9, 1e-6));
    const shared = calibration.factorsFor('raspberry-pi-5');
    assert.ok(shared.compute > 4 && shared.compute < 9);
    // An unknown device gets its class's factors; an uncalibrated class gets identity.
    assert.deepEqual(calibration.factorsFor('raspberry-pi-5', 'pi-z'), shared);
    assert.deepEqual(calibration.factorsFor('jetson-nano'), {
      compute: 1,
      memory: 1,
      overhead: 1,
      fixedMs: 0,
    });

    const predictor = new ProfileLatencyPredictor(profiles, calibration);
    assert.ok(predictor.deviceIds().includes('pi-b'));
    const graph = graphs[1] as Graph;
    const expected = predictLatency(graph, pi5, {}, slow).totalMs;
    assert.ok(close(predictor.predict(graph, 'pi-b').totalMs, expected, 1e-6));
  });

  it('survives a JSON round trip and refuses a corrupted one', () => {
    const calibration = calibrate(synthesize(pi5, truth, 0, 'pi-a'), profiles);
    const restored = LatencyCalibration.fromJSON(JSON.parse(JSON.stringify(calibration)));
    assert.deepEqual(
      restored.factorsFor('raspberry-pi-5', 'pi-a'),
      calibration.factorsFor('raspberry-pi-5', 'pi-a'),
    );
    assert.deepEqual(
      restored.factorsFor('raspberry-pi-5'),
      calibration.factorsFor('raspberry-pi-5'),
    );
    const broken = JSON.parse(JSON.stringify(calibration)) as {
      classes: Record<string, { factors: { compute: unknown } }>;
    };
    (broken.classes['raspberry-pi-5'] as { factors: { compute: unknown } }).factors.compute =
      'fast';
    assert.throws(
      () => LatencyCalibration.fromJSON(broken),
      /invalid calibration: classes\.raspberry-pi-5\.factors\.compute/,
    );
    assert.throws(() => LatencyCalibration.fromJSON(null), /invalid calibration/);
  });

  it('refuses observations naming an unknown profile', () => {
    const [first] = synthesize(pi5, truth, 0);
    assert.throws(
      () => calibrate([{ ...(first as LatencyObservation), profileId: 'nope' }], profiles),
      /unknown profile "nope"/,
    );
  });
});

describe('predictionQuality and holdOut', () => {
  it('computes share within ±10% and MAPE', () => {
    const q = predictionQuality([
      { predictedMs: 10, measuredMs: 10 },
      { predictedMs: 11, measuredMs: 10 },
      { predictedMs: 8, measuredMs: 10 },
      { predictedMs: 15, measuredMs: 10 },
    ]);
    assert.equal(q.within10Percent, 0.5);
    assert.ok(Math.abs(q.mapePercent - 20) < 1e-9);
    assert.ok(Math.abs(q.maxErrorPercent - 50) < 1e-9);
  });

  it('splits deterministically and without overlap', () => {
    const items = [...Array(20).keys()];
    const a = holdOut(items, 0.25, 9);
    const b = holdOut(items, 0.25, 9);
    assert.deepEqual(a, b);
    assert.equal(a.heldOut.length, 5);
    assert.deepEqual(
      [...a.fit, ...a.heldOut].sort((x, y) => x - y),
      items,
    );
    assert.throws(() => holdOut(items, 1), /fraction/);
  });
});
