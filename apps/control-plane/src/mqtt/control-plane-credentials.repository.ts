import { Inject, Injectable } from '@nestjs/common';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../common/atomic-file';
import { newSecret } from '../common/ids';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';

export const CONTROL_PLANE_MQTT_USER = 'ec-control-plane';

/**
 * The control plane's own MQTT identity. Configured for an external broker, or generated at
 * first start and kept in the data dir (mode 0600) so mosquitto's password file stays valid
 * across restarts.
 */
@Injectable()
export class ControlPlaneCredentialsRepository {
  readonly username: string;
  readonly password: string;

  constructor(@Inject(CONFIG) config: ControlPlaneConfig) {
    this.username = config.mqtt.username ?? CONTROL_PLANE_MQTT_USER;
    if (config.mqtt.password) {
      this.password = config.mqtt.password;
      return;
    }
    const path = join(config.dataDir, 'secrets', 'mqtt-control-plane.secret');
    if (!existsSync(path)) writeFileAtomic(path, newSecret(), 0o600);
    this.password = readFileSync(path, 'utf8').trim();
  }
}
