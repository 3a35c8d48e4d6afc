/**
 * Power loss and connection loss, with real agent processes on mosquitto (persistence on):
 * - will-on-kill: kill -9 leaves the retained offline will of that very connection;
 * - no-will-on-clean-exit: SIGTERM publishes offline itself (sent after the signal) and exits 0;
 * - model-install-powerloss: kill -9 at several points of an activation; after restart the
 *   active model is the old or the new one (never anything else), the job resumes, and the
 *   command ends in exactly one final event;
 * - offline-outbox: a benchmark that finishes while the broker is down is reported after it
 *   comes back;
 * - keepalive-under-load: a long CPU-bound benchmark does not trip the keepalive.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mlpModel } from '../../fixtures/agent/onnx-fixture-models';
import {
  FakeControlPlane,
  spawnAgent,
  startMosquitto,
  tempDir,
  waitUntil,
  type AgentProcess,
  type Broker,
} from '../../e2e/agent/agent-test-kit';

const DEVICE = 'dev-power-1';

describe('agent power loss and connection loss (mosquitto, real processes)', () => {
  const dir = tempDir('ec-agent-power-');
  const dataDir = join(dir.path, 'data');
  let broker: Broker;
  let cp: FakeControlPlane;
  let agent: AgentProcess;
  const start = () => {
    agent = spawnAgent({
      deviceId: DEVICE,
      brokerUrl: broker.url,
      dataDir,
      trustedKeyPem: cp.keys.publicKeyPem,
      extra: { keepaliveSec: 2 },
    });
  };
  const onlineCount = () => cp.states.filter((s) => s.online).length;

  before(async () => {
    broker = await startMosquitto(dir.path);
    cp = await FakeControlPlane.connect(broker.url, DEVICE, 'cp-power-test');
    start();
    await waitUntil(() => onlineCount() > 0, 30_000, 'online');
  });
  after(async () => {
    await agent.stop();
    await cp.close();
    await broker.stop();
    dir.cleanup();
  });

  it('will-on-kill: kill -9 leaves a retained offline state of the killed connection within 1.5 x keepalive', async () => {
    const connection = cp.lastState()!.connection;
    const killedAt = Date.now();
    await agent.kill9();
    await waitUntil(() => cp.lastState()?.online === false, 8000, 'offline will');
    const will = cp.lastState()!;
    assert.equal(will.connection, connection);
    assert.ok(Date.now() - killedAt < 8000);
    start();
    await waitUntil(() => cp.lastState()?.online === true, 30_000, 'back online');
    assert.ok(cp.lastState()!.connection > connection, 'a new connection has a higher counter');
  });

  it('no-will-on-clean-exit: SIGTERM publishes offline itself and exits 0', async () => {
    const connection = cp.lastState()!.connection;
    const signalledAt = Date.now();
    assert.equal(await agent.stop(), 0);
    await waitUntil(() => cp.lastState()?.online === false, 5000, 'offline');
    const offline = cp.lastState()!;
    assert.equal(offline.connection, connection);
    // The will carries the time of its connect; the agent's own message is newer than the signal.
    assert.ok(
      offline.sentAt >= signalledAt - 50,
      'offline was published by the agent, not the will',
    );
    start();
    await waitUntil(() => cp.lastState()?.online === true, 30_000, 'back online');
  });

  it('model-install-powerloss: kill -9 during activation leaves the old or the new model, and the job finishes once', async () => {
    const shaA = await cp.publishArtifact(mlpModel({ seed: 31 }));
    const first = await cp.send({ type: 'activate', artifact: { sha256: shaA } });
    assert.equal((await cp.final(first)).type, 'activated');
    const delays = [0, 250, 600, 1000, 1600];
    for (const [round, delay] of delays.entries()) {
      const target =
        round % 2 === 0 ? await cp.publishArtifact(mlpModel({ seed: 40 + round })) : shaA;
      const before = JSON.parse(readFileSync(join(dataDir, 'deployment.json'), 'utf8')).active
        .sha256 as string;
      const id = await cp.send({ type: 'activate', artifact: { sha256: target } });
      await waitUntil(() => cp.eventsFor(id).some((e) => e.type === 'ack'), 10_000, 'ack');
      await new Promise((r) => setTimeout(r, delay));
      await agent.kill9();
      const onDisk = JSON.parse(readFileSync(join(dataDir, 'deployment.json'), 'utf8')).active
        .sha256 as string;
      assert.ok(onDisk === before || onDisk === target, `round ${round}: active is ${onDisk}`);
      start();
      const final = await cp.final(id, 60_000);
      assert.equal(final.type, 'activated', `round ${round}: ${JSON.stringify(final)}`);
      await new Promise((r) => setTimeout(r, 300));
      const finalSeqs = new Set(cp.finals(id).map((e) => e.seq));
      assert.equal(finalSeqs.size, 1, `round ${round}: exactly one final event`);
      const after = JSON.parse(readFileSync(join(dataDir, 'deployment.json'), 'utf8'));
      assert.equal(after.active.sha256, target);
      await waitUntil(
        () => cp.lastState()?.activeVariant?.artifactSha256 === target,
        10_000,
        'state names target',
      );
    }
  });

  it('keepalive-under-load: an 8 s CPU-bound benchmark with a 2 s keepalive never shows the device offline', async () => {
    const sha = await cp.publishArtifact(mlpModel({ seed: 60, inFeatures: 1024, hidden: 2048 }), {
      chunkSize: 65536,
    });
    const statesBefore = cp.states.length;
    const id = await cp.send({
      type: 'benchmark',
      artifact: { sha256: sha },
      input: { shape: [1, 1024], dtype: 'float32' },
      warmup: 5,
      timeBudgetMs: 8000,
      threads: { intraOp: 2 },
    });
    const final = await cp.final(id, 60_000);
    assert.equal(final.type, 'benchmark-report', JSON.stringify(final));
    const during = cp.states.slice(statesBefore);
    assert.ok(
      during.every((s) => s.online),
      `states during the run: ${JSON.stringify(during)}`,
    );
    if (final.type === 'benchmark-report') assert.ok(final.runs > 10);
  });

  it('offline-outbox: a report produced while the broker is down is delivered after it returns', async () => {
    const sha = await cp.publishArtifact(mlpModel({ seed: 50 }));
    const id = await cp.send({
      type: 'benchmark',
      artifact: { sha256: sha },
      input: { shape: [1, 64], dtype: 'float32' },
      warmup: 1,
      timeBudgetMs: 4000,
      threads: { intraOp: 1 },
    });
    await waitUntil(
      () => cp.eventsFor(id).some((e) => e.type === 'progress' && e.step === 'benchmark'),
      20_000,
      'benchmark running',
    );
    const port = broker.port;
    await cp.close();
    await broker.stop();
    // Meanwhile the report is produced and waits in the outbox on disk.
    const outbox = join(dataDir, 'outbox');
    const reportQueued = () =>
      readdirSync(outbox).some((f) =>
        readFileSync(join(outbox, f), 'utf8').includes('benchmark-report'),
      );
    await waitUntil(reportQueued, 20_000, 'report queued in the outbox');
    broker = await startMosquitto(dir.path, port);
    const keys = cp.keys;
    cp = Object.assign(await FakeControlPlane.connect(broker.url, DEVICE, 'cp-power-test'), {
      keys,
    });
    const final = await cp.final(id, 30_000);
    assert.equal(final.type, 'benchmark-report', JSON.stringify(final));
    await waitUntil(() => !reportQueued(), 10_000, 'outbox drained');
  });
});
