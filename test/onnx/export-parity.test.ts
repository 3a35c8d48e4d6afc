import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import {
  GraphExecutor,
  createOrtSession,
  exportOnnx,
  runOrt,
  type Model,
} from '@edgecompress/engine';
import { parityModels, randomInput } from './engine-models';
import { relativeL2 } from './onnx-fixtures';

function engineLogits(model: Model, input: Float32Array, count: number): Float32Array {
  const executor = new GraphExecutor(model);
  try {
    return tf
      .tidy(() => {
        const x = tf.tensor4d(input, [count, ...model.graph.inputShape] as [
          number,
          number,
          number,
          number,
        ]);
        const { logits } = executor.forward(x, { training: false });
        return logits;
      })
      .dataSync() as Float32Array;
  } finally {
    executor.dispose();
  }
}

async function ortLogits(
  bytes: Uint8Array,
  model: Model,
  input: Float32Array,
  count: number,
): Promise<Float32Array> {
  const session = await createOrtSession(bytes);
  try {
    return await runOrt(session, input, count, model.graph.inputShape);
  } finally {
    await session.release();
  }
}

describe('export parity: ORT on the exported file equals the engine (GraphExecutor, eval mode)', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  for (const { name, model } of parityModels()) {
    for (const foldBatchNorm of [true, false]) {
      it(`${name} (${foldBatchNorm ? 'BN folded' : 'BN kept'}): within 1e-4 relative L2 on a batch of 3`, async () => {
        const input = randomInput(3, model.graph.inputShape);
        const expected = engineLogits(model, input, 3);
        const actual = await ortLogits(exportOnnx(model, { foldBatchNorm }), model, input, 3);
        const err = relativeL2(actual, expected);
        assert.ok(err < 1e-4, `relative L2 ${err}`);
        assert.ok(
          expected.some((v) => Math.abs(v) > 1e-3),
          'logits are not trivially zero',
        );
      });
    }
  }
});
