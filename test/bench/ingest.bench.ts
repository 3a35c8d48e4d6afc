/**
 * `npm run bench -- ingest [--devices N] [--reports M] [--no-peer]`
 *
 * Ingest of benchmark reports: N simulated devices (plain MQTT clients in this process) connect
 * and each publishes M QoS 1 benchmark-report events as fast as the broker takes them. The
 * control plane runs as its own process (`edgec server`) and stores every report in SQLite.
 *
 *   ours: embedded aedes broker, reports stored inside the broker's publish hook before PUBACK
 *   peer: mosquitto 2.0 (Debian) as the broker, the control plane as its persistent QoS 1 client
 *
 * Prints connections held, reports/s stored (first publish to last row committed) and the p50 /
 * p99 store latency (device send time to row commit), and the ratios ours/peer.
 * Writes bench-results/ingest.json.
 */
import BetterSqlite3 from 'better-sqlite3';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { MqttClient } from 'mqtt';
import { EXAMPLE_EVENTS, topics } from '@edgecompress/protocol';
import {
  closeMqtt,
  connectMqtt,
  getFreePort,
  makeTempDir,
  mosquittoAvailable,
  startMosquitto,
  type MosquittoInstance,
} from '@edgecompress/testing';
import { createApiToken } from '../../apps/control-plane/src/main';

const ROOT = join(__dirname, '..', '..');

interface RunResult {
  broker: string;
  devices: number;
  connectionsHeld: number;
  reports: number;
  stored: number;
  seconds: number;
  reportsPerSec: number;
  storeLatencyMs: { p50: number; p99: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

async function waitFor<T>(
  probe: () => Promise<T> | T,
  ok: (v: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out; last value ${JSON.stringify(v)}`);
    await sleep(50);
  }
}

async function run(
  name: 'embedded' | 'mosquitto',
  deviceCount: number,
  reportsPerDevice: number,
): Promise<RunResult> {
  const dir = makeTempDir('edgec-bench-ingest-');
  const children: ChildProcess[] = [];
  let mosquitto: MosquittoInstance | undefined;
  const clients: MqttClient[] = [];
  try {
    const { token } = createApiToken(dir.path, 'bench');
    const [httpPort, mqttPort] = [await getFreePort(), await getFreePort()];
    const args = [
      'server',
      '--data-dir',
      dir.path,
      '--port',
      String(httpPort),
      '--log-level',
      'error',
    ];
    if (name === 'embedded') args.push('--mqtt-port', String(mqttPort));
    else args.push('--mqtt-url', `mqtt://127.0.0.1:${mqttPort}`, '--mosquitto-dir', dir.path);
    const server = spawn(process.execPath, [join(ROOT, 'bin/edgec.js'), ...args], {
      stdio: ['ignore', 'ignore', 'inherit'],
      cwd: ROOT,
    });
    children.push(server);
    const api = `http://127.0.0.1:${httpPort}`;
    const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
    await waitFor(
      () =>
        fetch(`${api}/healthz`).then(
          (r) => r.status,
          () => 0,
        ),
      (s) => s === 200,
      30_000,
    );

    const creds: { username: string; password: string }[] = [];
    for (let i = 0; i < deviceCount; i++) {
      const res = await fetch(`${api}/api/v1/devices`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ id: `bench-${i}`, name: `bench ${i}` }),
      });
      creds.push(((await res.json()) as { mqtt: { username: string; password: string } }).mqtt);
    }
    if (name === 'mosquitto') {
      await sleep(200); // the password file is rewritten after each provisioning
      mosquitto = await startMosquitto({
        dir: dir.path,
        port: mqttPort,
        configLines: [
          'allow_anonymous false',
          `password_file ${join(dir.path, 'passwd')}`,
          `acl_file ${join(dir.path, 'acl')}`,
          // The control plane's session must not drop reports while it catches up.
          'max_queued_messages 0',
        ],
      });
    }
    await waitFor(
      () =>
        fetch(`${api}/readyz`).then(
          (r) => r.status,
          () => 0,
        ),
      (s) => s === 200,
      30_000,
    );
    const url = `mqtt://127.0.0.1:${mqttPort}`;

    for (let i = 0; i < deviceCount; i += 50) {
      const batch = creds
        .slice(i, i + 50)
        .map((c) => connectMqtt(url, { clientId: c.username, ...c, clean: false, keepalive: 60 }));
      clients.push(...(await Promise.all(batch)));
    }
    const total = deviceCount * reportsPerDevice;
    const db = new BetterSqlite3(join(dir.path, 'control-plane.db'), { readonly: true });
    const count = () =>
      (db.prepare('SELECT COUNT(*) AS n FROM measurements').get() as { n: number }).n;

    const t0 = Date.now();
    clients.forEach((client, d) => {
      const id = creds[d]!.username;
      for (let i = 0; i < reportsPerDevice; i++) {
        const report = {
          ...EXAMPLE_EVENTS['benchmark-report'],
          deviceId: id,
          commandId: `bench-${d}-${i}`,
          seq: 0,
          sentAt: Date.now(),
        };
        client.publish(topics.deviceEvents(id), JSON.stringify(report), { qos: 1 });
      }
    });
    const stored = await waitFor(count, (n) => n >= total, 300_000).catch(() => count());
    const lastCommit = (
      db.prepare('SELECT MAX(received_at) AS t FROM command_events').get() as { t: number }
    ).t;
    const seconds = (lastCommit - t0) / 1000;
    const latencies = (
      db
        .prepare(
          "SELECT received_at - json_extract(payload_json, '$.sentAt') AS ms FROM command_events",
        )
        .all() as { ms: number }[]
    )
      .map((r) => r.ms)
      .sort((a, b) => a - b);
    const connectionsHeld = clients.filter((c) => c.connected).length;
    db.close();
    return {
      broker: name,
      devices: deviceCount,
      connectionsHeld,
      reports: total,
      stored,
      seconds,
      reportsPerSec: stored / seconds,
      storeLatencyMs: { p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) },
    };
  } finally {
    await Promise.all(clients.map((c) => closeMqtt(c, true)));
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGTERM');
        await new Promise((r) => c.once('exit', r));
      }
    }
    await mosquitto?.stop();
    dir.cleanup();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string', default: '200' },
      reports: { type: 'string', default: '25' },
      'no-peer': { type: 'boolean', default: false },
    },
  });
  const devices = Number(values.devices);
  const reports = Number(values.reports);
  const results: RunResult[] = [await run('embedded', devices, reports)];
  const withPeer = !values['no-peer'] && mosquittoAvailable();
  if (withPeer) results.push(await run('mosquitto', devices, reports));

  const fmt = (n: number, d = 1) => n.toFixed(d).padStart(9);
  console.log(
    `\ningest: ${devices} devices x ${reports} QoS 1 benchmark reports, control plane as a separate process`,
  );
  console.log(
    `${'broker'.padEnd(12)}${'conns'.padStart(7)}${'stored'.padStart(8)}${'reports/s'.padStart(11)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}`,
  );
  for (const r of results) {
    console.log(
      `${r.broker.padEnd(12)}${String(r.connectionsHeld).padStart(7)}${String(r.stored).padStart(8)}${fmt(r.reportsPerSec).padStart(11)}${fmt(r.storeLatencyMs.p50)}${fmt(r.storeLatencyMs.p99)}`,
    );
  }
  const [ours, peer] = results;
  const ratios = peer
    ? {
        reportsPerSec: ours!.reportsPerSec / peer.reportsPerSec,
        p99StoreLatency: ours!.storeLatencyMs.p99 / peer.storeLatencyMs.p99,
      }
    : null;
  if (ratios) {
    console.log(
      `ratio embedded/mosquitto: reports/s x${ratios.reportsPerSec.toFixed(2)}, p99 store latency x${ratios.p99StoreLatency.toFixed(2)} (lower is better)`,
    );
  }
  const out = join(ROOT, 'bench-results');
  if (!existsSync(out)) mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'ingest.json'),
    `${JSON.stringify({ date: new Date().toISOString(), machine: { cpus: availableParallelism(), model: cpus()[0]?.model }, devices, reportsPerDevice: reports, results, ratios }, null, 2)}\n`,
  );
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
