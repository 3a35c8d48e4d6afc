import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildModel, buildSmallCnn } from '../builders';
import { validateModel, type Model } from '../graph';
import {
  deserializeModel,
  loadModel,
  MODEL_FILE_VERSION,
  ModelFileError,
  saveModel,
  serializeModel,
} from './model-file';

const tiny = (): Model =>
  buildSmallCnn({ inputShape: [4, 4, 1], numClasses: 2, seed: 4, widths: [2, 2, 2] });

const assertSameModel = (actual: Model, expected: Model) => {
  assert.deepEqual(actual.graph, expected.graph);
  assert.deepEqual([...actual.weights.keys()], [...expected.weights.keys()]);
  for (const [name, weight] of expected.weights) {
    const got = actual.weights.get(name)!;
    assert.deepEqual(got.shape, weight.shape);
    assert.ok(
      Buffer.from(got.data.buffer).equals(
        Buffer.from(weight.data.buffer, weight.data.byteOffset, weight.data.byteLength),
      ),
      name,
    );
  }
};

/** Re-seals a hand-edited file so only the edit, not the checksum, is under test. */
const reseal = (file: Buffer): Buffer => {
  createHash('sha256').update(file.subarray(56)).digest().copy(file, 24);
  return file;
};

/** Rebuilds a file around an edited JSON header (same blob) and re-seals it. */
const editHeader = (file: Buffer, edit: (header: Record<string, unknown>) => void): Buffer => {
  const length = file.readUInt32LE(12);
  const header = JSON.parse(file.subarray(56, 56 + length).toString('utf8'));
  edit(header);
  const text = Buffer.from(JSON.stringify(header), 'utf8');
  const blob = file.subarray(Math.ceil((56 + length) / 64) * 64);
  const out = Buffer.alloc(Math.ceil((56 + text.length) / 64) * 64 + blob.length);
  file.copy(out, 0, 0, 56);
  out.writeUInt32LE(text.length, 12);
  text.copy(out, 56);
  blob.copy(out, out.length - blob.length);
  return reseal(out);
};

describe('model file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ec-model-file-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('round-trips graph and every weight bit for bit (ResNet-20, MobileNetV2)', () => {
    for (const arch of ['resnet20', 'mobilenetv2']) {
      const model = buildModel(arch, {
        inputShape: [32, 32, 3],
        numClasses: 10,
        seed: 12,
        widthMultiplier: 0.5,
      });
      const path = join(dir, `${arch}.ecm`);
      saveModel(path, model);
      assertSameModel(loadModel(path), model);
    }
  });

  it('lays out tensors 64-byte aligned after a 64-byte aligned header, and nothing else', () => {
    const model = tiny();
    const file = serializeModel(model);
    assert.equal(file.subarray(0, 8).toString('latin1'), 'ECMODEL\0');
    assert.equal(file.readUInt32LE(8), MODEL_FILE_VERSION);
    const headerLength = file.readUInt32LE(12);
    const blobStart = Math.ceil((56 + headerLength) / 64) * 64;
    assert.equal(BigInt(file.length - blobStart), file.readBigUInt64LE(16));
    const header = JSON.parse(file.subarray(56, 56 + headerLength).toString('utf8'));
    for (const t of header.tensors) {
      assert.equal(t.offset % 64, 0);
      const first = file.readFloatLE(blobStart + t.offset);
      assert.equal(first, model.weights.get(t.name)!.data[0]);
    }
  });

  it('overwrites atomically and leaves no temporary file behind', () => {
    const path = join(dir, 'm.ecm');
    saveModel(path, tiny());
    const second = buildSmallCnn({
      inputShape: [4, 4, 1],
      numClasses: 2,
      seed: 5,
      widths: [2, 2, 2],
    });
    saveModel(path, second);
    assertSameModel(loadModel(path), second);
    assert.deepEqual(readdirSync(dir), ['m.ecm']);
  });

  it('refuses to save an invalid model and writes nothing', () => {
    const model = tiny();
    model.weights.delete('fc/bias');
    assert.throws(() => saveModel(join(dir, 'bad.ecm'), model), /missing weight "fc\/bias"/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('refuses to write a graph the reader would refuse', () => {
    const model = tiny();
    (model.graph.nodes[1] as unknown as Record<string, unknown>).note = 'free text';
    assert.throws(() => saveModel(join(dir, 'odd.ecm'), model), /invalid graph JSON at nodes\.1/);
    assert.deepEqual(readdirSync(dir), []);
  });

  it('rejects every single-byte corruption of a file', () => {
    const file = serializeModel(tiny());
    assert.ok(file.length < 8192, `tiny model file is ${file.length} bytes`);
    for (let i = 0; i < file.length; i++) {
      const copy = Buffer.from(file);
      copy[i] ^= 0x01;
      assert.throws(() => deserializeModel(copy), ModelFileError, `flip at byte ${i} was accepted`);
    }
  });

  it('rejects truncation at any length and trailing bytes', () => {
    const file = serializeModel(tiny());
    for (const length of [0, 7, 8, 55, 56, 200, file.length - 64, file.length - 1]) {
      assert.throws(
        () => deserializeModel(file.subarray(0, length)),
        /bad magic|truncated/,
        `length ${length}`,
      );
    }
    const path = join(dir, 'short.ecm');
    writeFileSync(path, file.subarray(0, file.length - 4));
    assert.throws(
      () => loadModel(path),
      /model file truncated: \d+ bytes, its prefix declares \d+/,
    );
    assert.throws(
      () => deserializeModel(Buffer.concat([file, Buffer.alloc(3)])),
      /3 trailing bytes/,
    );
  });

  it('rejects a foreign file, another version, and files or headers over the limits before reading them', () => {
    const file = serializeModel(tiny());
    const path = join(dir, 'm.ecm');
    writeFileSync(path, Buffer.from('{"graph": "not a model file at all, just text"}'));
    assert.throws(() => loadModel(path), /not an edgecompress model file \(bad magic\)/);

    const future = Buffer.from(file);
    future.writeUInt32LE(2, 8);
    assert.throws(
      () => deserializeModel(future),
      /model file version 2 is not supported \(this build reads version 1\)/,
    );

    writeFileSync(path, file);
    assert.throws(() => loadModel(path, { maxFileBytes: 1024 }), /over the 1024-byte limit/);
    assert.throws(
      () => loadModel(path, { maxHeaderBytes: 100 }),
      /header length \d+ is outside 1..100/,
    );

    // a prefix declaring a 4 GiB header and an exabyte blob is refused from the prefix alone
    const huge = Buffer.from(file);
    huge.writeUInt32LE(0xffffffff, 12);
    huge.writeBigUInt64LE(2n ** 60n, 16);
    assert.throws(() => deserializeModel(huge), /header length 4294967295 is outside/);
  });

  it('rejects a well-sealed file whose tensor table lies', () => {
    const file = serializeModel(tiny());
    type Header = { tensors: { name: string; offset: number; length: number; shape: number[] }[] };
    const cases: [(h: Header) => void, RegExp][] = [
      [(h) => (h.tensors[1].offset = h.tensors[0].offset), /overlaps another tensor/],
      [(h) => (h.tensors[0].offset = 4), /not 64-byte aligned/],
      [(h) => (h.tensors[0].length = 4), /has 4 bytes for shape/],
      [(h) => (h.tensors[h.tensors.length - 1].offset = 1 << 20), /extends past the end/],
      [(h) => (h.tensors[1].name = h.tensors[0].name), /appears twice|overlaps/],
      [(h) => h.tensors.pop(), /invalid model: .*missing weight "fc\/bias"/],
      [
        (h) => ((h as unknown as { tensors: string }).tensors = 'x'),
        /header is invalid at tensors/,
      ],
    ];
    for (const [edit, pattern] of cases) {
      assert.throws(
        () => deserializeModel(editHeader(file, (h) => edit(h as unknown as Header))),
        pattern,
      );
    }
  });

  it('rejects a well-sealed file whose graph is invalid, naming the node', () => {
    const file = serializeModel(tiny());
    type Header = { graph: { nodes: { id: string; op: string; inputs: string[] }[] } };
    const unknownOp = editHeader(
      file,
      (h) => ((h as unknown as Header).graph.nodes[2].op = 'gelu'),
    );
    assert.throws(
      () => deserializeModel(unknownOp),
      /invalid model: invalid graph JSON at nodes.2.op/,
    );
    const dangling = editHeader(
      file,
      (h) => ((h as unknown as Header).graph.nodes[2].inputs = ['nope']),
    );
    assert.throws(() => deserializeModel(dangling), /node "s0.bn": input "nope" names no node/);
    const notJson = reseal(Buffer.from(file).fill(0x7b, 56, 60));
    assert.throws(() => deserializeModel(notJson), /header is not valid JSON/);
  });

  it('answers resealed random mutations of the header with a model or a ModelFileError, never a crash', () => {
    const file = serializeModel(tiny());
    const headerLength = file.readUInt32LE(12);
    let state = 12345;
    const next = (n: number) => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state % n;
    };
    const printable = Buffer.from('{}[]",:0123456789-.eE truefalsnul\\/abcxyz');
    let rejected = 0;
    for (let round = 0; round < 400; round++) {
      const copy = Buffer.from(file);
      for (let k = 1 + next(4); k > 0; k--)
        copy[56 + next(headerLength)] = printable[next(printable.length)];
      try {
        validateModel(deserializeModel(reseal(copy)));
      } catch (err) {
        assert.ok(err instanceof ModelFileError, `round ${round}: ${String(err)}`);
        rejected++;
      }
    }
    assert.ok(rejected > 300, `only ${rejected} of 400 mutations rejected`);
  });

  it('rejects a tensor whose declared dims overflow, without allocating them', () => {
    const file = serializeModel(tiny());
    const huge = editHeader(file, (h) => {
      (h as { tensors: { shape: number[] }[] }).tensors[0].shape = [2 ** 31, 2 ** 31];
    });
    assert.throws(
      () => deserializeModel(huge),
      /has \d+ bytes for shape \[2147483648, 2147483648\]/,
    );
  });

  it('reports a missing file with its system error', () => {
    assert.throws(() => loadModel(join(dir, 'absent.ecm')), /ENOENT/);
  });
});
