/**
 * LCMR: train successors in place of frozen teacher groups, each step replacing every group
 * independently with probability p(t) from the curriculum, on CE (+ optional KD against the full
 * teacher); then fine-tune the chain of successors alone (p = 1) briefly.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  GraphExecutor,
  Optimizer,
  SeededRandom,
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
import { assertCompatible } from '../sqakd';
import { ModuleReplacer } from './module-replacer';
import {
  replacementRate,
  validateCurriculum,
  type Curriculum,
  type CurriculumKind,
} from './replacement-curriculum';

export interface LcmrOptions {
  teacher: Model;
  /** Same stage count and stage-boundary shapes as the teacher; its stages are the successors. */
  student: Model;
  curriculum?: CurriculumKind;
  p0?: number;
  kappa?: number;
  /** Steps of the replacing phase (Tr). */
  replaceSteps: number;
  /** Steps of fine-tuning the successors alone afterwards. */
  finetuneSteps?: number;
  /** Weight of T^2 KL against the full teacher (0: CE only). */
  kdWeight?: number;
  temperature?: number;
  /** Copy teacher head weights of equal name and shape into the student head first. */
  initHeadFromTeacher?: boolean;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  seed?: number;
  evalLimit?: number;
  onProgress?: (p: LcmrProgress) => void;
}

export interface LcmrProgress {
  phase: 'replace' | 'finetune';
  step: number;
  steps: number;
  loss: number;
  rate: number;
}

export interface LcmrResult {
  model: Model;
  accuracy: number | null;
  teacherAccuracy: number | null;
  /** Mean loss and rate of each tenth of the replacing phase. */
  trace: { step: number; rate: number; loss: number; replacedFraction: number }[];
  provenance: Record<string, unknown>;
}

function headFromTeacher(student: Model, teacher: Model): { model: Model; copied: string[] } {
  const headIds = new Set<string>();
  const nodes = student.graph.nodes;
  const last = student.graph.stages?.[student.graph.stages.length - 1]?.output;
  const cut = nodes.findIndex((n) => n.id === last);
  for (const n of nodes.slice(cut + 1)) headIds.add(n.id);
  const weights = new Map(student.weights);
  const copied: string[] = [];
  for (const [name, w] of student.weights) {
    const t = teacher.weights.get(name);
    if (
      headIds.has(name.slice(0, name.lastIndexOf('/'))) &&
      t &&
      t.shape.join('x') === w.shape.join('x')
    ) {
      weights.set(name, t);
      copied.push(name);
    }
  }
  return { model: { graph: student.graph, weights }, copied };
}

export function runLcmr(dataset: Dataset, options: LcmrOptions): LcmrResult {
  const curriculum: Curriculum = {
    kind: options.curriculum ?? 'log',
    p0: options.p0 ?? 0.3,
    kappa: options.kappa ?? 10,
    horizon: options.replaceSteps,
  };
  validateCurriculum(curriculum);
  const finetuneSteps = options.finetuneSteps ?? Math.ceil(options.replaceSteps / 10);
  if (!(Number.isInteger(finetuneSteps) && finetuneSteps >= 0))
    throw new RangeError(`finetuneSteps must be an integer >= 0, got ${finetuneSteps}`);
  assertCompatible(options.teacher, options.student, dataset);
  const split = dataset.train;
  if (!split.labels)
    throw new Error('LCMR trains successors on labels, but the training split is unlabeled');
  const kdWeight = options.kdWeight ?? 0;
  const temperature = options.temperature ?? 4;
  const seed = options.seed ?? 0;
  const batchSize = Math.min(options.batchSize ?? 64, split.count);
  const perEpoch = Math.floor(split.count / batchSize);
  const init =
    options.initHeadFromTeacher === false
      ? { model: options.student, copied: [] as string[] }
      : headFromTeacher(options.student, options.teacher);

  const replacer = new ModuleReplacer(options.teacher, init.model);
  const teacher = kdWeight > 0 ? new GraphExecutor(options.teacher) : null;
  try {
    const total = curriculum.horizon + finetuneSteps;
    const optimizer = new Optimizer({ kind: 'sgd', momentum: 0.9 }, [
      {
        name: 'successors',
        params: replacer.trainable(),
        schedule: { kind: 'cosine', lr: options.lr ?? 0.05, totalSteps: total },
        weightDecay: options.weightDecay ?? 5e-4,
      },
    ]);
    const random = new SeededRandom(seed + 0x1c3);
    const shape = dataset.inputShape;
    const size = shape[0] * shape[1] * shape[2];
    const trace: LcmrResult['trace'] = [];
    const bucket = Math.max(1, Math.floor(curriculum.horizon / 10));
    let acc = { loss: 0, rate: 0, replaced: 0, n: 0 };
    let order = epochOrder(split.count, seed, 0);
    for (let step = 0; step < total; step++) {
      const inEpoch = step % perEpoch;
      if (inEpoch === 0 && step > 0) order = epochOrder(split.count, seed, step / perEpoch);
      const batch = gatherBatch(
        split,
        size,
        order.subarray(inEpoch * batchSize, (inEpoch + 1) * batchSize),
      );
      const x = batchTensor(batch, shape);
      const labels = labelTensor(batch);
      const rate = replacementRate(curriculum, step);
      const use = Array.from({ length: replacer.groupCount }, () => random.uniform() < rate);
      const teacherLogits = teacher
        ? tf.tidy(() => teacher.forward(x, { training: false }).logits)
        : null;
      try {
        const { loss } = trainStep({
          optimizer,
          variables: replacer.trainable(use),
          lossFn: () => {
            const out = replacer.forward(x, use, true);
            let loss = crossEntropy(out.logits, labels);
            if (teacherLogits)
              loss = tf.add(
                loss,
                tf.mul(distillationLoss(out.logits, teacherLogits, temperature), kdWeight),
              );
            return { loss, stateUpdates: out.stateUpdates };
          },
          applyState: (u) => replacer.applyStateUpdates(u),
        });
        const phase = step < curriculum.horizon ? 'replace' : 'finetune';
        if (phase === 'replace') {
          acc = {
            loss: acc.loss + loss,
            rate: acc.rate + rate,
            replaced: acc.replaced + use.filter(Boolean).length / use.length,
            n: acc.n + 1,
          };
          if (acc.n === bucket || step === curriculum.horizon - 1) {
            trace.push({
              step,
              rate: acc.rate / acc.n,
              loss: acc.loss / acc.n,
              replacedFraction: acc.replaced / acc.n,
            });
            acc = { loss: 0, rate: 0, replaced: 0, n: 0 };
          }
        }
        options.onProgress?.({ phase, step, steps: total, loss, rate });
      } finally {
        tf.dispose([x, labels]);
        teacherLogits?.dispose();
      }
    }
    optimizer.dispose();
    const model = replacer.toStudent();
    const labeledTest = dataset.test.labels !== null && dataset.test.count > 0;
    const evalOpts = options.evalLimit ? { limit: options.evalLimit } : {};
    const accuracy = labeledTest ? evaluate(model, dataset.test, evalOpts).accuracy : null;
    const teacherAccuracy = labeledTest
      ? evaluate(options.teacher, dataset.test, evalOpts).accuracy
      : null;
    return {
      model,
      accuracy,
      teacherAccuracy,
      trace,
      provenance: {
        method: 'lcmr',
        curriculum,
        groups: replacer.groupCount,
        replaceSteps: curriculum.horizon,
        finetuneSteps,
        kdWeight,
        temperature,
        batchSize,
        seed,
        optimiser: { kind: 'sgd', momentum: 0.9, lr: options.lr ?? 0.05, schedule: 'cosine' },
        headCopiedFromTeacher: init.copied,
        decisions: [
          'groups are the teacher stages; the stem belongs to group 0 and the classifier head is always the student head',
          'teacher groups run in eval mode and are never given to the optimizer',
          'each group is replaced independently per step with probability p(t); p = 1 from Tr on (fine-tuning)',
          'successors start from the student initialisation, not from teacher weights',
        ],
      },
    };
  } finally {
    replacer.dispose();
    teacher?.dispose();
  }
}
