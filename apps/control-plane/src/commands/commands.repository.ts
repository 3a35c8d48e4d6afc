import { Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database/sqlite.database';

export type CommandStatus = 'pending' | 'acked' | 'succeeded' | 'failed' | 'expired';

export interface CommandRow {
  id: string;
  device_id: string;
  kind: string;
  payload_json: string;
  status: CommandStatus;
  attempts: number;
  next_attempt_at: number;
  deadline_at: number;
  created_at: number;
  first_sent_at: number | null;
  acked_at: number | null;
  completed_at: number | null;
  result_json: string | null;
  error: string | null;
}

export interface CommandEventRow {
  device_id: string;
  command_id: string;
  seq: number;
  type: string;
  payload_json: string;
  received_at: number;
}

/** The command outbox and the events devices send about each command. */
@Injectable()
export class CommandsRepository {
  constructor(private readonly database: SqliteDatabase) {}

  private get db() {
    return this.database.db;
  }

  insert(
    row: Pick<
      CommandRow,
      | 'id'
      | 'device_id'
      | 'kind'
      | 'payload_json'
      | 'next_attempt_at'
      | 'deadline_at'
      | 'created_at'
    >,
  ): void {
    this.db
      .prepare(
        `INSERT INTO commands (id, device_id, kind, payload_json, status, next_attempt_at, deadline_at, created_at)
         VALUES (@id, @device_id, @kind, @payload_json, 'pending', @next_attempt_at, @deadline_at, @created_at)`,
      )
      .run(row);
  }

  get(id: string): CommandRow | undefined {
    return this.db.prepare('SELECT * FROM commands WHERE id = ?').get(id) as CommandRow | undefined;
  }

  list(filter: { deviceId?: string; status?: string; limit: number }): CommandRow[] {
    const where: string[] = [];
    if (filter.deviceId) where.push('device_id = @deviceId');
    if (filter.status) where.push('status = @status');
    return this.db
      .prepare(
        `SELECT * FROM commands ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, id LIMIT @limit`,
      )
      .all(filter) as CommandRow[];
  }

  /** Unacknowledged commands whose next attempt is due and whose deadline has not passed. */
  due(now: number, limit: number): CommandRow[] {
    return this.db
      .prepare(
        `SELECT * FROM commands WHERE status = 'pending' AND next_attempt_at <= ? AND deadline_at > ?
         ORDER BY next_attempt_at, created_at LIMIT ?`,
      )
      .all(now, now, limit) as CommandRow[];
  }

  /** Earliest time something in the outbox needs attention (a retry or a deadline). */
  nextWakeAt(): number | null {
    const row = this.db
      .prepare(
        `SELECT MIN(t) AS t FROM (
           SELECT MIN(next_attempt_at) AS t FROM commands WHERE status = 'pending'
           UNION ALL SELECT MIN(deadline_at) FROM commands WHERE status IN ('pending', 'acked'))`,
      )
      .get() as { t: number | null };
    return row.t;
  }

  /**
   * Counts one attempt for each command at the time the broker took it. The retry time moves
   * only for a command still pending: an ack may have arrived before the send was recorded.
   * The caller holds the transaction.
   */
  markSentMany(sends: readonly { id: string; at: number }[], retryMs: number): void {
    const update = this.db.prepare(
      `UPDATE commands SET attempts = attempts + 1, first_sent_at = COALESCE(first_sent_at, @at),
         next_attempt_at = CASE WHEN status = 'pending' THEN @at + @retryMs ELSE next_attempt_at END
       WHERE id = @id`,
    );
    for (const send of sends) update.run({ id: send.id, at: send.at, retryMs });
  }

  /** Whether any open command is past its deadline (a read, so an idle check costs no commit). */
  hasOverdue(now: number): boolean {
    return (
      this.db
        .prepare(
          "SELECT 1 FROM commands WHERE status IN ('pending', 'acked') AND deadline_at <= ? LIMIT 1",
        )
        .get(now) !== undefined
    );
  }

  expire(now: number): CommandRow[] {
    return this.db
      .prepare(
        `UPDATE commands SET status = 'expired', completed_at = ?, error = 'deadline passed before a result arrived'
         WHERE status IN ('pending', 'acked') AND deadline_at <= ? RETURNING *`,
      )
      .all(now, now) as CommandRow[];
  }

  markAcked(id: string, at: number): boolean {
    return (
      this.db
        .prepare(
          "UPDATE commands SET status = 'acked', acked_at = ? WHERE id = ? AND status = 'pending'",
        )
        .run(at, id).changes > 0
    );
  }

  complete(
    id: string,
    status: 'succeeded' | 'failed',
    at: number,
    result: unknown,
    error: string | null,
  ): boolean {
    return (
      this.db
        .prepare(
          `UPDATE commands SET status = ?, completed_at = ?, acked_at = COALESCE(acked_at, ?), result_json = ?, error = ?
           WHERE id = ? AND status IN ('pending', 'acked')`,
        )
        .run(status, at, at, JSON.stringify(result), error, id).changes > 0
    );
  }

  /** Makes a device's waiting commands due now (it has just come online). */
  retryNow(deviceId: string, now: number): number {
    return this.db
      .prepare(
        "UPDATE commands SET next_attempt_at = ? WHERE device_id = ? AND status = 'pending' AND next_attempt_at > ?",
      )
      .run(now, deviceId, now).changes;
  }

  /** Stores an event unless the same (device, command, seq) was stored before. */
  insertEvent(row: CommandEventRow): boolean {
    return (
      this.db
        .prepare(
          `INSERT OR IGNORE INTO command_events (device_id, command_id, seq, type, payload_json, received_at)
           VALUES (@device_id, @command_id, @seq, @type, @payload_json, @received_at)`,
        )
        .run(row).changes > 0
    );
  }

  events(commandId: string): CommandEventRow[] {
    return this.db
      .prepare('SELECT * FROM command_events WHERE command_id = ? ORDER BY seq')
      .all(commandId) as CommandEventRow[];
  }
}
