import { Injectable } from '@nestjs/common';
import { matchProfile, type DeviceProfile } from '@edgecompress/profiles';
import type { HelloMessage } from '@edgecompress/protocol';
import { notFound } from '../common/domain-errors';
import { ProfilesRepository } from './profiles.repository';

@Injectable()
export class ProfilesService {
  constructor(private readonly profiles: ProfilesRepository) {}

  list(): readonly DeviceProfile[] {
    return this.profiles.list();
  }

  get(id: string): DeviceProfile {
    const profile = this.profiles.get(id);
    if (!profile) throw notFound('profile', id);
    return profile;
  }

  exists(id: string): boolean {
    return this.profiles.get(id) !== undefined;
  }

  /** The profile a device's hello matches by the profiles' rules (most specific wins), if any. */
  match(hello: HelloMessage): string | null {
    return matchProfile(hello.hardware, this.profiles.list())?.profile.id ?? null;
  }
}
