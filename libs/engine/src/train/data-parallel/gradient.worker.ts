/**
 * A data-parallel replica: its own tfjs instance (so its own wasm module and core), a copy of
 * the model, and on each step the current weights plus a shard of the batch; it answers with
 * the shard's gradients and proposed BN statistics.
 */
import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import { GraphExecutor, type Weights } from '../../graph';
import { useBackend } from '../backend-setup';
import { shardGradients, type FlatLayout } from '../gradient-source';
import type { FromWorker, ToWorker } from './gradient-worker.protocol';

let executor: GraphExecutor | null = null;
let layout: FlatLayout | null = null;
let labelSmoothing = 0;

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  parentPort!.postMessage(message, transfer);
}

function loadWeights(flat: Float32Array): void {
  let offset = 0;
  tf.tidy(() => {
    for (const { name, size } of layout!.params) {
      const v = executor!.trainable.get(name)!;
      v.assign(tf.tensor(flat.subarray(offset, offset + size), v.shape));
      offset += size;
    }
    for (const { name, size } of layout!.state) {
      const v = executor!.state.get(name)!;
      v.assign(tf.tensor(flat.subarray(offset, offset + size), v.shape));
      offset += size;
    }
  });
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'init': {
      const { init } = message;
      await useBackend(init.backend);
      const weights: Weights = new Map(
        init.weights.map(([n, shape, data]) => [n, { shape, data }]),
      );
      executor = new GraphExecutor({ graph: init.graph, weights });
      layout = init.layout;
      labelSmoothing = init.labelSmoothing;
      send({ type: 'ready' });
      return;
    }
    case 'step': {
      if (!executor || !layout) throw new Error('step before init');
      loadWeights(message.weights);
      const batch = { images: message.images, labels: message.labels, count: message.count };
      const result = shardGradients(executor, layout, batch, labelSmoothing);
      send({ type: 'result', id: message.id, ...result }, [
        result.grads.buffer as ArrayBuffer,
        result.state.buffer as ArrayBuffer,
      ]);
      return;
    }
    case 'close':
      executor?.dispose();
      parentPort!.close();
      return;
  }
}

parentPort!.on('message', (message: ToWorker) => {
  handle(message).catch((err: unknown) => {
    send({
      type: 'error',
      ...(message.type === 'step' ? { id: message.id } : {}),
      message: err instanceof Error ? err.message : String(err),
    });
  });
});
