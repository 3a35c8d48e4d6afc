import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  OnnxFormatError,
  UnsupportedOnnxError,
  createOrtSession,
  decodeOnnxModel,
  encodeModel,
  importOnnx,
  onnx,
} from '@edgecompress/engine';
import { loadTorchFixture } from './onnx-fixtures';

/** The VGG fixture, decoded, for mutation. */
function fixtureProto(): onnx.ModelProto {
  return decodeOnnxModel(loadTorchFixture('torch-vgg').bytes);
}

function mutated(edit: (g: onnx.GraphProto) => void): Uint8Array {
  const m = fixtureProto();
  edit(m.graph as onnx.GraphProto);
  return encodeModel(m);
}

function rejects(
  bytes: Uint8Array,
  pattern: RegExp,
  type: new (...args: never[]) => Error = OnnxFormatError,
): void {
  const before = process.memoryUsage().rss;
  assert.throws(
    () => importOnnx(bytes),
    (err: Error) => {
      assert.ok(err instanceof type, `${err.name}: ${err.message}`);
      assert.match(err.message, pattern);
      return true;
    },
  );
  // Nothing was allocated from declared sizes: resident memory grew by far less than any of them.
  assert.ok(process.memoryUsage().rss - before < 256 * 1024 * 1024);
}

describe('malformed ONNX input is rejected with a clear error', () => {
  it('truncated file', () => {
    const bytes = loadTorchFixture('torch-vgg').bytes;
    rejects(bytes.subarray(0, Math.floor(bytes.length / 2)), /truncated|not an ONNX model/);
  });

  it('wrong magic: a PNG header, JSON text and random bytes', () => {
    rejects(
      Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]),
      /leading bytes 0x89504e47/,
    );
    rejects(new TextEncoder().encode('{"graph": "not really"}'), /not an ONNX model/);
    rejects(new Uint8Array(7), /only 7 bytes/);
  });

  it('absurd dims on an initializer', () => {
    const bytes = mutated((g) => {
      g.initializer[0]!.dims = [1 << 30, 1 << 30];
    });
    rejects(bytes, /features\.0\.weight.*more than \d+ elements/);
  });

  it('negative dims', () => {
    const bytes = mutated((g) => {
      g.initializer[0]!.dims = [-8, 3, 3, 3];
    });
    rejects(bytes, /invalid dimension -8/);
  });

  it('declared size not matching the stored bytes', () => {
    const bytes = mutated((g) => {
      g.initializer[0]!.dims = [8, 3, 3, 4];
    });
    rejects(bytes, /declares 288 elements \(1152 bytes\) but holds 864 bytes/);
  });

  it('a 2 GB declared tensor with 16 bytes of data', () => {
    const bytes = mutated((g) => {
      g.initializer.push({
        name: 'huge',
        dims: [1 << 29],
        dataType: 1,
        rawData: new Uint8Array(16),
      });
    });
    rejects(bytes, /huge.*more than/);
  });

  it('external data is refused (no file outside the model is opened)', () => {
    const bytes = mutated((g) => {
      const t = g.initializer[0]!;
      t.rawData = new Uint8Array(0);
      t.dataLocation = onnx.TensorProto.DataLocation.EXTERNAL;
      t.externalData = [{ key: 'location', value: '../../etc/passwd' }];
    });
    rejects(bytes, /external data/);
  });

  it('missing initializer', () => {
    const bytes = mutated((g) => {
      g.initializer = g.initializer.filter((t) => t.name !== 'features.4.weight');
    });
    rejects(bytes, /missing initializer\?\).*features\.4\.weight/);
  });

  it('cyclic graph', () => {
    const bytes = mutated((g) => {
      const nodes = g.node as onnx.NodeProto[];
      const relu = nodes.find((n) => n.opType === 'Relu')!;
      const conv = nodes.find((n) => n.opType === 'Conv' && n.name!.includes('features.4'))!;
      relu.input = [conv.output![0]!];
    });
    rejects(bytes, /cycle through nodes/);
  });

  it('unsupported operators are listed with their node names', () => {
    const bytes = mutated((g) => {
      g.node.find((n) => n.opType === 'Relu')!.opType = 'LeakyRelu';
      g.node.find((n) => n.opType === 'MaxPool')!.opType = 'LpPool';
    });
    rejects(
      bytes,
      /LeakyRelu \(node "\/features\/features\.2\/Relu"\).*LpPool \(node "\/features\/features\.3\/MaxPool"\)/,
      UnsupportedOnnxError,
    );
    assert.throws(
      () => importOnnx(bytes),
      (err: UnsupportedOnnxError) => err.blockers.length === 2,
    );
  });

  it('ORT itself refuses a truncated model without taking the process down', async () => {
    const bytes = loadTorchFixture('torch-vgg').bytes;
    await assert.rejects(
      createOrtSession(bytes.subarray(0, 1000)),
      /not an ONNX model|truncated|protobuf/i,
    );
  });
});
