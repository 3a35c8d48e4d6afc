import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectMqtt, closeMqtt, eventually, MessageCollector } from '@edgecompress/testing';
import {
  EXAMPLE_EVENTS,
  EXAMPLE_HELLO,
  EXAMPLE_STATE,
  EXAMPLE_TELEMETRY,
  topics,
} from '@edgecompress/protocol';
import { startFixture, type ControlPlaneFixture } from './control-plane.fixture';

describe('control plane REST + embedded broker', () => {
  let fx: ControlPlaneFixture;
  before(async () => {
    fx = await startFixture({ EC_TELEMETRY_KEEP_PER_DEVICE: '3', EC_MQTT_WS_PORT: '0' });
  });
  after(async () => {
    await fx.close();
    fx.dir.cleanup();
  });

  it('refuses requests without a valid bearer token, but serves health publicly', async () => {
    assert.equal((await fx.api().get('/api/v1/devices')).status, 401);
    assert.equal(
      (await fx.api().get('/api/v1/devices').set({ Authorization: 'Bearer nope' })).status,
      401,
    );
    assert.equal((await fx.api().get('/healthz')).status, 200);
    const ready = await fx.api().get('/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body.checks, { database: true, mqtt: true });
    const openapi = await fx.api().get('/api/docs-json');
    assert.equal(openapi.status, 200);
    for (const path of [
      '/api/v1/devices',
      '/api/v1/variants/compare',
      '/api/v1/commands/benchmark',
      '/api/v1/measurements',
    ]) {
      assert.ok(openapi.body.paths[path], `OpenAPI documents ${path}`);
    }
  });

  it('provisions a device with a one-time secret, lists it by tag, and 404s unknown ids', async () => {
    const res = await fx
      .api()
      .post('/api/v1/devices')
      .set(fx.auth)
      .send({ id: 'dev-list', name: 'lister', tags: ['lab'], groups: ['g1'] });
    assert.equal(res.status, 201);
    assert.equal(res.body.mqtt.username, 'dev-list');
    assert.ok(res.body.mqtt.password.length >= 40);
    const again = await fx.api().get('/api/v1/devices/dev-list').set(fx.auth);
    assert.equal(again.body.credentials, 'active');
    assert.equal(
      JSON.stringify(again.body).includes(res.body.mqtt.password),
      false,
      'secret never shown again',
    );
    const byTag = await fx.api().get('/api/v1/devices?tag=lab').set(fx.auth);
    assert.deepEqual(
      byTag.body.map((d: { id: string }) => d.id),
      ['dev-list'],
    );
    assert.deepEqual((await fx.api().get('/api/v1/devices?tag=none').set(fx.auth)).body, []);
    assert.equal((await fx.api().get('/api/v1/devices/nope').set(fx.auth)).status, 404);
    assert.equal(
      (await fx.api().post('/api/v1/devices').set(fx.auth).send({ id: 'dev-list', name: 'x' }))
        .status,
      409,
    );
    const reserved = await fx
      .api()
      .post('/api/v1/devices')
      .set(fx.auth)
      .send({ id: 'ec-control-plane-2', name: 'x' });
    assert.equal(reserved.status, 400);
    assert.match(reserved.body.message, /reserved/);
  });

  it('rejects malformed, wrong-schema and too-deep REST bodies with a 400 and a message', async () => {
    const bad = await fx
      .api()
      .post('/api/v1/devices')
      .set(fx.auth)
      .set('Content-Type', 'application/json')
      .send('{"id": ');
    assert.equal(bad.status, 400);
    const schema = await fx
      .api()
      .post('/api/v1/devices')
      .set(fx.auth)
      .send({ id: 'has/slash', name: 5, extra: true });
    assert.equal(schema.status, 400);
    const text = JSON.stringify(schema.body.message);
    assert.match(text, /id must be/);
    assert.match(text, /name must be a string/);
    assert.match(text, /property extra should not exist/);
    const deep = '['.repeat(100) + ']'.repeat(100);
    const tooDeep = await fx
      .api()
      .post('/api/v1/devices')
      .set(fx.auth)
      .set('Content-Type', 'application/json')
      .send(`{"name":"x","tags":${deep}}`);
    assert.equal(tooDeep.status, 400);
    const big = await fx
      .api()
      .post('/api/v1/devices')
      .set(fx.auth)
      .send({ name: 'x'.repeat(2 * 1024 * 1024) });
    assert.equal(big.status, 413);
    const list = await fx.api().get('/api/v1/devices').set(fx.auth);
    assert.equal(
      list.body.some((d: { name: string }) => d.name === 'x'),
      false,
      'nothing half-written',
    );
  });

  it('takes a device online from its birth, stores hello facts and telemetry, and runs a ping command to completion', async () => {
    const creds = await fx.provision('rpi5-lab-01');
    const device = await connectMqtt(fx.cp.mqttUrl, {
      clientId: 'rpi5-lab-01',
      ...creds,
      clean: false,
    });
    const inbox = new MessageCollector(device);
    await device.subscribeAsync(topics.deviceCmd('rpi5-lab-01'), { qos: 1 });
    const now = Date.now();
    await device.publishAsync(
      topics.deviceState('rpi5-lab-01'),
      JSON.stringify({ ...EXAMPLE_STATE, sentAt: now }),
      { qos: 1, retain: true },
    );
    await device.publishAsync(topics.deviceHello('rpi5-lab-01'), JSON.stringify(EXAMPLE_HELLO), {
      qos: 1,
    });
    await device.publishAsync(
      topics.deviceTelemetry('rpi5-lab-01'),
      JSON.stringify(EXAMPLE_TELEMETRY),
      { qos: 1 },
    );
    const got = await fx.api().get('/api/v1/devices/rpi5-lab-01').set(fx.auth);
    assert.equal(got.body.status, 'online');
    assert.equal(got.body.connection, 42);
    assert.equal(got.body.facts.hardware.cpu.model, 'Cortex-A76');
    assert.deepEqual(got.body.profile, { id: 'raspberry-pi-5', source: 'matched' });
    const pinned = await fx
      .api()
      .patch('/api/v1/devices/rpi5-lab-01')
      .set(fx.auth)
      .send({ profileId: 'generic-arm64' });
    assert.deepEqual(pinned.body.profile, { id: 'generic-arm64', source: 'user' });
    await device.publishAsync(topics.deviceHello('rpi5-lab-01'), JSON.stringify(EXAMPLE_HELLO), {
      qos: 1,
    });
    const still = await fx.api().get('/api/v1/devices/rpi5-lab-01').set(fx.auth);
    assert.equal(
      still.body.profile.id,
      'generic-arm64',
      'a profile set by the user is not re-matched',
    );
    assert.equal(
      (
        await fx
          .api()
          .patch('/api/v1/devices/rpi5-lab-01')
          .set(fx.auth)
          .send({ profileId: 'no-such' })
      ).status,
      404,
    );
    assert.equal(
      (await fx.api().get('/api/v1/devices/rpi5-lab-01/telemetry').set(fx.auth)).body.length,
      1,
    );

    const sent = await fx
      .api()
      .post('/api/v1/commands/ping')
      .set(fx.auth)
      .send({ deviceId: 'rpi5-lab-01' });
    assert.equal(sent.status, 201);
    const commandId = sent.body[0].id as string;
    await inbox.waitFor((m) => m.some((x) => x.topic === topics.deviceCmd('rpi5-lab-01')));
    const cmd = JSON.parse(inbox.messages[0].payload.toString()) as { id: string; type: string };
    assert.equal(cmd.id, commandId);
    assert.equal(cmd.type, 'ping');
    const ack = { ...EXAMPLE_EVENTS.ack, commandId, sentAt: now };
    const pong = { ...EXAMPLE_EVENTS.pong, commandId, sentAt: now };
    for (const e of [ack, pong, pong]) {
      await device.publishAsync(topics.deviceEvents('rpi5-lab-01'), JSON.stringify(e), { qos: 1 });
    }
    const done = await eventually(
      async () => (await fx.api().get(`/api/v1/commands/${commandId}`).set(fx.auth)).body,
      (b: { status: string; events: unknown[] }) => b.status === 'succeeded',
    );
    assert.equal(done.events.length, 2, 'the duplicate pong is stored once');
    await closeMqtt(device);
  });

  it("lets a device enroll itself with a fleet token, up to the token's use limit", async () => {
    const created = await fx
      .api()
      .post('/api/v1/enrollment-tokens')
      .set(fx.auth)
      .send({ name: 'line 3', maxUses: 2, tags: ['line-3'] });
    assert.equal(created.status, 201);
    const enroll = (id: string, token = created.body.token as string) =>
      fx.api().post('/api/v1/enroll').send({ enrollmentToken: token, id, name: id });
    const first = await enroll('enrolled-1');
    assert.equal(first.status, 201);
    assert.deepEqual(first.body.device.tags, ['line-3']);
    const client = await connectMqtt(fx.cp.mqttUrl, { clientId: 'enrolled-1', ...first.body.mqtt });
    await closeMqtt(client);
    assert.equal((await enroll('enrolled-2')).status, 201);
    const third = await enroll('enrolled-3');
    assert.equal(third.status, 403);
    assert.match(third.body.message, /used up/);
    assert.equal((await enroll('enrolled-4', 'ecenroll_wrong-token-value')).status, 403);
    assert.equal((await fx.api().get('/api/v1/devices/enrolled-3').set(fx.auth)).status, 404);
  });

  it('keeps only the newest telemetry samples per device, and accepts devices over WebSocket', async () => {
    const creds = await fx.provision('ws-dev');
    assert.ok(fx.cp.mqttWsUrl, 'WebSocket listener enabled');
    const dev = await connectMqtt(fx.cp.mqttWsUrl!, { clientId: 'ws-dev', ...creds });
    for (let i = 0; i < 5; i++) {
      const sample = { ...EXAMPLE_TELEMETRY, deviceId: 'ws-dev', uptimeMs: i };
      await dev.publishAsync(topics.deviceTelemetry('ws-dev'), JSON.stringify(sample), { qos: 1 });
    }
    const kept = (await fx.api().get('/api/v1/devices/ws-dev/telemetry').set(fx.auth)).body as {
      sample: { uptimeMs: number };
    }[];
    assert.deepEqual(
      kept.map((k) => k.sample.uptimeMs),
      [4, 3, 2],
    );
    await closeMqtt(dev);
  });
});
