import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { Optimizer, type OptimizerConfig } from './optimizer';
import { learningRateAt } from './lr-schedule';
import { countCorrect, crossEntropy, distillationLoss } from './losses';

// Reference values were computed with torch.optim / torch.nn.functional (PyTorch 1.13) for the
// same parameters and gradients; tolerances allow for float32 vs float64 arithmetic.
const GRADS = [
  [0.5, -1.0, 2.0],
  [0.25, 0.5, -1.5],
  [-0.75, 1.0, 0.1],
];

function runSteps(config: OptimizerConfig, lr: number, weightDecay: number): number[] {
  const p = tf.variable(tf.tensor1d([1.0, -2.0, 0.5]), true, `p${Math.random()}`);
  const opt = new Optimizer(config, [
    { name: 'all', params: new Map([['p', p]]), schedule: { kind: 'constant', lr }, weightDecay },
  ]);
  for (const g of GRADS) {
    const grad = tf.tensor1d(g);
    opt.apply(new Map([['p', grad]]));
    grad.dispose();
  }
  const out = Array.from(p.dataSync());
  opt.dispose();
  p.dispose();
  return out;
}

function assertClose(actual: number[], expected: number[], tol = 1e-6): void {
  actual.forEach((a, i) =>
    assert.ok(Math.abs(a - expected[i]!) <= tol, `[${actual}] vs [${expected}] at ${i}`),
  );
}

before(async () => {
  await tf.setBackend('cpu');
});

describe('optimizers match torch.optim', () => {
  it('SGD with momentum and L2 weight decay', () => {
    assertClose(
      runSteps({ kind: 'sgd', momentum: 0.9 }, 0.1, 0.01),
      [0.8866097, -1.9131196, 0.2308072],
    );
  });

  it('SGD with Nesterov momentum', () => {
    assertClose(
      runSteps({ kind: 'sgd', momentum: 0.9, nesterov: true }, 0.1, 0.01),
      [0.8953698, -1.9663785, 0.1971991],
    );
  });

  it('Adam with L2 weight decay', () => {
    assertClose(runSteps({ kind: 'adam' }, 0.01, 0.1), [0.9794716, -1.9857475, 0.4875529]);
  });

  it('AdamW (decoupled weight decay)', () => {
    assertClose(
      runSteps({ kind: 'adam', decoupledWeightDecay: true }, 0.01, 0.1),
      [0.9785303, -1.9840924, 0.4866837],
    );
  });

  it('plain SGD is p - lr * g, and parameters without a gradient stay put', () => {
    const a = tf.variable(tf.scalar(1), true, 'plain-a');
    const b = tf.variable(tf.scalar(5), true, 'plain-b');
    const opt = new Optimizer({ kind: 'sgd' }, [
      {
        name: 'g',
        params: new Map([
          ['a', a],
          ['b', b],
        ]),
        schedule: { kind: 'constant', lr: 0.5 },
      },
    ]);
    opt.apply(new Map([['a', tf.scalar(2)]]));
    assert.equal(a.dataSync()[0], 0);
    assert.equal(b.dataSync()[0], 5);
    assert.equal(opt.step, 1);
  });

  it('groups follow their own schedules', () => {
    const a = tf.variable(tf.scalar(0), true, 'group-a');
    const b = tf.variable(tf.scalar(0), true, 'group-b');
    const opt = new Optimizer({ kind: 'sgd' }, [
      { name: 'weights', params: new Map([['a', a]]), schedule: { kind: 'constant', lr: 1 } },
      { name: 'quant', params: new Map([['b', b]]), schedule: { kind: 'constant', lr: 1e-3 } },
    ]);
    opt.apply(
      new Map([
        ['a', tf.scalar(1)],
        ['b', tf.scalar(1)],
      ]),
    );
    assert.equal(a.dataSync()[0], -1);
    assert.ok(Math.abs(b.dataSync()[0]! + 1e-3) < 1e-9);
    assert.throws(
      () =>
        new Optimizer({ kind: 'sgd' }, [
          { name: 'x', params: new Map([['a', a]]), schedule: { kind: 'constant', lr: 1 } },
          { name: 'y', params: new Map([['a', a]]), schedule: { kind: 'constant', lr: 1 } },
        ]),
      /"a" is in two optimizer groups/,
    );
  });

  it('exported state resumes to the same result as an uninterrupted run', () => {
    const make = (name: string) => {
      const p = tf.variable(tf.tensor1d([1.0, -2.0, 0.5]), true, name);
      return {
        p,
        opt: new Optimizer({ kind: 'adam' }, [
          { name: 'all', params: new Map([['p', p]]), schedule: { kind: 'constant', lr: 0.01 } },
        ]),
      };
    };
    const whole = make('whole');
    for (const g of GRADS) whole.opt.apply(new Map([['p', tf.tensor1d(g)]]));
    const first = make('first');
    first.opt.apply(new Map([['p', tf.tensor1d(GRADS[0]!)]]));
    const saved = first.opt.exportState();
    const second = make('second');
    second.p.assign(first.p);
    second.opt.importState(saved);
    for (const g of GRADS.slice(1)) second.opt.apply(new Map([['p', tf.tensor1d(g)]]));
    assert.deepEqual(Array.from(second.p.dataSync()), Array.from(whole.p.dataSync()));
    assert.throws(
      () => second.opt.importState({ ...saved, kind: 'sgd' }),
      /state is for sgd, this optimizer is adam/,
    );
  });
});

describe('learning-rate schedules', () => {
  it('cosine matches CosineAnnealingLR', () => {
    const torch = [
      0.1, 0.0975773, 0.09054634, 0.07959537, 0.06579634, 0.0505, 0.03520366, 0.02140463,
      0.01045366, 0.0034227, 0.001,
    ];
    torch.forEach((lr, step) => {
      const ours = learningRateAt({ kind: 'cosine', lr: 0.1, totalSteps: 10, minLr: 0.001 }, step);
      assert.ok(Math.abs(ours - lr) < 1e-7, `step ${step}: ${ours} vs ${lr}`);
    });
  });

  it('warm-up ramps linearly, then the schedule starts from the base rate', () => {
    const s = { kind: 'cosine' as const, lr: 1, totalSteps: 14, warmupSteps: 4 };
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => learningRateAt(s, i)),
      [0.25, 0.5, 0.75, 1],
    );
    assert.equal(learningRateAt(s, 4), 1);
    assert.ok(Math.abs(learningRateAt(s, 9) - 0.5) < 1e-12);
    assert.equal(learningRateAt(s, 14), 0);
  });

  it('step decay multiplies by gamma at each milestone', () => {
    const s = { kind: 'step' as const, lr: 0.1, milestones: [3, 6], gamma: 0.1 };
    const lrs = [0, 2, 3, 5, 6, 9].map((i) => learningRateAt(s, i));
    const expected = [0.1, 0.1, 0.01, 0.01, 0.001, 0.001];
    lrs.forEach((lr, i) => assert.ok(Math.abs(lr - expected[i]!) < 1e-12, `${lrs}`));
  });
});

describe('losses match torch.nn.functional', () => {
  const logits = tf.tensor2d([
    [2.0, 0.5, -1.0],
    [0.1, 0.2, 3.0],
  ]);
  const labels = tf.tensor1d([0, 2], 'int32');

  it('cross-entropy with label smoothing 0.1', () => {
    const loss = crossEntropy(logits, labels, 0.1).dataSync()[0]!;
    assert.ok(Math.abs(loss - 0.34545642) < 1e-6, `${loss}`);
  });

  it('distillation KL at T = 4', () => {
    const teacher = tf.tensor2d([
      [1.0, 0.0, -1.0],
      [0.5, 0.5, 2.0],
    ]);
    const loss = distillationLoss(logits, teacher, 4).dataSync()[0]!;
    assert.ok(Math.abs(loss - 0.15277958) < 1e-6, `${loss}`);
  });

  it('counts correct predictions', () => {
    assert.equal(countCorrect(logits, tf.tensor1d([0, 1], 'int32')).dataSync()[0], 1);
  });
});
