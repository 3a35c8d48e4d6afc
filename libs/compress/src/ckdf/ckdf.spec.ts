import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
import {
  GraphExecutor,
  buildModel,
  buildResNet,
  initEngineBackend,
  syntheticDataset,
  type Model,
} from '@edgecompress/engine';
import { ContrastMemory, NegativeSampler, nceLoss } from './contrast-memory';
import { pickCandidate, poolAndPad, resolveFeaturePairs } from './feature-pairs';
import { runCkdf, type BankInit } from './ckdf-runner';

before(async () => {
  await initEngineBackend();
});

const close = (a: number, b: number, tol = 1e-5): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} != ${b}`);

describe('CRD NCE loss', () => {
  it('matches the hand-computed value for one anchor, two negatives, N = 4', () => {
    // m = 2, Pn = 1/4, m*Pn = 0.5: -[ln(0.5/1.0) + ln(0.5/0.6) + ln(0.5/0.7)]
    const expected = -(Math.log(0.5 / 1.0) + Math.log(0.5 / 0.6) + Math.log(0.5 / 0.7));
    const loss = nceLoss(tf.tensor2d([[0.5, 0.1, 0.2]]), 4);
    close(loss.dataSync()[0]!, expected, 1e-5);
  });

  it('contrast memory scores both anchors against the other side bank, normalised by Z', () => {
    const memory = new ContrastMemory({
      size: 3,
      dim: 2,
      momentum: 0.5,
      temperature: 0.5,
      seed: 1,
    });
    memory.studentBank.set([1, 0, 0, 1, -1, 0]);
    memory.teacherBank.set([0, 1, 1, 0, 0, -1]);
    const vs = [1, 0];
    const vt = [0, 1];
    const rows = Int32Array.from([0, 1, 2]); // positive 0, negatives 1 and 2
    const bankRow = (bank: Float32Array, r: number): number[] => [bank[2 * r]!, bank[2 * r + 1]!];
    const expScores = (bank: Float32Array, v: number[]): number[] =>
      [0, 1, 2].map((r) => {
        const w = bankRow(bank, r);
        return Math.exp((w[0]! * v[0]! + w[1]! * v[1]!) / 0.5);
      });
    const nce = (scores: number[]): number => {
      const z = (scores.reduce((a, b) => a + b, 0) / scores.length) * 3;
      const p = scores.map((s) => s / z);
      const mPn = 2 / 3;
      return -(
        Math.log(p[0]! / (p[0]! + mPn)) +
        Math.log(mPn / (p[1]! + mPn)) +
        Math.log(mPn / (p[2]! + mPn))
      );
    };
    const expected =
      nce(expScores(memory.teacherBank, vs)) + nce(expScores(memory.studentBank, vt));
    const loss = memory.loss(tf.tensor2d([vs]), tf.tensor2d([vt]), rows);
    close(loss.dataSync()[0]!, expected, 1e-4);
    assert.ok(memory.zStudent !== null && memory.zTeacher !== null);
  });

  it('sends the gradient into both anchors as gathered bank rows and a matMul would, and none into the banks', () => {
    const size = 7;
    const dim = 5;
    const batch = 3;
    const memory = new ContrastMemory({ size, dim, momentum: 0.5, temperature: 0.1, seed: 4 });
    const banksBefore = [
      Float32Array.from(memory.studentBank),
      Float32Array.from(memory.teacherBank),
    ];
    const sampler = new NegativeSampler(null, size, 9);
    const rows = sampler.sample([0, 3, 5], 4);
    const vs = tf.randomNormal([batch, dim], 0, 1, 'float32', 1) as tf.Tensor2D;
    const vt = tf.randomNormal([batch, dim], 0, 1, 'float32', 2) as tf.Tensor2D;
    const [gs, gt] = tf.grads((s: tf.Tensor, t: tf.Tensor) =>
      memory.loss(s as tf.Tensor2D, t as tf.Tensor2D, rows),
    )([vs, vt]);
    // Reference: the same loss written with tf ops (rows gathered into [B, K + 1, d], matMul).
    const reference = (s: tf.Tensor, t: tf.Tensor): tf.Scalar => {
      const idx = tf.tensor1d(rows, 'int32');
      const score = (bank: Float32Array, a: tf.Tensor, z: number): tf.Tensor2D => {
        const w = tf.reshape(tf.gather(tf.tensor2d(bank, [size, dim]), idx), [batch, -1, dim]);
        const d = tf.squeeze(tf.matMul(w, tf.expandDims(a, 2)), [2]);
        return tf.div(tf.exp(tf.div(d, 0.1)), z) as tf.Tensor2D;
      };
      return tf.add(
        nceLoss(score(memory.teacherBank, s, memory.zStudent!), size),
        nceLoss(score(memory.studentBank, t, memory.zTeacher!), size),
      ) as tf.Scalar;
    };
    const [rs, rt] = tf.grads(reference)([vs, vt]);
    const a = [...gs!.dataSync(), ...gt!.dataSync()];
    const b = [...rs!.dataSync(), ...rt!.dataSync()];
    assert.ok(
      b.some((x) => Math.abs(x) > 1e-3),
      'the reference gradient is not all zero',
    );
    a.forEach((x, i) => close(x, b[i]!, 1e-3));
    assert.deepEqual(memory.studentBank, banksBefore[0]);
    assert.deepEqual(memory.teacherBank, banksBefore[1]);
  });

  it('momentum update moves only the given rows and keeps them unit length', () => {
    const memory = new ContrastMemory({
      size: 3,
      dim: 2,
      momentum: 0.5,
      temperature: 0.1,
      seed: 1,
    });
    memory.studentBank.set([1, 0, 0, 1, -1, 0]);
    memory.teacherBank.set([0, 1, 1, 0, 0, -1]);
    memory.update([1], Float32Array.from([1, 0]), Float32Array.from([0, 1]));
    // student row 1: 0.5*(0,1) + 0.5*(1,0) = (0.5,0.5) -> (1/sqrt2, 1/sqrt2)
    close(memory.studentBank[2]!, Math.SQRT1_2);
    close(memory.studentBank[3]!, Math.SQRT1_2);
    close(memory.teacherBank[2]!, Math.SQRT1_2);
    close(memory.teacherBank[3]!, Math.SQRT1_2);
    assert.deepEqual([...memory.studentBank.subarray(0, 2)], [1, 0]);
    assert.deepEqual([...memory.studentBank.subarray(4)], [-1, 0]);
  });

  it('momentum 0 overwrites the rows with the unit embeddings (the bank warm-up)', () => {
    const memory = new ContrastMemory({
      size: 2,
      dim: 2,
      momentum: 0.5,
      temperature: 0.1,
      seed: 1,
    });
    memory.update([0, 1], Float32Array.from([3, 4, 0, -2]), Float32Array.from([0, 5, 1, 1]), 0);
    assert.deepEqual(
      [...memory.studentBank].map((v) => +v.toFixed(6)),
      [0.6, 0.8, 0, -1],
    );
    assert.deepEqual(
      [...memory.teacherBank].map((v) => +v.toFixed(6)),
      [0, 1, +Math.SQRT1_2.toFixed(6), +Math.SQRT1_2.toFixed(6)],
    );
  });
});

describe('negative sampling', () => {
  it('puts the positive first and never draws a same-class image (so never the positive)', () => {
    const labels = Int32Array.from({ length: 50 }, (_, i) => i % 5);
    const sampler = new NegativeSampler(labels, 50, 3);
    const anchors = [0, 7, 13, 49];
    const k = 40;
    const rows = sampler.sample(anchors, k);
    anchors.forEach((a, i) => {
      assert.equal(rows[i * (k + 1)], a);
      for (let j = 1; j <= k; j++) {
        const n = rows[i * (k + 1) + j]!;
        assert.notEqual(n, a);
        assert.notEqual(labels[n], labels[a]);
      }
    });
  });

  it('on an unlabeled split draws any image but the anchor', () => {
    const sampler = new NegativeSampler(null, 5, 1);
    const rows = sampler.sample([2], 200);
    assert.equal(rows[0], 2);
    const negatives = [...rows.subarray(1)];
    assert.ok(!negatives.includes(2));
    assert.deepEqual([...new Set(negatives)].sort(), [0, 1, 3, 4]);
  });

  it('caps K at the dataset size', () => {
    assert.equal(NegativeSampler.cap(16384, 1000), 999);
    assert.equal(NegativeSampler.cap(100, 1000), 100);
  });
});

const model = (arch: string, seed = 0): Model =>
  buildModel(arch, { inputShape: [8, 8, 1], numClasses: 4, seed });

describe('feature pairs', () => {
  it('pairs stem, every stage and the penultimate features across depths', () => {
    const s = new GraphExecutor(model('resnet8'));
    const t = new GraphExecutor(model('resnet20'));
    try {
      const { pairs } = resolveFeaturePairs(s.graph, s.shapes, t.graph, t.shapes, 'most-similar');
      assert.deepEqual(
        pairs.map((p) => p.name),
        ['stem', 'stage0', 'stage1', 'stage2', 'penultimate'],
      );
      assert.equal(pairs[1]!.teacherCandidates.length, 3); // resnet20: 3 blocks per stage
      assert.deepEqual(
        pairs.map((p) => p.dim),
        [16, 16, 32, 64, 64],
      );
    } finally {
      s.dispose();
      t.dispose();
    }
  });

  it('pads a narrower student to the teacher width, and pairs VGG depths the same way', () => {
    const narrow = new GraphExecutor(
      buildResNet({ inputShape: [8, 8, 1], numClasses: 4, depth: 8, widths: [8, 16, 32] }),
    );
    const t = new GraphExecutor(model('resnet20'));
    const v13 = new GraphExecutor(model('vgg13'));
    const v8 = new GraphExecutor(model('vgg8'));
    try {
      const { pairs } = resolveFeaturePairs(narrow.graph, narrow.shapes, t.graph, t.shapes, 'last');
      assert.deepEqual(
        pairs.map((p) => p.dim),
        [16, 16, 32, 64, 64],
      );
      const fs = poolAndPad(tf.ones([2, 4, 4, 8]), 16).arraySync();
      assert.deepEqual(fs[0], [...Array(8).fill(1), ...Array(8).fill(0)]);
      const vgg = resolveFeaturePairs(v8.graph, v8.shapes, v13.graph, v13.shapes, 'last');
      assert.equal(vgg.pairs.length, v8.graph.stages!.length + 2);
    } finally {
      for (const e of [narrow, t, v13, v8]) e.dispose();
    }
  });

  it('pairs a model with named stage boundaries but no node tags (as imported), without a stem pair', () => {
    const s = new GraphExecutor(model('resnet8'));
    const t = new GraphExecutor(model('resnet20'));
    try {
      const untagged = { ...t.graph, nodes: t.graph.nodes.map(({ tags: _tags, ...n }) => n) };
      const { pairs, notes } = resolveFeaturePairs(
        s.graph,
        s.shapes,
        untagged,
        t.shapes,
        'most-similar',
      );
      assert.deepEqual(
        pairs.map((p) => [p.name, p.teacherCandidates]),
        [
          ['stage0', [t.graph.stages![0]!.output]],
          ['stage1', [t.graph.stages![1]!.output]],
          ['stage2', [t.graph.stages![2]!.output]],
          ['penultimate', [t.graph.features!]],
        ],
      );
      assert.ok(notes.some((n) => /no stem pair/.test(n)));
    } finally {
      s.dispose();
      t.dispose();
    }
  });

  it('refuses a model without stage boundaries or with a different stage count', () => {
    const s = new GraphExecutor(model('resnet8'));
    const t = new GraphExecutor(model('vgg8'));
    try {
      const noStages = { ...t.graph, stages: undefined };
      assert.throws(
        () => resolveFeaturePairs(s.graph, s.shapes, noStages, t.shapes, 'last'),
        /no stage boundaries/,
      );
      const noFeatures = { ...t.graph, features: undefined };
      assert.throws(
        () => resolveFeaturePairs(s.graph, s.shapes, noFeatures, t.shapes, 'last'),
        /penultimate features/,
      );
      if (t.graph.stages!.length !== 3)
        assert.throws(
          () => resolveFeaturePairs(s.graph, s.shapes, t.graph, t.shapes, 'last'),
          /stages one to one/,
        );
    } finally {
      s.dispose();
      t.dispose();
    }
  });

  it('picks the most and least similar teacher block', () => {
    const s = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    const same = tf.tensor2d([
      [2, 0],
      [0, 2],
    ]);
    const opposite = tf.tensor2d([
      [-1, 0],
      [0, -1],
    ]);
    assert.equal(pickCandidate(s, [opposite, same], 'most-similar'), 1);
    assert.equal(pickCandidate(s, [opposite, same], 'least-similar'), 0);
    assert.equal(pickCandidate(s, [opposite, same], 'last'), 1);
  });
});

describe('runCkdf', () => {
  const data = syntheticDataset({
    inputShape: [8, 8, 1],
    numClasses: 4,
    trainCount: 128,
    testCount: 64,
    seed: 5,
  });

  it('refuses banks that would not fit the memory limit, before training', () => {
    assert.throws(
      () =>
        runCkdf(data, {
          teacher: model('resnet20'),
          student: model('resnet8'),
          epochs: 1,
          memoryLimitBytes: 1024,
        }),
      /memory banks need .* MiB .* over the 0 MiB limit/,
    );
  });

  it('refuses an unknown bank initialisation, naming the known ones', () => {
    assert.throws(
      () =>
        runCkdf(data, {
          teacher: model('resnet20'),
          student: model('resnet8'),
          epochs: 1,
          bankInit: 'zeros' as BankInit,
        }),
      /bankInit must be one of random, embed, got "zeros"/,
    );
  });

  it('builds no heads or banks for terms of weight 0 (the student-alone baseline)', () => {
    const result = runCkdf(data, {
      teacher: model('resnet8', 1),
      student: model('resnet8', 2),
      epochs: 1,
      stepsPerEpoch: 1,
      beta: 0,
      theta: 0,
      memoryLimitBytes: 1,
    });
    assert.equal(result.memory.bankBytes + result.memory.stepBytes, 0);
    assert.deepEqual(result.provenance.pairs, []);
  });

  it('trains a resnet8 student from a resnet20 teacher: finite loss, moving weights, learning', () => {
    const student = model('resnet8', 2);
    const result = runCkdf(data, {
      teacher: model('resnet20', 1),
      student,
      epochs: 3,
      batchSize: 32,
      nceK: 64,
      alpha: 1,
      lr: 0.05,
      match: 'most-similar',
    });
    assert.equal(result.history.length, 3);
    for (const h of result.history) assert.ok(Number.isFinite(h.loss));
    assert.ok(result.history[2]!.loss < result.history[0]!.loss, JSON.stringify(result.history));
    const before = student.weights.get('fc/kernel')!.data;
    const after = result.model.weights.get('fc/kernel')!.data;
    assert.notDeepEqual([...after], [...before]);
    assert.equal(result.memory.bankBytes, 5 * 2 * 128 * 128 * 4);
    assert.ok(result.bestAccuracy! > 0.4, `accuracy ${result.bestAccuracy}`);
  });

  it('bank warm-up visits every row once before training and trains nothing itself', () => {
    const run = (bankInit: 'random' | 'embed') => {
      const phases: string[] = [];
      const losses: number[] = [];
      const result = runCkdf(data, {
        teacher: model('resnet20', 1),
        student: model('resnet8', 2),
        epochs: 1,
        stepsPerEpoch: 1,
        batchSize: 48,
        nceK: 16,
        lr: 0,
        bankInit,
        onProgress: (p) => {
          phases.push(`${p.phase}:${p.step}/${p.stepsPerEpoch}`);
          if (p.phase === 'train' && p.step === 0) losses.push(p.loss);
        },
      });
      return { result, phases, loss: losses[0]! };
    };
    const random = run('random');
    const warm = run('embed');
    // 128 rows in batches of 48: 48 + 48 + 32, then the one training step and the epoch's end.
    assert.deepEqual(warm.phases, [
      'warm-up:0/3',
      'warm-up:1/3',
      'warm-up:2/3',
      'train:0/1',
      'train:1/1',
    ]);
    assert.deepEqual(random.phases, ['train:0/1', 'train:1/1']);
    assert.equal(
      warm.result.provenance.crd && (warm.result.provenance.crd as { bankInit: string }).bankInit,
      'embed',
    );
    // With lr 0 both runs end with the same student: the warm-up moved no weight and no
    // batch-norm statistic; only the banks (so the first loss) differ.
    for (const [name, tensor] of random.result.model.weights)
      assert.deepEqual([...warm.result.model.weights.get(name)!.data], [...tensor.data], name);
    assert.notEqual(warm.loss, random.loss);
  });
});
