/**
 * The agent's outgoing queue across a broker that dies with an event unacknowledged (real
 * aedes on a real port, the agent's own connection, flusher and on-disk outbox): the broker
 * that accepted the connection never sends the PUBACK and is then torn down; a fresh broker on
 * the same port must receive every queued event once the connection is back, and the outbox
 * directory must end empty. Before the fix the flusher waited for that PUBACK forever and
 * nothing queued afterwards was ever sent.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import type { MqttClient } from 'mqtt';
import { connect, tempDir, waitUntil } from '../../e2e/agent/agent-test-kit';
import { MqttConnection } from '../../../apps/agent/src/connection/mqtt-connection';
import { OutboxFlusher } from '../../../apps/agent/src/connection/outbox-flusher';
import { OutboxStore } from '../../../apps/agent/src/store/outbox-store';
import { systemClock } from '../../../apps/agent/src/clock';

interface TestBroker {
  stopAbruptly(): Promise<void>;
}

/** aedes on `port`; `holdEvents` swallows publishes to `events` (no PUBACK, ever). */
async function startBroker(port: number, holdEvents: boolean): Promise<TestBroker> {
  const broker = await Aedes.createBroker({
    authorizePublish: (_client, packet, done) => {
      if (holdEvents && packet.topic.endsWith('/events')) return; // never answered
      done(null);
    },
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    // Like a killed process: sockets reset, no DISCONNECT, no session kept.
    stopAbruptly: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => broker.close(() => r()));
    },
  };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('agent outbox across a broker killed with an event unacknowledged (real aedes)', () => {
  const dir = tempDir('ec-outbox-reconnect-');
  const cleanups: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    dir.cleanup();
  });

  it('settles the unacknowledged publish and sends every queued event after the reconnect', async () => {
    const port = await freePort();
    const url = `mqtt://127.0.0.1:${port}`;
    const first = await startBroker(port, true);
    cleanups.push(() => first.stopAbruptly());

    const outbox = new OutboxStore(dir.path);
    let connects = 0;
    // The flusher needs the connection, the connection's connect handler kicks the flusher.
    const flushers: OutboxFlusher[] = [];
    const connection = new MqttConnection(
      {
        brokerUrl: url,
        clientId: 'outbox-dev',
        username: 'outbox-dev',
        keepaliveSec: 5,
        reconnectMinMs: 50,
        reconnectMaxMs: 200,
        willFor: () => ({ topic: 'devices/outbox-dev/state', payload: 'x', qos: 1, retain: true }),
        clock: systemClock,
      },
      {
        onConnect: () => {
          connects++;
          for (const f of flushers) f.kick();
        },
        onDisconnect: () => undefined,
        onMessage: () => undefined,
      },
    );
    const flusher = new OutboxFlusher(outbox, connection);
    flushers.push(flusher);
    cleanups.push(() => connection.stop(false));
    connection.start();
    await waitUntil(() => connection.connected, 5000, 'first connect');

    const topic = 'devices/outbox-dev/events';
    const held = connection.publish(topic, 'held', 1, false);
    const heldOutcome = held.then(
      () => 'acknowledged',
      (err: Error) => err.message,
    );
    outbox.enqueue({ topic, payload: 'ack', qos: 1, retain: false });
    flusher.kick();
    // The flusher is now waiting on a PUBACK the first broker never sends.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(outbox.size, 1);

    await first.stopAbruptly();
    const unsettled = new Promise<string>((r) =>
      setTimeout(() => r('still pending'), 5000).unref(),
    );
    assert.match(
      await Promise.race([heldOutcome, unsettled]),
      /connection closed before the broker acknowledged/,
    );
    // Produced while offline.
    outbox.enqueue({ topic, payload: 'error', qos: 1, retain: false });
    outbox.enqueue({ topic, payload: 're-ack', qos: 1, retain: false });

    const second = await startBroker(port, false);
    cleanups.push(() => second.stopAbruptly());
    const received: string[] = [];
    const watcher: MqttClient = await connect(url, 'outbox-watcher');
    cleanups.push(() => watcher.endAsync(true));
    await watcher.subscribeAsync(topic, { qos: 1 });
    watcher.on('message', (_t, payload) => received.push(payload.toString()));

    await waitUntil(() => received.length >= 3, 10_000, 'queued events delivered').catch(
      (err: Error) => {
        throw new Error(`${err.message}; got ${JSON.stringify(received)}; connects ${connects}`);
      },
    );
    assert.deepEqual(received, ['ack', 'error', 're-ack']);
    assert.ok(connects >= 2, `connects: ${connects}`);
    assert.deepEqual(readdirSync(join(dir.path, 'outbox')), []);

    // Still flushing: an event queued now goes out at once.
    outbox.enqueue({ topic, payload: 'later', qos: 1, retain: false });
    flusher.kick();
    await waitUntil(() => received.length === 4, 5000, 'later event');
    assert.equal(received[3], 'later');
    assert.equal(outbox.size, 0);
  });
});
