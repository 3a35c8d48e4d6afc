import { Inject, Injectable } from '@nestjs/common';
import { CLOCK, type Clock } from '../common/clock';
import { DeviceLifecycleEvents } from '../devices/device-lifecycle.events';
import { DevicesService } from '../devices/devices.service';
import { VerifiedCredentialsCache } from './verified-credentials.cache';

/**
 * Device credentials verified once are trusted again without PBKDF2 for this long, unless the
 * device's credentials change first (then at once no longer). Enough entries for a fleet of
 * tens of thousands.
 */
const VERIFIED_DEVICE_CREDENTIALS = { maxEntries: 50_000, ttlMs: 10 * 60_000 };

/**
 * One check of a device's username and password for the broker's CONNECT and the artifact
 * route's HTTP Basic alike, so a device that connected and then downloads its rollout's model
 * costs one PBKDF2, not two, and a reconnect storm costs none for devices seen recently.
 * Rotation, revocation and deletion all announce `revoked`, which drops the device's entries.
 */
@Injectable()
export class DeviceCredentialsVerifier {
  private readonly cache: VerifiedCredentialsCache;

  constructor(
    devices: DevicesService,
    lifecycle: DeviceLifecycleEvents,
    @Inject(CLOCK) clock: Clock,
  ) {
    this.cache = new VerifiedCredentialsCache(
      (username, password) => devices.authenticate(username, password),
      clock,
      VERIFIED_DEVICE_CREDENTIALS,
    );
    lifecycle.on('revoked', (deviceId) => this.cache.invalidate(deviceId));
  }

  verify(username: string, password: string): Promise<boolean> {
    return this.cache.verify(username, password);
  }
}
