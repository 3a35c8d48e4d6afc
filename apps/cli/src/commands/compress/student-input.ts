/** The student of a distillation method: an architecture name built fresh, or a model file. */
import { existsSync } from 'node:fs';
import type { Dataset, Model } from '@edgecompress/engine';
import {
  loadInputDataset,
  loadInputModel,
  writeResultReport,
  type DatasetFlags,
} from './method-inputs';

export async function loadStudent(spec: string, teacher: Model, seed: number): Promise<Model> {
  if (existsSync(spec) || /\.(ecm|onnx)$/.test(spec)) return loadInputModel(spec);
  const engine = await import('@edgecompress/engine');
  const [h, w, c] = teacher.graph.inputShape;
  if (
    h === undefined ||
    w === undefined ||
    c === undefined ||
    teacher.graph.inputShape.length !== 3
  )
    throw new Error(
      `a student built by name needs an image teacher, got input [${teacher.graph.inputShape.join(', ')}]`,
    );
  return engine.buildModel(spec, {
    inputShape: [h, w, c],
    numClasses: teacher.graph.numClasses,
    seed,
  });
}

export interface DistillationInputs {
  teacher: Model;
  student: Model;
  dataset: Dataset;
  backendName: string;
}

/** What CKDF and LCMR both start from: the teacher, the student, the data and the backend. */
export async function loadDistillationInputs(
  o: DatasetFlags & { teacher: string; student: string; seed: number },
): Promise<DistillationInputs> {
  const engine = await import('@edgecompress/engine');
  const teacher = await loadInputModel(o.teacher);
  const student = await loadStudent(o.student, teacher, o.seed);
  const dataset = await loadInputDataset(o, teacher);
  const backend = await engine.initEngineBackend();
  return { teacher, student, dataset, backendName: backend.name };
}

export const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(2)}%`);

/**
 * The end of a distillation run: writes the student (`-o`) and the report (`--report`) when
 * asked, then prints the summary lines and where each file went.
 */
export async function writeStudentOutputs(
  o: { out?: string; report?: string },
  result: { model: Model },
  summary: string[],
  reportContents: string,
): Promise<void> {
  const lines = [...summary];
  if (o.out) {
    const engine = await import('@edgecompress/engine');
    engine.saveModel(o.out, result.model);
    lines.push(`student written to ${o.out}`);
  }
  if (o.report) lines.push(writeResultReport(o.report, result, reportContents));
  process.stdout.write(lines.join('\n') + '\n');
}
