import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildResNet, buildSmallCnn, type Graph } from '@edgecompress/engine';
import {
  calibrate,
  fitCorrection,
  defaultProfilesDir,
  graphWorkload,
  layerTerms,
  loadDeviceProfiles,
  predictLatency,
  predictorReport,
  workloadTerms,
  type DeviceProfile,
  type LatencyObservation,
  type LayerWorkload,
} from '@edgecompress/profiles';

const profiles = loadDeviceProfiles(defaultProfilesDir() as string);
const pi5 = profiles.find((p) => p.id === 'raspberry-pi-5') as DeviceProfile;
const nano = profiles.find((p) => p.id === 'jetson-nano') as DeviceProfile;

const graphs: Graph[] = [];
for (const w of [4, 8, 12, 16, 24, 32, 48, 64]) {
  graphs.push(
    buildSmallCnn({ inputShape: [28, 28, 1], numClasses: 10, widths: [w, 2 * w, 4 * w] }).graph,
  );
  graphs.push(
    buildResNet({ depth: 8, inputShape: [32, 32, 3], numClasses: 10, widths: [w, 2 * w, 4 * w] })
      .graph,
  );
}

const truth = { compute: 5, memory: 2, overhead: 3, fixedMs: 0.04 };

/** Stored-workload observations "measured" by the roofline itself with known factors. */
function observe(profile: DeviceProfile, deviceId: string, scale = 1): LatencyObservation[] {
  return graphs.map((graph) => ({
    workload: graphWorkload(graph),
    latencyMs: scale * predictLatency(graph, profile, {}, truth).totalMs,
    profileId: profile.id,
    deviceId,
  }));
}

describe('workload observations', () => {
  it('give the same roofline terms as the graph they came from', () => {
    const graph = graphs[3] as Graph;
    assert.deepEqual(workloadTerms(graphWorkload(graph), pi5), layerTerms(graph, pi5));
  });

  it('calibrate exactly like graph observations', () => {
    const fromWorkloads = calibrate(observe(pi5, 'pi-a'), profiles);
    const fromGraphs = calibrate(
      graphs.map((graph) => ({
        graph,
        latencyMs: predictLatency(graph, pi5, {}, truth).totalMs,
        profileId: pi5.id,
        deviceId: 'pi-a',
      })),
      profiles,
    );
    assert.deepEqual(fromWorkloads.toJSON(), fromGraphs.toJSON());
    const k = fromWorkloads.factorsFor(pi5.id);
    assert.ok(Math.abs(k.compute - 5) < 5e-3 * 5, `compute ${k.compute}`);
    assert.ok(Math.abs(k.overhead - 3) < 5e-3 * 3, `overhead ${k.overhead}`);
  });
});

describe('merged observations of one graph', () => {
  it('fit exactly as the same observations kept apart', () => {
    // Three noisy measurements per graph; shared workload objects are merged into one row,
    // structured clones are not.
    const shared = graphs.map((graph) => graphWorkload(graph));
    const observations: LatencyObservation[] = [];
    shared.forEach((workload, g) =>
      [0.93, 1, 1.08].forEach((scale, r) =>
        observations.push({
          workload,
          latencyMs:
            scale * (1 + 0.01 * r * g) * predictLatency(graphs[g] as Graph, pi5, {}, truth).totalMs,
          profileId: pi5.id,
        }),
      ),
    );
    const apart: LatencyObservation[] = observations.map((o) => ({
      latencyMs: o.latencyMs,
      profileId: o.profileId,
      workload: structuredClone(o.workload as LayerWorkload[]),
    }));
    const merged = fitCorrection(observations, pi5);
    const separate = fitCorrection(apart, pi5);
    assert.equal(merged.samples, 48);
    assert.equal(separate.samples, 48);
    for (const key of ['compute', 'memory', 'overhead', 'fixedMs'] as const)
      assert.ok(
        Math.abs(merged.factors[key] - separate.factors[key]) <=
          1e-6 * Math.abs(separate.factors[key]) + 1e-12,
        `${key}: ${merged.factors[key]} vs ${separate.factors[key]}`,
      );
    assert.ok(Math.abs(merged.trainMape - separate.trainMape) < 1e-9);
    // Only the spread of the repeats is left over (a few percent to ~10% off).
    assert.ok(merged.trainMape > 0.02 && merged.trainMape < 0.15, `MAPE ${merged.trainMape}`);
  });
});

describe('predictorReport', () => {
  it('reports held-out quality per device class beside the calibration fitted on all pairs', () => {
    const observations = [
      ...observe(pi5, 'pi-a'),
      ...observe(pi5, 'pi-b'),
      ...observe(nano, 'nano-1', 1),
    ];
    const report = predictorReport(observations, profiles, { seed: 2 });
    const byId = new Map(report.quality.map((q) => [q.profileId, q]));
    const pi = byId.get(pi5.id);
    assert.ok(pi);
    assert.equal(pi.pairs, 32);
    assert.equal(pi.mode, 'roofline');
    assert.equal(pi.calibratedDevices, 2);
    // 30% of 32 pairs held out, fitted on the other 22: noise-free data predicts them all.
    assert.equal(pi.heldOut.count, 10);
    assert.equal(pi.heldOut.within10Percent, 1);
    assert.ok(pi.heldOut.mapePercent < 1, `MAPE ${pi.heldOut.mapePercent}`);
    assert.ok(pi.uncalibrated.mapePercent > 50, `uncalibrated ${pi.uncalibrated.mapePercent}`);
    assert.equal(byId.get(nano.id)?.pairs, 16);
    assert.equal(report.calibration.classes.get(pi5.id)?.samples, 32);
  });

  it('gives no held-out figure for a class with too few pairs, and a scale fit for it', () => {
    const few = observe(pi5, 'pi-a', 2).slice(0, 3);
    const report = predictorReport(few, profiles);
    const [q] = report.quality;
    assert.equal(q?.pairs, 3);
    assert.equal(q?.heldOut.count, 0);
    assert.equal(q?.mode, 'scale');
  });

  it('answers an empty report for no observations', () => {
    const report = predictorReport([], profiles);
    assert.deepEqual(report.quality, []);
    assert.equal(report.calibration.classes.size, 0);
  });
});
