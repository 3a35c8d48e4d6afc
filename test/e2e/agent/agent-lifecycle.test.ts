/**
 * One agent process against a real broker (aedes), the control plane played by a plain MQTT
 * client: birth/hello, ping, deploy, benchmark (with an accuracy sample), activate, rollback,
 * redelivery of a finished command, and kill -9 showing the retained offline will.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readdirSync, readFileSync } from 'node:fs';
import { mlpModel, mlpReference } from '../../fixtures/agent/onnx-fixture-models';
import {
  FakeControlPlane,
  spawnAgent,
  startAedes,
  tempDir,
  waitUntil,
  type AgentProcess,
  type Broker,
} from './agent-test-kit';

const DEVICE = 'dev-life-1';

describe('agent lifecycle over aedes (real agent process)', () => {
  const dir = tempDir();
  let broker: Broker;
  let cp: FakeControlPlane;
  let agent: AgentProcess;
  const modelA = mlpModel({ seed: 1 });
  const modelB = mlpModel({ seed: 2 });
  let shaA = '';
  let shaB = '';

  before(async () => {
    broker = await startAedes();
    cp = await FakeControlPlane.connect(broker.url, DEVICE);
    agent = spawnAgent({
      deviceId: DEVICE,
      brokerUrl: broker.url,
      dataDir: join(dir.path, 'data'),
      trustedKeyPem: cp.keys.publicKeyPem,
    });
  });
  after(async () => {
    await agent.stop();
    await cp.close();
    await broker.stop();
    dir.cleanup();
  });

  it('publishes a retained online state and a hello with hardware and ORT facts', async () => {
    await waitUntil(() => cp.hellos.length > 0, 30_000, 'hello');
    const state = cp.states.find((s) => s.online)!;
    assert.equal(state.deviceId, DEVICE);
    assert.ok(state.connection >= 1);
    assert.equal(state.activeVariant, null);
    const hello = cp.hellos[0]!;
    assert.equal(hello.connection, state.connection);
    assert.ok(hello.hardware.cpu.cores >= 1);
    assert.ok(hello.hardware.memory.totalBytes > 0);
    assert.match(hello.runtime.ort.version, /^1\./);
    assert.ok(hello.runtime.ort.executionProviders.includes('cpu'));
  });

  it('answers ping with ack then pong', async () => {
    const id = await cp.send({ type: 'ping' });
    const final = await cp.final(id);
    assert.equal(final.type, 'pong');
    assert.deepEqual(
      cp.eventsFor(id).map((e) => [e.type, e.seq]),
      [
        ['ack', 0],
        ['pong', 1],
      ],
    );
  });

  it('deploys an artifact published out of order with duplicates', async () => {
    shaA = await cp.publishArtifact(modelA, { shuffleAndDuplicate: true });
    const id = await cp.send({ type: 'deploy', artifact: { sha256: shaA, variantId: 'v-a' } });
    const final = await cp.final(id);
    assert.equal(final.type, 'deployed', JSON.stringify(final));
    if (final.type !== 'deployed') return;
    assert.equal(final.bytes, modelA.length);
    assert.equal(final.fetchedChunks + final.reusedChunks, Math.ceil(modelA.length / 4096));
    const stored = join(dir.path, 'data', 'models', `${shaA}.onnx`);
    assert.deepEqual(readFileSync(stored), modelA);
  });

  it('benchmarks with warm-up, runs and an accuracy sample checked against a JS reference', async () => {
    const reference = mlpReference({ seed: 1 });
    const count = 20;
    const inputs = new Float32Array(count * 64);
    for (let i = 0; i < inputs.length; i++) inputs[i] = Math.sin(i * 0.37);
    const labels = new Int32Array(count);
    // Half the labels are what the model predicts, half are deliberately wrong.
    for (let i = 0; i < count; i++) {
      const predicted = reference(inputs.subarray(i * 64, (i + 1) * 64));
      labels[i] = i % 2 === 0 ? predicted : (predicted + 1) % 10;
    }
    const sample = Buffer.concat([Buffer.from(inputs.buffer), Buffer.from(labels.buffer)]);
    const sampleSha = await cp.publishArtifact(sample, {
      contentType: 'application/vnd.edgecompress.sample',
    });
    const id = await cp.send({
      type: 'benchmark',
      artifact: { sha256: shaA },
      input: { shape: [1, 64], dtype: 'float32' },
      warmup: 5,
      runs: 100,
      threads: { intraOp: 1 },
      accuracySample: { sha256: sampleSha, count },
    });
    const final = await cp.final(id);
    assert.equal(final.type, 'benchmark-report', JSON.stringify(final));
    if (final.type !== 'benchmark-report') return;
    assert.equal(final.runs, 100);
    assert.equal(final.warmup, 5);
    assert.deepEqual(final.inputShape, [1, 64]);
    assert.deepEqual(final.accuracy, { correct: 10, total: 20 });
    assert.equal(final.sessionOptions.intraOpThreads, 1);
    assert.ok(final.latencyMs.p50 > 0 && final.latencyMs.p50 <= final.latencyMs.p99);
    assert.ok(final.peakRssBytes > 0 && final.loadMs > 0);
  });

  it('activates after a self-test, then activates a second variant keeping the first as previous', async () => {
    const id1 = await cp.send({ type: 'activate', artifact: { sha256: shaA, variantId: 'v-a' } });
    const f1 = await cp.final(id1);
    assert.deepEqual([f1.type, f1.type === 'activated' && f1.previousSha256], ['activated', null]);
    await waitUntil(
      () => cp.lastState()?.activeVariant?.artifactSha256 === shaA,
      5000,
      'state names A',
    );
    shaB = await cp.publishArtifact(modelB);
    const id2 = await cp.send({ type: 'activate', artifact: { sha256: shaB, variantId: 'v-b' } });
    const f2 = await cp.final(id2);
    assert.equal(f2.type, 'activated', JSON.stringify(f2));
    assert.equal(f2.type === 'activated' && f2.previousSha256, shaA);
    const state = JSON.parse(readFileSync(join(dir.path, 'data', 'deployment.json'), 'utf8'));
    assert.equal(state.active.sha256, shaB);
    assert.equal(state.previous.sha256, shaA);
  });

  it('rolls back to the previous variant and says so in the retained state', async () => {
    const id = await cp.send({ type: 'rollback' });
    const final = await cp.final(id);
    assert.equal(final.type, 'rolled-back', JSON.stringify(final));
    assert.equal(final.type === 'rolled-back' && final.artifactSha256, shaA);
    assert.equal(final.type === 'rolled-back' && final.fromSha256, shaB);
    await waitUntil(
      () => cp.lastState()?.activeVariant?.artifactSha256 === shaA,
      5000,
      'state names A again',
    );
  });

  it('acknowledges a redelivered command as duplicate and does not run it again', async () => {
    const id = 'redelivered-activate-1';
    await cp.send({ id, type: 'activate', artifact: { sha256: shaB } });
    await cp.final(id);
    await cp.send({ id, type: 'activate', artifact: { sha256: shaB } });
    await waitUntil(
      () => cp.eventsFor(id).filter((e) => e.type === 'ack').length === 2,
      10_000,
      'second ack',
    );
    await new Promise((r) => setTimeout(r, 300));
    const acks = cp.eventsFor(id).filter((e) => e.type === 'ack');
    assert.deepEqual(
      acks.map((a) => a.type === 'ack' && a.duplicate),
      [false, true],
    );
    const finals = cp.finals(id);
    assert.ok(
      finals.every((f) => f.seq === finals[0]!.seq),
      'the re-sent result keeps its seq',
    );
    assert.equal(
      cp.eventsFor(id).filter((e) => e.type === 'progress' && e.step === 'activate').length,
      2,
      'activate ran once (0 and 1)',
    );
  });

  it('keeps no partial or temp files in the model store', () => {
    assert.deepEqual(readdirSync(join(dir.path, 'data', 'incoming')), []);
    assert.deepEqual(
      readdirSync(join(dir.path, 'data', 'models')).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });
});
