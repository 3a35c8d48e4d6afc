/**
 * Bad input and faults against a real agent process and a real broker (mosquitto with
 * persistence): each ends in one typed error event, the agent stays up, the active model is
 * untouched, and an interrupted transfer resumes with the chunks already received.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKeyPair } from '@edgecompress/protocol';
import { foreverModel, mlpModel, notOnnxBytes } from '../../fixtures/agent/onnx-fixture-models';
import {
  FakeControlPlane,
  receivedChunks,
  spawnAgent,
  startMosquitto,
  tempDir,
  waitUntil,
  type AgentProcess,
  type Broker,
} from './agent-test-kit';

const DEVICE = 'dev-faults-1';
const extra = { fetchStallTimeoutMs: 2500, runnerTimeoutMs: 8000, modelQuotaBytes: 400_000 };

describe('agent faults (real agent process, mosquitto)', () => {
  const dir = tempDir('ec-agent-faults-');
  const dataDir = join(dir.path, 'data');
  let broker: Broker;
  let cp: FakeControlPlane;
  let agent: AgentProcess;
  let activeSha = '';

  const start = () => {
    agent = spawnAgent({
      deviceId: DEVICE,
      brokerUrl: broker.url,
      dataDir,
      trustedKeyPem: cp.keys.publicKeyPem,
      extra,
    });
  };
  const errorOf = async (command: Record<string, unknown>) => {
    const id = await cp.send(command);
    const final = await cp.final(id, 30_000);
    assert.equal(final.type, 'error', JSON.stringify(final));
    return final as Extract<typeof final, { type: 'error' }>;
  };
  const activeOnDisk = () =>
    JSON.parse(readFileSync(join(dataDir, 'deployment.json'), 'utf8')).active.sha256 as string;

  before(async () => {
    broker = await startMosquitto(dir.path);
    cp = await FakeControlPlane.connect(broker.url, DEVICE);
    start();
    await waitUntil(() => cp.hellos.length > 0, 30_000, 'hello');
    activeSha = await cp.publishArtifact(mlpModel({ seed: 11 }));
    const id = await cp.send({ type: 'activate', artifact: { sha256: activeSha } });
    const activated = await cp.final(id);
    assert.equal(activated.type, 'activated', JSON.stringify(activated));
  });
  after(async () => {
    await agent.stop();
    await cp.close();
    await broker.stop();
    dir.cleanup();
  });

  it('answers malformed JSON and an unknown command type with typed errors', async () => {
    await cp.sendRaw('{"protocol":1,"kind":"cmd","id":"broken-1",');
    await waitUntil(
      () => cp.events.some((e) => e.type === 'error' && e.code === 'MALFORMED_JSON'),
      10_000,
      'MALFORMED_JSON',
    );
    const e = await errorOf({ id: 'unknown-type-1', type: 'reboot' });
    assert.equal(e.code, 'UNKNOWN_COMMAND');
    const s = await errorOf({ id: 'bad-schema-1', type: 'deploy', artifact: { sha256: 'nope' } });
    assert.equal(s.code, 'SCHEMA_INVALID');
  });

  it('refuses a manifest signed by an untrusted key and one tampered after signing', async () => {
    const stranger = generateSigningKeyPair();
    const sha1 = await cp.publishArtifact(mlpModel({ seed: 21 }), {
      signingKeyPem: stranger.privateKeyPem,
    });
    assert.equal(
      (await errorOf({ type: 'deploy', artifact: { sha256: sha1 } })).code,
      'SIGNATURE_INVALID',
    );
    const sha2 = await cp.publishArtifact(mlpModel({ seed: 22 }), { tamper: true });
    assert.equal(
      (await errorOf({ type: 'deploy', artifact: { sha256: sha2 } })).code,
      'SIGNATURE_INVALID',
    );
  });

  it('reports a corrupted chunk, then completes when a good copy is published, reusing the rest', async () => {
    const bytes = mlpModel({ seed: 23 });
    const sha = await cp.publishArtifact(bytes, { corrupt: [1] });
    const e = await errorOf({ type: 'deploy', artifact: { sha256: sha } });
    assert.equal(e.code, 'CHECKSUM_MISMATCH');
    assert.equal(e.retryable, true);
    await cp.publishChunk(bytes, sha, 1);
    const id = await cp.send({ type: 'deploy', artifact: { sha256: sha } });
    const final = await cp.final(id);
    assert.equal(final.type, 'deployed', JSON.stringify(final));
    assert.equal(
      final.type === 'deployed' && final.fetchedChunks,
      1,
      'only the repaired chunk was fetched',
    );
  });

  it('reports missing chunks, keeps the received ones across a kill -9, and resumes', async () => {
    const bytes = mlpModel({ seed: 24, hidden: 128 });
    const chunks = Math.ceil(bytes.length / 4096);
    const sha = await cp.publishArtifact(bytes, { skip: [chunks - 2, chunks - 1] });
    const e = await errorOf({ type: 'deploy', artifact: { sha256: sha } });
    assert.equal(e.code, 'ARTIFACT_NOT_FOUND');
    assert.match(e.message, /2 of \d+ chunks still missing/);
    await agent.kill9();
    start();
    await waitUntil(() => cp.hellos.length > 1, 30_000, 'hello after restart');
    await cp.publishChunk(bytes, sha, chunks - 2);
    await cp.publishChunk(bytes, sha, chunks - 1);
    const id = await cp.send({ type: 'deploy', artifact: { sha256: sha } });
    const final = await cp.final(id);
    assert.equal(final.type, 'deployed', JSON.stringify(final));
    if (final.type === 'deployed')
      assert.deepEqual([final.fetchedChunks, final.reusedChunks], [2, chunks - 2]);
  });

  it('refuses an artifact over the disk quota with DISK_FULL', async () => {
    const big = mlpModel({ seed: 25, inFeatures: 512, hidden: 256 });
    assert.ok(big.length > extra.modelQuotaBytes);
    const sha = await cp.publishArtifact(big, { chunkSize: 65536 });
    assert.equal((await errorOf({ type: 'deploy', artifact: { sha256: sha } })).code, 'DISK_FULL');
  });

  it('keeps the active model when activating a file that is not ONNX or a model that never finishes', async () => {
    const junk = await cp.publishArtifact(notOnnxBytes());
    assert.equal(
      (await errorOf({ type: 'activate', artifact: { sha256: junk } })).code,
      'MODEL_LOAD_FAILED',
    );
    const forever = await cp.publishArtifact(foreverModel());
    assert.equal(
      (await errorOf({ type: 'activate', artifact: { sha256: forever } })).code,
      'TIMEOUT',
    );
    assert.equal(activeOnDisk(), activeSha);
    assert.equal(cp.lastState()?.activeVariant?.artifactSha256, activeSha);
  });

  it('benchmarks a dynamic-batch model at the commanded shape, and refuses a shape that does not fit', async () => {
    const sha = await cp.publishArtifact(mlpModel({ seed: 26, batch: 'N' }));
    const id = await cp.send({
      type: 'benchmark',
      artifact: { sha256: sha },
      input: { shape: [8, 64], dtype: 'float32' },
      warmup: 1,
      runs: 10,
      threads: {},
    });
    const final = await cp.final(id);
    assert.equal(
      final.type === 'benchmark-report' && final.inputShape.join('x'),
      '8x64',
      JSON.stringify(final),
    );
    const bad = await errorOf({
      type: 'benchmark',
      artifact: { sha256: sha },
      input: { shape: [8, 63], dtype: 'float32' },
      warmup: 0,
      runs: 1,
      threads: {},
    });
    assert.equal(bad.code, 'MODEL_LOAD_FAILED');
  });

  it('survives a broker restart mid-transfer and finishes the fetch after reconnecting', async () => {
    const bytes = mlpModel({ seed: 27, hidden: 128 });
    const chunks = Math.ceil(bytes.length / 4096);
    const sha = await cp.publishArtifact(bytes, { skip: [chunks - 1] });
    const id = await cp.send({ type: 'deploy', artifact: { sha256: sha } });
    await waitUntil(
      () => receivedChunks(dataDir, sha, bytes, 4096) >= chunks - 1,
      10_000,
      'chunks received',
    );
    const port = broker.port;
    const keys = cp.keys;
    await cp.close();
    await broker.stop();
    broker = await startMosquitto(dir.path, port);
    cp = Object.assign(await FakeControlPlane.connect(broker.url, DEVICE), { keys });
    await waitUntil(() => cp.states.some((s) => s.online), 10_000, 'agent back online');
    await cp.publishChunk(bytes, sha, chunks - 1);
    const final = await cp.final(id, 30_000);
    assert.equal(final.type, 'deployed', JSON.stringify(final));
    if (final.type === 'deployed')
      assert.deepEqual([final.fetchedChunks, final.reusedChunks], [chunks, 0]);
  });

  it('is still up and answering after all of that', async () => {
    const id = await cp.send({ type: 'ping' });
    assert.equal((await cp.final(id)).type, 'pong');
    assert.equal(agent.proc.exitCode, null);
  });
});
