import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import {
  GraphExecutor,
  Optimizer,
  buildModel,
  buildResNet,
  initEngineBackend,
  syntheticDataset,
  trainStep,
  crossEntropy,
  evaluate,
  type Model,
} from '@edgecompress/engine';
import { replacementRate, type Curriculum } from './replacement-curriculum';
import { segmentModel } from './model-segments';
import { ModuleReplacer } from './module-replacer';
import { runLcmr } from './lcmr-runner';

before(async () => {
  await initEngineBackend();
});

const close = (a: number, b: number, tol = 1e-6): void =>
  assert.ok(Math.abs(a - b) <= tol, `${a} != ${b}`);

describe('replacement curriculum', () => {
  const base = { p0: 0.3, kappa: 10, horizon: 1000 };
  it('log: p0 at 0, p0 + (1-p0) ln 6 / ln 11 at Tr/2, 1 at Tr and after', () => {
    const c: Curriculum = { kind: 'log', ...base };
    close(replacementRate(c, 0), 0.3);
    close(replacementRate(c, 500), 0.3 + (0.7 * Math.log(6)) / Math.log(11));
    close(replacementRate(c, 1000), 1);
    close(replacementRate(c, 5000), 1);
  });
  it('linear and constant at 0, Tr/2, Tr', () => {
    const lin: Curriculum = { kind: 'linear', ...base };
    const con: Curriculum = { kind: 'constant', ...base };
    assert.deepEqual(
      [0, 500, 1000].map((t) => replacementRate(lin, t)),
      [0.3, 0.3 + 0.7 * 0.5, 1],
    );
    assert.deepEqual(
      [0, 500, 1000].map((t) => replacementRate(con, t)),
      [0.3, 0.3, 1],
    );
  });
});

const opts = { inputShape: [8, 8, 1] as [number, number, number], numClasses: 4 };
const model = (arch: string, seed = 0): Model => buildModel(arch, { ...opts, seed });

describe('module segments', () => {
  it('cuts a resnet into one segment per stage plus the head, shapes chained', () => {
    const segs = segmentModel(model('resnet20'), 'teacher');
    assert.equal(segs.length, 4);
    assert.deepEqual(
      segs.map((s) => s.outputShape),
      [[8, 8, 16], [4, 4, 32], [2, 2, 64], [4]],
    );
    for (let g = 1; g < segs.length; g++)
      assert.deepEqual(segs[g]!.inputShape, segs[g - 1]!.outputShape);
  });

  it('refuses missing stage boundaries, a cut across a skip connection and mismatched shapes', () => {
    const m = model('resnet8');
    assert.throws(
      () => segmentModel({ ...m, graph: { ...m.graph, stages: undefined } }, 'teacher'),
      /no stage boundaries/,
    );
    const inner = m.graph.nodes.find((n) => n.tags?.stage === 0 && n.op === 'relu')!.id;
    const badStages = [{ name: 'cut', output: inner }, ...m.graph.stages!.slice(1)];
    assert.throws(
      () => segmentModel({ ...m, graph: { ...m.graph, stages: badStages } }, 'teacher'),
      /across a stage boundary/,
    );
    const narrow = buildResNet({ ...opts, depth: 8, widths: [8, 16, 32] });
    assert.throws(() => new ModuleReplacer(model('resnet20'), narrow), /keep the shapes/);
  });
});

describe('module replacement', () => {
  it('with every group replaced computes exactly the student network', () => {
    const student = model('resnet8', 3);
    const replacer = new ModuleReplacer(model('resnet20', 1), student);
    const plain = new GraphExecutor(student);
    try {
      const x = tf.randomNormal([3, 8, 8, 1], 0, 1, 'float32', 7);
      const hybrid = replacer.forward(x, [true, true, true], false).logits.arraySync();
      const direct = plain.forward(x as tf.Tensor4D, { training: false }).logits.arraySync();
      hybrid.flat().forEach((v, i) => close(v, direct.flat()[i]!, 1e-4));
    } finally {
      replacer.dispose();
      plain.dispose();
    }
  });

  it('a step changes only the successors that ran and the head; teacher groups stay frozen', () => {
    const replacer = new ModuleReplacer(model('resnet20', 1), model('resnet8', 3));
    const snapshot = (execs: GraphExecutor[]): Float32Array[] =>
      execs.flatMap((e) =>
        [...e.trainable.values()].map((v) => v.dataSync().slice() as Float32Array),
      );
    try {
      const use = [true, false, true];
      const x = tf.randomNormal([4, 8, 8, 1], 0, 1, 'float32', 3);
      const labels = tf.tensor1d([0, 1, 2, 3], 'int32');
      const teacherBefore = snapshot(replacer.teacherGroups);
      const succBefore = replacer.successors.map((s) => snapshot([s]));
      const headBefore = snapshot([replacer.head]);
      const optimizer = new Optimizer({ kind: 'sgd' }, [
        { name: 's', params: replacer.trainable(), schedule: { kind: 'constant', lr: 0.1 } },
      ]);
      trainStep({
        optimizer,
        variables: replacer.trainable(use),
        lossFn: () => {
          const out = replacer.forward(x, use, true);
          return { loss: crossEntropy(out.logits, labels), stateUpdates: out.stateUpdates };
        },
        applyState: (u) => replacer.applyStateUpdates(u),
      });
      const changed = (a: Float32Array[], b: Float32Array[]): boolean =>
        a.some((t, i) => t.some((v, j) => v !== b[i]![j]));
      assert.equal(changed(teacherBefore, snapshot(replacer.teacherGroups)), false);
      assert.equal(changed(succBefore[0]!, snapshot([replacer.successors[0]!])), true);
      assert.equal(changed(succBefore[1]!, snapshot([replacer.successors[1]!])), false);
      assert.equal(changed(succBefore[2]!, snapshot([replacer.successors[2]!])), true);
      assert.equal(changed(headBefore, snapshot([replacer.head])), true);
      optimizer.dispose();
    } finally {
      replacer.dispose();
    }
  });
});

describe('runLcmr', () => {
  it('trains a resnet8 student in place of resnet20 stages; the result is an ordinary model', () => {
    const data = syntheticDataset({ ...opts, trainCount: 256, testCount: 128, seed: 9 });
    const student = model('resnet8', 4);
    const result = runLcmr(data, {
      teacher: model('resnet20', 1),
      student,
      replaceSteps: 24,
      finetuneSteps: 8,
      batchSize: 32,
      kdWeight: 0,
    });
    assert.equal(result.trace.at(-1)!.rate <= 1, true);
    assert.ok(result.trace[0]!.rate < result.trace.at(-1)!.rate);
    assert.deepEqual(
      result.model.graph.nodes.map((n) => n.id),
      student.graph.nodes.map((n) => n.id),
    );
    assert.ok(![...result.model.weights.keys()].some((k) => k.startsWith('lcmr.')));
    // The student alone, as an ordinary graph, reproduces the reported accuracy.
    const exec = new GraphExecutor(result.model);
    try {
      assert.equal(evaluate(exec, data.test).accuracy, result.accuracy);
    } finally {
      exec.dispose();
    }
    assert.ok(result.accuracy! > 0.8, `accuracy ${result.accuracy}`);
  });
});
