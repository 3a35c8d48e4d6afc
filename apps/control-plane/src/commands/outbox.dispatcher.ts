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
import type { CommandRow } from './commands.repository';
import { CommandsService } from './commands.service';

const BATCH = 500;
/**
 * Publishes awaited at once. aedes settles a QoS 1 publish only once the subscriber's socket
 * has taken it, so a device with a full socket holds its own send, never the others'.
 */
const PARALLEL_SENDS = 64;
/**
 * How long a pass waits for one publish before moving on. The send stays in flight (not sent
 * again) and is marked sent whenever the broker settles it. Well under the retry interval, so
 * the pass's other sends are not due again by the time it ends.
 */
const SEND_WAIT_MS = 1_000;
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
  /** Commands being published right now: a pass never sends one twice at once. */
  private readonly inFlight = new Set<string>();

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
    // Started on a microtask: a kick from inside a caller's write transaction (commands enqueued
    // by a rollout step, a device coming online during ingest) must not publish rows before
    // that transaction has committed.
    Promise.resolve()
      .then(() => this.pass())
      .catch((err: Error) => this.logger.error({ err: err.message }, 'outbox pass failed'))
      .finally(() => {
        this.running = false;
        if (this.again) {
          this.again = false;
          this.kick();
        } else this.schedule();
      });
  }

  /**
   * One pass: expire, then send everything due, up to PARALLEL_SENDS publishes at a time, and
   * record the sends in ONE transaction. Exposed for tests.
   */
  async pass(): Promise<void> {
    for (const expired of this.commands.expireOverdue()) {
      this.logger.info({ commandId: expired.id, deviceId: expired.device_id }, 'command expired');
    }
    this.lastPassFailed = false;
    if (!this.transport.isReady()) return;
    const due = this.commands
      .due(BATCH + this.inFlight.size)
      .filter((command) => !this.inFlight.has(command.id))
      .slice(0, BATCH);
    const sent: { id: string; at: number }[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      // A refused publish means the broker is down or refusing: stop this pass, retry later.
      while (next < due.length && !this.lastPassFailed) {
        const command = due[next++]!;
        const outcome = await this.sendWithin(command, SEND_WAIT_MS);
        if (outcome === 'sent') sent.push({ id: command.id, at: this.clock.now() });
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_SENDS, due.length) }, worker));
    if (sent.length > 0) this.commands.markSentMany(sent);
  }

  /**
   * Publishes one command. Resolves 'sent' or 'failed' when the broker settles it, or 'pending'
   * after `waitMs`; a pending send is marked sent on its own when it settles later.
   */
  private sendWithin(command: CommandRow, waitMs: number): Promise<'sent' | 'failed' | 'pending'> {
    this.inFlight.add(command.id);
    return new Promise((resolve) => {
      let waiting = true;
      const timer = this.clock.setTimeout(() => {
        waiting = false;
        resolve('pending');
      }, waitMs);
      const settle = (outcome: 'sent' | 'failed') => {
        this.inFlight.delete(command.id);
        if (waiting) {
          waiting = false;
          this.clock.clearTimeout(timer);
          resolve(outcome);
        } else if (outcome === 'sent' && !this.stopped) {
          this.commands.markSentMany([{ id: command.id, at: this.clock.now() }]);
        }
      };
      this.transport
        .publish(topics.deviceCmd(command.device_id), Buffer.from(command.payload_json), {
          qos: 1,
          retain: false,
        })
        .then(
          () => {
            this.metrics.mqttMessagesOut.inc({ kind: 'cmd' });
            settle('sent');
          },
          (err: Error) => {
            this.logger.warn(
              { commandId: command.id, err: err.message },
              'sending command failed; will retry',
            );
            this.lastPassFailed = true;
            settle('failed');
          },
        );
    });
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
