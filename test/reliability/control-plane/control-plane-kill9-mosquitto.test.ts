import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { MqttClient } from 'mqtt';
import request from 'supertest';
import {
  closeMqtt,
  connectMqtt,
  eventually,
  getFreePort,
  makeTempDir,
  mosquittoAvailable,
  startMosquitto,
  type MosquittoInstance,
} from '@edgecompress/testing';
import { EXAMPLE_EVENTS, topics } from '@edgecompress/protocol';
import { createApiToken } from '../../../apps/control-plane/src/main';

const ROOT = join(__dirname, '..', '..', '..');
const DEVICES = ['m9-a', 'm9-b', 'm9-c'];
const REPORTS_PER_DEVICE = 200;

function startServer(dataDir: string, httpPort: number, mqttPort: number): ChildProcess {
  const args = [
    'server',
    '--data-dir',
    dataDir,
    '--port',
    String(httpPort),
    '--log-level',
    'error',
  ];
  args.push('--mqtt-url', `mqtt://127.0.0.1:${mqttPort}`, '--mosquitto-dir', dataDir);
  return spawn(process.execPath, [join(ROOT, 'bin/edgec.js'), ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    cwd: ROOT,
  });
}

/**
 * With mosquitto as the broker, a report mosquitto acknowledged reaches SQLite even when the
 * control plane is killed -9 mid-burst: it waits in the control plane's persistent sessions and
 * is stored after the restart.
 */
describe(
  'control plane kill -9 behind mosquitto',
  { skip: !mosquittoAvailable() && 'mosquitto not installed' },
  () => {
    const dir = makeTempDir('edgec-m9-');
    const children: ChildProcess[] = [];
    let mosquitto: MosquittoInstance | undefined;
    after(async () => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      await mosquitto?.stop();
      dir.cleanup();
    });

    it('stores every report the broker acknowledged, across the crash', async () => {
      const { token } = createApiToken(dir.path, 'm9');
      const auth = { Authorization: `Bearer ${token}` };
      const [httpPort, mqttPort] = [await getFreePort(), await getFreePort()];
      const url = `http://127.0.0.1:${httpPort}`;
      const status = (path: string) =>
        request(url)
          .get(path)
          .then(
            (r) => r.status,
            () => 0,
          );
      let server = startServer(dir.path, httpPort, mqttPort);
      children.push(server);
      await eventually(
        () => status('/healthz'),
        (s) => s === 200,
        30_000,
      );
      const creds = new Map<string, { username: string; password: string }>();
      for (const id of DEVICES) {
        const res = await request(url).post('/api/v1/devices').set(auth).send({ id, name: id });
        creds.set(id, res.body.mqtt);
      }
      await new Promise((r) => setTimeout(r, 200));
      mosquitto = await startMosquitto({
        dir: dir.path,
        port: mqttPort,
        configLines: [
          'allow_anonymous false',
          `password_file ${join(dir.path, 'passwd')}`,
          `acl_file ${join(dir.path, 'acl')}`,
          'max_queued_messages 0',
        ],
      });
      await eventually(
        () => status('/readyz'),
        (s) => s === 200,
        30_000,
      );

      const clients: MqttClient[] = [];
      const acked = new Set<string>();
      let killed = false;
      await Promise.all(
        DEVICES.map(async (id) => {
          const client = await connectMqtt(mosquitto!.url, { clientId: id, ...creds.get(id)! });
          clients.push(client);
          await Promise.all(
            Array.from({ length: REPORTS_PER_DEVICE }, (_, i) => {
              const commandId = `m9-${id}-${i}`;
              const report = {
                ...EXAMPLE_EVENTS['benchmark-report'],
                deviceId: id,
                commandId,
                seq: 0,
              };
              return client
                .publishAsync(topics.deviceEvents(id), JSON.stringify(report), { qos: 1 })
                .then(() => {
                  acked.add(commandId);
                  if (!killed && acked.size >= 150) {
                    killed = true;
                    server.kill('SIGKILL');
                  }
                });
            }),
          );
        }),
      );
      assert.ok(killed);
      assert.equal(
        acked.size,
        DEVICES.length * REPORTS_PER_DEVICE,
        'mosquitto acknowledged every report',
      );
      for (const c of clients) await closeMqtt(c);
      await new Promise<void>((resolve) =>
        server.exitCode !== null || server.signalCode !== null
          ? resolve()
          : server.once('exit', () => resolve()),
      );
      const storedBeforeRestart = await countStored(dir.path);

      server = startServer(dir.path, httpPort, mqttPort);
      children.push(server);
      const ids = await eventually(
        async () => {
          const res = await request(url)
            .get('/api/v1/measurements?limit=10000')
            .set(auth)
            .catch(() => null);
          return res?.status === 200
            ? new Set((res.body as { commandId: string }[]).map((m) => m.commandId))
            : new Set<string>();
        },
        (set) => set.size >= acked.size,
        30_000,
      );
      assert.ok(
        storedBeforeRestart < acked.size,
        `the kill landed inside the burst (${storedBeforeRestart} stored before it)`,
      );
      assert.deepEqual(
        [...acked].filter((id) => !ids.has(id)),
        [],
      );
      server.kill('SIGTERM');
      await new Promise<void>((resolve) => server.once('exit', () => resolve()));
    });
  },
);

async function countStored(dataDir: string): Promise<number> {
  const { default: BetterSqlite3 } = await import('better-sqlite3');
  const db = new BetterSqlite3(join(dataDir, 'control-plane.db'), { readonly: true });
  try {
    return (db.prepare('SELECT COUNT(*) AS n FROM measurements').get() as { n: number }).n;
  } finally {
    db.close();
  }
}
