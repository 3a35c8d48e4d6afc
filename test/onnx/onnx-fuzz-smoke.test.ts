import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  OnnxFormatError,
  UnsupportedOnnxError,
  importOnnx,
  validateModel,
} from '@edgecompress/engine';
import { seeded } from './engine-models';
import { TORCH_FIXTURES, loadTorchFixture } from './onnx-fixtures';

describe('ONNX import fuzz smoke (seeded byte mutations of the PyTorch fixtures)', () => {
  for (const name of TORCH_FIXTURES) {
    it(`${name}: 200 mutants either import or fail with a typed, readable error`, (t) => {
      const original = loadTorchFixture(name).bytes;
      const rand = seeded(name.length * 7919);
      const unexpected: string[] = [];
      let imported = 0;
      for (let i = 0; i < 200; i++) {
        const bytes = Uint8Array.from(original);
        const flips = 1 + Math.floor(rand() * 8);
        for (let f = 0; f < flips; f++)
          bytes[Math.floor(rand() * bytes.length)] = Math.floor(rand() * 256);
        const cut = rand() < 0.2 ? Math.floor(rand() * bytes.length) : bytes.length;
        try {
          const { model } = importOnnx(bytes.subarray(0, cut));
          imported++;
          try {
            validateModel(model); // what imports must be a well-formed engine model
          } catch (err) {
            unexpected.push(`imported but invalid: ${(err as Error).message}`);
          }
          continue;
        } catch (err) {
          const typed = err instanceof OnnxFormatError || err instanceof UnsupportedOnnxError;
          if (!typed || !(err as Error).message)
            unexpected.push(`${(err as Error).name}: ${(err as Error).message}`);
        }
      }
      assert.deepEqual(unexpected.slice(0, 5), [], `${unexpected.length} untyped failures`);
      assert.ok(imported < 200, 'some mutants must be rejected');
      t.diagnostic(`${imported} of 200 mutants imported as valid models`);
    });
  }
});
