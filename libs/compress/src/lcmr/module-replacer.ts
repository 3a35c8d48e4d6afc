/**
 * The hybrid network of LCMR: per group, either the frozen teacher module or its successor, then
 * the student's classifier head. Only successors and the head are ever handed to the optimizer,
 * so teacher groups stay frozen however gradients flow through them.
 */
import * as tf from '@tensorflow/tfjs-core';
import { GraphExecutor, type Model } from '@edgecompress/engine';
import {
  PROBE_PREFIX,
  assertSegmentsMatch,
  segmentModel,
  type ModelSegment,
} from './model-segments';

export interface HybridOutput {
  logits: tf.Tensor2D;
  /** Proposed BN statistics of the successors that ran, by executor. */
  stateUpdates: Map<string, tf.Tensor>;
}

export class ModuleReplacer {
  readonly teacherGroups: GraphExecutor[];
  readonly successors: GraphExecutor[];
  readonly head: GraphExecutor;
  private readonly studentSegments: ModelSegment[];
  private readonly outputs: string[];
  private readonly teacherOutputs: string[];

  constructor(
    teacher: Model,
    private readonly student: Model,
  ) {
    const tSegs = segmentModel(teacher, 'teacher');
    const sSegs = segmentModel(student, 'student');
    assertSegmentsMatch(tSegs, sSegs);
    this.studentSegments = sSegs;
    this.outputs = sSegs.slice(0, -1).map((s) => s.output!);
    this.teacherOutputs = tSegs.slice(0, -1).map((s) => s.output!);
    this.teacherGroups = tSegs.slice(0, -1).map((s) => new GraphExecutor(s.model));
    this.successors = sSegs.slice(0, -1).map((s) => new GraphExecutor(s.model));
    this.head = new GraphExecutor(sSegs[sSegs.length - 1]!.model);
  }

  get groupCount(): number {
    return this.successors.length;
  }

  /** Successor and head parameters: the only variables LCMR trains (probe classifiers excluded). */
  trainable(
    useGroup: readonly boolean[] = this.successors.map(() => true),
  ): Map<string, tf.Variable> {
    const out = new Map<string, tf.Variable>();
    this.successors.forEach((s, g) => {
      if (!useGroup[g]) return;
      for (const [name, v] of s.trainable) if (!name.startsWith(PROBE_PREFIX)) out.set(name, v);
    });
    for (const [name, v] of this.head.trainable) out.set(name, v);
    return out;
  }

  /** Runs group g with its successor where `useSuccessor[g]`, else with the frozen teacher group. */
  forward(x: tf.Tensor, useSuccessor: readonly boolean[], training: boolean): HybridOutput {
    if (useSuccessor.length !== this.groupCount)
      throw new Error(
        `expected ${this.groupCount} replacement decisions, got ${useSuccessor.length}`,
      );
    const stateUpdates = new Map<string, tf.Tensor>();
    let h = x;
    this.successors.forEach((successor, g) => {
      const use = useSuccessor[g]!;
      const exec = use ? successor : this.teacherGroups[g]!;
      const capture = use ? this.outputs[g]! : this.teacherOutputs[g]!;
      const out = exec.forward(h as tf.Tensor4D, { training: training && use, capture: [capture] });
      out.logits.dispose();
      if (use && training) for (const [k, t] of out.stateUpdates) stateUpdates.set(k, t);
      else for (const t of out.stateUpdates.values()) t.dispose();
      h = out.captured.get(capture)!;
    });
    const head = this.head.forward(h as tf.Tensor4D, { training });
    for (const [k, t] of head.stateUpdates) stateUpdates.set(k, t);
    return { logits: head.logits, stateUpdates };
  }

  /** Moves BN statistics into whichever successor or head owns them. */
  applyStateUpdates(updates: Map<string, tf.Tensor>): void {
    for (const exec of [...this.successors, this.head]) {
      const mine = new Map([...updates].filter(([k]) => exec.state.has(k)));
      if (mine.size > 0) exec.applyStateUpdates(mine);
    }
  }

  /** The student alone: the chain of successors and the head, as the student's own graph. */
  toStudent(): Model {
    const weights = new Map(this.student.weights);
    for (const exec of [...this.successors, this.head]) {
      for (const [name, w] of exec.toModel().weights)
        if (!name.startsWith(PROBE_PREFIX)) weights.set(name, w);
    }
    return { graph: structuredClone(this.student.graph), weights };
  }

  get segments(): readonly ModelSegment[] {
    return this.studentSegments;
  }

  dispose(): void {
    for (const e of [...this.teacherGroups, ...this.successors, this.head]) e.dispose();
  }
}
