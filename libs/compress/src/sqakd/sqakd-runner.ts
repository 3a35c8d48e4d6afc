/**
 * SQAKD: a low-bit student (the teacher's architecture with fake quantizers, initialised from
 * the teacher or from another float model such as an AAP-pruned one) trained only on
 * T^2 * KL(teacher || student) at T = 4. In the default `kd` mode the training data path hands
 * the loss images only: the labels are dropped before the first batch is assembled.
 */
import * as tf from '@tensorflow/tfjs-core';
import {
  GraphExecutor,
  Optimizer,
  augmentTrainingBatch,
  batchTensor,
  crossEntropy,
  distillationLoss,
  epochOrder,
  evaluate,
  gatherBatch,
  isEwgsDeltaName,
  labelTensor,
  quantizerWeightPrefix,
  trainStep,
  withoutLabels,
  type Dataset,
  type Model,
  type Split,
} from '@edgecompress/engine';
import { quantizeModel } from '../quant';
import { estimateEwgsDeltas } from './ewgs-delta';
import type { SqakdEpoch, SqakdOptions, SqakdProvenance, SqakdResult } from './sqakd-types';

const DEFAULTS = {
  batchSize: 256,
  lrWeights: 1e-3,
  lrQuantizer: 1e-5,
  weightDecay: 1e-4,
  temperature: 4,
  seed: 0,
};

/** Teacher and student must agree on what they read and predict. */
export function assertCompatible(teacher: Model, student: Model, dataset: Dataset): void {
  const t = teacher.graph;
  const s = student.graph;
  if (t.inputShape.join('x') !== s.inputShape.join('x') || t.numClasses !== s.numClasses) {
    throw new Error(
      `teacher "${t.name}" takes [${t.inputShape.join(', ')}] -> ${t.numClasses} classes but student ` +
        `"${s.name}" takes [${s.inputShape.join(', ')}] -> ${s.numClasses}: they cannot be distilled`,
    );
  }
  if (
    t.inputShape.join('x') !== dataset.inputShape.join('x') ||
    t.numClasses !== dataset.numClasses
  ) {
    throw new Error(
      `the models take [${t.inputShape.join(', ')}] with ${t.numClasses} classes, but dataset ` +
        `"${dataset.name}" has [${dataset.inputShape.join(', ')}] with ${dataset.numClasses}`,
    );
  }
}

function validate(options: SqakdOptions): void {
  if (!(Number.isInteger(options.epochs) && options.epochs >= 1))
    throw new RangeError(`epochs must be an integer >= 1, got ${options.epochs}`);
  const bs = options.batchSize ?? DEFAULTS.batchSize;
  if (!(Number.isInteger(bs) && bs >= 2))
    throw new RangeError(`batchSize must be an integer >= 2, got ${bs}`);
  if (
    options.stepsPerEpoch !== undefined &&
    !(Number.isInteger(options.stepsPerEpoch) && options.stepsPerEpoch >= 1)
  )
    throw new RangeError(`stepsPerEpoch must be an integer >= 1, got ${options.stepsPerEpoch}`);
  const t = options.temperature ?? DEFAULTS.temperature;
  if (!(t > 0)) throw new RangeError(`temperature must be > 0, got ${t}`);
}

function validatePadCrop(padCrop: number, dataset: Dataset): void {
  const [h, w] = dataset.inputShape;
  if (!(Number.isInteger(padCrop) && padCrop >= 0 && padCrop < Math.min(h, w)))
    throw new RangeError(
      `padCrop must be an integer from 0 to ${Math.min(h, w) - 1} for ${h}x${w} images, got ${padCrop}`,
    );
}

/** The split the training loop may see: images only unless the loss needs labels. */
export function trainingSplit(split: Split, needsLabels: boolean): Split {
  if (!needsLabels) return withoutLabels(split);
  if (!split.labels) throw new Error('this loss needs labels, but the training split is unlabeled');
  return split;
}

export function runSqakd(dataset: Dataset, options: SqakdOptions): SqakdResult {
  validate(options);
  const lossKind = options.loss ?? 'kd';
  const needsLabels = lossKind !== 'kd';
  const teacherModel = options.teacher;
  const init = options.studentInit ?? teacherModel;
  assertCompatible(teacherModel, init, dataset);
  const batchSize = Math.min(options.batchSize ?? DEFAULTS.batchSize, dataset.train.count);
  const temperature = options.temperature ?? DEFAULTS.temperature;
  const seed = options.seed ?? DEFAULTS.seed;
  const padCrop = options.padCrop ?? 0;
  validatePadCrop(padCrop, dataset);
  const split = trainingSplit(dataset.train, needsLabels);
  const shape = dataset.inputShape;
  const size = shape[0] * shape[1] * shape[2];

  const firstBatch = gatherBatch(
    split,
    size,
    epochOrder(split.count, seed, -1).subarray(0, batchSize),
  );
  const studentModel = quantizeModel(init, options.quantization, firstBatch.images);
  const teacher = new GraphExecutor(teacherModel);
  const student = new GraphExecutor(studentModel);
  try {
    const quantPrefixes = student.graph.nodes
      .map(quantizerWeightPrefix)
      .filter((p): p is string => p !== null);
    const isQuantParam = (name: string): boolean => quantPrefixes.some((p) => name.startsWith(p));
    const weightsGroup = new Map([...student.trainable].filter(([n]) => !isQuantParam(n)));
    const quantGroup = new Map(
      [...student.trainable].filter(([n]) => isQuantParam(n) && !isEwgsDeltaName(n)),
    );
    const perEpoch = Math.min(
      Math.floor(split.count / batchSize),
      options.stepsPerEpoch ?? Infinity,
    );
    if (perEpoch < 1)
      throw new Error(`the training split holds ${split.count} examples, fewer than one batch`);
    const totalSteps = perEpoch * options.epochs;
    const lrWeights = options.lrWeights ?? DEFAULTS.lrWeights;
    const lrQuantizer = options.lrQuantizer ?? DEFAULTS.lrQuantizer;
    const weightDecay = options.weightDecay ?? DEFAULTS.weightDecay;
    const optimizer = new Optimizer({ kind: 'adam' }, [
      {
        name: 'weights',
        params: weightsGroup,
        schedule: { kind: 'cosine', lr: lrWeights, totalSteps },
        weightDecay,
      },
      {
        name: 'quantizer',
        params: quantGroup,
        schedule: { kind: 'cosine', lr: lrQuantizer, totalSteps },
        weightDecay: 0,
      },
    ]);
    const testLabeled = dataset.test.labels !== null && dataset.test.count > 0;
    const evalOpts = options.evalLimit ? { limit: options.evalLimit } : {};
    const teacherAccuracy = testLabeled ? evaluate(teacher, dataset.test, evalOpts).accuracy : null;
    const history: SqakdEpoch[] = [];
    let stopped = false;
    const every = options.ewgsUpdateEvery;
    if (
      every !== undefined &&
      !(options.quantization.ewgs && Number.isInteger(every) && every >= 1)
    )
      throw new RangeError('ewgsUpdateEvery needs quantization.ewgs and an integer >= 1');
    for (let epoch = 0; epoch < options.epochs && !stopped; epoch++) {
      const order = epochOrder(split.count, seed, epoch);
      let ewgsDelta: number | undefined;
      if (every !== undefined && epoch % every === 0) {
        // Three batches, as the EWGS rule; the loss is the training loss on images only.
        const batches = Math.min(3, perEpoch);
        const deltas = estimateEwgsDeltas(student.toModel(), {
          batches,
          seed: seed + epoch,
          loss: (ex, b) =>
            tf.tidy(() => {
              const batch = gatherBatch(
                split,
                size,
                order.subarray(b * batchSize, (b + 1) * batchSize),
              );
              const x = batchTensor(batch, shape);
              const t = teacher.forward(x, { training: false }).logits;
              const out = ex.forward(x, { training: true });
              return distillationLoss(out.logits, t, temperature);
            }),
        });
        for (const [id, d] of deltas) {
          const v = student.trainable.get(`${id}/wq.delta`)!;
          const value = tf.scalar(d);
          v.assign(value);
          value.dispose();
        }
        ewgsDelta = deltas.size ? [...deltas.values()].reduce((a, b) => a + b, 0) / deltas.size : 0;
      }
      let lossSum = 0;
      let steps = 0;
      for (let step = 0; step < perEpoch; step++) {
        const batch = augmentTrainingBatch(
          gatherBatch(split, size, order.subarray(step * batchSize, (step + 1) * batchSize)),
          dataset,
          { padCrop, seed },
          epoch,
          step,
        );
        const x = batchTensor(batch, shape);
        const labels = needsLabels ? labelTensor(batch) : null;
        const teacherLogits = tf.tidy(() => teacher.forward(x, { training: false }).logits);
        try {
          const { loss } = trainStep({
            optimizer,
            lossFn: () => {
              const out = student.forward(x, { training: true });
              const kd = (): tf.Scalar => distillationLoss(out.logits, teacherLogits, temperature);
              const ce = (): tf.Scalar => crossEntropy(out.logits, labels!);
              const loss =
                lossKind === 'kd'
                  ? kd()
                  : lossKind === 'ce'
                    ? ce()
                    : (tf.add(ce(), kd()) as tf.Scalar);
              return { loss, stateUpdates: out.stateUpdates };
            },
            applyState: (u) => student.applyStateUpdates(u),
          });
          lossSum += loss;
          steps++;
          options.onProgress?.({
            epoch,
            epochs: options.epochs,
            step,
            stepsPerEpoch: perEpoch,
            loss,
          });
        } finally {
          x.dispose();
          labels?.dispose();
          teacherLogits.dispose();
        }
        if (options.shouldStop?.()) {
          stopped = true;
          break;
        }
      }
      const accuracy = testLabeled ? evaluate(student, dataset.test, evalOpts).accuracy : null;
      history.push({
        epoch,
        loss: steps ? lossSum / steps : NaN,
        accuracy,
        ...(ewgsDelta !== undefined ? { ewgsDelta } : {}),
      });
      options.onProgress?.({
        epoch,
        epochs: options.epochs,
        step: perEpoch,
        stepsPerEpoch: perEpoch,
        loss: steps ? lossSum / steps : NaN,
        ...(accuracy !== null ? { accuracy } : {}),
      });
    }
    const accs = history.map((h) => h.accuracy).filter((a): a is number => a !== null);
    const last5 = accs.slice(-5);
    const q = options.quantization;
    const provenance: SqakdProvenance = {
      method: 'sqakd',
      loss: lossKind,
      labelsRead: needsLabels,
      quantization: {
        weightBits: q.weightBits,
        activationBits: q.activationBits,
        quantizer: q.quantizer,
        perChannel: q.perChannel ?? false,
        keepFirstFloat: q.keepFirstFloat ?? true,
        keepLastFloat: q.keepLastFloat ?? true,
        ewgs: q.ewgs ?? false,
      },
      temperature,
      optimiser: {
        kind: 'adam',
        weights: { lr: lrWeights, weightDecay, schedule: 'cosine' },
        quantizer: { lr: lrQuantizer, weightDecay: 0, schedule: 'cosine' },
      },
      epochs: history.length,
      steps: optimizer.step,
      batchSize,
      seed,
      padCrop,
      teacherAccuracy,
      decisions: [
        'student = teacher architecture with fake quantizers, initialised from the float model on one training batch',
        'BN stays float and is folded into the preceding conv at export',
        'activation quantizers sit at the input of every quantized layer; grids hold zero exactly so ONNX QDQ reproduces them',
        'weights at 4 and 8 bits use a symmetric narrow-range grid (int4/int8 QDQ); 2-3 bits keep 2^b levels, stored bit-packed',
        'PACT quantizes weights as DoReFa; DoReFa weights are rescaled by the constant max |W|',
        q.ewgs && every !== undefined
          ? `EWGS delta of weight quantizers updated by the Hessian-trace rule every ${every} epoch(s) ` +
            '(finite-difference Hutchinson on the quantized kernel); activation deltas stay 0'
          : 'plain straight-through rounding (EWGS delta = 0, as the released code runs)',
        padCrop > 0
          ? `training images zero-padded by ${padCrop} px and cropped at a random offset; teacher and student see the same crop`
          : 'training images used as they are (no augmentation)',
      ],
    };
    return {
      model: student.toModel(),
      history,
      bestAccuracy: accs.length ? Math.max(...accs) : null,
      meanLast5Accuracy: last5.length ? last5.reduce((a, b) => a + b, 0) / last5.length : null,
      teacherAccuracy,
      provenance,
    };
  } finally {
    teacher.dispose();
    student.dispose();
  }
}
