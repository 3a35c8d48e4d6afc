/**
 * Activation ranges observed by running a float export in ORT on calibration samples: each
 * tensor of interest is added as an extra graph output, so no engine code runs.
 */
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { nhwcToNchw } from './layout';
import { decodeOnnxModel } from './onnx-guard';
import { OnnxDataType, encodeModel } from './onnx-schema';

export interface TensorRange {
  min: number;
  max: number;
}

export interface CalibrationSet {
  /** Samples in engine layout (NHWC images or flat features), normalized as for training. */
  data: Float32Array;
  count: number;
}

export async function observeRanges(
  floatModel: Uint8Array,
  tensors: readonly string[],
  calibration: CalibrationSet,
  inputShape: readonly number[],
  batchSize = 32,
): Promise<Map<string, TensorRange>> {
  const proto = decodeOnnxModel(floatModel);
  const graph = proto.graph!;
  const known = new Set((graph.output ?? []).map((o) => o.name));
  const inputName = (graph.input ?? [])[0]?.name ?? '';
  const fetched = tensors.filter((t) => t !== inputName);
  for (const name of fetched) {
    if (!known.has(name))
      graph.output = [
        ...(graph.output ?? []),
        { name, type: { tensorType: { elemType: OnnxDataType.FLOAT } } },
      ];
  }
  const session = await InferenceSession.create(encodeModel(proto), {
    graphOptimizationLevel: 'disabled',
  });
  const ranges = new Map<string, TensorRange>(
    tensors.map((t) => [t, { min: Infinity, max: -Infinity }]),
  );
  const perSample = inputShape.reduce((a, b) => a * b, 1);
  if (calibration.count < 1 || calibration.data.length < calibration.count * perSample) {
    throw new Error(
      `calibration set holds ${calibration.data.length} values, too few for ${calibration.count} samples of ${perSample}`,
    );
  }
  try {
    for (let start = 0; start < calibration.count; start += batchSize) {
      const n = Math.min(batchSize, calibration.count - start);
      const slice = calibration.data.subarray(start * perSample, (start + n) * perSample);
      const [h, w, c] = inputShape as [number, number, number];
      const input =
        inputShape.length === 3
          ? new Tensor('float32', nhwcToNchw(slice, n, h, w, c), [n, c, h, w])
          : new Tensor('float32', Float32Array.from(slice), [n, ...inputShape]);
      // All outputs: onnxruntime-node 1.23 mislabels results when given a subset of fetch names.
      const result = await session.run({ [session.inputNames[0]!]: input });
      for (const name of tensors) {
        if (name !== inputName && !result[name])
          throw new Error(
            `calibration: ORT returned no tensor "${name}" (has ${Object.keys(result).join(', ')})`,
          );
        const values = name === inputName ? slice : (result[name]!.data as Float32Array);
        const r = ranges.get(name)!;
        for (let i = 0; i < values.length; i++) {
          const v = values[i]!;
          if (v < r.min) r.min = v;
          if (v > r.max) r.max = v;
        }
      }
      for (const t of Object.values(result)) t.dispose();
      input.dispose();
    }
  } finally {
    await session.release();
  }
  return ranges;
}
