import { Inject, Injectable } from '@nestjs/common';
import {
  isDeviceId,
  supersedesState,
  type HelloMessage,
  type StateMessage,
  type TelemetryMessage,
} from '@edgecompress/protocol';
import { AuditLogRepository } from '../common/audit-log.repository';
import { CLOCK, type Clock } from '../common/clock';
import { conflict, DomainError, invalid, notFound } from '../common/domain-errors';
import { newId, newSecret } from '../common/ids';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { SqliteDatabase } from '../database/sqlite.database';
import { CONTROL_PLANE_MQTT_USER } from '../mqtt/control-plane-credentials.repository';
import { hashDevicePassword, verifyDevicePassword } from '../mqtt/device-password';
import { hashToken } from '../auth/token-hash';
import { ProfilesService } from '../profiles/profiles.service';
import { DeviceLifecycleEvents } from './device-lifecycle.events';
import { isEmptySelector, type DeviceSelector } from './device-selector';
import { DevicesRepository, type DeviceFilter, type DeviceRow } from './devices.repository';
import { EnrollmentTokensRepository } from './enrollment-tokens.repository';

export interface DeviceView {
  id: string;
  name: string;
  status: DeviceRow['status'];
  connection: number;
  agentVersion: string | null;
  activeVariant: { artifactSha256: string; variantId: string | null } | null;
  profile: { id: string; source: 'matched' | 'user' } | null;
  tags: string[];
  groups: string[];
  credentials: 'active' | 'revoked';
  lastSeenAt: string | null;
  createdAt: string;
  facts?: unknown;
}

export interface ProvisionInput {
  id?: string;
  name: string;
  tags?: string[];
  groups?: string[];
  profileId?: string;
}

export interface ProvisionedDevice {
  device: DeviceView;
  /** MQTT credentials; the secret is shown once and stored only as a hash. */
  mqtt: { username: string; password: string };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The device registry's rules: provisioning, credentials, state, facts, profile assignment. */
@Injectable()
export class DevicesService {
  constructor(
    private readonly devices: DevicesRepository,
    private readonly enrollmentTokens: EnrollmentTokensRepository,
    private readonly profiles: ProfilesService,
    private readonly audit: AuditLogRepository,
    private readonly database: SqliteDatabase,
    private readonly events: DeviceLifecycleEvents,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  async provision(input: ProvisionInput, actor = 'api'): Promise<ProvisionedDevice> {
    const id = input.id ?? newId('dev').replace('_', '-');
    if (!isDeviceId(id)) throw invalid(`invalid device id "${id}"`);
    // The control plane's own MQTT username and client ids: a device named like them could
    // share its ACL entry or take over its broker sessions.
    if (id.startsWith(CONTROL_PLANE_MQTT_USER))
      throw invalid(`device ids starting with "${CONTROL_PLANE_MQTT_USER}" are reserved`);
    if (input.profileId !== undefined) this.profiles.get(input.profileId);
    const secret = newSecret();
    const secretHash = await hashDevicePassword(secret);
    this.database.write('device.provision', () => {
      if (this.devices.exists(id)) throw conflict(`device "${id}" already exists`);
      this.devices.insert(
        { id, name: input.name, secret_hash: secretHash, created_at: this.clock.now() },
        input.tags ?? [],
        input.groups ?? [],
      );
      if (input.profileId !== undefined)
        this.devices.update(id, { profile_id: input.profileId, profile_source: 'user' });
      this.audit.record(actor, 'device.provision', id);
    });
    this.events.emit('credentialsChanged');
    return { device: this.get(id), mqtt: { username: id, password: secret } };
  }

  /** Self-registration of a new device with a fleet enrollment token. */
  async enroll(token: string, input: { id?: string; name: string }): Promise<ProvisionedDevice> {
    const row = this.enrollmentTokens.findByHash(hashToken(token));
    if (!row || row.revoked_at !== null || row.expires_at <= this.clock.now()) {
      throw new DomainError('forbidden', 'enrollment token is invalid or expired');
    }
    if (row.uses >= row.max_uses) throw new DomainError('forbidden', 'enrollment token is used up');
    const provisioned = await this.provision(
      {
        ...input,
        tags: JSON.parse(row.tags_json) as string[],
        groups: JSON.parse(row.groups_json) as string[],
      },
      `enrollment:${row.id}`,
    );
    const counted = this.database.write('enrollment.consume', () =>
      this.enrollmentTokens.consume(row.id),
    );
    if (!counted) {
      // A concurrent enrollment took the last use while we hashed the secret: undo ours.
      this.delete(provisioned.device.id, `enrollment:${row.id}`);
      throw new DomainError('forbidden', 'enrollment token is used up');
    }
    return provisioned;
  }

  createEnrollmentToken(input: {
    name: string;
    maxUses?: number;
    ttlSeconds?: number;
    tags?: string[];
    groups?: string[];
  }) {
    const token = newSecret('ecenroll_');
    const id = newId('enr');
    const now = this.clock.now();
    const expiresAt = now + (input.ttlSeconds ?? 7 * 24 * 3600) * 1000;
    this.database.write('enrollment.create', () => {
      this.enrollmentTokens.insert({
        id,
        name: input.name,
        token_hash: hashToken(token),
        max_uses: input.maxUses ?? 100,
        expires_at: expiresAt,
        tags_json: JSON.stringify(input.tags ?? []),
        groups_json: JSON.stringify(input.groups ?? []),
        created_at: now,
      });
      this.audit.record('api', 'enrollment.create', id);
    });
    return { id, name: input.name, token, expiresAt: new Date(expiresAt).toISOString() };
  }

  list(filter: DeviceFilter): DeviceView[] {
    return this.devices.list(filter).map((row) => this.view(row, false));
  }

  get(id: string): DeviceView {
    const row = this.devices.get(id);
    if (!row) throw notFound('device', id);
    return this.view(row, true);
  }

  /** Devices matching every criterion of the selector, ordered by id; none for an empty one. */
  select(selector: DeviceSelector): DeviceView[] {
    if (isEmptySelector(selector)) return [];
    const [firstTag, ...otherTags] = selector.tags ?? [];
    const ids = selector.deviceIds ? new Set(selector.deviceIds) : null;
    return this.devices
      .list({
        group: selector.group,
        tag: firstTag,
        profileId: selector.profileId,
        status: selector.onlineOnly ? 'online' : undefined,
      })
      .filter((row) => !ids || ids.has(row.id))
      .map((row) => this.view(row, false))
      .filter((device) => otherTags.every((tag) => device.tags.includes(tag)));
  }

  /** Device ids of a group (for commands sent to a group). */
  idsInGroup(group: string): string[] {
    return this.devices.list({ group }).map((d) => d.id);
  }

  update(
    id: string,
    patch: { name?: string; tags?: string[]; groups?: string[]; profileId?: string },
  ): DeviceView {
    if (patch.profileId) this.profiles.get(patch.profileId);
    this.database.write('device.update', () => {
      if (!this.devices.exists(id)) throw notFound('device', id);
      this.devices.update(id, { name: patch.name });
      if (patch.tags) this.devices.replaceTags(id, patch.tags);
      if (patch.groups) this.devices.replaceGroups(id, patch.groups);
      if (patch.profileId !== undefined) {
        this.devices.update(
          id,
          patch.profileId === ''
            ? { profile_id: null, profile_source: null }
            : { profile_id: patch.profileId, profile_source: 'user' },
        );
      }
      this.audit.record('api', 'device.update', id, patch);
    });
    return this.get(id);
  }

  /** New secret; the old one stops working at once. */
  async rotateCredentials(id: string): Promise<ProvisionedDevice> {
    if (!this.devices.exists(id)) throw notFound('device', id);
    const secret = newSecret();
    const secretHash = await hashDevicePassword(secret);
    this.database.write('device.rotate', () => {
      this.devices.setSecretHash(id, secretHash, null);
      this.audit.record('api', 'device.rotate-credentials', id);
    });
    this.events.emit('credentialsChanged');
    this.events.emit('revoked', id);
    return { device: this.get(id), mqtt: { username: id, password: secret } };
  }

  revokeCredentials(id: string): DeviceView {
    this.database.write('device.revoke', () => {
      if (!this.devices.exists(id)) throw notFound('device', id);
      this.devices.setSecretHash(id, null, this.clock.now());
      this.audit.record('api', 'device.revoke', id);
    });
    this.events.emit('credentialsChanged');
    this.events.emit('revoked', id);
    return this.get(id);
  }

  delete(id: string, actor = 'api'): void {
    this.database.write('device.delete', () => {
      if (!this.devices.delete(id)) throw notFound('device', id);
      this.audit.record(actor, 'device.delete', id);
    });
    this.events.emit('credentialsChanged');
    this.events.emit('revoked', id);
    this.events.emit('deleted', id);
  }

  /** MQTT authentication of a device (embedded broker). */
  async authenticate(username: string, password: string): Promise<boolean> {
    const row = this.devices.get(username);
    if (!row?.secret_hash || row.revoked_at !== null) return false;
    return verifyDevicePassword(password, row.secret_hash);
  }

  /** Applies a retained state message unless a newer connection's state is already known. */
  applyState(deviceId: string, message: StateMessage): 'applied' | 'stale' | 'unknown-device' {
    let cameOnline = false;
    const outcome = this.database.write('device.state', () => {
      const row = this.devices.get(deviceId);
      if (!row) return 'unknown-device' as const;
      const current =
        row.status === 'unknown' || row.state_sent_at === null
          ? null
          : {
              connection: row.connection_epoch,
              online: row.status === 'online',
              sentAt: row.state_sent_at,
            };
      if (!supersedesState(current, message)) return 'stale' as const;
      cameOnline = message.online && row.status !== 'online';
      this.devices.applyState(deviceId, {
        online: message.online,
        connection: message.connection,
        sentAt: message.sentAt,
        agentVersion: message.agentVersion,
        activeArtifactSha256: message.activeVariant?.artifactSha256 ?? null,
        activeVariantId: message.activeVariant?.variantId ?? null,
        receivedAt: this.clock.now(),
      });
      return 'applied' as const;
    });
    if (cameOnline) this.events.emit('online', deviceId);
    return outcome;
  }

  registerHello(deviceId: string, hello: HelloMessage): 'applied' | 'unknown-device' {
    return this.database.write('device.hello', () => {
      const row = this.devices.get(deviceId);
      if (!row) return 'unknown-device' as const;
      const now = this.clock.now();
      this.devices.upsertFacts(
        deviceId,
        { agentVersion: hello.agentVersion, hardware: hello.hardware, runtime: hello.runtime },
        now,
      );
      this.devices.touch(deviceId, now);
      if (row.profile_source !== 'user') {
        const matched = this.profiles.match(hello);
        this.devices.update(deviceId, {
          profile_id: matched,
          profile_source: matched ? 'matched' : null,
        });
      }
      return 'applied' as const;
    });
  }

  recordTelemetry(deviceId: string, message: TelemetryMessage): 'applied' | 'unknown-device' {
    return this.database.write('device.telemetry', () => {
      if (!this.devices.exists(deviceId)) return 'unknown-device' as const;
      const now = this.clock.now();
      this.devices.insertTelemetry(
        deviceId,
        message,
        now,
        this.config.limits.telemetryKeepPerDevice,
      );
      this.devices.touch(deviceId, now);
      return 'applied' as const;
    });
  }

  telemetry(id: string, limit: number) {
    if (!this.devices.exists(id)) throw notFound('device', id);
    return this.devices.telemetry(id, limit);
  }

  exists(id: string): boolean {
    return this.devices.exists(id);
  }

  markAllOffline(): number {
    return this.database.write('device.all-offline', () => this.devices.markAllOffline());
  }

  countOnline(): number {
    return this.devices.countOnline();
  }

  credentials(): { id: string; secret_hash: string }[] {
    return this.devices.credentials();
  }

  profileOf(id: string): string | null {
    return this.devices.get(id)?.profile_id ?? null;
  }

  private view(row: DeviceRow, withFacts: boolean): DeviceView {
    return {
      id: row.id,
      name: row.name,
      status: row.status,
      connection: row.connection_epoch,
      agentVersion: row.agent_version,
      activeVariant: row.active_artifact_sha256
        ? { artifactSha256: row.active_artifact_sha256, variantId: row.active_variant_id }
        : null,
      profile:
        row.profile_id && row.profile_source
          ? { id: row.profile_id, source: row.profile_source }
          : null,
      tags: this.devices.tagsOf(row.id),
      groups: this.devices.groupsOf(row.id),
      credentials: row.secret_hash && row.revoked_at === null ? 'active' : 'revoked',
      lastSeenAt: iso(row.last_seen_at),
      createdAt: new Date(row.created_at).toISOString(),
      ...(withFacts ? { facts: this.devices.factsOf(row.id) } : {}),
    };
  }
}
