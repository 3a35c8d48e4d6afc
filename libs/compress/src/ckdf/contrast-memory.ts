/**
 * The contrastive term of CKDF for one feature pair (CRD, Tian et al. 2020): two memory banks of
 * N x d unit vectors (one per side, momentum-updated at the rows of the current images), negatives
 * sampled from images of other classes, scores exp(<bank row, anchor> / tau) / Z and the NCE loss
 * with noise probability 1/N, anchored on both sides.
 */
import * as tf from '@tensorflow/tfjs-core';
import { SeededRandom } from '@edgecompress/engine';

export interface ContrastMemoryOptions {
  /** Number of training images (rows of each bank). */
  size: number;
  /** Embedding width (128 in CKDF). */
  dim: number;
  /** Bank momentum: row = normalize(m * row + (1 - m) * v). */
  momentum: number;
  /** Softmax temperature tau of the scores. */
  temperature: number;
  seed: number;
}

/** Bytes of the two banks of one pair. */
export function bankBytes(size: number, dim: number): number {
  return 2 * size * dim * 4;
}

/**
 * For every anchor, its own index (the positive, column 0) followed by `k` negatives drawn with
 * replacement from images of other classes (any other image when the split is unlabeled).
 */
export class NegativeSampler {
  private readonly others: Int32Array[] = [];
  private readonly random: SeededRandom;

  constructor(
    private readonly labels: Int32Array | null,
    private readonly size: number,
    seed: number,
  ) {
    if (size < 2) throw new Error(`contrastive negatives need at least 2 images, got ${size}`);
    this.random = new SeededRandom(seed);
    if (labels) {
      if (labels.length !== size)
        throw new Error(`sampler has ${labels.length} labels for ${size} images`);
      let numClasses = 0;
      for (const l of labels) numClasses = Math.max(numClasses, l + 1);
      const counts = new Int32Array(numClasses);
      for (const l of labels) counts[l]!++;
      for (let c = 0; c < numClasses; c++) {
        const list = new Int32Array(size - counts[c]!);
        let n = 0;
        for (let i = 0; i < size; i++) if (labels[i] !== c) list[n++] = i;
        this.others.push(list);
      }
    }
  }

  /** Largest usable K: negatives never outnumber the images they come from. */
  static cap(k: number, size: number): number {
    return Math.max(1, Math.min(k, size - 1));
  }

  /** [B * (k + 1)] row indices, anchor-major. */
  sample(anchors: ArrayLike<number>, k: number): Int32Array {
    const out = new Int32Array(anchors.length * (k + 1));
    for (let a = 0; a < anchors.length; a++) {
      const idx = anchors[a]!;
      const base = a * (k + 1);
      out[base] = idx;
      if (this.labels) {
        const pool = this.others[this.labels[idx]!]!;
        if (pool.length === 0)
          throw new Error('every training image has the same class: no negatives to contrast');
        for (let j = 1; j <= k; j++) out[base + j] = pool[this.random.int(pool.length)]!;
      } else {
        for (let j = 1; j <= k; j++) {
          const r = this.random.int(this.size - 1);
          out[base + j] = r >= idx ? r + 1 : r;
        }
      }
    }
    return out;
  }
}

/**
 * NCE loss of CRD (eq. 18): with m = K negatives and Pn = 1/N,
 * `-[log(P0 / (P0 + m Pn)) + sum_j log(m Pn / (Pj + m Pn))] / B` over scores [B, K + 1].
 */
export function nceLoss(scores: tf.Tensor2D, size: number): tf.Scalar {
  return tf.tidy(() => {
    const [batch, cols] = scores.shape;
    const mPn = (cols - 1) / size;
    const eps = 1e-7;
    const pos = tf.slice(scores, [0, 0], [batch, 1]);
    const neg = tf.slice(scores, [0, 1], [batch, cols - 1]);
    const logPos = tf.log(tf.div(pos, tf.add(tf.add(pos, mPn), eps)));
    const logNeg = tf.log(tf.div(tf.scalar(mPn), tf.add(tf.add(neg, mPn), eps)));
    return tf.div(tf.neg(tf.add(tf.sum(logPos), tf.sum(logNeg))), batch) as tf.Scalar;
  });
}

export class ContrastMemory {
  /** Student-side bank, then teacher-side bank, row-major [size, dim]. */
  readonly studentBank: Float32Array;
  readonly teacherBank: Float32Array;
  /** Normalisers fixed at first use (mean first-batch score times N), as CRD does. */
  zStudent: number | null = null;
  zTeacher: number | null = null;

  constructor(readonly options: ContrastMemoryOptions) {
    const { size, dim } = options;
    const random = new SeededRandom(options.seed);
    const bound = 1 / Math.sqrt(dim / 3);
    const fill = (): Float32Array =>
      Float32Array.from({ length: size * dim }, () => (2 * random.uniform() - 1) * bound);
    this.studentBank = fill();
    this.teacherBank = fill();
  }

  private gather(bank: Float32Array, rows: Int32Array, batch: number): tf.Tensor3D {
    const { dim } = this.options;
    const out = new Float32Array(rows.length * dim);
    for (let r = 0; r < rows.length; r++) {
      out.set(bank.subarray(rows[r]! * dim, (rows[r]! + 1) * dim), r * dim);
    }
    return tf.tensor3d(out, [batch, rows.length / batch, dim]);
  }

  /**
   * The symmetric CRD loss for unit embeddings `vs`, `vt` [B, dim]: the student anchor against
   * teacher-bank rows plus the teacher anchor against student-bank rows. `rows` from a
   * NegativeSampler. Banks are constants here; `update` moves them after the step.
   */
  loss(vs: tf.Tensor2D, vt: tf.Tensor2D, rows: Int32Array): tf.Scalar {
    const batch = vs.shape[0];
    const { temperature, size } = this.options;
    const score = (bank: Float32Array, anchor: tf.Tensor2D): tf.Tensor2D => {
      const weights = this.gather(bank, rows, batch);
      const dots = tf.squeeze(tf.matMul(weights, tf.expandDims(anchor, 2)), [2]);
      return tf.exp(tf.div(dots, temperature)) as tf.Tensor2D;
    };
    const outS = score(this.teacherBank, vs);
    const outT = score(this.studentBank, vt);
    if (this.zStudent === null) this.zStudent = tf.mean(outS).dataSync()[0]! * size;
    if (this.zTeacher === null) this.zTeacher = tf.mean(outT).dataSync()[0]! * size;
    const sLoss = nceLoss(tf.div(outS, this.zStudent) as tf.Tensor2D, size);
    const tLoss = nceLoss(tf.div(outT, this.zTeacher) as tf.Tensor2D, size);
    return tf.add(sLoss, tLoss) as tf.Scalar;
  }

  /**
   * Moves the rows of `indices` toward the new embeddings (flat [B * dim]) and renormalises.
   * `momentum` 0 overwrites the rows (the embedding warm-up of the banks).
   */
  update(
    indices: ArrayLike<number>,
    vs: Float32Array,
    vt: Float32Array,
    momentum = this.options.momentum,
  ): void {
    const { dim } = this.options;
    const move = (bank: Float32Array, v: Float32Array): void => {
      for (let b = 0; b < indices.length; b++) {
        const row = indices[b]! * dim;
        let norm = 0;
        for (let j = 0; j < dim; j++) {
          const value = momentum * bank[row + j]! + (1 - momentum) * v[b * dim + j]!;
          bank[row + j] = value;
          norm += value * value;
        }
        const inv = 1 / Math.max(Math.sqrt(norm), 1e-12);
        for (let j = 0; j < dim; j++) bank[row + j]! *= inv;
      }
    };
    move(this.studentBank, vs);
    move(this.teacherBank, vt);
  }
}
