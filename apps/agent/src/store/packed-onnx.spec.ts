import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { META, decodeOnnxModel, encodeModel, expandPackedWeights } from '@edgecompress/engine';
import { packedTwoBitCnn } from '../../../../test/e2e/agent/packed-fixture';
import { AgentError } from '../agent-error';
import { childExpander } from '../runners/child-expander';
import { OrtRunner } from '../runners/ort-runner';
import { ModelStore } from './model-store';
import {
  expandInProcess,
  fileMayHavePackedWeights,
  PACKED_WEIGHTS_KEY,
  type ExpandOutcome,
  type ExpandPackedFile,
} from './packed-onnx';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('model store: packed low-bit ONNX artifacts', () => {
  let dir: string;
  let packed: Uint8Array;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ec-packed-'));
    packed = (await packedTwoBitCnn()).bytes;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('looks for the same metadata key the engine writes', () => {
    assert.equal(PACKED_WEIGHTS_KEY, META.packedWeights);
  });

  it('finds the key in a file read in pieces, also where it straddles two pieces', () => {
    const file = join(dir, 'scan.bin');
    const key = Buffer.from(PACKED_WEIGHTS_KEY);
    const piece = 64;
    for (let at = 0; at <= 3 * piece; at += 7) {
      const bytes = Buffer.alloc(3 * piece + key.length, 0x2e);
      key.copy(bytes, at);
      writeFileSync(file, bytes);
      assert.equal(fileMayHavePackedWeights(file, piece), true, `key at ${at}`);
    }
    const almost = Buffer.alloc(5 * piece, 0x2e);
    key.copy(almost, piece - 10, 0, key.length - 1); // the key less its last byte
    writeFileSync(file, almost);
    assert.equal(fileMayHavePackedWeights(file, piece), false);
    writeFileSync(file, Buffer.alloc(0));
    assert.equal(fileMayHavePackedWeights(file, piece), false);
    writeFileSync(file, Buffer.from(packed));
    assert.equal(fileMayHavePackedWeights(file), true);
  });

  it('commits a 2-bit artifact expanded, so ORT loads models/<sha>.onnx', async () => {
    const store = new ModelStore(join(dir, 'ok'), 64 << 20);
    const path = await store.importBytes(packed, sha(packed), 'application/onnx');
    assert.equal(path, join(dir, 'ok', 'models', `${sha(packed)}.expanded.onnx`));
    assert.ok(readFileSync(store.artifactPath(sha(packed))).equals(Buffer.from(packed)));
    const stored = readFileSync(path);
    assert.ok(stored.equals(Buffer.from(expandPackedWeights(packed))));
    assert.ok(stored.length > packed.length * 4, 'float kernels replace the 2-bit codes');
    const session = await ort.InferenceSession.create(stored);
    const out = await session.run({
      [session.inputNames[0]!]: new ort.Tensor(
        'float32',
        new Float32Array(784).fill(0.5),
        [1, 1, 28, 28],
      ),
    });
    assert.equal(out[session.outputNames[0]!]!.dims.at(-1), 10);
    await session.release();
  });

  it('counts and evicts the expanded form with its artifact; drops an orphaned one at start', () => {
    const store = new ModelStore(join(dir, 'ok'), 64 << 20);
    const both =
      statSync(store.artifactPath(sha(packed))).size + statSync(store.modelPath(sha(packed))).size;
    assert.equal(store.usedBytes(), both);
    rmSync(store.artifactPath(sha(packed)));
    const reopened = new ModelStore(join(dir, 'ok'), 64 << 20);
    assert.deepEqual(readdirSync(join(dir, 'ok', 'models')), []);
    assert.equal(reopened.usedBytes(), 0);
  });

  it('stores the bytes unchanged when the artifact is not ONNX', async () => {
    const store = new ModelStore(join(dir, 'raw'), 64 << 20);
    const path = await store.importBytes(packed, sha(packed), 'application/octet-stream');
    assert.ok(readFileSync(path).equals(Buffer.from(packed)));
  });

  it('refuses a packing that cannot be expanded (MODEL_LOAD_FAILED), leaving nothing behind', async () => {
    const model = decodeOnnxModel(packed);
    for (const p of model.metadataProps ?? []) {
      if (p.key === META.packedWeights) p.value = '[{"name":"ghost","dims":[4,4],"bits":2}]';
    }
    const broken = encodeModel(model);
    const store = new ModelStore(join(dir, 'broken'), 64 << 20);
    await assert.rejects(
      store.importBytes(broken, sha(broken), 'application/onnx'),
      (err: AgentError) => err.code === 'MODEL_LOAD_FAILED' && /ghost/.test(err.message),
    );
    assert.deepEqual(readdirSync(join(dir, 'broken', 'models')), []);
  });

  it('counts the expanded size against the quota (DISK_FULL, nothing stored, nothing written)', async () => {
    const calls = spiedExpander();
    const store = new ModelStore(join(dir, 'small'), packed.length * 2, calls.expand);
    await assert.rejects(
      store.importBytes(packed, sha(packed), 'application/onnx'),
      (err: AgentError) => err.code === 'DISK_FULL' && /expands to/.test(err.message),
    );
    assert.deepEqual(readdirSync(join(dir, 'small', 'models')), []);
    // Asked to write into the room left beside the packed file, and refused to: no byte over.
    const expandedBytes = expandPackedWeights(packed).length;
    assert.deepEqual(calls.seen, [
      { maxBytes: packed.length, outcome: { kind: 'too-large', bytes: expandedBytes } },
    ]);
  });

  it('evicts an older model before the expanded form is written, never holding more than the quota', async () => {
    const expandedBytes = expandPackedWeights(packed).length;
    const quota = packed.length + expandedBytes + 16;
    const calls = spiedExpander();
    const store = new ModelStore(join(dir, 'evict'), quota, calls.expand);
    const older = Buffer.alloc(4096, 7);
    await store.importBytes(older, sha(older), 'application/octet-stream');
    await store.importBytes(packed, sha(packed), 'application/onnx');
    assert.deepEqual(calls.seen, [
      // beside the older model 4080 bytes too few are free: nothing written ...
      { maxBytes: expandedBytes - 4080, outcome: { kind: 'too-large', bytes: expandedBytes } },
      // ... the older model is evicted, then the expanded form fits exactly
      { maxBytes: expandedBytes, outcome: { kind: 'written', bytes: expandedBytes } },
    ]);
    assert.equal(calls.largestFile, expandedBytes);
    assert.deepEqual(store.listModels(), [sha(packed)]);
    assert.equal(store.usedBytes(), packed.length + expandedBytes);
  });

  it('expands in a runner child as the agent does: the same bytes as in process', async () => {
    const expand = childExpander(new OrtRunner(), {
      timeoutMs: 60_000,
      memoryLimitBytes: 1 << 30,
    });
    const store = new ModelStore(join(dir, 'child'), 64 << 20, expand);
    const path = await store.importBytes(packed, sha(packed), 'application/onnx');
    assert.equal(path, join(dir, 'child', 'models', `${sha(packed)}.expanded.onnx`));
    assert.ok(readFileSync(path).equals(Buffer.from(expandPackedWeights(packed))));
    assert.deepEqual(readdirSync(join(dir, 'child', 'models')).sort(), [
      `${sha(packed)}.expanded.onnx`,
      `${sha(packed)}.onnx`,
    ]);
  });

  it('refuses a broken packing from the runner child with its reason, leaving nothing behind', async () => {
    const model = decodeOnnxModel(packed);
    for (const p of model.metadataProps ?? []) {
      if (p.key === META.packedWeights) p.value = '[{"name":"ghost","dims":[4,4],"bits":2}]';
    }
    const broken = encodeModel(model);
    const expand = childExpander(new OrtRunner(), { timeoutMs: 60_000, memoryLimitBytes: 1 << 30 });
    const store = new ModelStore(join(dir, 'child-broken'), 64 << 20, expand);
    await assert.rejects(
      store.importBytes(broken, sha(broken), 'application/onnx'),
      (err: AgentError) => err.code === 'MODEL_LOAD_FAILED' && /ghost/.test(err.message),
    );
    assert.deepEqual(readdirSync(join(dir, 'child-broken', 'models')), []);
  });

  it('a runner child killed mid-expansion (time limit) stores nothing, not even a temp file', async () => {
    const expand = childExpander(new OrtRunner(), { timeoutMs: 1, memoryLimitBytes: 1 << 30 });
    const store = new ModelStore(join(dir, 'child-killed'), 64 << 20, expand);
    await assert.rejects(
      store.importBytes(packed, sha(packed), 'application/onnx'),
      (err: AgentError) => err.code === 'MODEL_LOAD_FAILED' && /exceeded 1 ms/.test(err.message),
    );
    assert.deepEqual(readdirSync(join(dir, 'child-killed', 'models')), []);
    assert.equal(store.hasModel(sha(packed)), false);
  });
});

/** The in-process expander, recording what it was asked and did. */
function spiedExpander() {
  const seen: { maxBytes: number; outcome: ExpandOutcome }[] = [];
  const spy = {
    seen,
    largestFile: 0,
    expand: (async (packedPath, outPath, maxBytes) => {
      const outcome = await expandInProcess(packedPath, outPath, maxBytes);
      seen.push({ maxBytes, outcome });
      if (outcome.kind === 'written')
        spy.largestFile = Math.max(spy.largestFile, statSync(outPath).size);
      return outcome;
    }) as ExpandPackedFile,
  };
  return spy;
}
