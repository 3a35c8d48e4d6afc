import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeOnnxModel, readMetadata } from '@edgecompress/engine';
import { edgec, writeSyntheticModel } from './cli-test-kit';

describe('edgec compress sqakd (real processes)', () => {
  let dir = '';
  let model = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgec-sqakd-'));
    model = writeSyntheticModel(join(dir, 'teacher.ecm'), 'small-cnn');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('quantizes W2A2 without labels, shows progress, writes a packed ONNX with provenance and checks it under ORT', () => {
    const onnx = join(dir, 'w2a2.onnx');
    const report = join(dir, 'w2a2.json');
    const r = edgec([
      'compress',
      'sqakd',
      '-m',
      model,
      '-d',
      'synthetic',
      '--bits',
      'w2a2',
      '--quantizer',
      'lsq',
      '--unlabeled',
      '--epochs',
      '2',
      '--steps-per-epoch',
      '2',
      '-b',
      '16',
      '--onnx',
      onnx,
      '--report',
      report,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /SQAKD W2A2 lsq .* unlabeled/);
    assert.match(r.stderr, /sqakd .*epoch 2\/2/);
    assert.match(r.stdout, /weights 2-bit packed/);
    const parity = /under ORT: test acc ([\d.]+)% vs engine fake-quant ([\d.]+)%/.exec(r.stdout);
    assert.ok(parity, r.stdout);
    assert.ok(Math.abs(Number(parity[1]) - Number(parity[2])) <= 0.2, parity[0]);
    const meta = readMetadata(decodeOnnxModel(readFileSync(onnx)));
    assert.equal(meta.get('edgecompress.method'), 'sqakd');
    const provenance = JSON.parse(meta.get('edgecompress.provenance')!) as {
      labelsRead: boolean;
      loss: string;
    };
    assert.deepEqual([provenance.loss, provenance.labelsRead], ['kd', false]);
    const json = JSON.parse(readFileSync(report, 'utf8')) as { history: unknown[] };
    assert.equal(json.history.length, 2);
  });

  it('rejects bad settings with a clear message and writes nothing', () => {
    const out = join(dir, 'bad.onnx');
    for (const [args, message] of [
      [['--bits', 'w1a2'], /weight bit width must be one of 2, 3, 4, 8, got 1/],
      [['--bits', 'w4a9'], /activation bit width must be one of 2, 3, 4, 8, got 9/],
      [['--quantizer', 'ewgs'], /unknown quantizer "ewgs"/],
      [['--loss', 'ce', '--unlabeled'], /cannot run with --unlabeled/],
    ] as const) {
      const r = edgec([
        'compress',
        'sqakd',
        '-m',
        model,
        '-d',
        'synthetic',
        ...args,
        '--onnx',
        out,
      ]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, message);
      assert.ok(!existsSync(out));
    }
  });
});
