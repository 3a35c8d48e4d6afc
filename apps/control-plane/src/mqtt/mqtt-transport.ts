/**
 * How the control plane talks MQTT, whichever broker carries it: the embedded aedes broker
 * (in this process) or an external one (mosquitto, EMQX ...) through a client connection.
 */
export interface PublishOptions {
  qos: 0 | 1;
  retain: boolean;
}

/** What became of one inbound message. */
export type InboundOutcome = 'stored' | 'duplicate' | 'stale' | 'rejected';

/**
 * Handles one inbound device message. Resolves once the message is durably handled (or
 * deliberately dropped); rejects only on a transient failure, in which case the message must
 * not be acknowledged so the broker or device delivers it again.
 */
export type InboundHandler = (
  topic: string,
  payload: Buffer,
  /** The authenticated device when the broker tells us (embedded); null otherwise. */
  publisherId: string | null,
) => Promise<InboundOutcome>;

export interface MqttTransport {
  readonly mode: 'embedded' | 'external';
  setInboundHandler(handler: InboundHandler): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  publish(topic: string, payload: Buffer, options: PublishOptions): Promise<void>;
  isReady(): boolean;
  /** Drops a device's live connection (after revocation); a no-op where the broker is external. */
  disconnectDevice(deviceId: string): void;
  /** Where devices connect, for logs and tests. */
  readonly endpoint: { url: string; wsUrl?: string };
}

export const MQTT_TRANSPORT = Symbol('MqttTransport');
