import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import {
  closeMqtt,
  connectMqtt,
  eventually,
  FakeClock,
  MessageCollector,
} from '@edgecompress/testing';
import { EXAMPLE_EVENTS, EXAMPLE_STATE, topics } from '@edgecompress/protocol';
import { ControlPlaneCredentialsRepository } from '../../../apps/control-plane/src/mqtt/control-plane-credentials.repository';
import { startFixture, type ControlPlaneFixture } from './control-plane.fixture';

const ID = 'fault-dev';

/**
 * control-plane-payload-limits and the command outbox on a fake clock: bad payloads are
 * dropped before any write and never crash the broker; the outbox retries until acked and
 * expires at the deadline; a late will never overwrites a newer birth.
 */
describe('control plane MQTT faults and outbox', () => {
  let fx: ControlPlaneFixture;
  const clock = new FakeClock(Date.UTC(2026, 5, 1));
  let device: MqttClient;
  let inbox: MessageCollector;
  const state = (online: boolean, connection: number) =>
    JSON.stringify({ ...EXAMPLE_STATE, deviceId: ID, online, connection, sentAt: clock.now() });
  const getDevice = async () => (await fx.api().get(`/api/v1/devices/${ID}`).set(fx.auth)).body;
  const getCommand = async (id: string) =>
    (await fx.api().get(`/api/v1/commands/${id}`).set(fx.auth)).body;

  before(async () => {
    fx = await startFixture({ EC_COMMAND_RETRY_MS: '5000' }, undefined, clock);
    const creds = await fx.provision(ID);
    device = await connectMqtt(fx.cp.mqttUrl, { clientId: ID, ...creds, clean: false });
    inbox = new MessageCollector(device);
    await device.subscribeAsync(topics.deviceCmd(ID), { qos: 1 });
  });
  after(async () => {
    await closeMqtt(device, true);
    await fx.close();
    fx.dir.cleanup();
  });

  it('drops malformed, oversized, too-deep and wrong-schema payloads without writing anything', async () => {
    const events = topics.deviceEvents(ID);
    const bad: Buffer[] = [
      Buffer.from('{"protocol":1,'),
      Buffer.from('\xff\xfe', 'latin1'),
      Buffer.alloc(2 * 1024 * 1024, 0x20),
      Buffer.from('['.repeat(5000) + ']'.repeat(5000)),
      Buffer.from(JSON.stringify({ ...EXAMPLE_EVENTS.ack, protocol: 99 })),
      Buffer.from(JSON.stringify({ ...EXAMPLE_EVENTS.ack, deviceId: ID, seq: -1 })),
      Buffer.from(JSON.stringify({ ...EXAMPLE_EVENTS.ack, deviceId: 'someone-else' })),
      Buffer.from(
        JSON.stringify({
          ...EXAMPLE_EVENTS['benchmark-report'],
          deviceId: ID,
          latencyMs: { p50: 9, p90: 1, p99: 1, mean: 1, min: 1, max: 1 },
        }),
      ),
    ];
    for (const payload of bad) await device.publishAsync(events, payload, { qos: 1 });
    await device.publishAsync(topics.deviceState(ID), '{"online":true}', { qos: 1, retain: true });
    assert.ok(device.connected, 'the device stays connected');
    assert.equal((await getDevice()).status, 'unknown');
    const measurements = await fx.api().get(`/api/v1/measurements?deviceId=${ID}`).set(fx.auth);
    assert.deepEqual(measurements.body, []);
    const metrics = (await fx.api().get('/metrics')).text;
    const rejected = /ec_mqtt_messages_in_total\{kind="invalid",outcome="rejected"\} (\d+)/.exec(
      metrics,
    );
    assert.equal(Number(rejected?.[1]), bad.length + 1);
  });

  it('keeps the newer connection online when a late will of an older connection arrives', async () => {
    await device.publishAsync(topics.deviceState(ID), state(true, 7), { qos: 1, retain: true });
    assert.equal((await getDevice()).status, 'online');
    await device.publishAsync(topics.deviceState(ID), state(false, 6), { qos: 1, retain: true });
    const after = await getDevice();
    assert.equal(after.status, 'online');
    assert.equal(after.connection, 7);
    // The stale will did not become the retained state either.
    const identity = fx.cp.app.get(ControlPlaneCredentialsRepository);
    const watcher = await connectMqtt(fx.cp.mqttUrl, {
      clientId: 'state-watcher',
      username: identity.username,
      password: identity.password,
    });
    const retained = new MessageCollector(watcher);
    await watcher.subscribeAsync(topics.deviceState(ID), { qos: 1 });
    await retained.waitFor((m) => m.length > 0);
    const last = JSON.parse(retained.messages[0].payload.toString()) as {
      online: boolean;
      connection: number;
    };
    assert.deepEqual([last.online, last.connection], [true, 7]);
    await closeMqtt(watcher);
  });

  it('retries a command until it is acked, then waits for the result and stores it once', async () => {
    const sent = await fx
      .api()
      .post('/api/v1/commands/ping')
      .set(fx.auth)
      .send({ deviceId: ID, ttlSeconds: 60 });
    const id = sent.body[0].id as string;
    const copies = () =>
      inbox.messages.filter((m) => JSON.parse(m.payload.toString()).id === id).length;
    await eventually(copies, (n) => n === 1);
    clock.advance(5000);
    await eventually(copies, (n) => n === 2);
    assert.equal((await getCommand(id)).attempts, 2);
    const now = clock.now();
    await device.publishAsync(
      topics.deviceEvents(ID),
      JSON.stringify({ ...EXAMPLE_EVENTS.ack, deviceId: ID, commandId: id, sentAt: now }),
      { qos: 1 },
    );
    assert.equal((await getCommand(id)).status, 'acked');
    clock.advance(15_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(copies(), 2, 'no resend once acked');
    const pong = JSON.stringify({
      ...EXAMPLE_EVENTS.pong,
      deviceId: ID,
      commandId: id,
      sentAt: now,
    });
    await device.publishAsync(topics.deviceEvents(ID), pong, { qos: 1 });
    await device.publishAsync(topics.deviceEvents(ID), pong, { qos: 1 });
    const done = await getCommand(id);
    assert.equal(done.status, 'succeeded');
    assert.deepEqual(
      done.events.map((e: { type: string }) => e.type),
      ['ack', 'pong'],
    );
  });

  it('expires a command nobody acks at its deadline and stops sending it', async () => {
    const sent = await fx
      .api()
      .post('/api/v1/commands/ping')
      .set(fx.auth)
      .send({ deviceId: ID, ttlSeconds: 12 });
    const id = sent.body[0].id as string;
    const copies = () =>
      inbox.messages.filter((m) => JSON.parse(m.payload.toString()).id === id).length;
    await eventually(copies, (n) => n === 1);
    clock.advance(5000);
    await eventually(copies, (n) => n === 2);
    clock.advance(5000);
    await eventually(copies, (n) => n === 3);
    clock.advance(2000);
    await eventually(
      async () => (await getCommand(id)).status,
      (s) => s === 'expired',
    );
    clock.advance(30_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(copies(), 3);
    // A result arriving after expiry does not resurrect the command.
    await device.publishAsync(
      topics.deviceEvents(ID),
      JSON.stringify({ ...EXAMPLE_EVENTS.pong, deviceId: ID, commandId: id, sentAt: clock.now() }),
      { qos: 1 },
    );
    assert.equal((await getCommand(id)).status, 'expired');
  });

  it('answers unknown command, variant and model ids with 404', async () => {
    for (const path of [
      '/api/v1/commands/nope',
      '/api/v1/variants/nope',
      '/api/v1/models/nope',
      '/api/v1/profiles/nope',
    ]) {
      const res = await fx.api().get(path).set(fx.auth);
      assert.equal(res.status, 404, path);
      assert.match(res.body.message, /not found/);
    }
    const res = await fx
      .api()
      .post('/api/v1/commands/ping')
      .set(fx.auth)
      .send({ deviceId: 'ghost' });
    assert.equal(res.status, 404);
  });
});
