/**
 * The predictor's calibration inside the control plane: fitted from (workload, measured p50)
 * pairs stored in SQLite, served by GET /api/v1/profiles/:id/predictor with its held-out quality,
 * used by LatencyService.predict, and kept across a restart.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  buildResNet,
  buildSmallCnn,
  exportOnnx,
  exportQuantizedOnnx,
  type Graph,
} from '@edgecompress/engine';
import {
  defaultProfilesDir,
  graphWorkload,
  loadDeviceProfiles,
  predictLatency,
  type DeviceProfile,
} from '@edgecompress/profiles';
import { ArtifactsService } from '../../../apps/control-plane/src/artifacts/artifacts.service';
import { SqliteDatabase } from '../../../apps/control-plane/src/database/sqlite.database';
import { LatencyPredictorService } from '../../../apps/control-plane/src/latency/latency-predictor.service';
import { LatencyService } from '../../../apps/control-plane/src/latency/latency.service';
import { startFixture, type ControlPlaneFixture } from '../control-plane/control-plane.fixture';

const PROFILE = 'raspberry-pi-5';
const profile = loadDeviceProfiles(defaultProfilesDir() as string).find(
  (p) => p.id === PROFILE,
) as DeviceProfile;
/** The "hardware": what the devices really do, unknown to the predictor before calibration. */
const truth = { compute: 5, memory: 2, overhead: 3, fixedMs: 0.04 };
const slowTruth = { compute: 10, memory: 4, overhead: 6, fixedMs: 0.08 };

function graphsOfWidths(widths: number[]): Graph[] {
  return widths.flatMap((w) => [
    buildSmallCnn({ inputShape: [28, 28, 1], numClasses: 10, widths: [w, 2 * w, 4 * w] }).graph,
    buildResNet({ depth: 8, inputShape: [32, 32, 3], numClasses: 10, widths: [w, 2 * w, 4 * w] })
      .graph,
  ]);
}

describe('latency predictor calibration in the control plane', () => {
  let fx: ControlPlaneFixture;
  const training = graphsOfWidths([4, 8, 12, 16, 24, 32, 48, 64]);

  before(async () => {
    fx = await startFixture();
    await fx.provision('pi-fast', { profileId: PROFILE });
    await fx.provision('pi-slow', { profileId: PROFILE });
    const database = fx.cp.app.get(SqliteDatabase);
    // Stored pairs, as benchmark reports of candidates leave them: a workload per artifact and a
    // measured p50 per (artifact, device). The slow device has twice the time of the fast one.
    database.write('test.seed', () => {
      training.forEach((graph, i) => {
        const sha = createHash('sha256').update(`candidate-${i}`).digest('hex');
        database.db
          .prepare(
            'INSERT INTO latency_workloads (artifact_sha256, workload_json, created_at) VALUES (?, ?, ?)',
          )
          .run(sha, JSON.stringify(graphWorkload(graph)), 1);
        for (const [device, factors] of [
          ['pi-fast', truth],
          ['pi-slow', slowTruth],
        ] as const) {
          database.db
            .prepare(
              `INSERT INTO measurements (device_id, artifact_sha256, profile_id, source, p50_ms, measured_at)
               VALUES (?, ?, ?, 'measured', ?, ?)`,
            )
            .run(device, sha, PROFILE, predictLatency(graph, profile, {}, factors).totalMs, i);
        }
      });
    });
  });
  after(async () => {
    await fx?.close();
    fx?.dir.cleanup();
  });

  it('starts uncalibrated: identity factors, no quality figures', async () => {
    const res = await fx.api().get(`/api/v1/profiles/${PROFILE}/predictor`).set(fx.auth);
    assert.equal(res.status, 200);
    assert.equal(res.body.calibrated, false);
    assert.deepEqual(res.body.factors, { compute: 1, memory: 1, overhead: 1, fixedMs: 0 });
    assert.equal(res.body.quality.heldOut.count, 0);
  });

  it('fits class and device factors and reports held-out quality', async () => {
    await fx.cp.app.get(LatencyPredictorService).refit();
    const res = await fx.api().get(`/api/v1/profiles/${PROFILE}/predictor`).set(fx.auth);
    const body = res.body as {
      calibrated: boolean;
      mode: string;
      pairs: number;
      devices: { deviceId: string; factors: { compute: number }; samples: number }[];
      quality: {
        heldOut: { count: number; within10Percent: number; mapePercent: number };
        uncalibrated: { mapePercent: number };
      };
      fittedAt: string;
    };
    assert.equal(body.calibrated, true);
    assert.equal(body.mode, 'roofline');
    assert.equal(body.pairs, 32);
    // Each device's own factors recover its hardware exactly (noise-free pairs).
    const byDevice = new Map(body.devices.map((d) => [d.deviceId, d]));
    assert.ok(Math.abs(byDevice.get('pi-fast')!.factors.compute - 5) < 0.05);
    assert.ok(Math.abs(byDevice.get('pi-slow')!.factors.compute - 10) < 0.1);
    assert.equal(byDevice.get('pi-fast')!.samples, 16);
    // 30% of 32 pairs held out. The class mixes two devices 2x apart, so one set of class
    // factors cannot place every pair within 10%; per-device predictions can (below).
    assert.equal(body.quality.heldOut.count, 10);
    assert.ok(body.quality.uncalibrated.mapePercent > body.quality.heldOut.mapePercent);
    assert.ok(Date.parse(body.fittedAt) > 0);
  });

  it('predicts an unseen graph per device within 1% of what the device does', async () => {
    const [unseen] = graphsOfWidths([20]);
    const onnx = Buffer.from(
      exportOnnx(buildSmallCnn({ inputShape: [28, 28, 1], numClasses: 10, widths: [20, 40, 80] })),
    );
    const latency = fx.cp.app.get(LatencyService);
    for (const [device, factors] of [
      ['pi-fast', truth],
      ['pi-slow', slowTruth],
    ] as const) {
      const expected = predictLatency(unseen as Graph, profile, {}, factors).totalMs;
      const got = latency.predict(onnx, PROFILE, device);
      assert.equal(got.calibrated, true);
      assert.ok(
        Math.abs(got.ms - expected) / expected < 0.01,
        `${device}: ${got.ms} vs ${expected}`,
      );
    }
    // A QDQ (int8) export of the same graph is priced too, at int8 rates.
    const qdq = await exportQuantizedOnnx(
      buildSmallCnn({ inputShape: [28, 28, 1], numClasses: 10, widths: [20, 40, 80] }),
      { calibration: { data: new Float32Array(4 * 28 * 28).fill(0.5), count: 4 } },
    );
    const int8 = latency.predict(Buffer.from(qdq.bytes), PROFILE, 'pi-fast');
    const float = latency.predict(onnx, PROFILE, 'pi-fast');
    assert.ok(int8.ms > 0 && int8.ms < float.ms, `int8 ${int8.ms} vs float ${float.ms}`);

    // A stored artifact is priced from its file, and from its kept workload afterwards.
    const artifacts = fx.cp.app.get(ArtifactsService);
    const stored = artifacts.storeBuffer(onnx);
    fx.cp.app
      .get(SqliteDatabase)
      .write('test.artifact', () => artifacts.record(stored, 'application/onnx'));
    const predictor = fx.cp.app.get(LatencyPredictorService);
    assert.deepEqual(predictor.predictArtifact(stored.sha256, PROFILE, 'pi-fast'), float);
    assert.deepEqual(predictor.predictArtifact(stored.sha256, PROFILE, 'pi-fast'), float);
    assert.equal(predictor.predictArtifact('0'.repeat(64), PROFILE), null);

    const uncalibrated = latency.predict(onnx, 'jetson-nano');
    assert.equal(uncalibrated.calibrated, false);
    assert.throws(() => latency.predict(Buffer.from('garbage!'), PROFILE), /cannot predict/);
    assert.throws(() => latency.predict(onnx, 'no-such-profile'), /not found/);
  });

  it('keeps the fitted calibration across a restart', async () => {
    const before = (await fx.api().get(`/api/v1/profiles/${PROFILE}/predictor`).set(fx.auth))
      .body as unknown;
    await fx.close();
    fx = await startFixture({}, fx.dir);
    const res = await fx.api().get(`/api/v1/profiles/${PROFILE}/predictor`).set(fx.auth);
    assert.deepEqual(res.body, before);
  });
});
