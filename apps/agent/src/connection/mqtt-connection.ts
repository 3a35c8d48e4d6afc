/**
 * The agent's only MQTT code. A persistent session (clean session off, client id = device
 * id), QoS 1, a retained offline will carrying the connection counter, and reconnects with
 * exponential backoff and jitter driven by the injected clock. The will is rebuilt before
 * every connect so it always names the connection it belongs to.
 */
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Clock, TimerHandle } from '../clock';
import { reconnectDelayMs } from './reconnect-backoff';

export interface WillMessage {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
}

export interface MqttConnectionOptions {
  brokerUrl: string;
  clientId: string;
  username: string;
  password?: string;
  keepaliveSec: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Called before every connect attempt: returns the will for that connection. */
  willFor: () => WillMessage;
  clock: Clock;
  random?: () => number;
}

export interface ConnectionEvents {
  onConnect(sessionPresent: boolean): void;
  onDisconnect(reason: string): void;
  onMessage(topic: string, payload: Buffer): void;
}

/**
 * With a persistent session mqtt.js keeps a QoS 1 publish that was in flight at a connection
 * loss waiting for its PUBACK. The reconnect here starts from empty packet stores, so that
 * PUBACK never comes: the publish's callback would never run (whoever awaits it, such as the
 * outbox flusher, waits forever) and a graceful `end`, which waits for nothing to be in
 * flight, would never finish. They are failed at the close instead; the persisted outbox still
 * holds every event and sends it again after the next connect.
 */
function settleUnacknowledged(client: MqttClient): void {
  const pending = Object.entries(client.outgoing);
  for (const [id, entry] of pending) {
    delete client.outgoing[Number(id)];
    entry.cb(new Error('connection closed before the broker acknowledged'));
  }
  // An `end` already waiting for the in-flight packets goes on.
  if (pending.length > 0) client.emit('outgoingEmpty');
}

export class MqttConnection {
  private client: MqttClient | undefined;
  private reconnectTimer: TimerHandle | undefined;
  private attempt = 0;
  private stopping = false;
  /** Filters this agent wants; re-subscribed when the broker lost the session. */
  private readonly subscriptions = new Set<string>();

  constructor(
    private readonly options: MqttConnectionOptions,
    private readonly events: ConnectionEvents,
  ) {}

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  start(): void {
    const will = this.options.willFor();
    const clientOptions: IClientOptions = {
      clientId: this.options.clientId,
      username: this.options.username,
      clean: false,
      protocolVersion: 4,
      keepalive: this.options.keepaliveSec,
      // Reconnects are scheduled here (backoff with jitter), not by mqtt.js's fixed period.
      reconnectPeriod: 0,
      connectTimeout: 15_000,
      resubscribe: true,
      queueQoSZero: false,
      // mqtt-packet otherwise pre-builds a Buffer for each of the 65,536 two-byte numbers at
      // the first write: about 7 MB of heap held for the process's lifetime.
      writeCache: false,
      will: {
        topic: will.topic,
        payload: Buffer.from(will.payload),
        qos: will.qos,
        retain: will.retain,
      },
    };
    if (this.options.password !== undefined) clientOptions.password = this.options.password;
    const client = mqtt.connect(this.options.brokerUrl, clientOptions);
    this.client = client;
    client.on('connect', (connack) => {
      this.attempt = 0;
      // mqtt.js re-subscribes only for clean sessions; a broker that lost our persistent
      // session (restart without persistence) needs it too.
      if (!connack.sessionPresent && this.subscriptions.size > 0) {
        client.subscribe([...this.subscriptions], { qos: 1 }, () => undefined);
      }
      this.events.onConnect(connack.sessionPresent);
    });
    client.on('message', (topic, payload) => this.events.onMessage(topic, payload));
    client.on('error', () => {
      // Connection errors surface as 'close' too; the retry lives there.
    });
    client.on('close', () => {
      settleUnacknowledged(client);
      this.events.onDisconnect('connection closed');
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopping || this.reconnectTimer) return;
    const delay = reconnectDelayMs(
      this.attempt++,
      { minMs: this.options.reconnectMinMs, maxMs: this.options.reconnectMaxMs },
      this.options.random,
    );
    this.reconnectTimer = this.options.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      const client = this.client;
      if (this.stopping || !client) return;
      const will = this.options.willFor();
      client.options.will = {
        topic: will.topic,
        payload: Buffer.from(will.payload),
        qos: will.qos,
        retain: will.retain,
      };
      // Fresh packet stores: the on-disk outbox is the durable queue, so mqtt.js's in-memory
      // copies would only send each unacknowledged event twice.
      client.reconnect();
    }, delay);
  }

  subscribe(filters: string[]): Promise<void> {
    const client = this.client;
    for (const f of filters) this.subscriptions.add(f);
    if (!client || filters.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      client.subscribe(filters, { qos: 1 }, (err) => (err ? reject(err) : resolve()));
    });
  }

  unsubscribe(filters: string[]): Promise<void> {
    const client = this.client;
    for (const f of filters) this.subscriptions.delete(f);
    if (!client || filters.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      client.unsubscribe(filters, () => resolve());
    });
  }

  /**
   * Resolves when the broker acknowledged (QoS 1) or the packet was written (QoS 0); rejects
   * when the connection closes first, so a caller never waits across a reconnect.
   */
  publish(topic: string, payload: string | Buffer, qos: 0 | 1, retain: boolean): Promise<void> {
    const client = this.client;
    if (!client?.connected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      client.publish(topic, payload, { qos, retain }, (err) => (err ? reject(err) : resolve()));
    });
  }

  /**
   * Ends the connection. `graceful`: a DISCONNECT is sent (the broker discards the will, so
   * the caller publishes its own offline state first); otherwise the socket is just dropped.
   */
  async stop(graceful: boolean): Promise<void> {
    this.stopping = true;
    this.reconnectTimer?.cancel();
    const client = this.client;
    if (!client) return;
    await new Promise<void>((resolve) => client.end(!graceful, {}, () => resolve()));
  }
}
