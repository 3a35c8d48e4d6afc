import { Inject, Injectable } from '@nestjs/common';
import {
  encodeMessage,
  PROTOCOL_VERSION,
  ProtocolEncodeError,
  type CommandMessage,
  type EventMessage,
} from '@edgecompress/protocol';
import { CLOCK, type Clock } from '../common/clock';
import { invalid, notFound } from '../common/domain-errors';
import { newId } from '../common/ids';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { SqliteDatabase } from '../database/sqlite.database';
import { DevicesService } from '../devices/devices.service';
import { MetricsService } from '../health/metrics.service';
import { MeasurementsService } from '../measurements/measurements.service';
import { CommandsRepository, type CommandRow } from './commands.repository';

/** A command body without the envelope fields the outbox fills in. */
export type CommandBody = DistributiveOmit<
  CommandMessage,
  'protocol' | 'kind' | 'id' | 'issuedAt' | 'deadline'
>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface CommandView {
  id: string;
  deviceId: string;
  type: string;
  status: CommandRow['status'];
  attempts: number;
  createdAt: string;
  deadline: string;
  ackedAt: string | null;
  completedAt: string | null;
  result: unknown;
  error: string | null;
  command: unknown;
  events?: { seq: number; type: string; receivedAt: string; payload: unknown }[];
}

export type EventOutcome = 'stored' | 'duplicate';

/** A command that reached a final state: the agent's result or error, or its deadline passed. */
export interface CommandCompletion {
  id: string;
  deviceId: string;
  kind: string;
  status: 'succeeded' | 'failed' | 'expired';
  /** The completing event (e.g. a `benchmark-report`) for a success; null otherwise. */
  result: EventMessage | null;
  error: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * Commands to devices go through an outbox: a row per (command, device) written before anything
 * is sent, retried by the dispatcher until the agent acks, expired at its deadline, completed by
 * the agent's result event. Events are stored once per (device, command, seq), so QoS 1
 * redelivery never applies a result twice.
 */
@Injectable()
export class CommandsService {
  private readonly listeners = new Set<() => void>();
  private readonly completionListeners = new Set<(completion: CommandCompletion) => void>();

  constructor(
    private readonly commands: CommandsRepository,
    private readonly devices: DevicesService,
    private readonly measurements: MeasurementsService,
    private readonly database: SqliteDatabase,
    private readonly metrics: MetricsService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  /** Called whenever new work lands in the outbox (the dispatcher wakes up). */
  onEnqueued(listener: () => void): void {
    this.listeners.add(listener);
  }

  /**
   * Called after a command completes, fails or expires (outside the write transaction). Returns
   * the function that removes the listener.
   */
  onCompleted(listener: (completion: CommandCompletion) => void): () => void {
    this.completionListeners.add(listener);
    return () => this.completionListeners.delete(listener);
  }

  /** Queues one command per device; all rows commit together or none does. */
  enqueue(
    deviceIds: string[],
    body: CommandBody,
    ttlMs = this.config.commands.ttlMs,
  ): CommandView[] {
    return this.enqueueIds(deviceIds, body, ttlMs).map((id) => this.get(id, false));
  }

  /**
   * `enqueue` without reading the rows back: the ids of the queued commands, in the order of
   * `deviceIds`. Inside a caller's write transaction it is a savepoint, untimed (the rollout
   * driver queues a wave's commands in one transaction, which is timed as a whole).
   */
  enqueueIds(deviceIds: string[], body: CommandBody, ttlMs = this.config.commands.ttlMs): string[] {
    if (deviceIds.length === 0) throw invalid('no target devices');
    const now = this.clock.now();
    const queue = () =>
      deviceIds.map((deviceId) => {
        // 404 for an unknown device, before anything is written
        if (!this.devices.exists(deviceId)) throw notFound('device', deviceId);
        const id = newId('cmd');
        const message = {
          ...body,
          protocol: PROTOCOL_VERSION,
          kind: 'cmd',
          id,
          issuedAt: now,
          deadline: now + ttlMs,
        } as CommandMessage;
        let payload: Buffer;
        try {
          payload = encodeMessage('cmd', message);
        } catch (err) {
          if (err instanceof ProtocolEncodeError) throw invalid(err.message);
          throw err;
        }
        this.commands.insert({
          id,
          device_id: deviceId,
          kind: body.type,
          payload_json: payload.toString('utf8'),
          next_attempt_at: now,
          deadline_at: now + ttlMs,
          created_at: now,
        });
        return id;
      });
    const ids = this.database.db.inTransaction
      ? this.database.savepoint(queue)
      : this.database.write('command.enqueue', queue);
    for (const listener of this.listeners) listener();
    return ids;
  }

  get(id: string, withEvents = true): CommandView {
    const row = this.commands.get(id);
    if (!row) throw notFound('command', id);
    return this.view(row, withEvents);
  }

  list(filter: { deviceId?: string; status?: string; limit: number }): CommandView[] {
    return this.commands.list(filter).map((r) => this.view(r, false));
  }

  /** Applies one event from a device; a repeated (command, seq) is recognised and ignored. */
  recordEvent(deviceId: string, event: EventMessage): EventOutcome {
    const now = this.clock.now();
    let completed: CommandRow | undefined;
    let completion: CommandCompletion | undefined;
    const outcome = this.database.write('command.event', (): EventOutcome => {
      const fresh = this.commands.insertEvent({
        device_id: deviceId,
        command_id: event.commandId,
        seq: event.seq,
        type: event.type,
        payload_json: JSON.stringify(event),
        received_at: now,
      });
      if (!fresh) return 'duplicate';
      // A benchmark report is a measurement even when the command is not ours (an agent may
      // benchmark on its own schedule); the command, if known, completes with it.
      if (event.type === 'benchmark-report') this.measurements.recordReport(deviceId, event, now);
      // Progress changes nothing about the command (about 20 of a rollout's 28 events per
      // device are progress): stored, and its command row is not read.
      if (event.type === 'progress') return 'stored';
      const command = this.commands.get(event.commandId);
      if (!command || command.device_id !== deviceId) return 'stored';
      switch (event.type) {
        case 'ack':
          this.commands.markAcked(command.id, now);
          break;
        case 'error':
          if (
            this.commands.complete(
              command.id,
              'failed',
              now,
              { code: event.code, retryable: event.retryable },
              `${event.code}: ${event.message}`,
            )
          ) {
            completed = { ...command, status: 'failed' };
            completion = {
              id: command.id,
              deviceId,
              kind: command.kind,
              status: 'failed',
              result: null,
              error: `${event.code}: ${event.message}`,
            };
          }
          break;
        default:
          if (this.commands.complete(command.id, 'succeeded', now, event, null)) {
            completed = { ...command, status: 'succeeded' };
            completion = {
              id: command.id,
              deviceId,
              kind: command.kind,
              status: 'succeeded',
              result: event,
              error: null,
            };
          }
      }
      return 'stored';
    });
    if (completed) {
      this.metrics.commandLatency.observe(
        { kind: completed.kind, status: completed.status },
        (now - completed.created_at) / 1000,
      );
    }
    if (completion) this.notifyCompleted(completion);
    return outcome;
  }

  /** Commands whose next attempt is due (for the dispatcher). */
  due(limit: number): CommandRow[] {
    return this.commands.due(this.clock.now(), limit);
  }

  /**
   * Records when the broker took each of these commands: one transaction for all of them, its
   * fsync off the event loop (deferred). Losing it to a power cut only makes the outbox send
   * those commands again, which devices recognise by id and answer without running twice.
   */
  markSentMany(sends: readonly { id: string; at: number }[]): void {
    if (sends.length === 0) return;
    this.database.write(
      'command.sent',
      () => this.commands.markSentMany(sends, this.config.commands.retryMs),
      'deferred',
    );
  }

  expireOverdue(): CommandRow[] {
    const now = this.clock.now();
    // The dispatcher checks on every pass; a write transaction (one fsync) only when needed.
    if (!this.commands.hasOverdue(now)) return [];
    const expired = this.database.write('command.expire', () => this.commands.expire(now));
    for (const c of expired)
      this.metrics.commandLatency.observe(
        { kind: c.kind, status: 'expired' },
        (now - c.created_at) / 1000,
      );
    for (const c of expired)
      this.notifyCompleted({
        id: c.id,
        deviceId: c.device_id,
        kind: c.kind,
        status: 'expired',
        result: null,
        error: 'deadline passed before the device completed the command',
      });
    return expired;
  }

  retryNow(deviceId: string): void {
    const now = this.clock.now();
    if (this.database.write('command.retry-now', () => this.commands.retryNow(deviceId, now)) > 0) {
      for (const listener of this.listeners) listener();
    }
  }

  nextWakeAt(): number | null {
    return this.commands.nextWakeAt();
  }

  private notifyCompleted(completion: CommandCompletion): void {
    for (const listener of this.completionListeners) listener(completion);
  }

  private view(row: CommandRow, withEvents: boolean): CommandView {
    return {
      id: row.id,
      deviceId: row.device_id,
      type: row.kind,
      status: row.status,
      attempts: row.attempts,
      createdAt: new Date(row.created_at).toISOString(),
      deadline: new Date(row.deadline_at).toISOString(),
      ackedAt: iso(row.acked_at),
      completedAt: iso(row.completed_at),
      result: row.result_json ? (JSON.parse(row.result_json) as unknown) : null,
      error: row.error,
      command: JSON.parse(row.payload_json) as unknown,
      ...(withEvents
        ? {
            events: this.commands.events(row.id).map((e) => ({
              seq: e.seq,
              type: e.type,
              receivedAt: new Date(e.received_at).toISOString(),
              payload: JSON.parse(e.payload_json) as unknown,
            })),
          }
        : {}),
    };
  }
}
