/**
 * Output drift without a protocol change: the control plane runs the device's PREVIOUS variant
 * on a probe batch with onnxruntime-node and writes its predictions as the labels of a
 * labelled sample. A benchmark of the NEW variant with that sample as `accuracySample` then
 * reports how often the two variants agree.
 */
import { createOrtSession } from '@edgecompress/engine';
import { Tensor } from 'onnxruntime-node';

export interface ModelInput {
  name: string;
  /** The first input's shape with symbolic dimensions set to 1 (batch 1). */
  shape: number[];
}

/** The first input of an ONNX model, as a benchmark command needs it. */
export async function readModelInput(onnx: Buffer): Promise<ModelInput> {
  const session = await createOrtSession(onnx, { threads: 1 });
  try {
    const meta = session.inputMetadata[0];
    if (!meta) throw new Error('the model has no inputs');
    if (!meta.isTensor || meta.type !== 'float32')
      throw new Error(`input "${meta.name}" is not a float32 tensor`);
    if (meta.shape.length === 0) throw new Error(`input "${meta.name}" has no declared shape`);
    return {
      name: meta.name,
      shape: meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : 1)),
    };
  } finally {
    await session.release();
  }
}

/**
 * `count` deterministic inputs in [0, 1) of one item's shape (`inputShape` without the batch
 * dimension), labelled with the model's argmax, in the agent's sample layout: float32 inputs
 * followed by int32 labels, little-endian.
 */
export async function buildDriftProbe(
  onnx: Buffer,
  inputShape: readonly number[],
  count: number,
  seed = 0x5eed,
): Promise<Buffer> {
  const itemShape = inputShape.slice(1);
  const itemSize = itemShape.reduce((a, b) => a * b, 1);
  const inputs = seededUniform(count * itemSize, seed);
  const labels = new Int32Array(count);
  const session = await createOrtSession(onnx, { threads: 1 });
  try {
    const inputName = session.inputNames[0]!;
    const outputName = session.outputNames[0]!;
    for (let i = 0; i < count; i++) {
      const item = inputs.slice(i * itemSize, (i + 1) * itemSize);
      const result = await session.run({
        [inputName]: new Tensor('float32', item, [1, ...itemShape]),
      });
      const out = result[outputName]!;
      const classes = out.dims[out.dims.length - 1] ?? 1;
      labels[i] = argmax(out.data as Float32Array, classes);
    }
  } finally {
    await session.release();
  }
  return Buffer.concat([
    Buffer.from(inputs.buffer, inputs.byteOffset, inputs.byteLength),
    Buffer.from(labels.buffer, labels.byteOffset, labels.byteLength),
  ]);
}

function argmax(values: Float32Array, length: number): number {
  let best = 0;
  for (let i = 1; i < length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/** A small LCG: the same probe for the same seed on every run and machine. */
function seededUniform(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let s = seed >>> 0;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}
