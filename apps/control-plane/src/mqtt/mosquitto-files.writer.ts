import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file';
import { LOGGER, type Logger } from '../common/logger';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { DeviceLifecycleEvents } from '../devices/device-lifecycle.events';
import { DevicesService } from '../devices/devices.service';
import { ControlPlaneCredentialsRepository } from './control-plane-credentials.repository';
import { hashDevicePassword } from './device-password';
import { renderMosquittoAcl } from './topic-acl';

export const MOSQUITTO_PASSWORD_FILE = 'passwd';
export const MOSQUITTO_ACL_FILE = 'acl';

/**
 * Keeps mosquitto's `password_file` and `acl_file` in step with the device registry when
 * EC_MOSQUITTO_DIR is set. Files are replaced atomically; mosquitto re-reads them on SIGHUP.
 */
@Injectable()
export class MosquittoFilesWriter implements OnModuleInit {
  private controlPlaneHash?: Promise<string>;

  constructor(
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly devices: DevicesService,
    private readonly events: DeviceLifecycleEvents,
    private readonly identity: ControlPlaneCredentialsRepository,
  ) {}

  async onModuleInit(): Promise<void> {
    if (!this.config.mqtt.mosquittoDir) return;
    this.events.on('credentialsChanged', () => {
      this.write().catch((err: Error) =>
        this.logger.error({ err: err.message }, 'writing mosquitto files failed'),
      );
    });
    await this.write();
  }

  async write(): Promise<void> {
    const dir = this.config.mqtt.mosquittoDir;
    if (!dir) return;
    this.controlPlaneHash ??= hashDevicePassword(this.identity.password);
    const lines = [
      `${this.identity.username}:${await this.controlPlaneHash}`,
      ...this.devices.credentials().map((c) => `${c.id}:${c.secret_hash}`),
    ];
    writeFileAtomic(join(dir, MOSQUITTO_PASSWORD_FILE), `${lines.join('\n')}\n`, 0o600);
    writeFileAtomic(
      join(dir, MOSQUITTO_ACL_FILE),
      renderMosquittoAcl(this.identity.username),
      0o644,
    );
    this.logger.info({ dir, entries: lines.length }, 'mosquitto password and ACL files written');
  }
}
