import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildManifest,
  generateSigningKeyPair,
  signManifest,
  splitIntoChunks,
  topics,
} from '@edgecompress/protocol';
import { AgentError } from '../agent-error';
import type { Clock, TimerHandle } from '../clock';
import { ModelStore } from '../store/model-store';
import { ArtifactFetcher } from './artifact-fetcher';

/** Timers that fire only when the test advances time. */
class ManualClock implements Clock {
  private t = 0;
  private timers: { at: number; fn: () => void; alive: boolean }[] = [];
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const timer = { at: this.t + ms, fn, alive: true };
    this.timers.push(timer);
    return { cancel: () => (timer.alive = false) };
  }
  setInterval(): TimerHandle {
    return { cancel: () => undefined };
  }
  advance(ms: number): void {
    this.t += ms;
    for (const timer of this.timers.filter((x) => x.alive && x.at <= this.t)) {
      timer.alive = false;
      timer.fn();
    }
  }
}

const keys = generateSigningKeyPair();

function artifact(size: number) {
  const bytes = randomBytes(size);
  const manifest = signManifest(
    buildManifest(bytes, { contentType: 'application/onnx', createdAt: 1, chunkSize: 4096 }),
    keys.privateKeyPem,
  );
  return { bytes, manifest, chunks: splitIntoChunks(bytes, 4096).map((c) => Buffer.from(c)) };
}

describe('ArtifactFetcher (fake subscriber, manual clock)', () => {
  let dir: string;
  let clock: ManualClock;
  let subscribed: string[];
  let fetcher: ArtifactFetcher;
  let store: ModelStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ec-fetcher-'));
    clock = new ManualClock();
    subscribed = [];
    store = new ModelStore(dir, 1 << 20);
    const subscriber = {
      subscribe: async (f: string[]) => void subscribed.push(...f),
      unsubscribe: async (f: string[]) =>
        void (subscribed = subscribed.filter((s) => !f.includes(s))),
    };
    fetcher = new ArtifactFetcher(
      store,
      subscriber,
      [keys.publicKeyPem],
      clock,
      10_000,
      () => new Set(),
    );
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('subscribes to exactly the missing chunks and unsubscribes when done', async () => {
    const a = artifact(10_000);
    store.writeChunk(a.manifest, 1, a.chunks[1]!);
    const pending = fetcher.fetch(a.manifest.sha256);
    fetcher.handleManifest(a.manifest.sha256, Buffer.from(JSON.stringify(a.manifest)));
    assert.deepEqual(subscribed, [
      topics.artifactManifest(a.manifest.sha256),
      topics.artifactChunk(a.manifest.sha256, 0),
      topics.artifactChunk(a.manifest.sha256, 2),
    ]);
    fetcher.handleChunk(a.manifest.sha256, 2, a.chunks[2]!);
    fetcher.handleChunk(a.manifest.sha256, 0, a.chunks[0]!);
    const result = await pending;
    assert.deepEqual([result.fetchedChunks, result.reusedChunks, result.bytes], [2, 1, 10_000]);
    assert.deepEqual(subscribed, []);
  });

  it('fails with ARTIFACT_NOT_FOUND after the stall timeout, counted on the injected clock', async () => {
    const a = artifact(9000);
    const pending = fetcher.fetch(a.manifest.sha256);
    fetcher.handleManifest(a.manifest.sha256, Buffer.from(JSON.stringify(a.manifest)));
    fetcher.handleChunk(a.manifest.sha256, 0, a.chunks[0]!);
    clock.advance(9_999);
    fetcher.handleChunk(a.manifest.sha256, 1, a.chunks[1]!);
    clock.advance(9_999); // progress re-armed the timer
    let settled = false;
    pending.catch(() => undefined).finally(() => (settled = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(settled, false);
    clock.advance(1);
    await assert.rejects(
      pending,
      (e: unknown) =>
        e instanceof AgentError && e.code === 'ARTIFACT_NOT_FOUND' && /1 of 3/.test(e.message),
    );
  });

  it('drops a corrupt chunk, accepts a good copy later, and reports CHECKSUM_MISMATCH if none comes', async () => {
    const a = artifact(5000);
    const bad = Buffer.from(a.chunks[1]!);
    bad[0] ^= 1;
    const pending = fetcher.fetch(a.manifest.sha256);
    fetcher.handleManifest(a.manifest.sha256, Buffer.from(JSON.stringify(a.manifest)));
    fetcher.handleChunk(a.manifest.sha256, 0, a.chunks[0]!);
    fetcher.handleChunk(a.manifest.sha256, 1, bad);
    assert.deepEqual(store.missingChunks(a.manifest), [1]);
    clock.advance(10_000);
    await assert.rejects(
      pending,
      (e: unknown) => e instanceof AgentError && e.code === 'CHECKSUM_MISMATCH',
    );
  });

  it('refuses a manifest signed by another key before subscribing to any chunk', async () => {
    const a = artifact(5000);
    const forged = signManifest(
      buildManifest(a.bytes, { contentType: 'application/onnx', createdAt: 1, chunkSize: 4096 }),
      generateSigningKeyPair().privateKeyPem,
    );
    const pending = fetcher.fetch(a.manifest.sha256);
    fetcher.handleManifest(a.manifest.sha256, Buffer.from(JSON.stringify(forged)));
    await assert.rejects(
      pending,
      (e: unknown) => e instanceof AgentError && e.code === 'SIGNATURE_INVALID',
    );
    assert.deepEqual(subscribed, []);
  });
});
