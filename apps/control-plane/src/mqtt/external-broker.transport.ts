import mqtt, { type MqttClient } from 'mqtt';
import { topicFilters } from '@edgecompress/protocol';
import type { Logger } from '../common/logger';
import type { InboundHandler, MqttTransport, PublishOptions } from './mqtt-transport';

export interface ExternalBrokerOptions {
  url: string;
  username: string;
  password: string;
  logger: Logger;
  /**
   * Connections that receive device messages. With more than one, they share MQTT 5 shared
   * subscriptions, so several messages are in flight to the control plane at once and commit
   * together (a client acknowledges one message at a time per connection).
   */
  ingestConnections?: number;
  reconnectMs?: number;
}

/** Channels the control plane reads from every device. */
const INBOUND_CHANNELS = ['state', 'hello', 'events', 'telemetry'] as const;
const SHARE_GROUP = 'ec-control-plane';
/** MQTT 5: keep the session (and its queued messages) for a week while disconnected. */
const SESSION_EXPIRY_S = 7 * 24 * 3600;

/**
 * The control plane as a client of any MQTT 3.1.1/5 broker. Its sessions are persistent (fixed
 * client ids, clean: false), so the broker queues device messages while the control plane is
 * down, and each QoS 1 message is acknowledged only after the inbound handler has stored it: a
 * crash between receipt and commit means the broker delivers the message again.
 */
export class ExternalBrokerTransport implements MqttTransport {
  readonly mode = 'external' as const;
  readonly endpoint: { url: string };
  private clients: MqttClient[] = [];
  private handler: InboundHandler = async () => 'rejected';

  constructor(private readonly options: ExternalBrokerOptions) {
    this.endpoint = { url: options.url };
  }

  setInboundHandler(handler: InboundHandler): void {
    this.handler = handler;
  }

  async start(): Promise<void> {
    const count = Math.max(1, this.options.ingestConnections ?? 1);
    for (let i = 0; i < count; i++) this.clients.push(this.connect(i, count));
    // Start does not wait for the broker: the control plane serves its API meanwhile and
    // /readyz reports the broker connection.
  }

  private connect(index: number, count: number): MqttClient {
    const { logger } = this.options;
    const shared = count > 1;
    const client = mqtt.connect(this.options.url, {
      clientId: index === 0 ? this.options.username : `${this.options.username}-${index}`,
      username: this.options.username,
      password: this.options.password,
      clean: false,
      ...(shared
        ? { protocolVersion: 5 as const, properties: { sessionExpiryInterval: SESSION_EXPIRY_S } }
        : { protocolVersion: 4 as const }),
      reconnectPeriod: this.options.reconnectMs ?? 1000,
      connectTimeout: 10_000,
      resubscribe: true,
    });
    client.handleMessage = (packet, callback) => {
      const payload = Buffer.isBuffer(packet.payload)
        ? packet.payload
        : Buffer.from(packet.payload);
      this.handler(packet.topic, payload, null).then(
        () => callback(),
        (err: Error) => {
          // Not acknowledged: drop the connection so the broker redelivers from the session.
          logger.error(
            { topic: packet.topic, err: err.message },
            'storing inbound message failed; reconnecting',
          );
          callback(err);
          client.stream?.destroy();
        },
      );
    };
    client.on('connect', (connack) => {
      logger.info(
        { url: this.options.url, index, sessionPresent: connack.sessionPresent },
        'connected to MQTT broker',
      );
      if (!connack.sessionPresent) {
        const filters = INBOUND_CHANNELS.map((c) => topicFilters.allDevices(c)).map((f) =>
          shared ? `$share/${SHARE_GROUP}/${f}` : f,
        );
        client.subscribe(
          filters,
          { qos: 1 },
          (err) => err && logger.error({ err: err.message }, 'subscribing to device topics failed'),
        );
      }
    });
    client.on('error', (err) => logger.warn({ err: err.message }, 'MQTT client error'));
    client.on('offline', () =>
      logger.warn({ url: this.options.url, index }, 'MQTT broker unreachable; retrying'),
    );
    return client;
  }

  async stop(): Promise<void> {
    const clients = this.clients;
    this.clients = [];
    await Promise.all(
      clients.map((c) => new Promise<void>((resolve) => c.end(false, {}, () => resolve()))),
    );
  }

  publish(topic: string, payload: Buffer, options: PublishOptions): Promise<void> {
    const client = this.clients.find((c) => c.connected);
    if (!client) return Promise.reject(new Error('not connected to the MQTT broker'));
    return new Promise((resolve, reject) =>
      client.publish(topic, payload, { qos: options.qos, retain: options.retain }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }

  isReady(): boolean {
    return this.clients.length > 0 && this.clients.every((c) => c.connected);
  }

  disconnectDevice(): void {
    // An external broker drops a revoked device when it reloads its password file.
  }
}
