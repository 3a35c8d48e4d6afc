import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importOnnx } from '@edgecompress/engine';
import { edgec, writeSyntheticModel } from './cli-test-kit';

describe('edgec compress aap (real processes)', () => {
  let dir = '';
  let model = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgec-aap-'));
    model = writeSyntheticModel(join(dir, 'model.ecm'), 'small-cnn');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  /** `compress aap` on the synthetic model and data. */
  const aapOnSynthetic = () => ['compress', 'aap', '-m', model, '-d', 'synthetic'];
  /** A quick search on synthetic data that stops once 30 % of the parameters are gone. */
  const prunesToAThird = () => [
    ...aapOnSynthetic(),
    '--objective',
    'params=0.3',
    '--max-drop',
    '100',
    '--rounds',
    '40',
    '--steps',
    '2',
    '-b',
    '16',
    '--validation',
    '50',
    '--calibration-batches',
    '1',
  ];

  it('prunes to a params target, prints the round table, writes the report and ONNX', () => {
    const report = join(dir, 'report.json');
    const onnx = join(dir, 'pruned.onnx');
    const r = edgec([
      ...prunesToAThird(),
      '--max-group-cut',
      '0.5',
      '--report',
      report,
      '--onnx',
      onnx,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /round\s+from\s+T\s+lambda/);
    assert.match(r.stdout, /params >= 30.0% removed, drop <= 100 pt: round \d+ of \d+, params -\d/);
    assert.match(r.stdout, /stopped: target-reached/);
    assert.match(r.stderr, /round 1: T /);
    const json = JSON.parse(readFileSync(report, 'utf8')) as {
      targetMet: boolean;
      trajectory: { groups: { group: string; channels: number; kept: number }[] }[];
      provenance: { decisions: unknown[]; method: string; options: { maxGroupCut: number } };
    };
    assert.equal(json.targetMet, true);
    // no round took more than half of any layer group
    assert.equal(json.provenance.options.maxGroupCut, 0.5);
    const cuts = json.trajectory.flatMap((t) => t.groups);
    assert.ok(cuts.length > 0);
    for (const g of cuts) {
      assert.ok(g.channels - g.kept <= Math.max(1, Math.floor(g.channels / 2)), JSON.stringify(g));
    }
    assert.equal(json.provenance.method, 'aap');
    assert.equal(json.trajectory.length, json.provenance.decisions.length + 1);
    const { metadata } = importOnnx(readFileSync(onnx));
    assert.equal(metadata.get('edgecompress.method'), 'aap');
    const provenance = JSON.parse(metadata.get('edgecompress.provenance')!) as {
      stopReason: string;
    };
    assert.equal(provenance.stopReason, 'target-reached');
  });

  it('--baselines prints L1-norm and one-shot attention at the delivered size and adds them to the report', () => {
    const report = join(dir, 'with-baselines.json');
    const r = edgec([...prunesToAThird(), '--baselines', '--report', report]);
    assert.equal(r.code, 0, r.stderr);
    // the search's outputs come first, the baseline table after them
    const searchDone = r.stdout.indexOf('trajectory and provenance written to');
    const table = r.stdout.search(/\n\s*l1-norm\s/);
    assert.ok(searchDone >= 0 && table > searchDone, r.stdout);
    assert.match(r.stdout, /report with the baselines written to/);
    // each baseline's fine-tuning shows its progress to the last step
    assert.match(r.stderr, /^l1-norm (\d+)\/\1 \(100%\) .*fine-tune loss \d/m);
    assert.match(r.stderr, /^one-shot (\d+)\/\1 \(100%\) .*fine-tune loss \d/m);
    const json = JSON.parse(readFileSync(report, 'utf8')) as {
      metrics: { params: number };
      baselines: {
        method: string;
        params: number;
        testAccuracy: number;
        fineTune: { steps: number };
      }[];
    };
    assert.deepEqual(
      json.baselines.map((b) => b.method),
      ['l1-norm', 'one-shot-attention'],
    );
    for (const b of json.baselines) {
      assert.ok(b.params <= json.metrics.params * 1.05, `${b.method} at ${b.params} params`);
      assert.ok(b.testAccuracy >= 0 && b.testAccuracy <= 1);
      assert.ok(b.fineTune.steps >= 2 && b.fineTune.steps % 2 === 0, 'the lineage budget');
    }
  });

  it('bad objectives exit non-zero with a clear message and write nothing', () => {
    const report = join(dir, 'never.json');
    const cases: [string[], RegExp][] = [
      [['--objective', 'params=-1'], /must lie in \(0, 1\)/],
      [
        ['--objective', 'latency=2ms@pi-9000', '--latency-source', 'predicted'],
        /unknown device .*pi-9000/,
      ],
      [
        ['--objective', 'latency=2ms@local', '--latency-source', 'measured'],
        /cannot use latency source "measured"/,
      ],
      [['--objective', 'accuracy', '--max-drop', '-1'], /maxAccuracyDrop/],
      [['--objective', 'latency=9999ms@local'], /target already met/],
      [['--max-group-cut', '0'], /largest cut per round must be in \(0, 1\], got 0/],
      [['--workers', '0'], /fine-tune workers must be an integer >= 1, got 0/],
      [
        ['--objective', 'latency=2ms@local', '--latency-batch', '0'],
        /batch size must be an integer >= 1, got 0/,
      ],
    ];
    for (const [flags, message] of cases) {
      const r = edgec([...aapOnSynthetic(), '--report', report, ...flags]);
      assert.notEqual(r.code, 0, flags.join(' '));
      assert.match(r.stderr, message, flags.join(' '));
    }
    assert.equal(existsSync(report), false);
    const missing = edgec(['compress', 'aap', '-m', join(dir, 'nope.ecm'), '-d', 'synthetic']);
    assert.match(missing.stderr, /model file ".*nope.ecm" not found/);
  });
});
