import mqtt, { type MqttClient } from 'mqtt';
import { topicFilters } from '@edgecompress/protocol';
import type { Logger } from '../common/logger';
import type { InboundHandler, MqttTransport, PublishOptions } from './mqtt-transport';

export interface ExternalBrokerOptions {
  url: string;
  username: string;
  password: string;
  logger: Logger;
  reconnectMs?: number;
}

/** Channels the control plane reads from every device. */
const INBOUND_CHANNELS = ['state', 'hello', 'events', 'telemetry'] as const;

/**
 * The control plane as a client of any MQTT 3.1.1/5 broker. It keeps a persistent session
 * (clean: false, fixed client id) so the broker queues device messages while the control plane
 * is down, and it acknowledges each QoS 1 message only after the inbound handler has stored
 * it: a crash between receipt and commit means the broker delivers the message again.
 */
export class ExternalBrokerTransport implements MqttTransport {
  readonly mode = 'external' as const;
  readonly endpoint: { url: string };
  private client?: MqttClient;
  private handler: InboundHandler = async () => 'rejected';

  constructor(private readonly options: ExternalBrokerOptions) {
    this.endpoint = { url: options.url };
  }

  setInboundHandler(handler: InboundHandler): void {
    this.handler = handler;
  }

  async start(): Promise<void> {
    const { logger } = this.options;
    const client = mqtt.connect(this.options.url, {
      clientId: this.options.username,
      username: this.options.username,
      password: this.options.password,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: this.options.reconnectMs ?? 1000,
      connectTimeout: 10_000,
      resubscribe: true,
    });
    this.client = client;
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
        { url: this.options.url, sessionPresent: connack.sessionPresent },
        'connected to MQTT broker',
      );
      if (!connack.sessionPresent) {
        client.subscribe(
          INBOUND_CHANNELS.map((c) => topicFilters.allDevices(c)),
          { qos: 1 },
          (err) => err && logger.error({ err: err.message }, 'subscribing to device topics failed'),
        );
      }
    });
    client.on('error', (err) => logger.warn({ err: err.message }, 'MQTT client error'));
    client.on('offline', () =>
      logger.warn({ url: this.options.url }, 'MQTT broker unreachable; retrying'),
    );
    // Start does not wait for the broker: the control plane serves its API meanwhile and
    // /readyz reports the broker connection.
  }

  async stop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await new Promise<void>((resolve) => client.end(false, {}, () => resolve()));
  }

  publish(topic: string, payload: Buffer, options: PublishOptions): Promise<void> {
    const client = this.client;
    if (!client?.connected) return Promise.reject(new Error('not connected to the MQTT broker'));
    return new Promise((resolve, reject) =>
      client.publish(topic, payload, { qos: options.qos, retain: options.retain }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }

  isReady(): boolean {
    return this.client?.connected === true;
  }

  disconnectDevice(): void {
    // An external broker drops a revoked device when it reloads its password file.
  }
}
