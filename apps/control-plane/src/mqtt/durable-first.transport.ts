import type { InboundHandler, MqttTransport, PublishOptions } from './mqtt-transport';

/**
 * A transport whose every outgoing message waits until each commit made before it is on stable
 * storage (`durable`, the database's WAL barrier). Some writes commit without their fsync and
 * have it done off the event loop (the ingest batches, the rollout driver's steps); this is what
 * keeps their effects from reaching a device before they are durable: a command queued in such
 * a write is published only after the fsync that covers its row, so a power loss can never
 * leave a device running a command the control plane has no record of. With nothing waiting
 * to be synced `durable` resolves at once, and the publish costs one microtask more.
 */
export class DurableFirstTransport implements MqttTransport {
  constructor(
    private readonly inner: MqttTransport,
    private readonly durable: () => Promise<void>,
  ) {}

  get mode(): MqttTransport['mode'] {
    return this.inner.mode;
  }

  get endpoint(): MqttTransport['endpoint'] {
    return this.inner.endpoint;
  }

  publish(topic: string, payload: Buffer, options: PublishOptions): Promise<void> {
    return this.durable().then(() => this.inner.publish(topic, payload, options));
  }

  setInboundHandler(handler: InboundHandler): void {
    this.inner.setInboundHandler(handler);
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  isReady(): boolean {
    return this.inner.isReady();
  }

  disconnectDevice(deviceId: string): void {
    this.inner.disconnectDevice(deviceId);
  }
}
