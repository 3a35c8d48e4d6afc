/**
 * A device whose answers a test scripts: a plain MQTT client that speaks the device side of
 * the protocol (retained state with an offline will, hello, QoS 1 commands answered ack →
 * result, every message built by the protocol's encoder) but runs no agent. It exists for the
 * answers a real agent cannot be made to give on cue, such as a retryable error on the first
 * deploy only; everything else a test touches (broker, control plane, SQLite) is real.
 */
import mqtt, { type MqttClient } from 'mqtt';
import {
  decodeMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  topics,
  type CommandMessage,
  type EventMessage,
} from '@edgecompress/protocol';
import { deviceEvent, deviceStateMessage, type DeviceEventBody } from '@edgecompress/testing';

/** What the device answers a command with (the envelope is added here). */
export type ScriptedResult = DeviceEventBody;

export interface ReceivedCommand {
  command: CommandMessage;
  receivedAt: number;
  /** The 1-based count of commands of this type so far, this one included. */
  nth: number;
}

/**
 * Decides the answer to each new command: a result, undefined for `succeed(command)`, or
 * 'no-answer' to acknowledge it and never finish it.
 */
export type Script = (received: ReceivedCommand) => ScriptedResult | 'no-answer' | undefined;

export class ScriptedDevice {
  readonly received: ReceivedCommand[] = [];
  private client?: MqttClient;
  private active: string | null;
  private readonly answered = new Map<string, EventMessage>();

  constructor(
    private readonly options: {
      brokerUrl: string;
      deviceId: string;
      password: string;
      script: Script;
      /** The artifact the device says it runs when it connects. */
      active?: string;
    },
  ) {
    this.active = options.active ?? null;
  }

  /** Connects, says it is online and subscribes to its commands; resolves on SUBACK. */
  start(): Promise<void> {
    const { deviceId } = this.options;
    return new Promise((resolve, reject) => {
      const client = mqtt.connect(this.options.brokerUrl, {
        clientId: deviceId,
        username: deviceId,
        password: this.options.password,
        clean: false,
        reconnectPeriod: 0,
        will: {
          topic: topics.deviceState(deviceId),
          payload: this.state(false),
          qos: 1,
          retain: true,
        },
      });
      this.client = client;
      client.once('error', reject);
      client.on('message', (topic, payload) => this.onMessage(topic, payload));
      client.once('connect', () => {
        client.publish(topics.deviceState(deviceId), this.state(true), { qos: 1, retain: true });
        client.publish(
          topics.deviceHello(deviceId),
          encodeMessage('hello', {
            protocol: PROTOCOL_VERSION,
            kind: 'hello',
            deviceId,
            agentVersion: '0.1.0-scripted',
            connection: 1,
            hardware: {
              arch: 'x64',
              cpu: { model: 'scripted', cores: 1 },
              memory: { totalBytes: 2 ** 30, freeBytes: 2 ** 29 },
              disk: { totalBytes: 2 ** 34, freeBytes: 2 ** 33 },
              os: { platform: 'linux' },
              accelerators: [],
            },
            runtime: {
              node: process.versions.node,
              ort: { version: '1.23.2', executionProviders: ['cpu'] },
            },
            sentAt: Date.now(),
          }),
          { qos: 1 },
        );
        client.subscribe(topics.deviceCmd(deviceId), { qos: 1 }, (err) =>
          err ? reject(err) : resolve(),
        );
      });
    });
  }

  stop(): Promise<void> {
    const client = this.client;
    if (!client) return Promise.resolve();
    return new Promise((resolve) => client.end(true, {}, () => resolve()));
  }

  /** Commands of one type in the order they arrived. */
  commands(type: CommandMessage['type']): ReceivedCommand[] {
    return this.received.filter((r) => r.command.type === type);
  }

  private onMessage(topic: string, payload: Buffer): void {
    const decoded = decodeMessage(topic, payload);
    if (!decoded.ok || decoded.value.kind !== 'cmd') return;
    const command = decoded.value.message;
    const earlier = this.answered.get(command.id);
    if (earlier) {
      // A redelivery is acknowledged again and gets the same answer, as the agent does.
      this.publish(command.id, 0, { type: 'ack', duplicate: true });
      this.publishEvent(earlier);
      return;
    }
    const nth = this.received.filter((r) => r.command.type === command.type).length + 1;
    const received = { command, receivedAt: Date.now(), nth };
    this.received.push(received);
    this.publish(command.id, 0, { type: 'ack', duplicate: false });
    const answer = this.options.script(received);
    if (answer === 'no-answer') return;
    const result = answer ?? succeed(command);
    if (result.type === 'activated') this.active = result.artifactSha256;
    this.answered.set(command.id, this.publish(command.id, 1, result));
    if (result.type === 'activated') {
      this.client?.publish(topics.deviceState(this.options.deviceId), this.state(true), {
        qos: 1,
        retain: true,
      });
    }
  }

  private publish(commandId: string, seq: number, body: ScriptedResult): EventMessage {
    const event = deviceEvent(this.options.deviceId, commandId, seq, body, Date.now());
    this.publishEvent(event);
    return event;
  }

  private publishEvent(event: EventMessage): void {
    this.client?.publish(
      topics.deviceEvents(this.options.deviceId),
      encodeMessage('events', event),
      { qos: 1 },
    );
  }

  private state(online: boolean): Buffer {
    return deviceStateMessage({
      deviceId: this.options.deviceId,
      online,
      connection: 1,
      agentVersion: '0.1.0-scripted',
      active: this.active ? { sha256: this.active } : null,
      sentAt: Date.now(),
    });
  }
}

/** What a healthy device answers: deployed, a 2 ms benchmark, activated. */
export function succeed(command: CommandMessage): ScriptedResult {
  switch (command.type) {
    case 'deploy':
      return {
        type: 'deployed',
        artifactSha256: command.artifact.sha256,
        bytes: 1,
        fetchedChunks: 1,
        reusedChunks: 0,
      };
    case 'benchmark':
      return {
        type: 'benchmark-report',
        artifactSha256: command.artifact.sha256,
        latencyMs: { p50: 2, p90: 2.2, p99: 2.5, mean: 2.05, min: 1.9, max: 2.6 },
        runs: command.runs ?? 100,
        warmup: command.warmup ?? 10,
        throughputPerSec: 500,
        peakRssBytes: 50_000_000,
        loadMs: 5,
        sessionOptions: {
          executionProviders: ['cpu'],
          intraOpThreads: 1,
          interOpThreads: 1,
          graphOptimizationLevel: 'all',
        },
        inputShape: command.input.shape,
      };
    case 'activate':
      return { type: 'activated', artifactSha256: command.artifact.sha256, previousSha256: null };
    case 'rollback':
      return { type: 'rolled-back', artifactSha256: command.to?.sha256 ?? '', fromSha256: null };
    default:
      return { type: 'pong', uptimeMs: 1 };
  }
}
