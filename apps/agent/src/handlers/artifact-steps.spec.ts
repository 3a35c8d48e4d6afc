import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildManifest,
  generateSigningKeyPair,
  signManifest,
  splitIntoChunks,
  type ProgressStep,
} from '@edgecompress/protocol';
import { AgentError } from '../agent-error';
import type { AgentServices } from '../agent-services';
import { systemClock } from '../clock';
import { ArtifactFetcher } from '../jobs/artifact-fetcher';
import type { JobContext } from '../jobs/command-job';
import type { CommandRecord } from '../store/command-journal-store';
import { ModelStore } from '../store/model-store';
import { fetchStep, verifyStep } from './artifact-steps';

const keys = generateSigningKeyPair();
const bytes = randomBytes(10_000);
const manifest = signManifest(
  buildManifest(bytes, { contentType: 'application/octet-stream', createdAt: 1, chunkSize: 4096 }),
  keys.privateKeyPem,
);
const sha = manifest.sha256;

function context(): { ctx: JobContext; steps: [ProgressStep, number][] } {
  const steps: [ProgressStep, number][] = [];
  const ctx: JobContext = {
    record: {} as CommandRecord,
    data: {},
    progress: (step, fraction) => void steps.push([step, fraction]),
    cancelled: () => false,
  };
  return { ctx, steps };
}

describe('fetch and verify steps (real model store and fetcher; the broker is a fake subscriber that answers with the signed manifest and chunks)', () => {
  let dir: string;
  let models: ModelStore;
  let services: AgentServices;
  let subscriptions: number;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ec-steps-'));
    models = new ModelStore(dir, 1 << 20);
    subscriptions = 0;
    const chunks = splitIntoChunks(bytes, manifest.chunkSize);
    const subscriber = {
      subscribe: async (filters: string[]) => {
        subscriptions++;
        // Delivered after the call returns, as the broker would.
        setImmediate(() => {
          for (const f of filters) {
            if (f.endsWith('/manifest'))
              fetcher.handleManifest(sha, Buffer.from(JSON.stringify(manifest)));
            else chunks.forEach((c, i) => fetcher.handleChunk(sha, i, Buffer.from(c)));
          }
        });
      },
      unsubscribe: async () => undefined,
    };
    // The subscriber's callbacks run after this assignment (setImmediate).
    const fetcher: ArtifactFetcher = new ArtifactFetcher(
      models,
      subscriber,
      [keys.publicKeyPem],
      systemClock,
      10_000,
      () => new Set(),
    );
    services = {
      config: { fetchStallTimeoutMs: 10_000, reconnectMinMs: 1000 },
      clock: systemClock,
      models,
      fetcher,
    } as unknown as AgentServices;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('fetches a missing artifact with fetch progress, and reports nothing for one already stored', async () => {
    const first = context();
    await fetchStep(services, sha).run(first.ctx);
    assert.deepEqual(first.steps.at(0), ['fetch', 0]);
    assert.deepEqual(first.steps.at(-1), ['fetch', 1]);
    assert.deepEqual(first.ctx.data.fetch, { fetchedChunks: 3, reusedChunks: 0 });
    assert.equal(models.hasModel(sha), true);
    const before = subscriptions;
    const again = context();
    await fetchStep(services, sha).run(again.ctx);
    assert.deepEqual(again.steps, [], 'no fetch step to report');
    assert.deepEqual(again.ctx.data.fetch, { fetchedChunks: 0, reusedChunks: 0 });
    assert.equal(subscriptions, before, 'nothing subscribed for a stored artifact');
  });

  it('verifies the stored file before a load, and removes one damaged on disk since', async () => {
    await fetchStep(services, sha).run(context().ctx);
    const intact = context();
    await verifyStep(services, sha).run(intact.ctx);
    assert.deepEqual(intact.steps, [
      ['verify', 0],
      ['verify', 1],
    ]);
    assert.equal(intact.ctx.data.bytes, bytes.length);
    const fd = openSync(models.artifactPath(sha), 'r+');
    writeSync(fd, Buffer.from([bytes[5000]! ^ 0x01]), 0, 1, 5000);
    closeSync(fd);
    const damaged = context();
    await assert.rejects(
      verifyStep(services, sha).run(damaged.ctx),
      (e: unknown) => e instanceof AgentError && e.code === 'CHECKSUM_MISMATCH',
    );
    assert.deepEqual(damaged.steps, [['verify', 0]]);
    assert.equal(existsSync(models.artifactPath(sha)), false, 'the damaged file is gone');
    const refetched = context();
    await fetchStep(services, sha).run(refetched.ctx);
    assert.deepEqual(refetched.ctx.data.fetch, { fetchedChunks: 3, reusedChunks: 0 });
  });
});
