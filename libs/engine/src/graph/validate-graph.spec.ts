import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildSmallCnn } from '../builders';
import { GraphError } from './graph-error';
import type { GraphNode, Model } from './ir';
import { inferShapes } from './shape-inference';
import { validateGraph, validateModel } from './validate-graph';

const model = (): Model => buildSmallCnn({ inputShape: [8, 8, 3], numClasses: 4, seed: 2 });
const node = (m: Model, id: string): GraphNode => m.graph.nodes.find((n) => n.id === id)!;

describe('validateGraph / validateModel', () => {
  it('accepts a built model and infers every node shape', () => {
    const m = model();
    const shapes = validateModel(m);
    assert.deepEqual(shapes.get('s0.conv'), [8, 8, 16]);
    assert.deepEqual(shapes.get('s0.pool'), [4, 4, 16]);
    assert.deepEqual(shapes.get('s2.relu'), [2, 2, 64]);
    assert.deepEqual(shapes.get('pool'), [64]);
    assert.deepEqual(shapes.get('fc'), [4]);
    assert.deepEqual(inferShapes(m.graph), shapes);
  });

  const rejects = (mutate: (m: Model) => void, pattern: RegExp, nodeId?: string) => {
    const m = model();
    mutate(m);
    assert.throws(
      () => validateModel(m),
      (err: unknown) => {
        assert.ok(err instanceof GraphError, `not a GraphError: ${String(err)}`);
        assert.match(err.message, pattern);
        if (nodeId !== undefined) assert.equal(err.nodeId, nodeId);
        return true;
      },
    );
  };

  it('rejects an unknown op, naming the node', () => {
    rejects(
      (m) => ((node(m, 's1.relu') as { op: string }).op = 'gelu'),
      /node "s1.relu": unknown op "gelu"/,
      's1.relu',
    );
  });

  it('rejects a dangling input', () => {
    rejects(
      (m) => (node(m, 's1.bn').inputs = ['ghost']),
      /node "s1.bn": input "ghost" names no node/,
      's1.bn',
    );
  });

  it('rejects a cycle and names it', () => {
    rejects(
      (m) => (node(m, 's1.conv').inputs = ['s1.relu']),
      /cycle: s1\.conv -> s1\.bn -> s1\.relu -> s1\.conv/,
      's1.conv',
    );
  });

  it('rejects a node listed before its input without a cycle as out of order', () => {
    rejects((m) => {
      const nodes = m.graph.nodes;
      const i = nodes.findIndex((n) => n.id === 's1.bn');
      [nodes[i], nodes[i - 1]] = [nodes[i - 1], nodes[i]];
    }, /topological order/);
  });

  it('rejects a duplicate id', () => {
    rejects((m) => (node(m, 's1.bn').id = 's1.conv'), /node "s1.conv": duplicate node id/);
  });

  it('rejects a shape mismatch in add, naming both inputs', () => {
    rejects(
      (m) =>
        m.graph.nodes.splice(
          m.graph.nodes.findIndex((n) => n.id === 'pool'),
          0,
          {
            id: 'bad.add',
            op: 'add',
            inputs: ['s1.relu', 's2.relu'],
            attrs: {},
          },
        ),
      /node "bad.add": add inputs must have equal shapes: input 0 \(s1.relu\) is \[4, 4, 32\], input 1 \(s2.relu\) is \[2, 2, 64\]/,
      'bad.add',
    );
  });

  it('rejects a window that does not fit its input', () => {
    rejects((m) => {
      const conv = node(m, 's2.conv');
      if (conv.op === 'conv2d') conv.attrs.kernelSize = [5, 5];
      if (conv.op === 'conv2d') conv.attrs.pads = [0, 0, 0, 0];
    }, /node "s2.conv": a 5x5 window with stride 1x1 does not fit a 2x2 input/);
  });

  it('rejects a dense layer on a feature map', () => {
    rejects(
      (m) => (node(m, 'fc').inputs = ['s2.relu']),
      /node "fc": dense needs a flat \[F\] input, got \[2, 2, 64\]/,
    );
  });

  it('rejects an output that is not [numClasses] logits', () => {
    rejects(
      (m) => (m.graph.output = 'pool'),
      /node "pool": output must be logits \[4\], got \[64\]/,
    );
  });

  it('rejects stages and features that name no node', () => {
    rejects(
      (m) => (m.graph.stages![1].output = 'nowhere'),
      /stage "stage1" output "nowhere" names no node/,
    );
    rejects((m) => (m.graph.features = 'nowhere'), /features "nowhere" names no node/);
  });

  it('rejects a missing, ill-shaped, short or stray weight', () => {
    rejects(
      (m) => m.weights.delete('s1.bn/gamma'),
      /node "s1.bn": missing weight "s1.bn\/gamma"/,
      's1.bn',
    );
    rejects(
      (m) => (m.weights.get('s1.conv/kernel')!.shape = [3, 3, 32, 16]),
      /weight "s1.conv\/kernel" has shape \[3, 3, 32, 16\], expected \[3, 3, 16, 32\]/,
    );
    rejects(
      (m) => (m.weights.get('fc/bias')!.data = new Float32Array(3)),
      /weight "fc\/bias" has 3 values for shape \[4\]/,
    );
    rejects(
      (m) => m.weights.set('s1.conv/extra', { shape: [1], data: new Float32Array(1) }),
      /weight "s1.conv\/extra" belongs to no node/,
    );
  });

  it('rejects a foreign format or a future version', () => {
    assert.throws(
      () => validateGraph({ ...model().graph, format: 'other' as never }),
      /not an edgecompress graph/,
    );
    assert.throws(
      () => validateGraph({ ...model().graph, version: 2 as never }),
      /graph version 2 is not supported/,
    );
  });
});
