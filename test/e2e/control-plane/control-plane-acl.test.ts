import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import {
  closeMqtt,
  connectMqtt,
  eventually,
  getFreePort,
  makeTempDir,
  MessageCollector,
  mosquittoAvailable,
  startMosquitto,
  type MosquittoInstance,
} from '@edgecompress/testing';
import { EXAMPLE_EVENTS } from '@edgecompress/protocol';
import { startFixture, type ControlPlaneFixture } from './control-plane.fixture';

/**
 * broker-acl-matrix: the same cases against the embedded broker and against mosquitto with the
 * password and ACL files the control plane writes. A refused subscription gets SUBACK 0x80; a
 * refused publish is never delivered (aedes drops the connection, mosquitto drops the message).
 */
const A = 'dev-a';
const B = 'dev-b';

const SUBSCRIBE_CASES: [filter: string, allowed: boolean][] = [
  [`ec/v1/devices/${A}/cmd`, true],
  ['ec/v1/artifacts/#', true],
  ['ec/v1/artifacts/+/manifest', true],
  ['#', false],
  ['+/#', false],
  ['$SYS/#', false],
  ['ec/v1/#', false],
  [`ec/v1/devices/${B}/cmd`, false],
  ['ec/v1/devices/+/cmd', false],
  [`ec/v1/devices/${A}/events`, false],
];

const PUBLISH_CASES: [topic: string, allowed: boolean][] = [
  [`ec/v1/devices/${A}/state`, true],
  [`ec/v1/devices/${A}/hello`, true],
  [`ec/v1/devices/${A}/events`, true],
  [`ec/v1/devices/${A}/telemetry`, true],
  [`ec/v1/devices/${B}/events`, false],
  [`ec/v1/devices/${B}/state`, false],
  [`ec/v1/devices/${A}/cmd`, false],
  [`ec/v1/artifacts/${'a'.repeat(64)}/manifest`, false],
  ['ec/v1/fleet/x', false],
];

interface BrokerUnderTest {
  url: string;
  /** aedes answers a refused filter with SUBACK 0x80; mosquitto 2.0 grants it and filters on delivery. */
  strictSuback: boolean;
  controlPlane: { username: string; password: string };
  device: (id: string) => { username: string; password: string };
}

/** True when the broker granted the subscription, false on SUBACK 0x80. */
async function subscribeGranted(client: MqttClient, filter: string): Promise<boolean> {
  try {
    const granted = await client.subscribeAsync(filter, { qos: 1 });
    return granted[0]?.qos !== 128;
  } catch (err) {
    if ((err as Error).name === 'ErrorWithSubackPacket') return false;
    throw err;
  }
}

async function runMatrix(broker: BrokerUnderTest): Promise<void> {
  const observer = await connectMqtt(broker.url, {
    ...broker.controlPlane,
    clientId: 'acl-observer',
  });
  const seen = new MessageCollector(observer);
  await observer.subscribeAsync('ec/v1/#', { qos: 1 });

  const connectA = () =>
    connectMqtt(broker.url, { clientId: A, ...broker.device(A), protocolVersion: 4 });
  let a: MqttClient = await connectA();
  const inboxA = new MessageCollector(a);
  for (const [filter, allowed] of SUBSCRIBE_CASES) {
    const granted = await subscribeGranted(a, filter);
    if (allowed) assert.ok(granted, `subscribe ${filter}: expected granted`);
    else if (broker.strictSuback)
      assert.equal(granted, false, `subscribe ${filter}: expected SUBACK 0x80`);
  }
  // Whatever a broker answered to the refused filters, A must read only what it may.
  const probes: [topic: string, readable: boolean][] = [
    [`ec/v1/devices/${A}/cmd`, true],
    [`ec/v1/artifacts/${'b'.repeat(64)}/manifest`, true],
    [`ec/v1/devices/${B}/cmd`, false],
    [`ec/v1/devices/${A}/events`, false],
    [`ec/v1/devices/${B}/state`, false],
  ];
  for (const [topic] of probes) await observer.publishAsync(topic, `probe-${topic}`, { qos: 1 });
  await inboxA.waitFor(
    (m) => probes.filter(([, r]) => r).every(([t]) => m.some((x) => x.topic === t)),
    3000,
  );
  await new Promise((r) => setTimeout(r, 300));
  for (const [topic, readable] of probes) {
    const got = inboxA.messages.some(
      (x) => x.topic === topic && x.payload.toString() === `probe-${topic}`,
    );
    assert.equal(got, readable, `read ${topic}: expected ${readable ? 'delivered' : 'withheld'}`);
  }
  for (const [topic, allowed] of PUBLISH_CASES) {
    if (!a.connected) a = await connectA();
    const marker = `acl-${topic}`;
    a.publish(topic, marker, { qos: 1 });
    if (allowed) {
      await seen.waitFor(
        (m) => m.some((x) => x.topic === topic && x.payload.toString() === marker),
        3000,
      );
    }
  }
  // Give refused publishes every chance to show up before asserting they did not.
  await new Promise((r) => setTimeout(r, 300));
  for (const [topic, allowed] of PUBLISH_CASES) {
    const delivered = seen.messages.some(
      (x) => x.topic === topic && x.payload.toString() === `acl-${topic}`,
    );
    assert.equal(
      delivered,
      allowed,
      `publish ${topic}: expected ${allowed ? 'delivered' : 'refused'}`,
    );
  }
  await closeMqtt(a, true);

  // Wrong, missing and foreign credentials are refused at CONNECT.
  await assert.rejects(connectMqtt(broker.url, { clientId: A, username: A, password: 'wrong' }));
  await assert.rejects(
    connectMqtt(broker.url, { clientId: 'nobody', username: 'nobody', password: 'x' }),
  );
  await assert.rejects(connectMqtt(broker.url, { clientId: 'anon' }));
  await assert.rejects(
    connectMqtt(broker.url, { clientId: '#', username: '#', password: broker.device(A).password }),
  );
  await closeMqtt(observer);
}

describe('broker ACL matrix', () => {
  describe('embedded aedes', () => {
    let fx: ControlPlaneFixture;
    const creds = new Map<string, { username: string; password: string }>();
    before(async () => {
      fx = await startFixture();
      creds.set(A, await fx.provision(A));
      creds.set(B, await fx.provision(B));
    });
    after(async () => {
      await fx.close();
      fx.dir.cleanup();
    });

    it('confines each device to its own topics and refuses bad credentials', async () => {
      const { ControlPlaneCredentialsRepository } =
        await import('../../../apps/control-plane/src/mqtt/control-plane-credentials.repository');
      const identity = fx.cp.app.get(ControlPlaneCredentialsRepository);
      await runMatrix({
        url: fx.cp.mqttUrl,
        strictSuback: true,
        controlPlane: { username: identity.username, password: identity.password },
        device: (id) => creds.get(id)!,
      });
    });

    it('refuses a device that borrows another device id as its client id (no session takeover)', async () => {
      await assert.rejects(connectMqtt(fx.cp.mqttUrl, { clientId: B, ...creds.get(A)! }));
    });

    it('disconnects a device and refuses it again once its credentials are revoked', async () => {
      const b = await connectMqtt(fx.cp.mqttUrl, { clientId: B, ...creds.get(B)! });
      const closed = new Promise<void>((resolve) => b.once('close', () => resolve()));
      assert.equal(
        (await fx.api().delete(`/api/v1/devices/${B}/credentials`).set(fx.auth)).status,
        200,
      );
      await closed;
      await assert.rejects(connectMqtt(fx.cp.mqttUrl, { clientId: B, ...creds.get(B)! }));
      await closeMqtt(b, true);
    });
  });

  describe(
    'mosquitto with the files the control plane writes',
    { skip: !mosquittoAvailable() && 'mosquitto not installed' },
    () => {
      let fx: ControlPlaneFixture;
      let mosquitto: MosquittoInstance;
      const creds = new Map<string, { username: string; password: string }>();
      const brokerDir = makeTempDir('edgec-mosq-');
      before(async () => {
        const port = await getFreePort();
        fx = await startFixture({
          EC_MQTT_MODE: 'external',
          EC_MQTT_URL: `mqtt://127.0.0.1:${port}`,
          EC_MOSQUITTO_DIR: brokerDir.path,
        });
        creds.set(A, await fx.provision(A));
        creds.set(B, await fx.provision(B));
        mosquitto = await startMosquitto({
          dir: brokerDir.path,
          port,
          configLines: [
            'allow_anonymous false',
            `password_file ${join(brokerDir.path, 'passwd')}`,
            `acl_file ${join(brokerDir.path, 'acl')}`,
          ],
        });
        // The control plane connects on its own once the broker is up.
        await eventually(
          async () => (await fx.api().get('/readyz')).status,
          (s) => s === 200,
          10_000,
        );
      });
      after(async () => {
        await fx.close();
        await mosquitto.stop();
        fx.dir.cleanup();
        brokerDir.cleanup();
      });

      it('accepts the $7$ password file and confines each device to its own topics', async () => {
        const { ControlPlaneCredentialsRepository } =
          await import('../../../apps/control-plane/src/mqtt/control-plane-credentials.repository');
        const identity = fx.cp.app.get(ControlPlaneCredentialsRepository);
        await runMatrix({
          url: mosquitto.url,
          strictSuback: false,
          controlPlane: { username: identity.username, password: identity.password },
          device: (id) => creds.get(id)!,
        });
      });

      it('stores reports that reach the control plane through mosquitto (shared subscriptions)', async () => {
        const a = await connectMqtt(mosquitto.url, { clientId: A, ...creds.get(A)! });
        for (let i = 0; i < 20; i++) {
          const report = {
            ...EXAMPLE_EVENTS['benchmark-report'],
            deviceId: A,
            commandId: `via-mosq-${i}`,
            seq: 0,
          };
          await a.publishAsync(`ec/v1/devices/${A}/events`, JSON.stringify(report), { qos: 1 });
        }
        await closeMqtt(a);
        const stored = await eventually(
          async () =>
            (await fx.api().get(`/api/v1/measurements?deviceId=${A}`).set(fx.auth)).body as {
              commandId: string;
            }[],
          (rows) => rows.length >= 20,
          10_000,
        );
        assert.deepEqual(new Set(stored.map((r) => r.commandId)).size, 20);
      });

      it('refuses a revoked device after mosquitto reloads the rewritten password file', async () => {
        assert.equal(
          (await fx.api().delete(`/api/v1/devices/${B}/credentials`).set(fx.auth)).status,
          200,
        );
        await eventually(
          async () => {
            mosquitto.reload();
            await new Promise((r) => setTimeout(r, 100));
            return connectMqtt(mosquitto.url, { clientId: B, ...creds.get(B)! }).then(
              async (c) => {
                await closeMqtt(c, true);
                return 'accepted';
              },
              () => 'refused',
            );
          },
          (v) => v === 'refused',
          5000,
        );
      });
    },
  );
});
