import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ARCHITECTURES, buildModel } from '../builders';
import { parseGraph } from './graph.schema';

describe('parseGraph', () => {
  it('accepts the JSON of every built architecture unchanged', () => {
    for (const arch of ARCHITECTURES.filter((a) => a !== 'resnet110' && a !== 'vgg16')) {
      const { graph } = buildModel(arch, {
        inputShape: [8, 8, 1],
        numClasses: 3,
        widthMultiplier: 0.25,
      });
      const json: unknown = JSON.parse(JSON.stringify(graph));
      assert.deepEqual(parseGraph(json), graph, arch);
    }
  });

  it('names the field that is wrong', () => {
    const { graph } = buildModel('small-cnn', { inputShape: [8, 8, 1], numClasses: 3 });
    const json = JSON.parse(JSON.stringify(graph));
    json.nodes[1].attrs.strides = [0, 1];
    assert.throws(() => parseGraph(json), /invalid graph JSON at nodes\.1\.attrs\.strides\.0/);
    json.nodes[1].attrs.strides = [1, 1];
    json.nodes[1].attrs.extra = true;
    assert.throws(() => parseGraph(json), /invalid graph JSON at nodes\.1\.attrs/);
    delete json.nodes[1].attrs.extra;
    json.nodes[2].op = 'gelu';
    assert.throws(() => parseGraph(json), /invalid graph JSON at nodes\.2\.op/);
  });

  it('rejects non-objects and a future graph version with a clear message', () => {
    assert.throws(() => parseGraph(null), /invalid graph JSON at graph/);
    assert.throws(() => parseGraph('graph'), /invalid graph JSON/);
    const { graph } = buildModel('small-cnn', { inputShape: [8, 8, 1], numClasses: 3 });
    assert.throws(() => parseGraph({ ...graph, version: 7 }), /graph version 7 is not supported/);
  });
});
