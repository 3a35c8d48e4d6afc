import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../agent-error';
import { ModelStore, type ChunkLayout } from './model-store';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function layoutOf(bytes: Buffer, chunkSize: number): ChunkLayout {
  const chunkCount = Math.ceil(bytes.length / chunkSize);
  return {
    sha256: sha(bytes),
    size: bytes.length,
    chunkSize,
    chunkCount,
    chunks: Array.from({ length: chunkCount }, (_, i) =>
      sha(bytes.subarray(i * chunkSize, (i + 1) * chunkSize)),
    ),
  };
}

function chunk(bytes: Buffer, layout: ChunkLayout, i: number): Buffer {
  return bytes.subarray(i * layout.chunkSize, (i + 1) * layout.chunkSize);
}

describe('ModelStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ec-store-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('assembles chunks received out of order and duplicated into a verified file', async () => {
    const store = new ModelStore(dir, 1 << 20);
    const bytes = randomBytes(10_000);
    const layout = layoutOf(bytes, 4096);
    assert.equal(store.writeChunk(layout, 2, chunk(bytes, layout, 2)), true);
    assert.equal(store.writeChunk(layout, 0, chunk(bytes, layout, 0)), true);
    assert.equal(store.writeChunk(layout, 0, chunk(bytes, layout, 0)), false);
    assert.deepEqual(store.missingChunks(layout), [1]);
    store.writeChunk(layout, 1, chunk(bytes, layout, 1));
    const path = await store.assemble(layout);
    assert.deepEqual(readFileSync(path), bytes);
    assert.equal(store.receivedBytes(layout.sha256), 0);
  });

  it('keeps received chunks across a new store instance (restart) so only the rest is fetched', () => {
    const bytes = randomBytes(9000);
    const layout = layoutOf(bytes, 4096);
    new ModelStore(dir, 1 << 20).writeChunk(layout, 1, chunk(bytes, layout, 1));
    const reopened = new ModelStore(dir, 1 << 20);
    assert.deepEqual(reopened.missingChunks(layout), [0, 2]);
  });

  it('fetches again a chunk torn by power loss (its region no longer matches its sha256)', async () => {
    const bytes = randomBytes(12_288);
    const layout = layoutOf(bytes, 4096);
    const first = new ModelStore(dir, 1 << 20);
    for (const i of [0, 1, 2]) first.writeChunk(layout, i, chunk(bytes, layout, i));
    first.release(layout.sha256);
    const part = join(dir, 'incoming', `${layout.sha256}.part`);
    const fd = openSync(part, 'r+');
    writeSync(fd, Buffer.alloc(100), 0, 100, 4096 + 1000); // half-written chunk 1
    closeSync(fd);
    const reopened = new ModelStore(dir, 1 << 20);
    assert.deepEqual(reopened.missingChunks(layout), [1]);
    assert.equal(reopened.usedBytes(), bytes.length, 'the partial file reserves the whole size');
    reopened.writeChunk(layout, 1, chunk(bytes, layout, 1));
    assert.deepEqual(readFileSync(await reopened.assemble(layout)), bytes);
    assert.equal(existsSync(part), false, 'assembled by rename: no partial file left');
  });

  it('refuses a chunk of the wrong length or not matching the signed list, writing nothing', async () => {
    const store = new ModelStore(dir, 1 << 20);
    const bytes = randomBytes(8192);
    const layout = layoutOf(bytes, 4096);
    assert.throws(() => store.writeChunk(layout, 0, bytes.subarray(0, 100)), /has 100 bytes/);
    const corrupt = Buffer.from(chunk(bytes, layout, 1));
    corrupt[17] ^= 0xff;
    store.writeChunk(layout, 0, chunk(bytes, layout, 0));
    assert.throws(
      () => store.writeChunk(layout, 1, corrupt),
      (e: unknown) =>
        e instanceof AgentError && e.code === 'CHECKSUM_MISMATCH' && /chunk 1 /.test(e.message),
    );
    assert.deepEqual(store.missingChunks(layout), [1], 'the corrupt chunk is still missing');
    const part = readFileSync(join(dir, 'incoming', `${layout.sha256}.part`));
    assert.deepEqual(part.subarray(4096), Buffer.alloc(4096), 'none of its bytes were written');
    await assert.rejects(
      store.assemble(layout),
      (e: unknown) => e instanceof AgentError && e.code === 'ARTIFACT_NOT_FOUND',
    );
    assert.equal(store.hasModel(layout.sha256), false);
    store.writeChunk(layout, 1, chunk(bytes, layout, 1));
    assert.deepEqual(readFileSync(await store.assemble(layout)), bytes);
  });

  it('without a chunk list, hashes the whole file at assembly and discards it on a mismatch', async () => {
    const store = new ModelStore(dir, 1 << 20);
    const bytes = randomBytes(8192);
    const { chunks: _list, ...layout } = layoutOf(bytes, 4096);
    const corrupt = Buffer.from(chunk(bytes, layout, 1));
    corrupt[17] ^= 0xff;
    store.writeChunk(layout, 0, chunk(bytes, layout, 0));
    store.writeChunk(layout, 1, corrupt);
    await assert.rejects(
      store.assemble(layout),
      (e: unknown) => e instanceof AgentError && e.code === 'CHECKSUM_MISMATCH',
    );
    assert.equal(store.hasModel(layout.sha256), false);
    assert.deepEqual(store.missingChunks(layout), [0, 1]);
    for (const i of [1, 0]) store.writeChunk(layout, i, chunk(bytes, layout, i));
    assert.deepEqual(readFileSync(await store.assemble(layout)), bytes, 'out of order is fine');
  });

  it('evicts unprotected models for room and refuses with QUOTA_EXCEEDED when it cannot', async () => {
    const store = new ModelStore(dir, 20_000);
    const a = randomBytes(8000);
    const b = randomBytes(8000);
    const shaA = await store.importBytes(a, createHash('sha256').update(a).digest('hex'));
    const shaB = createHash('sha256').update(b).digest('hex');
    await store.importBytes(b, shaB);
    const c = layoutOf(randomBytes(8000), 4096);
    const protectBoth = new Set([createHash('sha256').update(a).digest('hex'), shaB]);
    assert.throws(
      () => store.reserve(c, protectBoth),
      (e: unknown) => e instanceof AgentError && e.code === 'DISK_FULL',
    );
    assert.equal(existsSync(shaA), true, 'nothing is deleted when the reservation fails');
    store.reserve(c, new Set([shaB]));
    assert.equal(existsSync(shaA), false, 'the unprotected model made room');
    assert.equal(store.hasModel(shaB), true);
    assert.throws(
      () => store.reserve(layoutOf(randomBytes(30_000), 4096), new Set()),
      /more than the model store quota/,
    );
  });

  it('refuses a hash that is not 64 hex digits before it can become a path', () => {
    const store = new ModelStore(dir, 1000);
    assert.throws(() => store.modelPath('../../etc/passwd'), /not a sha256/);
  });
});
