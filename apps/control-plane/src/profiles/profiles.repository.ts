import { Inject, Injectable } from '@nestjs/common';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG, type ControlPlaneConfig } from '../config/control-plane.config';
import { LOGGER, type Logger } from '../common/logger';

export interface StoredProfile {
  id: string;
  name: string;
  /** The whole file as written (datasheet figures, sources, match rules). */
  document: Record<string, unknown>;
}

/**
 * Device profiles are files in `device-profiles/*.json`, read at start. They are reference data
 * shipped with the code, so they are not copied into SQLite; nothing is lost on restart.
 */
@Injectable()
export class ProfilesRepository {
  private readonly profiles = new Map<string, StoredProfile>();

  constructor(@Inject(CONFIG) config: ControlPlaneConfig, @Inject(LOGGER) logger: Logger) {
    if (!existsSync(config.profilesDir)) {
      logger.warn(
        { dir: config.profilesDir },
        'device profile directory not found; no profiles loaded',
      );
      return;
    }
    for (const file of readdirSync(config.profilesDir)
      .filter((f) => f.endsWith('.json'))
      .sort()) {
      try {
        const document = JSON.parse(readFileSync(join(config.profilesDir, file), 'utf8')) as Record<
          string,
          unknown
        >;
        if (typeof document.id !== 'string') throw new Error('no "id" field');
        const name = typeof document.name === 'string' ? document.name : document.id;
        this.profiles.set(document.id, { id: document.id, name, document });
      } catch (err) {
        logger.error({ file, err: (err as Error).message }, 'skipping unreadable device profile');
      }
    }
  }

  list(): StoredProfile[] {
    return [...this.profiles.values()];
  }

  get(id: string): StoredProfile | undefined {
    return this.profiles.get(id);
  }
}
