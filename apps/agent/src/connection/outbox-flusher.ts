/**
 * Publishes persisted outgoing messages in order whenever connected; each is removed from
 * disk only after the broker acknowledged it. A failure stops the pass; the next connect (or
 * the next enqueue) starts another.
 */
import type { OutboxStore } from '../store/outbox-store';
import type { MqttConnection } from './mqtt-connection';

export class OutboxFlusher {
  private running = false;
  private again = false;

  constructor(
    private readonly outbox: OutboxStore,
    private readonly connection: MqttConnection,
  ) {}

  kick(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.drain().finally(() => {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.connection.connected) {
      const pending = this.outbox.pending();
      if (pending.length === 0) return;
      for (const message of pending) {
        try {
          await this.connection.publish(
            message.topic,
            message.payload,
            message.qos,
            message.retain,
          );
        } catch {
          return;
        }
        this.outbox.remove(message.seq);
      }
    }
  }
}
