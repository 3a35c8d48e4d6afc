import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { topics } from '@edgecompress/protocol';
import { CLOCK, type Clock } from '../common/clock';
import { LOGGER, type Logger } from '../common/logger';
import { DeviceLifecycleEvents } from '../devices/device-lifecycle.events';
import { MetricsService } from '../health/metrics.service';
import { MQTT_TRANSPORT, type MqttTransport } from '../mqtt/mqtt-transport';
import { CommandsService } from './commands.service';

const BATCH = 500;
/** Upper bound on how long the dispatcher sleeps, so a clock jump is noticed. */
const MAX_SLEEP_MS = 60_000;

/**
 * Sends due commands from the outbox and expires overdue ones. It wakes when something is
 * enqueued, when a device comes online, and at the next retry or deadline in the table, all on
 * the injected clock. The table is the queue, so a restart resumes exactly where it stopped.
 */
@Injectable()
export class OutboxDispatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: unknown;
  private running = false;
  private again = false;
  private stopped = false;
  private lastPassFailed = false;

  constructor(
    private readonly commands: CommandsService,
    private readonly lifecycle: DeviceLifecycleEvents,
    private readonly metrics: MetricsService,
    @Inject(MQTT_TRANSPORT) private readonly transport: MqttTransport,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.commands.onEnqueued(() => this.kick());
    this.lifecycle.on('online', (deviceId) => this.commands.retryNow(deviceId));
    this.kick();
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
  }

  /** Runs a pass now (or right after the current one). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.clock.clearTimeout(this.timer);
    this.running = true;
    this.pass()
      .catch((err: Error) => this.logger.error({ err: err.message }, 'outbox pass failed'))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        } else this.schedule();
      });
  }

  /** One pass: expire, then send everything due. Exposed for tests. */
  async pass(): Promise<void> {
    for (const expired of this.commands.expireOverdue()) {
      this.logger.info({ commandId: expired.id, deviceId: expired.device_id }, 'command expired');
    }
    this.lastPassFailed = false;
    if (!this.transport.isReady()) return;
    for (const command of this.commands.due(BATCH)) {
      try {
        await this.transport.publish(
          topics.deviceCmd(command.device_id),
          Buffer.from(command.payload_json),
          { qos: 1, retain: false },
        );
        this.metrics.mqttMessagesOut.inc({ kind: 'cmd' });
        this.commands.markSent(command.id);
      } catch (err) {
        this.logger.warn(
          { commandId: command.id, err: (err as Error).message },
          'sending command failed; will retry',
        );
        this.lastPassFailed = true;
        return;
      }
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    const next = this.commands.nextWakeAt();
    const delay =
      next === null ? MAX_SLEEP_MS : Math.min(Math.max(next - this.clock.now(), 0), MAX_SLEEP_MS);
    // Nothing sendable while the broker is down or refusing: poll again shortly rather than spin.
    const wait = this.transport.isReady() && !this.lastPassFailed ? delay : Math.max(delay, 1000);
    this.timer = this.clock.setTimeout(() => this.kick(), wait);
  }
}
