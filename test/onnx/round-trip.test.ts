import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  META,
  buildSmallCnn,
  decodeOnnxModel,
  exportOnnx,
  importOnnx,
  readMetadata,
} from '@edgecompress/engine';
import { parityModels } from './engine-models';
import { TORCH_FIXTURES, loadTorchFixture } from './onnx-fixtures';

describe('ONNX round trip', () => {
  for (const { name, model } of parityModels()) {
    it(`${name}: export -> import -> export gives the same bytes`, () => {
      const meta = {
        variantId: 'v-1',
        parent: 'v-0',
        method: 'aap',
        options: { target: 0.5 },
        provenance: { rounds: 3 },
      };
      const first = exportOnnx(model, { metadata: meta });
      const back = importOnnx(first);
      const second = exportOnnx(back.model, { metadata: meta });
      assert.equal(Buffer.compare(Buffer.from(first), Buffer.from(second)), 0);
    });

    it(`${name}: import restores node tags, stages and features from the metadata`, () => {
      const { model: back } = importOnnx(exportOnnx(model, { foldBatchNorm: false }));
      assert.deepEqual(back.graph.stages, model.graph.stages);
      assert.equal(back.graph.features, model.graph.features);
      for (const node of model.graph.nodes.filter((n) => n.op !== 'softmax')) {
        assert.deepEqual(back.graph.nodes.find((n) => n.id === node.id)?.tags, node.tags, node.id);
      }
      assert.equal(
        back.graph.nodes.filter((n) => n.op === 'batchNorm').length,
        model.graph.nodes.filter((n) => n.op === 'batchNorm').length,
      );
    });
  }

  for (const name of TORCH_FIXTURES) {
    it(`${name}: a PyTorch import is stable from its first export on`, () => {
      const first = exportOnnx(importOnnx(loadTorchFixture(name).bytes).model);
      const second = exportOnnx(importOnnx(first).model);
      assert.equal(Buffer.compare(Buffer.from(first), Buffer.from(second)), 0);
    });
  }

  it('writes producer and variant metadata on every export', () => {
    const { model } = parityModels()[0]!;
    const proto = decodeOnnxModel(
      exportOnnx(model, {
        metadata: {
          variantId: 'v-7',
          parent: 'v-3',
          method: 'sqakd',
          options: { bits: 4 },
          provenance: { seed: 1 },
        },
      }),
    );
    assert.equal(proto.producerName, 'edgecompress');
    assert.deepEqual(
      proto.opsetImport.map((o) => Number(o.version)),
      [17],
    );
    const meta = readMetadata(proto);
    assert.equal(meta.get(META.variantId), 'v-7');
    assert.equal(meta.get(META.parent), 'v-3');
    assert.equal(meta.get(META.method), 'sqakd');
    assert.deepEqual(JSON.parse(meta.get(META.options)!), { bits: 4 });
    assert.deepEqual(JSON.parse(meta.get(META.provenance)!), { seed: 1 });
    assert.equal(meta.get(META.architecture), model.graph.architecture);
  });

  it('a pruned (narrower) model exports physically smaller tensors', () => {
    const dims = (bytes: Uint8Array): Map<string, number[]> =>
      new Map(
        decodeOnnxModel(bytes).graph!.initializer!.map((t) => [t.name!, t.dims!.map(Number)]),
      );
    const full = exportOnnx(buildSmallCnn({ inputShape: [28, 28, 1], numClasses: 10 }));
    const pruned = exportOnnx(
      buildSmallCnn({ inputShape: [28, 28, 1], numClasses: 10, widths: [8, 20, 40] }),
    );
    assert.deepEqual(dims(full).get('s1.conv/kernel'), [32, 16, 3, 3]);
    assert.deepEqual(dims(pruned).get('s1.conv/kernel'), [20, 8, 3, 3]);
    assert.ok(pruned.length < full.length * 0.5, `${pruned.length} vs ${full.length} bytes`);
  });
});
