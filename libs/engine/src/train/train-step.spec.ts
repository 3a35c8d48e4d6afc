import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { ensureTfjsGradients } from '../backend';
import { buildSmallCnn } from '../builders';
import { GraphExecutor } from '../graph';
import { distillationLoss } from './losses';
import { Optimizer } from './optimizer';
import { computeGradients, trainStep } from './train-step';

before(async () => {
  await tf.setBackend('cpu');
  ensureTfjsGradients();
});

const snapshot = (vars: ReadonlyMap<string, tf.Variable>) =>
  new Map([...vars].map(([k, v]) => [k, Array.from(v.dataSync())]));

describe('trainStep with a caller-supplied loss', () => {
  it('distils into the student, leaves the frozen teacher alone and moves BN statistics', () => {
    const shape: [number, number, number] = [6, 6, 1];
    const teacher = new GraphExecutor(buildSmallCnn({ inputShape: shape, numClasses: 3, seed: 1 }));
    const student = new GraphExecutor(
      buildSmallCnn({ inputShape: shape, numClasses: 3, widths: [2, 4, 4], seed: 2 }),
    );
    const x = tf.randomNormal([8, ...shape], 0, 1, 'float32', 3) as tf.Tensor4D;
    const optimizer = new Optimizer({ kind: 'adam' }, [
      { name: 'student', params: student.trainable, schedule: { kind: 'constant', lr: 0.01 } },
    ]);
    const teacherBefore = snapshot(teacher.trainable);
    const studentBefore = snapshot(student.trainable);
    const stateBefore = snapshot(student.state);
    const kd = () => {
      const t = teacher.forward(x, { training: false }).logits;
      const s = student.forward(x, { training: true });
      return { loss: distillationLoss(s.logits, t, 4), stateUpdates: s.stateUpdates };
    };
    const first = trainStep({
      lossFn: kd,
      optimizer,
      applyState: (u) => student.applyStateUpdates(u),
    });
    for (let i = 0; i < 20; i++) {
      trainStep({ lossFn: kd, optimizer, applyState: (u) => student.applyStateUpdates(u) });
    }
    const last = trainStep({ lossFn: kd, optimizer });
    assert.ok(last.loss < first.loss, `KD loss ${first.loss} -> ${last.loss}`);
    assert.deepEqual(snapshot(teacher.trainable), teacherBefore);
    assert.notDeepEqual(snapshot(student.trainable), studentBefore);
    assert.notDeepEqual(snapshot(student.state), stateBefore);
    teacher.dispose();
    student.dispose();
    optimizer.dispose();
  });

  it('refuses a non-finite loss without changing anything', () => {
    const v = tf.variable(tf.scalar(1), true, 'nan-check');
    assert.throws(
      () =>
        computeGradients(
          () => ({ loss: tf.div(tf.mul(v, 0), 0) as tf.Scalar }),
          new Map([['v', v]]),
        ),
      /loss is NaN/,
    );
    assert.equal(v.dataSync()[0], 1);
  });
});
