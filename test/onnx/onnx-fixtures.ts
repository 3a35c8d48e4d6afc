/** Helpers shared by the ONNX tests: committed PyTorch fixtures and output comparison. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { nchwToNhwc } from '@edgecompress/engine';

export const FIXTURES = join(__dirname, '..', 'fixtures', 'onnx');
export const TORCH_FIXTURES = ['torch-resnet', 'torch-resnet-folded', 'torch-vgg'] as const;

export interface TorchFixture {
  bytes: Uint8Array;
  /** The input batch in engine layout (NHWC). */
  input: Float32Array;
  count: number;
  expected: Float32Array;
}

export function loadTorchFixture(name: string): TorchFixture {
  const bytes = new Uint8Array(readFileSync(join(FIXTURES, `${name}.onnx`)));
  const exp = JSON.parse(readFileSync(join(FIXTURES, `${name}.expected.json`), 'utf8')) as {
    inputShape: [number, number, number, number];
    input: number[];
    output: number[];
  };
  const [n, c, h, w] = exp.inputShape;
  return {
    bytes,
    input: nchwToNhwc(Float32Array.from(exp.input), n, c, h, w),
    count: n,
    expected: Float32Array.from(exp.output),
  };
}

/** ||a - b|| / ||b||. */
export function relativeL2(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i]! - b[i]!) ** 2;
    den += b[i]! ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}
