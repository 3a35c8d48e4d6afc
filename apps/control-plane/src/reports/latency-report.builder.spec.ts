import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildLatencyReport, latencyReportCsv, type LatencySample } from './latency-report.builder';

const sample = (
  deviceId: string,
  profileId: string | null,
  p50Ms: number,
  variantId = 'var_a',
): LatencySample => ({
  variantId,
  deviceId,
  profileId,
  p50Ms,
  p90Ms: p50Ms * 1.5,
  p99Ms: p50Ms * 2,
});

describe('latency report', () => {
  const samples = [
    sample('pi-1', 'raspberry-pi-5', 4),
    sample('pi-1', 'raspberry-pi-5', 6),
    sample('pi-1', 'raspberry-pi-5', 5),
    sample('pi-2', 'raspberry-pi-5', 8),
    sample('pi-3', 'raspberry-pi-5', 9),
    sample('x86-1', null, 1),
  ];

  it('gives per device the medians and the p50 spread over runs, per profile the median and spread over devices', () => {
    const report = buildLatencyReport(samples, () => null);
    const pi1 = report.rows.find((r) => r.deviceId === 'pi-1')!;
    assert.deepEqual(
      [pi1.n, pi1.p50Ms, pi1.p90Ms, pi1.p99Ms, pi1.spreadMs],
      [3, 5, 7.5, 10, { min: 4, max: 6 }],
    );
    const profile = report.rows.find((r) => r.scope === 'profile')!;
    assert.deepEqual(
      [profile.profileId, profile.devices, profile.n, profile.p50Ms, profile.spreadMs],
      ['raspberry-pi-5', 3, 5, 8, { min: 5, max: 9 }],
    );
    // A device with no profile has its own row and no profile row.
    assert.equal(report.rows.filter((r) => r.scope === 'profile').length, 1);
    assert.deepEqual(
      report.rows.map((r) => [r.scope, r.deviceId]),
      [
        ['profile', null],
        ['device', 'pi-1'],
        ['device', 'pi-2'],
        ['device', 'pi-3'],
        ['device', 'x86-1'],
      ],
    );
  });

  it('puts the prediction beside the measurement with its error, per device and per profile', () => {
    const asked: string[] = [];
    const report = buildLatencyReport(samples, (variantId, profileId, deviceId) => {
      asked.push(`${variantId}/${profileId}/${deviceId ?? '*'}`);
      return { ms: deviceId === 'pi-2' ? 6 : 10, calibrated: deviceId !== undefined };
    });
    const pi2 = report.rows.find((r) => r.deviceId === 'pi-2')!;
    assert.deepEqual(
      [pi2.predictedMs, pi2.predictionCalibrated, pi2.predictionErrorPct],
      [6, true, -25],
    );
    const profile = report.rows.find((r) => r.scope === 'profile')!;
    assert.deepEqual([profile.predictedMs, profile.predictionErrorPct], [10, 25]);
    assert.equal(report.rows.find((r) => r.deviceId === 'x86-1')!.predictedMs, null);
    assert.ok(!asked.some((a) => a.includes('x86-1')));
  });

  it('writes CSV with a header, one line per row, empty cells for nulls', () => {
    const csv = latencyReportCsv(buildLatencyReport(samples, () => null));
    const lines = csv.trimEnd().split('\n');
    assert.equal(lines.length, 6);
    assert.equal(
      lines[0],
      'scope,variant_id,profile_id,device_id,devices,n,p50_ms,p90_ms,p99_ms,spread_min_ms,spread_max_ms,source,predicted_ms,prediction_calibrated,prediction_error_pct',
    );
    assert.equal(lines[1], 'profile,var_a,raspberry-pi-5,,3,5,8,12,16,5,9,measured,,,');
    assert.equal(lines[2], 'device,var_a,raspberry-pi-5,pi-1,1,3,5,7.5000,10,4,6,measured,,,');
  });

  it('is empty for no samples', () => {
    assert.deepEqual(buildLatencyReport([], () => null).rows, []);
    assert.equal(latencyReportCsv({ rows: [] }).split('\n')[1], '');
  });
});
