import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { renderLatencyReport, renderPareto } from './report-views';

describe('renderLatencyReport', () => {
  it('prints one titled table per row group, known columns first, spreads as min..max', () => {
    const text = renderLatencyReport({
      variantId: 'v_1',
      devices: [
        {
          p50Ms: 3.21,
          deviceId: 'pi-1',
          n: 3,
          spreadMs: { min: 3.1, max: 3.4 },
          source: 'measured',
        },
        { p50Ms: null, deviceId: 'pi-2', n: 0, spreadMs: null, source: 'predicted' },
      ],
      profiles: [
        {
          profileId: 'raspberry-pi-5',
          p50Ms: 3.21,
          predictedMs: 2.9,
          n: 1,
          predictionErrorPct: -9.657,
        },
      ],
    });
    assert.equal(
      text,
      [
        'devices:',
        'DEVICE  N  P50 MS  SPREAD MS   SOURCE',
        'pi-1    3    3.21  3.10..3.40  measured',
        'pi-2    0       -  -           predicted',
        '',
        'profiles:',
        'PROFILE         N  P50 MS  PREDICTED MS  PRED ERR %',
        'raspberry-pi-5  1    3.21          2.90        -9.7',
        '',
      ].join('\n'),
    );
  });

  it('accepts a bare array and says when there is nothing', () => {
    assert.match(
      renderLatencyReport([{ deviceId: 'a', p99Ms: 12.5 }]),
      /^DEVICE\s+P99 MS\na\s+12\.5\n$/,
    );
    assert.equal(renderLatencyReport({ rows: [] }), '(no measurements)\n');
    assert.equal(renderLatencyReport(null), '(no measurements)\n');
  });
});

describe('renderPareto', () => {
  it('sorts by p50, marks the front and leaves others unmarked', () => {
    const text = renderPareto({
      points: [
        {
          variantId: 'slow',
          accuracy: 0.99,
          p50Ms: 5,
          latencySource: 'measured',
          bytes: 2048,
          params: 100,
          flops: 1000,
          method: 'original',
        },
        {
          variantId: 'fast',
          deployableVariantId: 'fast-onnx',
          accuracy: 0.95,
          p50Ms: 1,
          latencySource: 'measured',
          bytes: 1024,
          params: 50,
          flops: 500,
          method: 'aap',
        },
        {
          variantId: 'worse',
          accuracy: 0.9,
          p50Ms: 2,
          latencySource: 'predicted',
          bytes: 1024,
          params: 50,
          flops: 500,
          method: 'aap',
        },
      ],
      pareto: ['fast', 'slow'],
    });
    const rows = text.trimEnd().split('\n').slice(1);
    assert.deepEqual(
      rows.map((r) => r.split(/\s+/).filter(Boolean).slice(0, 2)),
      [
        ['*', 'fast'],
        ['worse', 'aap'],
        ['*', 'slow'],
      ],
    );
    assert.match(text.split('\n')[0]!, /FLOPS\s+DEPLOY AS$/);
    assert.match(rows[0]!, /fast-onnx$/, 'an engine candidate names the file a device runs');
    assert.doesNotMatch(rows[2]!, /onnx/);
  });
});
