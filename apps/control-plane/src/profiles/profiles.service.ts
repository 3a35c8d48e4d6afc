import { Injectable } from '@nestjs/common';
import type { HelloMessage } from '@edgecompress/protocol';
import { notFound } from '../common/domain-errors';
import { ProfilesRepository, type StoredProfile } from './profiles.repository';

const GENERIC_BY_ARCH: Record<string, string> = { x64: 'generic-x86_64', arm64: 'generic-arm64' };

@Injectable()
export class ProfilesService {
  constructor(private readonly profiles: ProfilesRepository) {}

  list(): StoredProfile[] {
    return this.profiles.list();
  }

  get(id: string): StoredProfile {
    const profile = this.profiles.get(id);
    if (!profile) throw notFound('profile', id);
    return profile;
  }

  exists(id: string): boolean {
    return this.profiles.get(id) !== undefined;
  }

  /**
   * The profile a device's hello matches. Rule-based matching over the hardware facts belongs
   * to libs/profiles; until it is wired in here, a device gets the generic profile of its
   * architecture when one is installed.
   */
  match(hello: HelloMessage): string | null {
    const generic = GENERIC_BY_ARCH[hello.hardware.arch];
    return generic && this.exists(generic) ? generic : null;
  }
}
