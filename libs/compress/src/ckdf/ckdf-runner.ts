/**
 * CKDF: a student trained on `gamma CE + alpha T^2 KL + beta CRD(penultimate) + theta sum CRD(pairs)`
 * against a frozen teacher. Each pair has its own linear 128-d heads (one per side, both trained)
 * and its own pair of memory banks.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  GraphExecutor,
  InitRandom,
  Optimizer,
  batchTensor,
  crossEntropy,
  distillationLoss,
  epochOrder,
  evaluate,
  gatherBatch,
  labelTensor,
  trainStep,
  type Dataset,
  type Model,
} from '@edgecompress/engine';
import type { EpochProgress } from '../epoch-progress';
import { assertCompatible } from '../sqakd';
import { ContrastMemory, NegativeSampler, bankBytes } from './contrast-memory';
import {
  pickCandidate,
  poolAndPad,
  resolveFeaturePairs,
  type BlockMatch,
  type FeaturePair,
} from './feature-pairs';

export interface CkdfOptions {
  teacher: Model;
  student: Model;
  epochs: number;
  stepsPerEpoch?: number;
  batchSize?: number;
  /** SGD, momentum 0.9, weight decay 5e-4, x0.1 at 62.5/75/87.5 % of training (150/180/210 of 240). */
  lr?: number;
  weightDecay?: number;
  gamma?: number;
  alpha?: number;
  beta?: number;
  theta?: number;
  temperature?: number;
  nceTemperature?: number;
  nceK?: number;
  featureDim?: number;
  bankMomentum?: number;
  match?: BlockMatch;
  /**
   * Starting rows of the memory banks. `random` (CRD's released code): uniform noise, so an
   * image's positive is noise until its row is first updated, a whole epoch later. `embed`: one
   * no-gradient pass over the training split writes every row from the initial heads' embedding
   * of that image (the teacher side is a random projection of trained features, which keeps
   * their geometry), so positives mean something from the first step.
   */
  bankInit?: BankInit;
  /** Refuse to start when banks plus one step's gathered negatives exceed this. Default 1 GiB. */
  memoryLimitBytes?: number;
  seed?: number;
  evalLimit?: number;
  onProgress?: (p: CkdfProgress) => void;
}

export const BANK_INITS = ['random', 'embed'] as const;
export type BankInit = (typeof BANK_INITS)[number];

export interface CkdfProgress extends EpochProgress {
  /** `warm-up`: the bank-filling pass of `bankInit: 'embed'` (step counts its batches). */
  phase: 'warm-up' | 'train';
}

export interface CkdfMemory {
  bankBytes: number;
  stepBytes: number;
  limitBytes: number;
}

export interface CkdfResult {
  model: Model;
  history: { epoch: number; loss: number; accuracy: number | null }[];
  bestAccuracy: number | null;
  teacherAccuracy: number | null;
  memory: CkdfMemory;
  provenance: Record<string, unknown>;
}

const DEFAULTS = {
  batchSize: 64,
  lr: 0.05,
  weightDecay: 5e-4,
  gamma: 1,
  alpha: 0,
  beta: 0.8,
  theta: 0.1,
  temperature: 4,
  nceTemperature: 0.1,
  nceK: 16384,
  featureDim: 128,
  bankMomentum: 0.5,
  memoryLimitBytes: 1024 ** 3,
  seed: 0,
  bankInit: 'random' as BankInit,
  match: 'last' as BlockMatch,
};

/** Memory of the banks and of one step's gathered negatives (both sides, every pair). */
export function ckdfMemory(
  pairCount: number,
  size: number,
  featureDim: number,
  batchSize: number,
  k: number,
): { bankBytes: number; stepBytes: number } {
  return {
    bankBytes: pairCount * bankBytes(size, featureDim),
    stepBytes: pairCount * 2 * batchSize * (k + 1) * featureDim * 4,
  };
}

interface Head {
  kernel: tf.Variable;
  bias: tf.Variable;
}

function makeHead(name: string, input: number, output: number, random: InitRandom): Head {
  // PyTorch nn.Linear default: U(-1/sqrt(in), 1/sqrt(in)) for kernel and bias.
  const bound = 1 / Math.sqrt(input);
  const u = (n: number): Float32Array =>
    Float32Array.from({ length: n }, () => (2 * random.uniform() - 1) * bound);
  return {
    kernel: tf.variable(tf.tensor2d(u(input * output), [input, output]), true, `${name}/kernel`),
    bias: tf.variable(tf.tensor1d(u(output)), true, `${name}/bias`),
  };
}

const embed = (x: tf.Tensor2D, head: Head): tf.Tensor2D =>
  tf.tidy(() => {
    const z = tf.add(tf.matMul(x, head.kernel), head.bias) as tf.Tensor2D;
    return tf.div(z, tf.maximum(tf.norm(z, 'euclidean', 1, true), 1e-12)) as tf.Tensor2D;
  });

interface PairHeads {
  student: Head;
  teacher: Head;
}

/**
 * Each pair's unit embeddings [B, featureDim] from captured activations, the teacher side taken
 * from the candidate block `match` picks. Call inside a tidy or gradient scope.
 */
function embedPairs(
  pairs: readonly FeaturePair[],
  heads: readonly PairHeads[],
  studentCaptured: ReadonlyMap<string, tf.Tensor>,
  teacherCaptured: ReadonlyMap<string, tf.Tensor>,
  match: BlockMatch,
): { vs: tf.Tensor2D; vt: tf.Tensor2D; teacherBlock: string }[] {
  return pairs.map((pair, i) => {
    const fs = poolAndPad(studentCaptured.get(pair.student)!, pair.dim);
    const cands = pair.teacherCandidates.map((id) =>
      poolAndPad(teacherCaptured.get(id)!, pair.dim),
    );
    const chosen = pickCandidate(fs, cands, match);
    return {
      vs: embed(fs, heads[i]!.student),
      vt: embed(cands[chosen]!, heads[i]!.teacher),
      teacherBlock: pair.teacherCandidates[chosen]!,
    };
  });
}

let runCounter = 0;

export function runCkdf(dataset: Dataset, options: CkdfOptions): CkdfResult {
  // Options left undefined keep their defaults.
  const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  const o = { ...DEFAULTS, ...(given as CkdfOptions) };
  if (!(Number.isInteger(o.epochs) && o.epochs >= 1))
    throw new RangeError(`epochs must be an integer >= 1, got ${o.epochs}`);
  if (!BANK_INITS.includes(o.bankInit))
    throw new RangeError(
      `bankInit must be one of ${BANK_INITS.join(', ')}, got "${String(o.bankInit)}"`,
    );
  assertCompatible(options.teacher, options.student, dataset);
  const split = dataset.train;
  if (o.gamma > 0 && !split.labels)
    throw new Error('gamma > 0 trains on labels, but the training split is unlabeled');
  const batchSize = Math.min(o.batchSize, split.count);
  const k = NegativeSampler.cap(o.nceK, split.count);

  const teacher = new GraphExecutor(options.teacher);
  const student = new GraphExecutor(options.student);
  const disposables: tf.Variable[] = [];
  try {
    const resolved = resolveFeaturePairs(
      student.graph,
      student.shapes,
      teacher.graph,
      teacher.shapes,
      o.match,
    );
    const notes = resolved.notes;
    // A pair whose term has weight 0 gets no heads and no banks (student-alone and KD baselines).
    const pairs = resolved.pairs.filter((p) => (p.kind === 'penultimate' ? o.beta : o.theta) > 0);
    const mem = ckdfMemory(pairs.length, split.count, o.featureDim, batchSize, k);
    if (mem.bankBytes + mem.stepBytes > o.memoryLimitBytes)
      throw new Error(
        `CKDF memory banks need ${(mem.bankBytes / 2 ** 20).toFixed(1)} MiB and one step's negatives ` +
          `${(mem.stepBytes / 2 ** 20).toFixed(1)} MiB (${pairs.length} pairs x 2 sides, N=${split.count}, ` +
          `K=${k}, batch ${batchSize}), over the ${(o.memoryLimitBytes / 2 ** 20).toFixed(0)} MiB limit; ` +
          'lower K, the batch size or the training set, or raise the limit',
      );
    const run = ++runCounter;
    const random = new InitRandom(o.seed);
    const heads = pairs.map((p) => ({
      student: makeHead(`ckdf${run}.${p.name}.s`, p.dim, o.featureDim, random),
      teacher: makeHead(`ckdf${run}.${p.name}.t`, p.dim, o.featureDim, random),
    }));
    for (const h of heads)
      disposables.push(h.student.kernel, h.student.bias, h.teacher.kernel, h.teacher.bias);
    const memories = pairs.map(
      (_pair, i) =>
        new ContrastMemory({
          size: split.count,
          dim: o.featureDim,
          momentum: o.bankMomentum,
          temperature: o.nceTemperature,
          seed: o.seed * 131 + i + 1,
        }),
    );
    const sampler = new NegativeSampler(split.labels, split.count, o.seed + 7);
    const headParams = new Map<string, tf.Variable>();
    heads.forEach((h, i) => {
      const n = pairs[i]!.name;
      headParams.set(`${n}.s/kernel`, h.student.kernel);
      headParams.set(`${n}.s/bias`, h.student.bias);
      headParams.set(`${n}.t/kernel`, h.teacher.kernel);
      headParams.set(`${n}.t/bias`, h.teacher.bias);
    });
    const perEpoch = Math.min(Math.floor(split.count / batchSize), o.stepsPerEpoch ?? Infinity);
    if (perEpoch < 1)
      throw new Error(`the training split holds ${split.count} examples, fewer than one batch`);
    const total = perEpoch * o.epochs;
    const schedule = {
      kind: 'step' as const,
      lr: o.lr,
      gamma: 0.1,
      milestones: [0.625, 0.75, 0.875].map((f) => Math.round(f * total)),
    };
    const optimizer = new Optimizer({ kind: 'sgd', momentum: 0.9 }, [
      { name: 'student', params: student.trainable, schedule, weightDecay: o.weightDecay },
      { name: 'heads', params: headParams, schedule, weightDecay: o.weightDecay },
    ]);
    const variables = new Map([...student.trainable, ...headParams]);
    const studentCapture = pairs.map((p) => p.student);
    const teacherCapture = [...new Set(pairs.flatMap((p) => p.teacherCandidates))];
    const usesTeacher = o.alpha > 0 || pairs.length > 0;
    const shape = dataset.inputShape;
    const size = shape[0] * shape[1] * shape[2];
    const evalOpts = o.evalLimit ? { limit: o.evalLimit } : {};
    const labeledTest = dataset.test.labels !== null && dataset.test.count > 0;
    const teacherAccuracy = labeledTest ? evaluate(teacher, dataset.test, evalOpts).accuracy : null;
    const history: CkdfResult['history'] = [];
    const picks = new Map<string, Map<string, number>>();
    const match = o.match;
    if (o.bankInit === 'embed' && pairs.length > 0) {
      // Every row once, in index order; the student in training mode as the steps will see it
      // (batch statistics), its state updates dropped: the warm-up trains nothing.
      const batches = Math.ceil(split.count / batchSize);
      for (let b = 0; b < batches; b++) {
        const indices = Int32Array.from(
          { length: Math.min(batchSize, split.count - b * batchSize) },
          (_, j) => b * batchSize + j,
        );
        const batch = gatherBatch(split, size, indices);
        const rowsOut = tf.tidy(() => {
          const x = batchTensor(batch, shape);
          const t = teacher.forward(x, { training: false, capture: teacherCapture });
          const s = student.forward(x, { training: true, capture: studentCapture });
          return embedPairs(pairs, heads, s.captured, t.captured, match).map((e) => ({
            vs: e.vs.dataSync() as Float32Array,
            vt: e.vt.dataSync() as Float32Array,
          }));
        });
        rowsOut.forEach((v, i) => memories[i]!.update(indices, v.vs, v.vt, 0));
        o.onProgress?.({
          phase: 'warm-up',
          epoch: 0,
          epochs: o.epochs,
          step: b,
          stepsPerEpoch: batches,
          loss: 0,
        });
      }
    }
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const order = epochOrder(split.count, o.seed, epoch);
      let lossSum = 0;
      for (let step = 0; step < perEpoch; step++) {
        const indices = order.subarray(step * batchSize, (step + 1) * batchSize);
        const batch = gatherBatch(split, size, indices);
        const x = batchTensor(batch, shape);
        const labels = batch.labels ? labelTensor(batch) : null;
        // The student-alone baseline reads nothing of the teacher: skip its forward pass.
        const t = usesTeacher
          ? teacher.forward(x, { training: false, capture: teacherCapture })
          : null;
        const rows = pairs.map(() => sampler.sample(indices, k));
        const kept: { vs: tf.Tensor2D; vt: tf.Tensor2D }[] = [];
        try {
          const { loss } = trainStep({
            optimizer,
            variables,
            lossFn: () => {
              const out = student.forward(x, { training: true, capture: studentCapture });
              let loss: tf.Scalar =
                o.gamma > 0
                  ? (tf.mul(crossEntropy(out.logits, labels!), o.gamma) as tf.Scalar)
                  : tf.scalar(0);
              if (o.alpha > 0)
                loss = tf.add(
                  loss,
                  tf.mul(distillationLoss(out.logits, t!.logits, o.temperature), o.alpha),
                );
              const embeddings = t ? embedPairs(pairs, heads, out.captured, t.captured, match) : [];
              embeddings.forEach(({ vs, vt, teacherBlock }, i) => {
                const pair = pairs[i]!;
                const counts = picks.get(pair.name) ?? new Map<string, number>();
                counts.set(teacherBlock, (counts.get(teacherBlock) ?? 0) + 1);
                picks.set(pair.name, counts);
                kept.push({ vs: tf.keep(tf.clone(vs)), vt: tf.keep(tf.clone(vt)) });
                const weight = pair.kind === 'penultimate' ? o.beta : o.theta;
                loss = tf.add(loss, tf.mul(memories[i]!.loss(vs, vt, rows[i]!), weight));
              });
              return { loss, stateUpdates: out.stateUpdates };
            },
            applyState: (u) => student.applyStateUpdates(u),
          });
          kept.forEach((v, i) =>
            memories[i]!.update(
              indices,
              v.vs.dataSync() as Float32Array,
              v.vt.dataSync() as Float32Array,
            ),
          );
          lossSum += loss;
          o.onProgress?.({
            phase: 'train',
            epoch,
            epochs: o.epochs,
            step,
            stepsPerEpoch: perEpoch,
            loss,
          });
        } finally {
          for (const v of kept) tf.dispose([v.vs, v.vt]);
          tf.dispose([x]);
          if (t) tf.dispose([t.logits, ...t.captured.values(), ...t.stateUpdates.values()]);
          labels?.dispose();
        }
      }
      const accuracy = labeledTest ? evaluate(student, dataset.test, evalOpts).accuracy : null;
      history.push({ epoch, loss: lossSum / perEpoch, accuracy });
      o.onProgress?.({
        phase: 'train',
        epoch,
        epochs: o.epochs,
        step: perEpoch,
        stepsPerEpoch: perEpoch,
        loss: lossSum / perEpoch,
        ...(accuracy !== null ? { accuracy } : {}),
      });
    }
    optimizer.dispose();
    const accs = history.map((h) => h.accuracy).filter((a): a is number => a !== null);
    return {
      model: student.toModel(),
      history,
      bestAccuracy: accs.length ? Math.max(...accs) : null,
      teacherAccuracy,
      memory: { ...mem, limitBytes: o.memoryLimitBytes },
      provenance: {
        method: 'ckdf',
        loss: {
          gamma: o.gamma,
          alpha: o.alpha,
          beta: o.beta,
          theta: o.theta,
          temperature: o.temperature,
        },
        crd: {
          nceK: k,
          requestedK: o.nceK,
          nceTemperature: o.nceTemperature,
          featureDim: o.featureDim,
          bankMomentum: o.bankMomentum,
          bankInit: o.bankInit,
          negatives: split.labels ? 'other classes' : 'any other image (unlabeled split)',
        },
        pairs: pairs.map((p) => ({
          name: p.name,
          student: p.student,
          teacher: p.teacherCandidates,
          dim: p.dim,
          picks: Object.fromEntries(picks.get(p.name) ?? []),
        })),
        match,
        optimiser: { kind: 'sgd', momentum: 0.9, lr: o.lr, weightDecay: o.weightDecay, schedule },
        epochs: o.epochs,
        steps: total,
        batchSize,
        seed: o.seed,
        decisions: [
          'features pooled by global spatial mean (CKTF uses AvgPool 8 on CIFAR ResNets)',
          'the narrower side of a pair is zero-padded to the wider width before its linear head',
          'K negatives capped at N - 1 images, drawn with replacement from other classes',
          'Z normalisers of the NCE scores fixed from the first batch, as CRD does',
          ...notes,
        ],
      },
    };
  } finally {
    teacher.dispose();
    student.dispose();
    tf.dispose(disposables);
  }
}
