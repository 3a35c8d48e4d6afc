import { Injectable } from '@nestjs/common';
import { SqliteDatabase } from '../database/sqlite.database';

export interface DeviceRow {
  id: string;
  name: string;
  secret_hash: string | null;
  profile_id: string | null;
  profile_source: 'matched' | 'user' | null;
  status: 'unknown' | 'online' | 'offline';
  connection_epoch: number;
  state_sent_at: number | null;
  agent_version: string | null;
  active_artifact_sha256: string | null;
  active_variant_id: string | null;
  last_seen_at: number | null;
  created_at: number;
  revoked_at: number | null;
}

export interface DeviceFilter {
  tag?: string;
  group?: string;
  status?: string;
  profileId?: string;
}

export interface DeviceStateUpdate {
  online: boolean;
  connection: number;
  sentAt: number;
  agentVersion: string;
  activeArtifactSha256: string | null;
  activeVariantId: string | null;
  receivedAt: number;
}

/** The only code that reads or writes device rows, tags, groups, facts and telemetry. */
@Injectable()
export class DevicesRepository {
  constructor(private readonly database: SqliteDatabase) {}

  private get db() {
    return this.database.db;
  }

  insert(
    row: Pick<DeviceRow, 'id' | 'name' | 'secret_hash' | 'created_at'>,
    tags: string[],
    groups: string[],
  ): void {
    this.db
      .prepare(
        'INSERT INTO devices (id, name, secret_hash, created_at) VALUES (@id, @name, @secret_hash, @created_at)',
      )
      .run(row);
    this.replaceTags(row.id, tags);
    this.replaceGroups(row.id, groups);
  }

  exists(id: string): boolean {
    return this.db.prepare('SELECT 1 FROM devices WHERE id = ?').get(id) !== undefined;
  }

  get(id: string): DeviceRow | undefined {
    return this.db.prepare('SELECT * FROM devices WHERE id = ?').get(id) as DeviceRow | undefined;
  }

  list(filter: DeviceFilter): DeviceRow[] {
    const where: string[] = [];
    const params: Record<string, string> = {};
    if (filter.tag) {
      where.push('id IN (SELECT device_id FROM device_tags WHERE tag = @tag)');
      params.tag = filter.tag;
    }
    if (filter.group) {
      where.push('id IN (SELECT device_id FROM device_groups WHERE group_name = @group)');
      params.group = filter.group;
    }
    if (filter.status) {
      where.push('status = @status');
      params.status = filter.status;
    }
    if (filter.profileId) {
      where.push('profile_id = @profileId');
      params.profileId = filter.profileId;
    }
    const sql = `SELECT * FROM devices ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return this.db.prepare(sql).all(params) as DeviceRow[];
  }

  tagsOf(id: string): string[] {
    return (
      this.db.prepare('SELECT tag FROM device_tags WHERE device_id = ? ORDER BY tag').all(id) as {
        tag: string;
      }[]
    ).map((r) => r.tag);
  }

  groupsOf(id: string): string[] {
    return (
      this.db
        .prepare('SELECT group_name FROM device_groups WHERE device_id = ? ORDER BY group_name')
        .all(id) as {
        group_name: string;
      }[]
    ).map((r) => r.group_name);
  }

  factsOf(id: string): unknown {
    const row = this.db
      .prepare('SELECT facts_json FROM device_facts WHERE device_id = ?')
      .get(id) as { facts_json: string } | undefined;
    return row ? (JSON.parse(row.facts_json) as unknown) : null;
  }

  replaceTags(id: string, tags: string[]): void {
    this.db.prepare('DELETE FROM device_tags WHERE device_id = ?').run(id);
    const insert = this.db.prepare(
      'INSERT OR IGNORE INTO device_tags (device_id, tag) VALUES (?, ?)',
    );
    for (const tag of tags) insert.run(id, tag);
  }

  replaceGroups(id: string, groups: string[]): void {
    this.db.prepare('DELETE FROM device_groups WHERE device_id = ?').run(id);
    const insert = this.db.prepare(
      'INSERT OR IGNORE INTO device_groups (device_id, group_name) VALUES (?, ?)',
    );
    for (const group of groups) insert.run(id, group);
  }

  update(
    id: string,
    fields: Partial<Pick<DeviceRow, 'name' | 'profile_id' | 'profile_source'>>,
  ): void {
    const entries = Object.entries(fields).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return;
    const sets = entries.map(([k]) => `${k} = @${k}`).join(', ');
    this.db
      .prepare(`UPDATE devices SET ${sets} WHERE id = @id`)
      .run({ ...Object.fromEntries(entries), id });
  }

  setSecretHash(id: string, secretHash: string | null, revokedAt: number | null): void {
    this.db
      .prepare('UPDATE devices SET secret_hash = ?, revoked_at = ? WHERE id = ?')
      .run(secretHash, revokedAt, id);
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM devices WHERE id = ?').run(id).changes > 0;
  }

  applyState(id: string, s: DeviceStateUpdate): void {
    this.db
      .prepare(
        `UPDATE devices SET status = @status, connection_epoch = @connection, state_sent_at = @sentAt,
           agent_version = @agentVersion, active_artifact_sha256 = @activeArtifactSha256,
           active_variant_id = @activeVariantId, last_seen_at = @receivedAt
         WHERE id = @id`,
      )
      .run({ ...s, status: s.online ? 'online' : 'offline', id });
  }

  touch(id: string, at: number): void {
    this.db.prepare('UPDATE devices SET last_seen_at = ? WHERE id = ?').run(at, id);
  }

  /** After the embedded broker restarts nobody is connected, whatever the last state said. */
  markAllOffline(): number {
    return this.db.prepare("UPDATE devices SET status = 'offline' WHERE status = 'online'").run()
      .changes;
  }

  upsertFacts(id: string, facts: unknown, at: number): void {
    this.db
      .prepare(
        `INSERT INTO device_facts (device_id, facts_json, updated_at) VALUES (?, ?, ?)
         ON CONFLICT(device_id) DO UPDATE SET facts_json = excluded.facts_json, updated_at = excluded.updated_at`,
      )
      .run(id, JSON.stringify(facts), at);
  }

  /** Appends a telemetry sample and trims the device's history to the newest `keep` rows. */
  insertTelemetry(id: string, payload: unknown, at: number, keep: number): void {
    this.db
      .prepare('INSERT INTO telemetry (device_id, received_at, payload_json) VALUES (?, ?, ?)')
      .run(id, at, JSON.stringify(payload));
    this.db
      .prepare(
        `DELETE FROM telemetry WHERE device_id = @id AND id <
           (SELECT id FROM telemetry WHERE device_id = @id ORDER BY id DESC LIMIT 1 OFFSET @offset)`,
      )
      .run({ id, offset: keep - 1 });
  }

  telemetry(id: string, limit: number): { receivedAt: number; sample: unknown }[] {
    return (
      this.db
        .prepare(
          'SELECT received_at, payload_json FROM telemetry WHERE device_id = ? ORDER BY id DESC LIMIT ?',
        )
        .all(id, limit) as { received_at: number; payload_json: string }[]
    ).map((r) => ({ receivedAt: r.received_at, sample: JSON.parse(r.payload_json) as unknown }));
  }

  countOnline(): number {
    return (
      this.db.prepare("SELECT COUNT(*) AS n FROM devices WHERE status = 'online'").get() as {
        n: number;
      }
    ).n;
  }

  /** Live credentials, for mosquitto's password file. */
  credentials(): { id: string; secret_hash: string }[] {
    return this.db
      .prepare(
        'SELECT id, secret_hash FROM devices WHERE secret_hash IS NOT NULL AND revoked_at IS NULL ORDER BY id',
      )
      .all() as { id: string; secret_hash: string }[];
  }
}
