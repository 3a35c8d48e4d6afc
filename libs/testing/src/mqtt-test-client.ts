import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';

/**
 * Connects an MQTT client and resolves on CONNACK; rejects with the broker's refusal
 * (bad credentials, not authorized) instead of retrying forever.
 */
export function connectMqtt(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
    const fail = (err: Error) => {
      client.end(true);
      reject(err);
    };
    client.once('connect', () => {
      client.off('error', fail);
      resolve(client);
    });
    client.once('error', fail);
    client.once('close', () => fail(new Error('connection closed before CONNACK')));
  });
}

/** Closes the client, waiting for it to finish; `force` skips the clean DISCONNECT. */
export function closeMqtt(client: MqttClient, force = false): Promise<void> {
  return new Promise((resolve) => client.end(force, {}, () => resolve()));
}

/** Collects every message on the given filters so a test can wait for a predicate. */
export class MessageCollector {
  readonly messages: { topic: string; payload: Buffer; retain: boolean }[] = [];

  constructor(client: MqttClient) {
    client.on('message', (topic, payload, packet) =>
      this.messages.push({ topic, payload, retain: packet.retain }),
    );
  }

  /** Polls until `predicate` holds over the collected messages, or rejects after `timeoutMs`. */
  async waitFor(
    predicate: (messages: { topic: string; payload: Buffer; retain: boolean }[]) => boolean,
    timeoutMs = 5000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.messages)) {
      if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Polls an arbitrary condition (database row counts, HTTP state) until it holds. */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (accept(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `condition not met within ${timeoutMs} ms; last value ${JSON.stringify(value)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
