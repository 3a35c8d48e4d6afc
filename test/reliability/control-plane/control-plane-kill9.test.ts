import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import request from 'supertest';
import {
  closeMqtt,
  connectMqtt,
  makeTempDir,
  MessageCollector,
  ServerProcessHarness,
} from '@edgecompress/testing';
import { EXAMPLE_EVENTS, topics } from '@edgecompress/protocol';
import { createApiToken } from '../../../apps/control-plane/src/main';

const ROOT = join(__dirname, '..', '..', '..');
const DEVICES = ['k9-a', 'k9-b', 'k9-c', 'k9-d'];
const REPORTS_PER_DEVICE = 250;
const KILL_AFTER_ACKS = 300;

/**
 * A kill -9 of the control plane during a burst of QoS 1 benchmark reports loses no report a
 * device saw acknowledged, and a restart keeps devices, credentials, variants and the outbox.
 */
describe('control plane kill -9', () => {
  const dir = makeTempDir('edgec-k9-');
  let server: ServerProcessHarness | undefined;
  after(() => {
    server?.killAll();
    dir.cleanup();
  });

  it('loses no acknowledged report and keeps devices, variants, outbox and credentials', async () => {
    const { token } = createApiToken(dir.path, 'k9');
    const auth = { Authorization: `Bearer ${token}` };
    server = await ServerProcessHarness.create(dir.path);
    const { httpUrl: url, mqttUrl } = server;
    await server.start();

    const creds = new Map<string, { username: string; password: string }>();
    for (const id of [...DEVICES, 'k9-offline']) {
      const res = await request(url).post('/api/v1/devices').set(auth).send({ id, name: id });
      assert.equal(res.status, 201);
      creds.set(id, res.body.mqtt);
    }
    const onnx = readFileSync(join(ROOT, 'test/fixtures/onnx/torch-vgg.onnx'));
    const model = await request(url)
      .post('/api/v1/models?name=vgg')
      .set(auth)
      .set('Content-Type', 'application/octet-stream')
      .send(onnx);
    assert.equal(model.status, 201, JSON.stringify(model.body));
    const variant = model.body.variants[0] as { id: string; artifactSha256: string };
    const ping = await request(url)
      .post('/api/v1/commands/ping')
      .set(auth)
      .send({ deviceId: 'k9-offline', ttlSeconds: 3600 });
    assert.equal(ping.status, 201);
    const pendingCommandId = ping.body[0].id as string;

    // Burst: every device publishes its reports at once; count PUBACKs as they come.
    const clients: MqttClient[] = [];
    const acked = new Set<string>();
    let killed = false;
    let exited: Promise<void> | undefined;
    const killedAt = new Promise<void>((resolve) => {
      for (const id of DEVICES) {
        void connectMqtt(mqttUrl, {
          clientId: id,
          ...creds.get(id)!,
          clean: false,
          reconnectPeriod: 0,
        }).then((client) => {
          clients.push(client);
          for (let i = 0; i < REPORTS_PER_DEVICE; i++) {
            const commandId = `rep-${id}-${i}`;
            const report = {
              ...EXAMPLE_EVENTS['benchmark-report'],
              deviceId: id,
              commandId,
              seq: 0,
              artifactSha256: variant.artifactSha256,
              sentAt: Date.now(),
            };
            client.publish(topics.deviceEvents(id), JSON.stringify(report), { qos: 1 }, (err) => {
              if (err || killed) return;
              acked.add(commandId);
              if (acked.size >= KILL_AFTER_ACKS) {
                killed = true;
                exited = server!.kill9();
                resolve();
              }
            });
          }
        });
      }
    });
    await killedAt;
    const ackedAtKill = new Set(acked);
    for (const c of clients) await closeMqtt(c, true);
    await exited;

    await server.start();

    const stored = await request(url).get('/api/v1/measurements?limit=10000').set(auth);
    assert.equal(stored.status, 200);
    const storedIds = new Set((stored.body as { commandId: string }[]).map((m) => m.commandId));
    const lost = [...ackedAtKill].filter((id) => !storedIds.has(id));
    assert.deepEqual(lost, [], `${lost.length} of ${ackedAtKill.size} acknowledged reports lost`);
    assert.ok(
      storedIds.size < DEVICES.length * REPORTS_PER_DEVICE,
      'the kill landed inside the burst',
    );
    assert.equal((stored.body as { variantId: string }[])[0]?.variantId, variant.id);

    // Devices, variants, the outbox and credentials survived.
    const devices = await request(url).get('/api/v1/devices').set(auth);
    assert.deepEqual(
      devices.body.map((d: { id: string }) => d.id).sort(),
      [...DEVICES, 'k9-offline'].sort(),
    );
    assert.equal((await request(url).get(`/api/v1/variants/${variant.id}`).set(auth)).status, 200);
    const pending = await request(url).get(`/api/v1/commands/${pendingCommandId}`).set(auth);
    assert.equal(pending.body.status, 'pending');
    const offline = await connectMqtt(mqttUrl, {
      clientId: 'k9-offline',
      ...creds.get('k9-offline')!,
      clean: false,
    });
    const inbox = new MessageCollector(offline);
    await offline.subscribeAsync(topics.deviceCmd('k9-offline'), { qos: 1 });
    await inbox.waitFor(
      (m) => m.some((x) => JSON.parse(x.payload.toString()).id === pendingCommandId),
      10_000,
    );
    await closeMqtt(offline);
    await server.stop();
  });
});
