import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const EDGEC = join(__dirname, '../../../../bin/edgec.js');

function edgec(args: string[]) {
  const r = spawnSync(process.execPath, [EDGEC, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('edgec train / eval (real processes)', () => {
  it('trains on synthetic data, writes a model file that eval reads back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edgec-cli-train-'));
    try {
      const out = join(dir, 'model.ecm');
      const ckpt = join(dir, 'run.ckpt');
      const t = edgec([
        'train',
        '--dataset',
        'synthetic',
        '--model',
        'small-cnn',
        '--epochs',
        '2',
        '--batch-size',
        '16',
        '--optimizer',
        'adam',
        '--lr',
        '0.01',
        '--out',
        out,
        '--checkpoint',
        ckpt,
      ]);
      assert.equal(t.code, 0, t.stderr);
      const line = /final test accuracy ([\d.]+)% .* after 2 epochs/.exec(t.stdout);
      assert.ok(line, t.stdout);
      assert.ok(Number(line[1]) >= 80, `accuracy ${line[1]}%`);
      assert.match(t.stderr, /epoch 2\/2: train loss/);
      assert.ok(existsSync(out) && existsSync(ckpt));
      const e = edgec(['eval', '--model', out, '--dataset', 'synthetic']);
      assert.equal(e.code, 0, e.stderr);
      // eval reproduces the accuracy train reported, to the printed precision.
      assert.match(e.stdout, new RegExp(`test accuracy ${line[1]}% \\(\\d+/64\\)`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('fails with a clear message on an unknown dataset or a missing model file', () => {
    const a = edgec(['train', '--dataset', 'cifar-1000']);
    assert.equal(a.code, 1);
    assert.match(a.stderr, /unknown dataset "cifar-1000"; known: mnist, fashion-mnist/);
    const b = edgec(['eval', '--model', '/nonexistent/model.ecm']);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /\/nonexistent\/model\.ecm/);
  });
});
