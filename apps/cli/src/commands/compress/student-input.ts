/** The student of a distillation method: an architecture name built fresh, or a model file. */
import { existsSync } from 'node:fs';
import type { Model } from '@edgecompress/engine';
import { loadInputModel } from './method-inputs';

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

export const pct = (v: number | null): string => (v === null ? '-' : `${(100 * v).toFixed(2)}%`);
