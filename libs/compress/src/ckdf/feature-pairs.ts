/**
 * Which student and teacher feature maps CKDF contrasts: the stem outputs, each stage's last
 * student block against a block of the same teacher stage, and the penultimate features. Read
 * from graph metadata (`stages`, `features`, node tags), so builder models of any depth or width
 * and imported models with named stage boundaries pair the same way.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Graph } from '@edgecompress/engine';

/** How a student stage output picks its teacher block (CKTF's --st_method). */
export type BlockMatch = 'last' | 'most-similar' | 'least-similar';

export interface FeaturePair {
  name: string;
  student: string;
  /** Candidate teacher nodes; one unless the match compares every block of the stage. */
  teacherCandidates: string[];
  /** Width both sides are zero-padded to before their heads. */
  dim: number;
  /** The penultimate pair carries beta; the others theta. */
  kind: 'stem' | 'stage' | 'penultimate';
}

const widthOf = (shapes: ReadonlyMap<string, readonly number[]>, id: string): number => {
  const shape = shapes.get(id)!;
  return shape[shape.length - 1]!;
};

/** The last node tagged as the stem, or null when the graph carries no tags. */
export function stemOutput(graph: Graph): string | null {
  let last: string | null = null;
  for (const node of graph.nodes) if (node.tags?.role === 'stem') last = node.id;
  return last;
}

/** Output node of every block of a stage (last node tagged with that block), in order. */
export function stageBlockOutputs(graph: Graph, stage: number): string[] {
  const lastOfBlock = new Map<number, string>();
  for (const node of graph.nodes) {
    if (node.tags?.stage === stage && node.tags.block !== undefined)
      lastOfBlock.set(node.tags.block, node.id);
  }
  return [...lastOfBlock.entries()].sort((a, b) => a[0] - b[0]).map(([, id]) => id);
}

export interface PairingResult {
  pairs: FeaturePair[];
  notes: string[];
}

export function resolveFeaturePairs(
  student: Graph,
  studentShapes: ReadonlyMap<string, readonly number[]>,
  teacher: Graph,
  teacherShapes: ReadonlyMap<string, readonly number[]>,
  match: BlockMatch,
): PairingResult {
  const notes: string[] = [];
  for (const [role, g] of [
    ['student', student],
    ['teacher', teacher],
  ] as const) {
    if (!g.features)
      throw new Error(
        `${role} "${g.name}" names no penultimate features node (graph.features); CKDF needs it`,
      );
    if (!g.stages || g.stages.length === 0)
      throw new Error(
        `${role} "${g.name}" has no stage boundaries (graph.stages); name them (e.g. on import) to distil it with CKDF`,
      );
  }
  const sStages = student.stages!;
  const tStages = teacher.stages!;
  if (sStages.length !== tStages.length)
    throw new Error(
      `student "${student.name}" has ${sStages.length} stages but teacher "${teacher.name}" has ` +
        `${tStages.length}: CKDF pairs stages one to one`,
    );
  const pairs: FeaturePair[] = [];
  const add = (pair: Omit<FeaturePair, 'dim'>): void => {
    const widths = [pair.student, ...pair.teacherCandidates].map((id, i) =>
      widthOf(i === 0 ? studentShapes : teacherShapes, id),
    );
    pairs.push({ ...pair, dim: Math.max(...widths) });
  };

  const sStem = stemOutput(student);
  const tStem = stemOutput(teacher);
  if (sStem && tStem)
    add({ name: 'stem', student: sStem, teacherCandidates: [tStem], kind: 'stem' });
  else notes.push('no stem pair: a model carries no node tagged role=stem');

  sStages.forEach((stage, g) => {
    const tOut = tStages[g]!.output;
    const blocks = stageBlockOutputs(teacher, g);
    const candidates = match === 'last' || blocks.length === 0 ? [tOut] : blocks;
    if (match !== 'last' && blocks.length === 0)
      notes.push(`teacher stage ${g} has no block tags: matched to its output`);
    const sRank = studentShapes.get(stage.output)!.length;
    for (const c of candidates) {
      if (teacherShapes.get(c)!.length !== sRank)
        throw new Error(
          `stage ${g}: student output "${stage.output}" and teacher "${c}" have different ranks`,
        );
    }
    add({
      name: `stage${g}`,
      student: stage.output,
      teacherCandidates: candidates,
      kind: 'stage',
    });
  });
  add({
    name: 'penultimate',
    student: student.features!,
    teacherCandidates: [teacher.features!],
    kind: 'penultimate',
  });
  return { pairs, notes };
}

/** [N, H, W, C] -> [N, C] by spatial mean; [N, F] unchanged; then zero-padded to `dim`. */
export function poolAndPad(t: tf.Tensor, dim: number): tf.Tensor2D {
  return tf.tidy(() => {
    const flat = (
      t.rank === 4 ? tf.mean(t, [1, 2]) : t.rank === 2 ? t : tf.reshape(t, [t.shape[0]!, -1])
    ) as tf.Tensor2D;
    const width = flat.shape[1];
    if (width > dim) throw new Error(`feature width ${width} exceeds pair width ${dim}`);
    return width === dim
      ? flat
      : tf.pad(flat, [
          [0, 0],
          [0, dim - width],
        ]);
  });
}

/**
 * Index of the teacher candidate most (or least) similar to the student feature: both are
 * normalised along the batch axis, as CKTF's similarity transfer does, then compared by cosine.
 */
export function pickCandidate(
  student: tf.Tensor2D,
  candidates: tf.Tensor2D[],
  match: BlockMatch,
): number {
  if (match === 'last' || candidates.length === 1) return candidates.length - 1;
  const sims = tf.tidy(() => {
    const norm = (x: tf.Tensor2D): tf.Tensor =>
      tf.div(x, tf.maximum(tf.norm(x, 'euclidean', 0, true), 1e-12));
    const s = norm(student);
    return candidates.map((c) => {
      const t = norm(c);
      const num = tf.sum(tf.mul(s, t));
      const den = tf.maximum(tf.mul(tf.norm(s), tf.norm(t)), 1e-12);
      return tf.div(num, den).dataSync()[0]!;
    });
  });
  let best = 0;
  for (let i = 1; i < sims.length; i++) {
    if (match === 'most-similar' ? sims[i]! > sims[best]! : sims[i]! < sims[best]!) best = i;
  }
  return best;
}
