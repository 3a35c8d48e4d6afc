import { Inject, Injectable } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { loadDeviceProfiles, type DeviceProfile } from '@edgecompress/profiles';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { LOGGER, type Logger } from '../common/logger';

/**
 * Device profiles are files in `device-profiles/*.json` (schema in libs/profiles), read and
 * validated at start; an invalid profile stops the start with every problem listed. They are
 * reference data shipped with the code, so they are not copied into SQLite.
 */
@Injectable()
export class ProfilesRepository {
  private readonly profiles: readonly DeviceProfile[];

  constructor(@Inject(CONFIG) config: ControlPlaneConfig, @Inject(LOGGER) logger: Logger) {
    if (!existsSync(config.profilesDir)) {
      logger.warn(
        { dir: config.profilesDir },
        'device profile directory not found; no profiles loaded',
      );
      this.profiles = [];
      return;
    }
    this.profiles = loadDeviceProfiles(config.profilesDir);
  }

  list(): readonly DeviceProfile[] {
    return this.profiles;
  }

  get(id: string): DeviceProfile | undefined {
    return this.profiles.find((p) => p.id === id);
  }
}
