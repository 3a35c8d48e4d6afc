/**
 * Cuts a model at its stage boundaries into runnable segments: segment g maps the output of
 * stage g - 1 (the image for g = 0) to the output of stage g; the last segment is the classifier
 * head. Each segment is an ordinary model for GraphExecutor: its input node takes the id of the
 * boundary it starts from, and a stage segment ends in a zero probe classifier (the executor
 * wants logits) whose output is ignored; the stage output is read as a capture.
 */
import type { GraphNode, Model, Weights } from '@edgecompress/engine';
import { validateModel } from '@edgecompress/engine';

export const PROBE_PREFIX = 'lcmr.probe';

export interface ModelSegment {
  /** Model of this segment alone. */
  model: Model;
  /** Node id whose output the segment hands on (a stage output), or null for the head. */
  output: string | null;
  /** Shape (no batch) of the segment's input and output. */
  inputShape: number[];
  outputShape: number[];
}

export function segmentModel(model: Model, role: string): ModelSegment[] {
  const { graph } = model;
  if (!graph.stages || graph.stages.length === 0)
    throw new Error(
      `${role} "${graph.name}" has no stage boundaries (graph.stages): LCMR replaces modules stage by stage`,
    );
  const shapes = validateModel(model);
  const position = new Map(graph.nodes.map((n, i) => [n.id, i]));
  const cuts = graph.stages.map((s) => position.get(s.output)!);
  for (let i = 1; i < cuts.length; i++)
    if (!(cuts[i]! > cuts[i - 1]!))
      throw new Error(`${role} "${graph.name}": stage outputs are not in graph order`);
  const bounds = [-1, ...cuts, graph.nodes.length - 1];
  const segments: ModelSegment[] = [];
  for (let g = 0; g < bounds.length - 1; g++) {
    const from = bounds[g]!;
    const nodes = graph.nodes.slice(from + 1, bounds[g + 1]! + 1);
    const entry = from >= 0 ? graph.nodes[from]! : null;
    const inside = new Set(nodes.map((n) => n.id));
    for (const node of nodes) {
      for (const input of node.inputs) {
        if (!inside.has(input) && input !== entry?.id)
          throw new Error(
            `${role} "${graph.name}": node "${node.id}" reads "${input}" across a stage boundary; ` +
              'the stages are not a chain LCMR can cut',
          );
      }
    }
    const inputShape = entry ? [...shapes.get(entry.id)!] : [...graph.inputShape];
    const isHead = g === bounds.length - 2;
    const outId = isHead ? graph.output : graph.stages[g]!.output;
    const outputShape = [...shapes.get(outId)!];
    const segNodes: GraphNode[] = entry
      ? [{ id: entry.id, op: 'input', inputs: [], attrs: { shape: inputShape } }, ...nodes]
      : [...nodes];
    const weights: Weights = new Map();
    for (const [name, w] of model.weights) {
      if (inside.has(name.slice(0, name.lastIndexOf('/')))) weights.set(name, w);
    }
    let output = outId;
    if (!isHead) {
      const flatSize = outputShape.reduce((a, b) => a * b, 1);
      segNodes.push(
        { id: `${PROBE_PREFIX}.flatten`, op: 'flatten', inputs: [outId], attrs: {} },
        {
          id: `${PROBE_PREFIX}.fc`,
          op: 'dense',
          inputs: [`${PROBE_PREFIX}.flatten`],
          attrs: { units: graph.numClasses, useBias: false },
        },
      );
      weights.set(`${PROBE_PREFIX}.fc/kernel`, {
        shape: [flatSize, graph.numClasses],
        data: new Float32Array(flatSize * graph.numClasses),
      });
      output = `${PROBE_PREFIX}.fc`;
    }
    segments.push({
      model: {
        graph: {
          ...graph,
          name: `${graph.name}.segment${g}`,
          inputShape,
          nodes: segNodes,
          output,
          features: undefined,
          stages: undefined,
        },
        weights,
      },
      output: isHead ? null : outId,
      inputShape,
      outputShape,
    });
  }
  return segments;
}

/** Teacher and student segments must chain: same count and the same shape at every boundary. */
export function assertSegmentsMatch(teacher: ModelSegment[], student: ModelSegment[]): void {
  if (teacher.length !== student.length)
    throw new Error(
      `teacher has ${teacher.length - 1} stages but the student ${student.length - 1}: ` +
        'LCMR needs one successor per teacher stage',
    );
  teacher.forEach((t, g) => {
    const s = student[g]!;
    const same = (a: number[], b: number[]): boolean => a.join('x') === b.join('x');
    if (!same(t.inputShape, s.inputShape) || !same(t.outputShape, s.outputShape))
      throw new Error(
        `group ${g}: the teacher maps [${t.inputShape.join(', ')}] -> [${t.outputShape.join(', ')}] but ` +
          `the successor [${s.inputShape.join(', ')}] -> [${s.outputShape.join(', ')}]; a successor must ` +
          'keep the shapes of the module it replaces (fewer blocks, or narrower inside)',
      );
  });
}
